"""An internet-facing ALB with its security group, production listener(s) and optional test listener."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# TLS 1.3 with 1.2 fallback: AWS's recommended policy for new HTTPS listeners.
MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HTTP_PORT, HTTPS_PORT = 80, 443


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    """VPC of the load balancer and its security group."""
    subnet_ids: pulumi.Input[list[str]]
    """Public subnets, two AZs at least."""
    certificate_arn: str | None = None
    """ACM certificate: production traffic on HTTPS, HTTP redirects to it."""
    default_target_group_arn: pulumi.Input[str] | None = None
    """Forward unmatched requests here (one service per ALB); None answers 404 and services add rules."""
    test_listener_port: int | None = None
    """Port of a listener that only reaches candidates (blue-green previews); None creates none."""
    test_listener_cidrs: tuple[str, ...] = ()
    """Who may reach the test listener: never the internet."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags of the load balancer and its security group."""


class LoadBalancer(pulumi.ComponentResource):
    """Application load balancer; services hang their rules on `production_listener_arn`."""

    arn: pulumi.Output[str]
    """ARN of the load balancer."""
    dns_name: pulumi.Output[str]
    """Public DNS name."""
    arn_suffix: pulumi.Output[str]
    """`app/<name>/<id>`: the ALB part of an ALBRequestCountPerTarget resource label."""
    zone_id: pulumi.Output[str]
    """Hosted zone of the DNS name (for alias records)."""
    security_group_id: pulumi.Output[str]
    """Security group tasks must accept traffic from."""
    production_listener_arn: pulumi.Output[str]
    """Listener that carries production traffic (HTTPS with a certificate, else HTTP)."""
    test_listener_arn: pulumi.Output[str | None]
    """Listener on the test port, or None."""
    scheme: str
    """`https` or `http`: how production URLs start."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secure = args.certificate_arn is not None
        self.scheme = "https" if secure else "http"
        security_group = self._create_security_group(name, args, child)
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[security_group.id],
            subnets=args.subnet_ids,
            drop_invalid_header_fields=True,
            tags={**args.tags, "cutover:role": "load-balancer"},
            opts=child,
        )
        default_action = self._default_action(args.default_target_group_arn)
        http = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=HTTP_PORT,
            protocol="HTTP",
            default_actions=[self._redirect_to_https()] if secure else [default_action],
            opts=child,
        )
        production = http
        if secure:
            production = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=HTTPS_PORT,
                protocol="HTTPS",
                ssl_policy=MODERN_TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=[default_action],
                opts=child,
            )
        self.test_listener_arn = pulumi.Output.from_input(None)
        if args.test_listener_port is not None:
            test = aws.lb.Listener(
                f"{name}-test",
                load_balancer_arn=alb.arn,
                port=args.test_listener_port,
                protocol="HTTPS" if secure else "HTTP",
                ssl_policy=MODERN_TLS_POLICY if secure else None,
                certificate_arn=args.certificate_arn,
                default_actions=[self._default_action(None)],
                opts=child,
            )
            self.test_listener_arn = test.arn
        self.arn = alb.arn
        self.dns_name = alb.dns_name
        self.arn_suffix = alb.arn_suffix
        self.zone_id = alb.zone_id
        self.security_group_id = security_group.id
        self.production_listener_arn = production.arn
        self.register_outputs(
            {
                "arn": self.arn,
                "dns_name": self.dns_name,
                "zone_id": self.zone_id,
                "security_group_id": self.security_group_id,
                "production_listener_arn": self.production_listener_arn,
                "test_listener_arn": self.test_listener_arn,
            }
        )

    def _create_security_group(self, name: str, args: LoadBalancerArgs, child: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
        public_ports = [HTTP_PORT, HTTPS_PORT] if args.certificate_arn else [HTTP_PORT]
        ingress = [
            aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=port, to_port=port, cidr_blocks=["0.0.0.0/0"], description="public web traffic")
            for port in public_ports
        ]
        if args.test_listener_port is not None and args.test_listener_cidrs:
            ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=args.test_listener_port, to_port=args.test_listener_port,
                    cidr_blocks=list(args.test_listener_cidrs), description="candidate previews, private ranges only",
                )
            )
        return aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="cutover load balancer",
            ingress=ingress,
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])],
            tags={**args.tags, "cutover:role": "load-balancer"},
            opts=child,
        )

    @staticmethod
    def _default_action(target_group_arn: pulumi.Input[str] | None) -> aws.lb.ListenerDefaultActionArgs:
        if target_group_arn is not None:
            return aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group_arn)
        return aws.lb.ListenerDefaultActionArgs(
            type="fixed-response",
            fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(content_type="text/plain", message_body="no such service", status_code="404"),
        )

    @staticmethod
    def _redirect_to_https() -> aws.lb.ListenerDefaultActionArgs:
        return aws.lb.ListenerDefaultActionArgs(
            type="redirect",
            redirect=aws.lb.ListenerDefaultActionRedirectArgs(port=str(HTTPS_PORT), protocol="HTTPS", status_code="HTTP_301"),
        )
