"""What all AWS services of a stack share: network, ECS cluster, task execution role, one ALB."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from components.aws.network import Network, NetworkArgs

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@dataclass(frozen=True)
class AwsPlatformArgs:
    network: NetworkArgs
    """Existing VPC, or none to create one."""
    certificate_arn: str | None
    """HTTPS on the shared ALB when set."""
    test_listener_port: int
    """Port of the blue-green preview listener."""
    test_listener_cidrs: tuple[str, ...]
    """Who may reach previews."""
    shared_alb: bool
    """Whether any service routes through the shared ALB."""
    previews: bool
    """Whether any service on the shared ALB needs the preview listener."""
    secret_arns: tuple[str, ...] = ()
    """Secrets tasks may read at start."""
    stack_id: str = ""
    """"<org>/<project>/<stack>": tags the shared ALB, so a run can find it without outputs."""


class AwsPlatform(pulumi.ComponentResource):
    """Shared resources; each service adds its own rule, target groups and ECS services."""

    cluster_arn: pulumi.Output[str]
    """ECS cluster of every service."""
    cluster_name: pulumi.Output[str]
    """Its name (Application Auto Scaling names an ECS service as service/<cluster>/<service>)."""
    execution_role_arn: pulumi.Output[str]
    """Role ECS uses to pull images, write logs and read secrets."""
    load_balancer: LoadBalancer | None
    """The shared ALB, when any service uses router alb."""

    def __init__(self, name: str, args: AwsPlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:AwsPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.network = Network(f"{name}-network", args.network, child)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            opts=child,
        )
        self.cluster_arn = cluster.arn
        self.cluster_name = cluster.name
        self.execution_role_arn = self._create_execution_role(name, args.secret_arns, child)
        self.load_balancer = None
        if args.shared_alb:
            self.load_balancer = LoadBalancer(
                f"{name}-shared",
                LoadBalancerArgs(
                    vpc_id=self.network.vpc_id,
                    subnet_ids=self.network.public_subnet_ids,
                    certificate_arn=args.certificate_arn,
                    test_listener_port=args.test_listener_port if args.previews else None,
                    test_listener_cidrs=args.test_listener_cidrs,
                    tags={"cutover:stack": args.stack_id, "cutover:shared": "true"},
                ),
                child,
            )
        self.register_outputs({"cluster_arn": self.cluster_arn, "execution_role_arn": self.execution_role_arn})

    def _create_execution_role(self, name: str, secret_arns: tuple[str, ...], child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-execution-policy", role=role.name, policy_arn=EXECUTION_POLICY, opts=child)
        if secret_arns:
            aws.iam.RolePolicy(
                f"{name}-read-secrets",
                role=role.id,
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
                                "Resource": sorted(secret_arns),
                            }
                        ],
                    }
                ),
                opts=child,
            )
        return role.arn
