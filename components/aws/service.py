"""One service on AWS: twin ECS colors behind its target groups and its router (ALB rule or Route53 records)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.app import ColorPlan, ServiceDecision
from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from components.aws.platform import AwsPlatform
from components.aws.twin_service import ColorAutoscaling, TwinService, TwinServiceArgs
from components.aws.weighted_listener_rule import WeightedListenerRule, WeightedListenerRuleArgs, routing_condition
from components.aws.weighted_records import WeightedRecords, WeightedRecordsArgs
from components.aws.migration_task import MigrationRun, MigrationRunArgs
from components.aws.mirror_proxy import PROXY_PORT, MirrorProxy, MirrorProxyArgs
from components.aws.mirror_proxy_config import HEALTH_PATH as PROXY_HEALTH_PATH, MIRROR_COLOR
from components.config import AutoscalingConfig
from components.gates.migration_verdict import MigrationPlan
from components.outputs import resolved
from components.recording import exported_record, router_record
from components.rollout.decision import TAG_PREFIX

LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class ShadowSettings:
    """A shadow service's mirroring proxy (router alb): what it copies and where its per-color rules sit."""

    percent: int
    """`strategy.mirrorPercent`."""
    methods: tuple[str, ...]
    """`strategy.mirrorMethods`."""
    rule_priorities: dict[str, int]
    """Color -> priority of the rule that sends the proxy's requests to that color."""


@dataclass(frozen=True)
class AwsServiceArgs:
    service: str
    """Service name."""
    image: str
    """Image without tag."""
    port: int
    """Container port the target groups send traffic to."""
    health_check_path: str
    """Target group health check path."""
    router: str
    """`alb` (a rule on the shared ALB) or `route53` (an ALB per color, weighted records)."""
    plan: ColorPlan
    """Colors, versions, replicas and weights this run applies."""
    platform: AwsPlatform
    """Shared network, cluster, execution role and ALB."""
    region: str
    """Region of the log configuration."""
    routing_host: str | None = None
    """Host header the rule matches (or the record name for route53)."""
    routing_path_prefix: str | None = None
    """Path prefix the rule matches when there is no host."""
    priority: int = 1
    """Listener rule priority, stable per service."""
    preview: bool = False
    """Route the test listener to the candidate color (blue-green)."""
    test_listener_port: int | None = None
    """Port of the shared ALB's test listener."""
    certificate_arn: str | None = None
    """HTTPS on the per-color ALBs of the route53 router."""
    dns_zone_id: str | None = None
    """Hosted zone of the weighted records (route53 router)."""
    dns_ttl: int = 60
    """TTL of the weighted records."""
    dns_domain: str | None = None
    """Domain of the hosted zone: a host inside it gets an alias record to the shared ALB (router alb)."""
    decision: ServiceDecision | None = None
    """This run's decision: the router's record and the exported record are derived from it and the applied resources."""
    decision_parameter: str | None = None
    """Fixed name of the SSM parameter holding the decision record (route53 router), so a run can find it without outputs."""
    autoscaling: AutoscalingConfig | None = None
    """The service's autoscaling bounds, or None: the program owns the task count."""
    sticky_seconds: int | None = None
    """stickySessions.durationSeconds: lb_cookie stickiness on both target groups and group stickiness on the rule."""
    migrations: MigrationPlan | None = None
    """Which expand/contract runs this service holds this run; None: no migrations configured."""
    migration_commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`expand` / `contract` -> the container command of that migration."""
    aws_identity: dict = field(default_factory=dict)
    """The stack's aws:* identity settings (profile, assumeRoles): migration tasks run as the provider does."""
    shadow: ShadowSettings | None = None
    """A shadow strategy on router alb: the service keeps a mirroring proxy (scaled to 0 outside the shadow phase)."""


class AwsService(pulumi.ComponentResource):
    """Builds both colors and the router of one service from the rollout's next state.

    In-run order (any prefix of the run leaves traffic on colors with capacity and the recorded image):
    workloads whose share, image or capacity rises are updated first and the router waits for them;
    workloads whose capacity drops, and new colors, wait for the router.
    """

    applied_weights: pulumi.Output[dict]
    """Weights read back from the router's applied outputs."""
    record: pulumi.Output[dict]
    """The exported `rollouts.<service>`: this run's state as far as the resources applied it."""
    endpoints: pulumi.Output[dict]
    """How to reach and inspect the service: url, previewUrl, targetGroupArns, loadBalancerArns, listenerRuleArn,
    cluster, ecsServices, logGroup, decisionParameter."""

    def __init__(self, name: str, args: AwsServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:aws:AwsService", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._log_group = aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=LOG_RETENTION_DAYS, opts=self._child)
        self._target_groups = {color: self._create_target_group(name, color) for color in args.plan.colors}
        self._expand: MigrationRun | None = None
        if args.router == "route53":
            services = self._build_route53(name)
        else:
            services = self._build_alb(name)
        self.record = exported_record(args.decision, self.applied_weights, services)
        self.register_outputs({"applied_weights": self.applied_weights, "record": self.record, "endpoints": self.endpoints})

    def _build_alb(self, name: str) -> dict[str, TwinService]:
        args = self._args
        plan = args.plan
        balancer = args.platform.load_balancer
        self._balancers = {color: balancer for color in plan.colors}
        security_group = self._create_task_security_group(name, [balancer.security_group_id])
        tg_arns = {color: tg.arn for color, tg in self._target_groups.items()}
        waits_for_rule = (*plan.new_colors, *plan.after_router)
        services = {c: self._create_color(name, c, security_group, depends_on=[]) for c in plan.colors if c not in waits_for_rule}
        expand = self._create_expand(name, services, security_group)
        mirror_group = self._create_mirror_target_group(name) if args.shadow is not None and len(plan.colors) == 2 else None
        mirroring = mirror_group is not None and plan.mirror_percent > 0
        # While mirroring, the proxy's tasks are steady before the rule sends it the stable share.
        proxy = [self._create_mirror_proxy(name, mirror_group, tg_arns, [])] if mirroring else []
        rule = WeightedListenerRule(
            f"{name}-route",
            WeightedListenerRuleArgs(
                listener_arn=balancer.production_listener_arn,
                priority=args.priority,
                target_group_arns=tg_arns,
                weights=plan.weights,
                host=args.routing_host,
                path_prefix=args.routing_path_prefix,
                decision=router_record(args.decision, plan.ready_first, services, TAG_PREFIX),
                sticky_seconds=args.sticky_seconds,
                mirror_target_group_arn=mirror_group.arn if mirror_group is not None else None,
                mirrored_color=plan.stable_color if mirroring else None,
            ),
            # Traffic and the record move onto a color only once its ECS service is steady (waitForSteadyState),
            # onto a candidate only once its expand migration ran, and through the mirroring proxy only once it is.
            pulumi.ResourceOptions(parent=self, depends_on=[services[c] for c in plan.ready_first] + self._expand_gate(expand) + proxy),
        )
        if mirror_group is not None and not mirroring:
            # Out of the path (or never in it): its capacity goes only after the rule that forwards straight to the colors.
            self._create_mirror_proxy(name, mirror_group, tg_arns, [rule])
        for color in waits_for_rule:
            # A new color: AWS attaches a target group to an ECS service only once a rule forwards to it.
            # A color losing capacity: only after the rule that took its traffic away was applied.
            services[color] = self._create_color(name, color, security_group, depends_on=[rule])
        self._create_expand(name, services, security_group)
        self._create_contract(name, services, security_group)
        preview_url = None
        if args.preview and plan.candidate_color in tg_arns:
            aws.lb.ListenerRule(
                f"{name}-preview",
                listener_arn=balancer.test_listener_arn,
                priority=args.priority,
                conditions=[routing_condition(args.routing_host, args.routing_path_prefix)],
                actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=tg_arns[plan.candidate_color])],
                opts=self._child,
            )
            preview_url = self._url(balancer, balancer.dns_name, port=args.test_listener_port)
        self._alias_to_shared_alb(name, balancer)
        self.applied_weights = rule.applied_weights
        self.endpoints = self._endpoints(
            url=self._url(balancer, balancer.dns_name),
            preview_url=preview_url,
            load_balancer_arns={"shared": balancer.arn},
            listener_rule_arn=rule.rule_arn,
            services=services,
            load_balancer_dns_name=balancer.dns_name,
            mirror_target_group_arn=mirror_group.arn if mirror_group is not None else None,
        )
        return services

    def _alias_to_shared_alb(self, name: str, balancer: LoadBalancer) -> None:
        """`url` names <host>; inside the stack's hosted zone that name must resolve to the shared ALB. One alias
        record, not weighted: the weights live on the listener rule. Hosts outside the zone are the user's DNS."""
        args = self._args
        host, domain = args.routing_host, args.dns_domain
        if not (host and domain and args.dns_zone_id and (host == domain or host.endswith(f".{domain}"))):
            return
        aws.route53.Record(
            f"{name}-url",
            zone_id=args.dns_zone_id,
            name=host,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(name=balancer.dns_name, zone_id=balancer.zone_id, evaluate_target_health=True)],
            opts=self._child,
        )

    def _build_route53(self, name: str) -> dict[str, TwinService]:
        args = self._args
        plan = args.plan
        balancers = {
            color: LoadBalancer(
                f"{name}-{color}",
                LoadBalancerArgs(
                    vpc_id=args.platform.network.vpc_id,
                    subnet_ids=args.platform.network.public_subnet_ids,
                    certificate_arn=args.certificate_arn,
                    default_target_group_arn=self._target_groups[color].arn,
                    tags={"cutover:service": args.service, "cutover:color": color},
                ),
                self._child,
            )
            for color in plan.colors
        }
        self._balancers = balancers
        security_group = self._create_task_security_group(name, [b.security_group_id for b in balancers.values()])
        # Each color's listener already forwards to its target group, so its ECS service may attach.
        services = {
            color: self._create_color(name, color, security_group, depends_on=[balancers[color]])
            for color in plan.colors if color not in plan.after_router
        }
        expand = self._create_expand(name, services, security_group)
        records = WeightedRecords(
            f"{name}-dns",
            WeightedRecordsArgs(
                zone_id=args.dns_zone_id,
                record_name=args.routing_host,
                targets={color: balancer.dns_name for color, balancer in balancers.items()},
                weights=plan.weights,
                ttl=args.dns_ttl,
                decision=router_record(args.decision, plan.ready_first, services, TAG_PREFIX),
                decision_parameter=args.decision_parameter,
                update_first=plan.gaining[0] if plan.gaining else None,
            ),
            # Records move traffic onto a color only once its ECS service is steady, and onto a candidate only once
            # its expand migration ran.
            pulumi.ResourceOptions(parent=self, depends_on=[services[c] for c in plan.ready_first] + self._expand_gate(expand)),
        )
        for color in plan.after_router:
            # Capacity drops only after the records that took this color's traffic away were applied.
            services[color] = self._create_color(name, color, security_group, depends_on=[balancers[color], records])
        self._create_expand(name, services, security_group)
        self._create_contract(name, services, security_group)
        candidate = balancers.get(plan.candidate_color)
        scheme = "https" if args.certificate_arn else "http"
        self.applied_weights = records.applied_weights
        self.endpoints = self._endpoints(
            url=pulumi.Output.from_input(f"{scheme}://{args.routing_host}"),
            preview_url=candidate.dns_name.apply(lambda dns: f"{scheme}://{dns}") if candidate and args.preview else None,
            load_balancer_arns={color: balancer.arn for color, balancer in balancers.items()},
            listener_rule_arn=None,
            services=services,
            decision_parameter=records.decision_parameter,
        )
        return services

    def _create_expand(self, name: str, services: dict[str, TwinService], security_group: aws.ec2.SecurityGroup) -> MigrationRun | None:
        """The candidate version's expand run, once its color's ECS service exists in this run (it runs that
        color's task definition after the service is steady); registered in every run while that version is
        in flight, so a finished run is kept, never repeated."""
        args = self._args
        plan = args.migrations
        color = args.plan.candidate_color
        if self._expand is not None or plan is None or plan.expand_version is None or color not in services:
            return self._expand
        self._expand = self._migration(name, "expand", plan.expand_version, plan.expand_attempt, services[color], security_group)
        return self._expand

    def _expand_gate(self, expand: MigrationRun | None) -> list[pulumi.Resource]:
        """The router waits for the expand run in the run that gives the candidate traffic (never in a run that
        takes traffic away: an abort must not wait on a migration)."""
        plan = self._args.plan
        return [expand] if expand is not None and plan.candidate_color in plan.gaining else []

    def _create_contract(self, name: str, services: dict[str, TwinService], security_group: aws.ec2.SecurityGroup) -> None:
        """The stable version's contract run, after the old color's ECS service was scaled to zero in this run
        (or in an earlier one): it runs the stable color's task definition."""
        args = self._args
        plan = args.migrations
        stable, old = args.plan.stable_color, args.plan.candidate_color
        self._contract: MigrationRun | None = None
        if plan is None or plan.contract_version is None or stable not in services:
            return
        after = [services[old]] if old in services else []
        self._contract = self._migration(name, "contract", plan.contract_version, "", services[stable], security_group, after)

    def _migration(self, name: str, phase: str, version: str, attempt: str, color: TwinService,
                   security_group: aws.ec2.SecurityGroup, after: list[pulumi.Resource] | None = None) -> MigrationRun:
        args = self._args
        return MigrationRun(
            f"{name}-{phase}-{version}",
            MigrationRunArgs(
                phase=phase, version=version, attempt=attempt, command=args.migration_commands[phase], region=args.region,
                cluster=args.platform.cluster_arn, task_definition=color.task_definition_arn, container=args.service,
                subnets=args.platform.network.private_subnet_ids, security_groups=[security_group.id],
                identity=args.aws_identity,
            ),
            # Runs the task definition of a color whose ECS service is steady (and, for a contract, after the old
            # color's scale-down to zero was applied).
            pulumi.ResourceOptions(parent=self, depends_on=[color, *(after or [])]),
        )

    def _create_target_group(self, name: str, color: str) -> aws.lb.TargetGroup:
        args = self._args
        return aws.lb.TargetGroup(
            f"{name}-{color}-tg",
            port=args.port,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.platform.network.vpc_id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=args.health_check_path, matcher="200-399", interval=10, healthy_threshold=2, unhealthy_threshold=3, timeout=5
            ),
            # Long enough for in-flight requests to finish, short enough that a step is not slowed by 5 minutes (the default).
            deregistration_delay=30,
            stickiness=aws.lb.TargetGroupStickinessArgs(type="lb_cookie", cookie_duration=args.sticky_seconds, enabled=True)
            if args.sticky_seconds else None,
            tags={"cutover:service": args.service, "cutover:color": color},
            opts=self._child,
        )

    def _create_mirror_target_group(self, name: str) -> aws.lb.TargetGroup:
        """The mirroring proxy's target group: created here with the colors' (the service's rule names all of them)."""
        return aws.lb.TargetGroup(
            f"{name}-mirror-tg",
            port=PROXY_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=self._args.platform.network.vpc_id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=PROXY_HEALTH_PATH, matcher="200", interval=10, healthy_threshold=2, unhealthy_threshold=3, timeout=5
            ),
            # As the colors': in-flight requests finish, a phase change is not slowed by the 300 s default.
            deregistration_delay=30,
            tags={"cutover:service": self._args.service, "cutover:color": MIRROR_COLOR, "cutover:role": "mirror-proxy"},
            opts=self._child,
        )

    def _create_mirror_proxy(self, name: str, group: aws.lb.TargetGroup, tg_arns: dict[str, pulumi.Output[str]],
                             after: list[pulumi.Resource]) -> MirrorProxy:
        args, plan = self._args, self._args.plan
        balancer = args.platform.load_balancer
        return MirrorProxy(
            f"{name}-mirror",
            MirrorProxyArgs(
                service=args.service,
                replicas=plan.replicas[plan.stable_color] if plan.mirror_percent > 0 else 0,
                stable_color=plan.stable_color,
                candidate_color=plan.candidate_color,
                mirror_percent=args.shadow.percent,
                mirror_methods=args.shadow.methods,
                target_group_arn=group.arn,
                color_target_group_arns=tg_arns,
                color_rule_priorities=args.shadow.rule_priorities,
                listener_arn=balancer.production_listener_arn,
                load_balancer_dns_name=balancer.dns_name,
                load_balancer_security_group_id=balancer.security_group_id,
                scheme=balancer.scheme,
                host=args.routing_host,
                path_prefix=args.routing_path_prefix,
                vpc_id=args.platform.network.vpc_id,
                subnet_ids=args.platform.network.private_subnet_ids,
                cluster_arn=args.platform.cluster_arn,
                execution_role_arn=args.platform.execution_role_arn,
                log_group_name=self._log_group.name,
                region=args.region,
                sticky_seconds=args.sticky_seconds,
            ),
            # Capacity drops only after the rule that took the proxy out of the path (its ECS service waits for it).
            pulumi.ResourceOptions(parent=self, depends_on=after),
        )

    def _create_task_security_group(self, name: str, source_groups: list[pulumi.Input[str]]) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{name}-tasks-sg",
            vpc_id=self._args.platform.network.vpc_id,
            description=f"{self._args.service} tasks: traffic from the load balancer only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=self._args.port, to_port=self._args.port, security_groups=source_groups
                )
            ],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])],
            tags={"cutover:service": self._args.service, "cutover:role": "tasks"},
            opts=self._child,
        )

    def _create_colors(self, name: str, security_group: aws.ec2.SecurityGroup, depends_on: list[pulumi.Resource]) -> dict[str, TwinService]:
        return {color: self._create_color(name, color, security_group, depends_on) for color in self._args.plan.colors}

    def _autoscaling(self, color: str) -> ColorAutoscaling | None:
        args = self._args
        scaling = args.autoscaling
        if scaling is None:
            return None
        low, high = args.plan.capacity[color]
        balancer = self._balancers.get(color)
        label = None
        if scaling.target_requests_per_target is not None and balancer is not None:
            label = pulumi.Output.all(balancer.arn_suffix, self._target_groups[color].arn_suffix).apply(lambda v: f"{v[0]}/{v[1]}")
        return ColorAutoscaling(
            min_capacity=low, max_capacity=high, target_cpu_percent=scaling.target_cpu_percent,
            cluster_name=args.platform.cluster_name, target_requests_per_target=scaling.target_requests_per_target,
            request_count_label=label,
        )

    def _create_color(self, name: str, color: str, security_group: aws.ec2.SecurityGroup, depends_on: list[pulumi.Resource]) -> TwinService:
        args = self._args
        return TwinService(
            f"{name}-{color}",
            TwinServiceArgs(
                service=args.service,
                color=color,
                image=args.image,
                version=args.plan.versions[color],
                port=args.port,
                desired_count=args.plan.replicas[color],
                cluster_arn=args.platform.cluster_arn,
                target_group_arn=self._target_groups[color].arn,
                subnet_ids=args.platform.network.private_subnet_ids,
                security_group_id=security_group.id,
                execution_role_arn=args.platform.execution_role_arn,
                log_group_name=self._log_group.name,
                region=args.region,
                # Each color runs its own pinned workload spec (`plan.specs`): a config change reaches a color
                # that serves only with a new version, or in place when no rollout is in flight.
                cpu=args.plan.specs[color].cpu,
                memory=args.plan.specs[color].memory,
                environment=dict(args.plan.specs[color].environment),
                secrets=dict(args.plan.specs[color].secrets),
                autoscaling=self._autoscaling(color),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _url(self, balancer: LoadBalancer, dns_name: pulumi.Output[str], port: int | None = None) -> pulumi.Output[str]:
        args = self._args
        suffix = f":{port}" if port else ""
        if args.routing_host:
            return pulumi.Output.from_input(f"{balancer.scheme}://{args.routing_host}{suffix}")
        path = (args.routing_path_prefix or "/").rstrip("/") + "/"
        return dns_name.apply(lambda dns: f"{balancer.scheme}://{dns}{suffix}{path}")

    def _endpoints(self, url, preview_url, load_balancer_arns, listener_rule_arn, services, decision_parameter=None,
                   load_balancer_dns_name=None, mirror_target_group_arn=None) -> pulumi.Output[dict]:
        return resolved(
            {
                "url": url,
                "previewUrl": preview_url,
                "targetGroupArns": {color: tg.arn for color, tg in self._target_groups.items()},
                "loadBalancerArns": load_balancer_arns,
                "listenerRuleArn": listener_rule_arn,
                "cluster": self._args.platform.cluster_arn,
                "ecsServices": {color: svc.service_name for color, svc in sorted(services.items())},
                "logGroup": self._log_group.name,
                "decisionParameter": decision_parameter,
                "loadBalancerDnsName": load_balancer_dns_name,
                # Shadow services: the mirroring proxy's target group (in the rule, answering from the stable color).
                **({"mirrorTargetGroupArn": mirror_target_group_arn} if mirror_target_group_arn is not None else {}),
                # Only services with migrations carry the key: the next run reads each run's outcome back here.
                **({"migrations": {"expand": self._expand.record() if self._expand else None,
                                   "contract": self._contract.record() if self._contract else None}}
                   if self._args.migrations is not None else {}),
            }
        )
