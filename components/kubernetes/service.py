"""One service on Kubernetes: a TwinDeployment per color and its router (Service switch, HTTPRoute or ingress-nginx canary)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.app import ColorPlan, ServiceDecision
from components.gates.migration_verdict import MigrationPlan, recorded_outcome
from components.kubernetes.http_route import WeightedHttpRoute, WeightedHttpRouteArgs
from components.kubernetes.manifest import HorizontalScaling, InvalidKubernetesSetting, candidate_service_color
from components.kubernetes.migration_job import MigrationJobArgs, job_record, job_resource_name, migration_job
from components.kubernetes.nginx_canary import NginxCanary, NginxCanaryArgs
from components.kubernetes.service_switch import ServiceSwitch, ServiceSwitchArgs
from components.kubernetes.twin_deployment import TwinDeployment, TwinDeploymentArgs
from components.outputs import resolved
from components.recording import exported_record, router_record
from components.rollout.decision import ANNOTATION_PREFIX

ROUTERS = ("service", "gateway", "nginx")


@dataclass(frozen=True)
class KubernetesServiceArgs:
    service: str
    """Service name: the `app` label of everything below."""
    namespace: str
    """Namespace everything lives in (assumed to exist: owned by the platform team)."""
    kubernetes_version: str
    """Kubernetes minor version the manifests target, e.g. "1.32"."""
    image: str
    """Image without tag."""
    port: int
    """Container port."""
    health_check_path: str
    """Readiness probe path."""
    router: str
    """`service` (selector switch), `gateway` (HTTPRoute weights) or `nginx` (canary Ingress)."""
    plan: ColorPlan
    """Colors, versions, replicas and weights this run applies."""
    max_surge: int | str
    """Surge pods of a rolling update (maxUnavailable is always 0)."""
    preview: bool = False
    """Create a preview Service that reaches the candidate (`service` and `gateway` routers)."""
    host: str | None = None
    """Host the route / Ingresses match."""
    path_prefix: str = "/"
    """Path prefix the route / Ingresses match."""
    gateway_name: str | None = None
    """Gateway an HTTPRoute attaches to (router `gateway`)."""
    gateway_namespace: str | None = None
    """Its namespace."""
    ingress_class: str = "nginx"
    """IngressClass of ingress-nginx (router `nginx`)."""
    cpu: int = 256
    """AWS-style CPU units (1024 = one core) of the config: the migration Jobs' (each color runs `plan.specs`)."""
    memory: int = 512
    """MiB of the config: the migration Jobs'."""
    environment: dict[str, str] = field(default_factory=dict)
    """Plain environment variables of the config: the migration Jobs' (they run the new version)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Env var -> "secret-name:key" of the config: the migration Jobs'."""
    decision: ServiceDecision | None = None
    """This run's decision: the router's record and the exported record are derived from it and the applied objects."""
    autoscaling: HorizontalScaling | None = None
    """A HorizontalPodAutoscaler per running color, its bounds set each run from the plan; None: fixed replicas."""
    sticky_seconds: int | None = None
    """stickySessions.durationSeconds (service and nginx routers; the config refuses it on gateway)."""
    migrations: MigrationPlan | None = None
    """Which expand/contract Jobs this service holds this run; None: no migrations configured."""
    migration_commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`expand` / `contract` -> the container command of that migration."""
    migration_records: dict = field(default_factory=dict)
    """The previous run's `endpoints.<svc>.migrations`, with the outcomes this run read back from the Jobs."""


class KubernetesService(pulumi.ComponentResource):
    """Builds both colors and the router of one service from the rollout's next state.

    In-run order: Deployments whose share, image or capacity rises (and a new color that gains traffic)
    are updated first and the router waits for them; Deployments whose capacity drops wait for the router.
    """

    applied_weights: pulumi.Output[dict]
    """Weights read back from the router's applied outputs."""
    record: pulumi.Output[dict]
    """The exported `rollouts.<service>`: this run's state as far as the objects applied it."""
    endpoints: pulumi.Output[dict]
    """How to reach and inspect the service: namespace, router, url, previewUrl, deployments, routerObjects, inspect."""

    def __init__(self, name: str, args: KubernetesServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cutover:kubernetes:KubernetesService", name, None, opts)
        if args.router not in ROUTERS:
            raise InvalidKubernetesSetting(f"unknown kubernetes router {args.router!r}; expected one of {', '.join(ROUTERS)}")
        self._args = args
        plan = args.plan
        waits_for = (*plan.ready_first, *(c for c in plan.new_colors if c in plan.gaining))
        twins = {color: self._create_color(name, color) for color in sorted(plan.colors) if color not in plan.after_router}
        self._expand = self._contract = None
        self._job_runs: dict[str, tuple[str, str]] = {}
        self._create_expand(name, twins)
        # Weights move onto a candidate only after its expand Job, in the run that gives it traffic (never in a run
        # that takes traffic away: an abort must not wait on a migration). What lets it move is the verdict: this
        # run read the Job back and found it succeeded.
        gate = (self._expand,) if self._expand is not None and plan.candidate_color in plan.gaining else ()
        decision = router_record(args.decision, waits_for, twins, ANNOTATION_PREFIX)
        preview_color = candidate_service_color(args.plan.stable_color, args.plan.candidate_color, args.plan.candidate_deployed)
        two_colors = args.plan.candidate_color in args.plan.colors
        router_objects: dict[str, pulumi.Input] = {}
        if args.router == "service":
            switch = ServiceSwitch(
                f"{name}-switch",
                ServiceSwitchArgs(
                    service=args.service,
                    namespace=args.namespace,
                    stable_color=args.plan.stable_color,
                    preview_color=preview_color if args.preview and two_colors else None,
                    deployments=twins,
                    ready_first=waits_for,
                    gate=gate,
                    decision=decision,
                    sticky_seconds=args.sticky_seconds,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            router: pulumi.Resource = switch
            self.applied_weights = switch.applied_weights
            url, preview_url = switch.url, switch.preview_url
            router_objects["stableService"] = switch.stable_service_name
        elif args.router == "gateway":
            route = WeightedHttpRoute(
                f"{name}-gateway",
                WeightedHttpRouteArgs(
                    service=args.service,
                    namespace=args.namespace,
                    colors=tuple(sorted(args.plan.colors)),
                    weights=args.plan.weights,
                    gateway_name=args.gateway_name or "",
                    gateway_namespace=args.gateway_namespace or "",
                    deployments=twins,
                    ready_first=waits_for,
                    gate=gate,
                    host=args.host,
                    path_prefix=args.path_prefix,
                    preview_color=preview_color if args.preview and two_colors else None,
                    decision=decision,
                    mirror_color=args.plan.candidate_color if args.plan.mirror_percent else None,
                    mirror_percent=args.plan.mirror_percent,
                    mirror_methods=args.plan.mirror_methods,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            router = route
            self.applied_weights = route.applied_weights
            url, preview_url = self._public_url(), route.preview_url
            router_objects["httpRoute"] = route.route_name
            router_objects["colorServices"] = route.color_service_names
        else:
            canary = NginxCanary(
                f"{name}-nginx",
                NginxCanaryArgs(
                    service=args.service,
                    namespace=args.namespace,
                    ingress_class=args.ingress_class,
                    stable_color=args.plan.stable_color,
                    candidate_color=preview_color if two_colors else None,
                    candidate_percent=args.plan.weights.of_name(args.plan.candidate_color),
                    deployments=twins,
                    ready_first=waits_for,
                    gate=gate,
                    host=args.host,
                    path_prefix=args.path_prefix,
                    decision=decision,
                    sticky_seconds=args.sticky_seconds,
                    mirror=args.plan.mirror_percent > 0,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            router = canary
            self.applied_weights = canary.applied_weights
            url, preview_url = self._public_url(), canary.preview_url
            router_objects["ingresses"] = canary.ingress_names
            router_objects["services"] = canary.service_names
        for color in plan.after_router:
            # Capacity drops only after the router update that took this color's traffic away was applied.
            twins[color] = self._create_color(name, color, depends_on=[router])
        self._create_expand(name, twins)
        self._create_contract(name, twins)
        self.record = exported_record(args.decision, self.applied_weights, twins)
        self.endpoints = resolved(
            {
                "namespace": args.namespace,
                "router": args.router,
                "url": url,
                "previewUrl": preview_url,
                "deployments": {color: twin.deployment_name for color, twin in sorted(twins.items())},
                "routerObjects": router_objects,
                "inspect": f"kubectl -n {args.namespace} get deployments,services,pdb,ingresses,httproutes"
                           f"{',jobs' if args.migrations is not None else ''} -l app={args.service}",
                # Only services with migrations carry the key: the next run reads each Job's outcome back from here.
                **({"migrations": {"expand": self._record("expand", self._expand), "contract": self._record("contract", self._contract)}}
                   if args.migrations is not None else {}),
            }
        )
        self.register_outputs({"applied_weights": self.applied_weights, "record": self.record, "endpoints": self.endpoints})

    def _create_color(self, name: str, color: str, depends_on: list[pulumi.Resource] | None = None) -> TwinDeployment:
        args = self._args
        return TwinDeployment(
            f"{name}-{color}",
            TwinDeploymentArgs(
                service=args.service,
                namespace=args.namespace,
                color=color,
                image=args.image,
                version=args.plan.versions[color],
                port=args.port,
                replicas=args.plan.replicas[color],
                health_check_path=args.health_check_path,
                max_surge=args.max_surge,
                kubernetes_version=args.kubernetes_version,
                # Each color runs its own pinned workload spec (`plan.specs`): a config change reaches a color
                # that serves only with a new version, or in place when no rollout is in flight.
                cpu=args.plan.specs[color].cpu,
                memory=args.plan.specs[color].memory,
                environment=dict(args.plan.specs[color].environment),
                secrets=dict(args.plan.specs[color].secrets),
                autoscaling=args.autoscaling,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
        )

    def _create_expand(self, name: str, twins: dict[str, TwinDeployment]) -> None:
        """The candidate version's expand Job, once its color's Deployment is registered in this run (it starts after
        that Deployment reports ready); registered in every run while that version is in flight, never changed."""
        args = self._args
        plan = args.migrations
        color = args.plan.candidate_color
        if self._expand is not None or plan is None or plan.expand_version is None or color not in twins:
            return
        self._expand = self._job(name, "expand", plan.expand_version, plan.expand_attempt, [twins[color]])

    def _create_contract(self, name: str, twins: dict[str, TwinDeployment]) -> None:
        """The stable version's contract Job, after the old color's Deployment was scaled to zero (in this run, after
        the router, or in an earlier one)."""
        args = self._args
        plan = args.migrations
        stable, old = args.plan.stable_color, args.plan.candidate_color
        if plan is None or plan.contract_version is None or stable not in twins:
            return
        self._contract = self._job(name, "contract", plan.contract_version, "", [twins[stable], *([twins[old]] if old in twins else [])])

    def _job(self, name: str, phase: str, version: str, attempt: str, after: list[pulumi.Resource]):
        args = self._args
        job = migration_job(
            job_resource_name(name, phase, version, attempt),
            MigrationJobArgs(
                service=args.service, namespace=args.namespace, phase=phase, version=version, attempt=attempt,
                image=args.image, command=args.migration_commands[phase], cpu=args.cpu, memory=args.memory,
                environment=dict(args.environment), secrets=dict(args.secrets),
            ),
            depends_on=after,
            parent=self,
        )
        self._job_runs[phase] = (version, attempt)
        return job

    def _record(self, phase: str, job) -> pulumi.Output | None:
        """What the next run reads (`endpoints.<svc>.migrations.<phase>`): the outcome already read back for this
        version and attempt, else none yet (the Job was created without an await)."""
        if job is None:
            return None
        version, attempt = self._job_runs[phase]
        known = recorded_outcome(self._args.migration_records, phase, version, attempt)
        return job_record(job, self._args.namespace, phase, version, attempt, known)

    def _public_url(self) -> str | None:
        """URL through the Gateway / ingress controller; None when the service has no host (any host matches)."""
        args = self._args
        return f"http://{args.host}{args.path_prefix}" if args.host else None
