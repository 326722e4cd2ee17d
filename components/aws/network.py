"""Network: the user's VPC as configured, or a small one of our own for an empty account."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

VPC_CIDR = "10.42.0.0/16"


@dataclass(frozen=True)
class NetworkArgs:
    """vpc_id/subnets of an existing VPC; when vpc_id is None a VPC is created."""

    vpc_id: str | None = None
    """Existing VPC id."""
    public_subnet_ids: tuple[str, ...] = ()
    """Its public subnets (load balancers)."""
    private_subnet_ids: tuple[str, ...] = ()
    """Its private subnets (tasks)."""


class Network(pulumi.ComponentResource):
    """Where load balancers and tasks live.

    The VPC we create spans two availability zones with a public and a private
    subnet in each, and ONE NAT gateway shared by both private subnets: the
    cheapest egress that lets Fargate tasks in private subnets pull public
    images (a NAT per AZ doubles the hourly cost for AZ-failure resilience a
    trial does not need; public IPs on tasks would expose them).
    """

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets of the load balancers."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Subnets of the ECS tasks."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:Network", name, None, opts)
        if args.vpc_id:
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.public_subnet_ids = pulumi.Output.from_input(list(args.public_subnet_ids))
            self.private_subnet_ids = pulumi.Output.from_input(list(args.private_subnet_ids))
        else:
            self._create_vpc(name)
        self.register_outputs(
            {"vpc_id": self.vpc_id, "public_subnet_ids": self.public_subnet_ids, "private_subnet_ids": self.private_subnet_ids}
        )

    def _create_vpc(self, name: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self)).names[:2]
        vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=VPC_CIDR, enable_dns_hostnames=True, enable_dns_support=True,
            tags={"Name": f"{name}-cutover"}, opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)], opts=child,
        )
        public, private = [], []
        for index, zone in enumerate(zones):
            public_subnet = aws.ec2.Subnet(
                f"{name}-public-{index}", vpc_id=vpc.id, availability_zone=zone,
                cidr_block=f"10.42.{index}.0/24", map_public_ip_on_launch=False, opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-public-{index}-rta", subnet_id=public_subnet.id, route_table_id=public_rt.id, opts=child)
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{index}", vpc_id=vpc.id, availability_zone=zone,
                    cidr_block=f"10.42.{100 + index}.0/24", opts=child,
                )
            )
            public.append(public_subnet)
        eip = aws.ec2.Eip(f"{name}-nat-eip", domain="vpc", opts=child)
        nat = aws.ec2.NatGateway(f"{name}-nat", allocation_id=eip.id, subnet_id=public[0].id, opts=child)
        private_rt = aws.ec2.RouteTable(
            f"{name}-private-rt", vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)], opts=child,
        )
        for index, subnet in enumerate(private):
            aws.ec2.RouteTableAssociation(f"{name}-private-{index}-rta", subnet_id=subnet.id, route_table_id=private_rt.id, opts=child)
        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
