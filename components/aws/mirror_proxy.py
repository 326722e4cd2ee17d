"""The shadow phase's mirroring proxy on AWS: nginx on ECS Fargate between the shared ALB and the stable color.

An ALB forwards each request to one target group and cannot copy it, and Fargate tasks cannot be VPC traffic
mirroring sources, so while a candidate shadows, the service's listener rule forwards the stable share to this
proxy's target group; nginx answers from the stable color and copies sampled requests of the listed methods to the
candidate, discarding its answers (`mirror_proxy_config`).

How the proxy reaches one color: back through the shared ALB, with a header only its requests carry. Per color
one listener rule (host/path of the service AND `X-Cutover-Mirror-<color>: <token>`), just below the service's
rule in priority, forwards to that color's own target group. Chosen over the alternatives because it changes
nothing on the colors: Cloud Map or Service Connect names need `serviceRegistries` / named port mappings on the
colors' ECS services and task definitions (a redeploy of the color serving 100 %), and an internal ALB needs a
second target group per color (a target group belongs to one load balancer) and both attached to each ECS
service. Stable keeps its health checks, deregistration delay and draining. Costs: the proxy's requests leave
through the NAT gateway to the ALB's public addresses (one more hop, NAT data charges); the token (derived from
the proxy target group's ARN, which carries a random id) keeps the internet from reaching the candidate through
these rules — it is not a credential, and reaches no more than the test listener already offers private ranges.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.fargate import load_balanced_fargate_service
from components.aws.mirror_proxy_config import mirror_proxy_config
from components.aws.weighted_listener_rule import routing_condition

PROXY_PORT = 8080
# nginx's official image, from ECR Public (no Docker Hub pull limits); 1.27 carries ngx_http_mirror_module.
NGINX_IMAGE = "public.ecr.aws/nginx/nginx:1.27"
AMAZON_DNS = "169.254.169.253"
"""The VPC resolver every task can reach: nginx re-resolves the ALB's name with it (ALB addresses change)."""
CONFIG_VARIABLE = "CUTOVER_NGINX_CONF"


def header_name(color: str) -> str:
    return f"X-Cutover-Mirror-{color.capitalize()}"


@dataclass(frozen=True)
class MirrorProxyArgs:
    service: str
    """Service name (tags, task family)."""
    replicas: int
    """Proxy tasks: the stable color's count while mirroring, 0 otherwise (kept, never deleted mid-rollout)."""
    stable_color: str
    """The color every request is answered from."""
    candidate_color: str
    """The color sampled copies go to."""
    mirror_percent: int
    """Share of listed-method requests copied (1..100); the configuration keeps the last value while idle."""
    mirror_methods: tuple[str, ...]
    """Methods that are copied."""
    target_group_arn: pulumi.Input[str]
    """The proxy's own target group (created by AwsService with the colors' groups: the service's rule names it)."""
    color_target_group_arns: dict[str, pulumi.Input[str]]
    """Color -> its target group: what the per-color rules forward to."""
    color_rule_priorities: dict[str, int]
    """Color -> priority of its rule (just below the service's rule)."""
    listener_arn: pulumi.Input[str]
    """The shared ALB's production listener."""
    load_balancer_dns_name: pulumi.Input[str]
    """Where the proxy sends requests back to."""
    load_balancer_security_group_id: pulumi.Input[str]
    """The only source the proxy's tasks admit."""
    scheme: str
    """`https` or `http`: the production listener's protocol."""
    host: str | None
    """Host header the service's rule matches ..."""
    path_prefix: str | None
    """... or its path prefix."""
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets of the tasks (they reach the ALB through the NAT gateway)."""
    cluster_arn: pulumi.Input[str]
    execution_role_arn: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    region: str
    sticky_seconds: int | None = None
    """Group stickiness of the per-color forwards, as on the service's rule (their target groups may be sticky)."""


class MirrorProxy(pulumi.ComponentResource):
    """The proxy's security group, per-color rules, task definition and ECS service."""

    service_name: pulumi.Output[str]
    """The proxy's ECS service (autonamed)."""
    applied_replicas: pulumi.Output[int]
    """Desired count the ECS service applied."""

    def __init__(self, name: str, args: MirrorProxyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:MirrorProxy", name, None, opts)
        # Capacity drops after the router (see AwsService): a child does not inherit its parent's depends_on.
        after = list(opts.depends_on or []) if opts else []
        child = pulumi.ResourceOptions(parent=self)
        labels = {"cutover:service": args.service, "cutover:role": "mirror-proxy"}
        token = pulumi.Output.from_input(args.target_group_arn).apply(lambda arn: hashlib.sha256(str(arn).encode()).hexdigest()[:32])
        rules = self._create_color_rules(name, args, args.target_group_arn, token, child)
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{args.service} mirroring proxy: traffic from the load balancer only",
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=PROXY_PORT, to_port=PROXY_PORT,
                                                      security_groups=[args.load_balancer_security_group_id])],
            # Out to the ALB's public addresses (through the NAT gateway) and to the VPC resolver.
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])],
            tags=labels,
            opts=child,
        )
        config = pulumi.Output.all(args.load_balancer_dns_name, token).apply(lambda v: self._config(args, v[0], v[1]))
        task = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{pulumi.get_stack()}-{args.service}-mirror",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            execution_role_arn=args.execution_role_arn,
            container_definitions=pulumi.Output.all(config, args.log_group_name).apply(lambda v: self._containers(args, v[0], v[1])),
            tags=labels,
            opts=child,
        )
        # The service's rule forwards to the proxy only once its tasks are steady. ECS attaches a target group only
        # once a listener rule forwards to it: the per-color rules carry the proxy's group at weight 0 for that.
        # Scaling in waits for the router that took the proxy out of the path.
        service = load_balanced_fargate_service(
            f"{name}-svc", cluster_arn=args.cluster_arn, task_definition_arn=task.arn, desired_count=args.replicas,
            subnet_ids=args.subnet_ids, security_group_id=security_group.id, target_group_arn=args.target_group_arn,
            container_name="nginx", container_port=PROXY_PORT, tags=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*rules, *after]),
        )
        self.service_name = service.name
        self.applied_replicas = service.desired_count.apply(lambda n: int(n or 0))
        self.register_outputs({"service_name": self.service_name,
                               "applied_replicas": self.applied_replicas})

    @staticmethod
    def _create_color_rules(name: str, args: MirrorProxyArgs, proxy_group: pulumi.Input[str], token: pulumi.Output[str],
                            child: pulumi.ResourceOptions) -> list[aws.lb.ListenerRule]:
        rules = []
        for color, priority in sorted(args.color_rule_priorities.items()):
            rules.append(aws.lb.ListenerRule(
                f"{name}-via-{color}",
                listener_arn=args.listener_arn,
                priority=priority,
                conditions=[
                    routing_condition(args.host, args.path_prefix),
                    aws.lb.ListenerRuleConditionArgs(http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                        http_header_name=header_name(color), values=[token])),
                ],
                actions=[aws.lb.ListenerRuleActionArgs(type="forward", forward=aws.lb.ListenerRuleActionForwardArgs(
                    target_groups=[aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=args.color_target_group_arns[color], weight=100),
                                   aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=proxy_group, weight=0)],
                    stickiness=aws.lb.ListenerRuleActionForwardStickinessArgs(enabled=True, duration=args.sticky_seconds)
                    if args.sticky_seconds else aws.lb.ListenerRuleActionForwardStickinessArgs(enabled=False, duration=1),
                ))],
                tags={"cutover:service": args.service, "cutover:role": "mirror-proxy", "cutover:color": color},
                opts=child,
            ))
        return rules

    @staticmethod
    def _config(args: MirrorProxyArgs, dns_name: str, token: str) -> str:
        origin = f"{args.scheme}://{dns_name}"
        return mirror_proxy_config(
            listen=str(PROXY_PORT), stable_origin=origin, candidate_origin=origin,
            percent=args.mirror_percent, methods=args.mirror_methods, resolver=AMAZON_DNS,
            stable_headers={header_name(args.stable_color): token},
            candidate_headers={header_name(args.candidate_color): token},
        )

    @staticmethod
    def _containers(args: MirrorProxyArgs, config: str, log_group: str) -> str:
        return json.dumps([{
            "name": "nginx",
            "image": NGINX_IMAGE,
            "essential": True,
            "privileged": False,
            "portMappings": [{"containerPort": PROXY_PORT, "protocol": "tcp"}],
            # The image's entrypoint runs the command; the configuration replaces its default server.
            "command": ["/bin/sh", "-c", f'printf "%s" "${CONFIG_VARIABLE}" > /etc/nginx/conf.d/default.conf && exec nginx -g "daemon off;"'],
            "environment": [{"name": CONFIG_VARIABLE, "value": config},
                            {"name": "CUTOVER_STABLE_COLOR", "value": args.stable_color},
                            {"name": "CUTOVER_CANDIDATE_COLOR", "value": args.candidate_color}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": log_group, "awslogs-region": args.region, "awslogs-stream-prefix": "mirror"}},
        }], sort_keys=True)
