"""Stack configuration: every `cutover:*` object as a pydantic model, validated once.

This is the only place pydantic is used. `load_config` turns the raw values the
engine hands us (JSON strings, exactly as the CLI passes them) into frozen models,
or raises `CutoverConfigError` whose message names the full key path, e.g.
`cutover:services.web.strategy.steps: steps must increase and end at 100`.
No pulumi import here: the program calls this before registering anything.
"""

from __future__ import annotations

import json
import re
import zlib
from enum import Enum
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

CONFIG_NAMESPACE = "cutover"
CONFIG_KEYS = ("network", "dns", "services", "kubernetes", "stateStack", "promotion", "notifications")
PLAIN_KEYS = ("stateStack",)
"""Keys whose value is a plain string, not a JSON object."""
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
# Docker tag grammar: what ECS and Kubernetes accept after the colon.
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# ALB listener rule priorities are 1..50000; we keep 1..49999 for services.
RULE_PRIORITY_SPAN = 49_999
DEFAULT_TEST_LISTENER_PORT = 8443
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


class CutoverConfigError(ValueError):
    """Configuration that cannot be deployed; the message names the key and the problem."""


class ConfigProblem(ValueError):
    """Raised inside cross-field validators to blame one field of the model being checked."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Platform(str, Enum):
    AWS = "aws"
    KUBERNETES = "kubernetes"


class Router(str, Enum):
    ALB = "alb"
    ROUTE53 = "route53"
    SERVICE = "service"
    GATEWAY = "gateway"
    NGINX = "nginx"


class StrategyKind(str, Enum):
    CANARY = "canary"
    BLUE_GREEN = "blue-green"
    RED_BLACK = "red-black"
    ROLLING = "rolling"
    SHADOW = "shadow"


class HttpMethod(str, Enum):
    """The methods a Gateway API HTTPRoute can match (HTTPRouteMatch.method, v1.6.1)."""

    GET = "GET"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"
    TRACE = "TRACE"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"
    CONNECT = "CONNECT"


MIRROR_COLORS = ("blue", "green")
"""Colors the mirroring proxy reaches through their own listener rules (its priority order)."""
SAFE_METHODS = (HttpMethod.GET, HttpMethod.HEAD)
"""What a shadow phase mirrors unless `mirrorMethods` says otherwise: requests that change nothing."""
SHADOW_CONTINUATIONS = (StrategyKind.BLUE_GREEN, StrategyKind.CANARY)
SHADOW_UNSUPPORTED: dict[Platform, str] = {}
"""Platforms that cannot run a shadow phase, and why (AWS mirrors through an nginx proxy tier: router alb)."""
SHADOW_ROUTER_UNSUPPORTED = {
    Router.ROUTE53: "weighted records send each lookup to one color and cannot copy a request; the mirroring proxy "
                    "tier sits behind the shared ALB (use router alb)",
    Router.SERVICE: "a Service selector sends each request to one color and cannot copy it (use router gateway)",
}

ROUTERS_BY_PLATFORM = {
    Platform.AWS: (Router.ALB, Router.ROUTE53),
    Platform.KUBERNETES: (Router.SERVICE, Router.GATEWAY, Router.NGINX),
}
DEFAULT_ROUTER = {Platform.AWS: Router.ALB, Platform.KUBERNETES: Router.GATEWAY}
# A router that can only point at one color cannot split traffic; a weighted
# record pair needs two colors, so it cannot host a one-color rolling update.
UNSUPPORTED = {
    (Router.SERVICE, StrategyKind.CANARY): "the service router switches one color at a time and cannot split traffic: use router gateway or nginx",
    (Router.ROUTE53, StrategyKind.ROLLING): "rolling keeps a single color, but a weighted record pair needs two: use router alb",
}


class NetworkConfig(_Model):
    vpc_id: str = Field(pattern=r"^vpc-[0-9a-zA-Z]+$", description="VPC the ALBs and tasks live in")
    public_subnet_ids: list[str] = Field(min_length=2, description="subnets of the ALB(s), two AZs at least")
    private_subnet_ids: list[str] = Field(min_length=2, description="subnets of the ECS tasks")
    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:", description="ACM certificate: HTTPS listener + HTTP redirect"
    )
    test_listener_port: int = Field(
        default=DEFAULT_TEST_LISTENER_PORT, ge=1, le=65535, description="port of the ALB listener that reaches blue-green candidates"
    )

    test_listener_cidrs: list[str] = Field(
        default_factory=lambda: list(PRIVATE_RANGES),
        description="who may reach the test listener; private ranges by default, never the internet",
    )

    @model_validator(mode="after")
    def _test_listener_is_private(self) -> "NetworkConfig":
        if self.test_listener_port in (80, 443):
            raise ConfigProblem("testListenerPort", "80 and 443 carry production traffic; pick another port")
        if any(cidr in ("0.0.0.0/0", "::/0") for cidr in self.test_listener_cidrs):
            raise ConfigProblem("testListenerCidrs", "previews of unverified versions must not be open to the internet")
        return self


class DnsConfig(_Model):
    zone_id: str = Field(min_length=1, description="Route53 hosted zone id")
    domain: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", description="domain of the zone")
    ttl: int = Field(default=60, ge=1, le=60, description="TTL of weighted records; low so weights take effect")


class GatewayRef(_Model):
    name: str
    namespace: str


class KubernetesConfig(_Model):
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    version: str = Field(default="1.32", pattern=r"^1\.\d+$", description="Kubernetes version manifests target")
    gateway: GatewayRef | None = None
    ingress_class: str = "nginx"
    host_suffix: str | None = Field(default=None, description="services answer on <service>.<hostSuffix>")


class PrometheusConfig(_Model):
    url: str = Field(pattern=r"^https?://")
    error_rate_query: str | None = Field(default=None, description="PromQL ratio of 5xx; {{service}} {{version}} {{color}}")
    latency_query: str | None = Field(default=None, description="PromQL latency in milliseconds")
    request_query: str | None = Field(default=None, description="PromQL request count over the step, for minRequests")


class AnalysisConfig(_Model):
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_latency_ms: float | None = Field(default=None, gt=0)
    min_requests: int = Field(default=100, ge=0)
    alarms: list[str] = Field(default_factory=list)
    max_inconclusive_runs: int = Field(default=3, ge=1)
    prometheus: PrometheusConfig | None = None

    @model_validator(mode="after")
    def _prometheus_can_measure_what_is_judged(self) -> "AnalysisConfig":
        # A threshold with no query to measure it would hold every rollout forever.
        if self.prometheus is not None:
            if self.max_error_rate is not None and not self.prometheus.error_rate_query:
                raise ConfigProblem("prometheus.errorRateQuery", "maxErrorRate is set, so the error-rate query is needed")
            if self.max_latency_ms is not None and not self.prometheus.latency_query:
                raise ConfigProblem("prometheus.latencyQuery", "maxLatencyMs is set, so the latency query is needed")
        return self


class StrategyConfig(_Model):
    kind: StrategyKind
    steps: list[int] | None = None
    bake_minutes: int = Field(default=5, ge=0)
    scale_down_delay_minutes: int = Field(default=30, ge=0)
    max_surge: str = Field(default="25%", pattern=r"^(\d+|\d{1,3}%)$")
    analysis: AnalysisConfig | None = None
    mirror_percent: int = Field(default=100, ge=1, le=100, description="shadow: share of live requests copied to the candidate")
    mirror_methods: list[HttpMethod] = Field(
        default_factory=lambda: list(SAFE_METHODS), min_length=1,
        description="shadow: request methods that are copied; state-changing ones only when listed",
    )
    then: StrategyKind | None = Field(default=None, description="shadow: the strategy that follows the shadow phase")

    @field_validator("steps")
    @classmethod
    def _steps_increase_to_100(cls, steps: list[int] | None) -> list[int] | None:
        if steps is None:
            return steps
        if not steps or any(not 0 < s <= 100 for s in steps):
            raise ValueError("steps are percentages between 1 and 100")
        if any(b <= a for a, b in zip(steps, steps[1:])) or steps[-1] != 100:
            raise ValueError("steps must increase and end at 100")
        return steps

    @property
    def continues_as(self) -> StrategyKind:
        """The strategy that moves traffic: `then` after a shadow phase, else `kind`."""
        return self.then if self.kind is StrategyKind.SHADOW and self.then is not None else self.kind

    @property
    def shadow(self) -> bool:
        return self.kind is StrategyKind.SHADOW

    @model_validator(mode="after")
    def _steps_match_kind(self) -> "StrategyConfig":
        if self.shadow:
            if self.then not in SHADOW_CONTINUATIONS:
                raise ConfigProblem("then", "a shadow phase continues with blue-green or canary (with its steps), "
                                    f"got {self.then.value if self.then else 'nothing'}")
            if len(set(self.mirror_methods)) != len(self.mirror_methods):
                raise ConfigProblem("mirrorMethods", "a method is listed twice")
        else:
            for key in ("mirror_percent", "mirror_methods", "then"):
                if key in self.model_fields_set:
                    raise ConfigProblem(to_camel(key), f"only a shadow strategy takes {to_camel(key)}, not {self.kind.value}")
        kind = self.continues_as
        if kind is StrategyKind.CANARY and self.steps is None:
            raise ConfigProblem("steps", "a canary needs steps, e.g. [10, 50, 100]")
        if kind is not StrategyKind.CANARY and self.steps is not None:
            raise ConfigProblem("steps", f"only canary takes steps; {kind.value} switches all at once")
        return self


class AutoscalingConfig(_Model):
    """Per color an autoscaler (AWS: Application Auto Scaling target + target-tracking policies;
    Kubernetes: a HorizontalPodAutoscaler autoscaling/v2) owns the replica count within bounds that
    the program sets each run (a scaled-down color 0/0, a candidate at least enough for its share)."""

    min_replicas: int = Field(ge=1, le=1000, description="fewest tasks/pods of a color that serves or stays warm")
    max_replicas: int = Field(ge=1, le=1000, description="most tasks/pods of one color")
    target_cpu_percent: int = Field(ge=10, le=95, description="average CPU utilisation the autoscaler keeps")
    target_requests_per_target: int | None = Field(
        default=None, ge=1, description="AWS ALB only: requests per task per minute (ALBRequestCountPerTarget)"
    )

    @model_validator(mode="after")
    def _bounds_in_order(self) -> "AutoscalingConfig":
        if self.max_replicas < self.min_replicas:
            raise ConfigProblem("maxReplicas", f"{self.max_replicas} is below minReplicas {self.min_replicas}")
        return self


STICKY_MAX_SECONDS = 604_800
"""ALB target-group and forward-action stickiness: 1 s .. 7 days (TargetGroupStickinessConfig)."""
CLIENT_IP_AFFINITY_MAX_SECONDS = 86_400
"""Kubernetes Service `sessionAffinityConfig.clientIP.timeoutSeconds`: at most one day."""
STICKY_UNSUPPORTED = {
    Router.ROUTE53: "weighted DNS picks a color per lookup, and resolvers cache the answer for its TTL; there is "
                    "no cookie to keep a user on one version (use router alb)",
    Router.GATEWAY: "HTTPRoute session persistence (GEP-1619) is in the Gateway API experimental channel only; the "
                    "standard HTTPRoute CRD (v1.6.1) has no sessionPersistence field (use router nginx)",
}
"""Routers that cannot keep a user on the version they started on."""


class StickySessionsConfig(_Model):
    """Users stay on the color (version) they started on during a weighted shift, for `durationSeconds`."""

    duration_seconds: int = Field(ge=1, le=STICKY_MAX_SECONDS, description="how long a user stays on their color")


class SmokeCheckConfig(_Model):
    """One HTTP check against the candidate's preview endpoint before it receives any live traffic."""

    path: str = Field(pattern=r"^/\S*$", description="path under the candidate's preview URL, e.g. /healthz")
    expect_status: int = Field(default=200, ge=100, le=599, description="the status the candidate must answer")
    expect_body_contains: str | None = Field(
        default=None, min_length=1, description="text the body must contain; {{version}} is the candidate's version"
    )


class MigrationConfig(_Model):
    """A one-off run of the candidate's image with the service's network and secrets."""

    command: list[str] = Field(min_length=1, description="the container command, e.g. [./manage.py, migrate]")


class MigrationsConfig(_Model):
    expand: MigrationConfig | None = Field(default=None, description="before the first shift to a new version")
    contract: MigrationConfig | None = Field(default=None, description="after promotion, once the old color is at zero")


class HooksConfig(_Model):
    smoke: list[SmokeCheckConfig] = Field(default_factory=list, max_length=10,
                                          description="checks before any weight moves to a candidate")
    migrations: MigrationsConfig | None = None


class RecoverConfig(_Model):
    """An operator's statement of where a service stands, for the run after the program stopped
    because neither its stack output nor its live router could be trusted."""

    stable_color: str = Field(pattern=r"^(blue|green)$", description="the color that should serve all traffic")
    stable_version: str = Field(pattern=IMAGE_TAG.pattern, description="the version that color runs (or should run)")


class ServiceConfig(_Model):
    image: str = Field(min_length=1, pattern=r"^[^:@\s]+(:\d+/[^:@\s]+)?$", description="image without tag")
    version: str = Field(pattern=IMAGE_TAG.pattern, description="image tag; changing it starts a rollout")
    port: int = Field(ge=1, le=65535)
    replicas: int = Field(ge=1, le=100)
    health_check_path: str = Field(default="/", pattern=r"^/")
    platform: Platform = Platform.AWS
    router: Router | None = None
    strategy: StrategyConfig
    approve: str | None = None
    abort: str | None = None
    promote: str | None = Field(default=None, description="move this candidate to 100 % next run (a manual full promotion)")
    recover: RecoverConfig | None = None
    autoscaling: AutoscalingConfig | None = None
    sticky_sessions: StickySessionsConfig | None = None
    hooks: HooksConfig | None = None
    host: str | None = Field(default=None, description="host header routed to this service")
    path_prefix: str | None = Field(default=None, pattern=r"^/[^*?]*$")
    priority: int | None = Field(default=None, ge=1, le=RULE_PRIORITY_SPAN)
    cpu: int = Field(default=256, ge=256)
    memory: int = Field(default=512, ge=512)
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="env var -> Secrets Manager / SSM parameter ARN (AWS) or secret:key (k8s)"
    )

    @property
    def effective_router(self) -> Router:
        return self.router or DEFAULT_ROUTER[self.platform]

    @model_validator(mode="after")
    def _router_fits(self) -> "ServiceConfig":
        router = self.effective_router
        allowed = ROUTERS_BY_PLATFORM[self.platform]
        if router not in allowed:
            names = ", ".join(r.value for r in allowed)
            raise ConfigProblem("router", f"{router.value} is not a {self.platform.value} router (use one of: {names})")
        why = UNSUPPORTED.get((router, self.strategy.kind))
        if why:
            raise ConfigProblem("router", f"{router.value} cannot run a {self.strategy.kind.value} rollout: {why}")
        if self.host and self.path_prefix:
            raise ConfigProblem("pathPrefix", "route by host or by pathPrefix, not both")
        if self.autoscaling is not None and not self.autoscaling.min_replicas <= self.replicas <= self.autoscaling.max_replicas:
            raise ConfigProblem("replicas", f"{self.replicas} (the initial count) must lie within autoscaling "
                                f"minReplicas {self.autoscaling.min_replicas}..maxReplicas {self.autoscaling.max_replicas}")
        if self.priority is not None and router is not Router.ALB:
            raise ConfigProblem("priority", f"a listener rule priority applies to router alb only, not {router.value}")
        if self.platform is Platform.AWS and "max_surge" in self.strategy.model_fields_set:
            raise ConfigProblem("strategy.maxSurge", "applies to Kubernetes rolling updates only (ECS rolls with "
                                "minimum healthy 100 % / maximum 200 %)")
        if self.promote is not None and self.promote == self.abort:
            raise ConfigProblem("promote", f"promote and abort both name {self.promote}: remove one")
        self._check_sticky_sessions(router)
        self._check_shadow(router)
        if self.hooks is not None and self.hooks.migrations is not None:
            if self.strategy.kind is StrategyKind.ROLLING:
                raise ConfigProblem("hooks.migrations", "rolling replaces tasks in place: there is no moment before the "
                                    "first shift nor an old color reaching zero (use canary, blue-green or red-black)")
        if self.hooks is not None and self.hooks.smoke and self.strategy.kind is StrategyKind.ROLLING:
            raise ConfigProblem("hooks.smoke", "rolling replaces tasks in place: there is no candidate to check before "
                                "it serves (use canary, blue-green or red-black)")
        clash = set(self.environment) & set(self.secrets)
        if clash:
            raise ConfigProblem("secrets", f"{sorted(clash)} set both as plain environment and as secret")
        if self.platform is Platform.KUBERNETES:
            self._check_kubernetes_settings()
        return self

    def _check_sticky_sessions(self, router: Router) -> None:
        if self.sticky_sessions is None:
            return
        why = STICKY_UNSUPPORTED.get(router)
        if why:
            raise ConfigProblem("stickySessions", f"router {router.value} cannot keep sessions sticky: {why}")
        if router is Router.SERVICE and self.sticky_sessions.duration_seconds > CLIENT_IP_AFFINITY_MAX_SECONDS:
            raise ConfigProblem("stickySessions.durationSeconds", f"{self.sticky_sessions.duration_seconds} is above "
                                f"{CLIENT_IP_AFFINITY_MAX_SECONDS}, the longest ClientIP affinity a Kubernetes Service keeps")

    def _check_shadow(self, router: Router) -> None:
        if not self.strategy.shadow:
            return
        why = SHADOW_UNSUPPORTED.get(self.platform) or SHADOW_ROUTER_UNSUPPORTED.get(router)
        if why:
            where = f"on {self.platform.value}" if self.platform in SHADOW_UNSUPPORTED else f"with router {router.value}"
            raise ConfigProblem("strategy.kind", f"shadow is not supported {where}: {why}")
        if router is Router.NGINX:
            # ingress-nginx's mirror-target copies every request of the Ingress, whatever its method, and has no
            # sampling (docs: annotations, "Mirror"); limiting either needs a configuration snippet, which
            # controllers refuse by default (allow-snippet-annotations false since v1.9).
            if self.strategy.mirror_percent != 100:
                raise ConfigProblem("strategy.mirrorPercent", "router nginx mirrors every request (ingress-nginx's "
                                    "mirror-target has no sampling): use 100, or router gateway")
            missing = [m.value for m in HttpMethod if m not in self.strategy.mirror_methods]
            if missing:
                raise ConfigProblem("strategy.mirrorMethods", "router nginx copies requests of every method "
                                    "(ingress-nginx's mirror-target has no method filter), so it would also copy "
                                    f"{', '.join(missing)}: use router gateway to mirror only "
                                    f"{', '.join(m.value for m in self.strategy.mirror_methods)}, or list every "
                                    "method to accept that state-changing requests reach the candidate")

    def _check_kubernetes_settings(self) -> None:
        """What the schema accepts but Kubernetes would reject, refused before anything is registered."""
        from components.kubernetes.manifest import InvalidKubernetesSetting, max_surge, secret_ref

        if self.autoscaling is not None and self.autoscaling.target_requests_per_target is not None:
            raise ConfigProblem("autoscaling.targetRequestsPerTarget", "AWS only (ALBRequestCountPerTarget); a "
                                "HorizontalPodAutoscaler here scales on CPU")

        try:
            max_surge(self.strategy.max_surge)
        except InvalidKubernetesSetting as err:
            raise ConfigProblem("strategy.maxSurge", str(err)) from None
        for env_name, ref in sorted(self.secrets.items()):
            try:
                secret_ref(ref)
            except InvalidKubernetesSetting as err:
                raise ConfigProblem(f"secrets.{env_name}", str(err)) from None


class PromotionConfig(_Model):
    """This stack starts a version only after another stack (`from`) completed that same version."""

    from_stack: str = Field(alias="from", pattern=STACK_NAME.pattern,
                            description="the stack whose outputs gate this one: `staging` or <org>/<project>/<stack>")
    require_analysis: bool = Field(default=False, description="the source's completion must have passed analysis gates")


class NotificationKind(str, Enum):
    SLACK = "slack"
    TEAMS = "teams"
    GENERIC = "generic"


class NotificationTarget(_Model):
    """A webhook the operator tools (`python -m cutover drive`, `approve`, ...) post phase changes to."""

    url: str = Field(pattern=r"^https?://\S+$", description="incoming webhook URL (may be a Pulumi secret)")
    kind: NotificationKind = NotificationKind.GENERIC


class CutoverConfig(_Model):
    state_stack: str | None = Field(
        default=None, pattern=STACK_NAME.pattern,
        description="stack whose outputs hold the previous run's state (default <org>/<project>/<stack>)",
    )
    network: NetworkConfig | None = None
    dns: DnsConfig | None = None
    services: dict[str, ServiceConfig] = Field(min_length=1)
    kubernetes: KubernetesConfig | None = None
    promotion: PromotionConfig | None = None
    notifications: list[NotificationTarget] = Field(default_factory=list)

    @field_validator("services")
    @classmethod
    def _names_are_dns_labels(cls, services: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in services:
            if not SERVICE_NAME.match(name):
                raise ConfigProblem(name, "service names are [a-z][a-z0-9-]*, at most 24 characters")
        return services

    @model_validator(mode="after")
    def _platform_settings_present(self) -> "CutoverConfig":
        for name, svc in self.services.items():
            if svc.effective_router is Router.ROUTE53 and self.dns is None:
                raise ConfigProblem(f"services.{name}.router", "route53 needs cutover:dns (zoneId, domain)")
            if svc.platform is Platform.KUBERNETES and self.kubernetes is None:
                raise ConfigProblem(f"services.{name}.platform", "kubernetes needs cutover:kubernetes (namespace)")
            if svc.effective_router is Router.GATEWAY and (self.kubernetes is None or self.kubernetes.gateway is None):
                raise ConfigProblem(f"services.{name}.router", "gateway needs cutover:kubernetes.gateway (name, namespace)")
        seen: dict[int, str] = {}
        for name in sorted(self.services):
            if self.services[name].effective_router is not Router.ALB:
                continue
            priority = self.rule_priority(name)
            if self.services[name].strategy.shadow and priority <= len(MIRROR_COLORS):
                raise ConfigProblem(f"services.{name}.priority", f"a shadow service's rule needs priority above "
                                    f"{len(MIRROR_COLORS)}: its mirroring proxy's per-color rules take the priorities just below it")
            for taken, whose in ((p, f"{name}'s mirroring proxy") for p in self.mirror_rule_priorities(name).values()):
                if taken in seen:
                    raise ConfigProblem(f"services.{name}.priority",
                                        f"listener rule priority {taken} ({whose}) is also {seen[taken]}'s: set another")
                seen[taken] = whose
            if priority in seen:
                raise ConfigProblem(
                    f"services.{name}.priority", f"listener rule priority {priority} is also {seen[priority]}'s: set another"
                )
            seen[priority] = name
        return self

    def mirror_rule_priorities(self, name: str) -> dict[str, int]:
        """Color -> priority of the listener rule that sends the mirroring proxy's requests to that color: just
        below the service's own rule, so it is evaluated first (a lower number wins). Empty unless shadow on alb."""
        service = self.services[name]
        if not (service.strategy.shadow and service.effective_router is Router.ALB):
            return {}
        priority = self.rule_priority(name)
        return {color: priority - 1 - i for i, color in enumerate(MIRROR_COLORS)}

    def rule_priority(self, name: str) -> int:
        """Listener rule priority of an ALB service: explicit, or a stable hash of its name.

        A hash (not the position in the list) keeps every other service's rule
        untouched when a service is added or removed.
        """
        explicit = self.services[name].priority
        return explicit if explicit is not None else 1 + zlib.crc32(name.encode()) % RULE_PRIORITY_SPAN


def load_config(raw: Mapping[str, Any]) -> CutoverConfig:
    """Validate raw config values keyed by their short name (`services`, `network`, ...).

    Values may be JSON strings (as the engine passes objects) or already-parsed objects.
    """
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise CutoverConfigError(
            "\n".join(f"{CONFIG_NAMESPACE}:{key}: unknown key (known: {', '.join(CONFIG_KEYS)})" for key in unknown)
        )
    parsed: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, str) and key not in PLAIN_KEYS:
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                raise CutoverConfigError(f"{CONFIG_NAMESPACE}:{key}: not a valid object ({err.msg})") from None
        parsed[key] = value
    if "services" not in parsed:
        raise CutoverConfigError(f"{CONFIG_NAMESPACE}:services: required; list at least one service")
    try:
        return CutoverConfig.model_validate(parsed)
    except ValidationError as err:
        raise CutoverConfigError("\n".join(_describe(e) for e in err.errors())) from None


PATTERN_WORDS = {
    IMAGE_TAG.pattern: "is not an image tag: letters, digits, '_', '.' and '-', at most 128 characters, not starting with '.' or '-'",
    r"^[^:@\s]+(:\d+/[^:@\s]+)?$": "must be the image without its tag (the tag goes in version), e.g. public.ecr.aws/nginx/nginx",
    r"^vpc-[0-9a-zA-Z]+$": "must be a VPC id such as vpc-0abc123",
    r"^arn:aws[a-z-]*:acm:": "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
    r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$": "must be a lowercase domain name such as example.com",
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "must be a Kubernetes name: lowercase letters, digits and '-'",
    r"^1\.\d+$": "must be a Kubernetes minor version such as 1.32",
    r"^https?://": "must start with http:// or https://",
    r"^https?://\S+$": "must be an http:// or https:// URL without spaces",
    r"^(\d+|\d{1,3}%)$": "must be a whole number or a percentage such as 25%",
    r"^/\S*$": "must be a path starting with / and without spaces",
    r"^(blue|green)$": "must be blue or green",
    r"^/": "must start with /",
    r"^/[^*?]*$": "must start with / and contain no * or ?",
    STACK_NAME.pattern: "must be a stack name: <stack>, <project>/<stack> or <org>/<project>/<stack>",
}
"""Regular expressions of the config, said in words (what a user reads instead of the pattern)."""


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ConfigProblem):
        loc.append(cause.field)
        message = str(cause)
    elif error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") in PATTERN_WORDS:
        message = PATTERN_WORDS[error["ctx"]["pattern"]]
    elif error["type"] == "string_type" and isinstance(error.get("input"), (int, float)) and not isinstance(error.get("input"), bool):
        # YAML reads `version: 1.10` as the number 1.1: the user meant the text.
        message = f"must be text, got the number {error['input']!r}: quote it in the stack file ({loc[-1]}: \"...\")"
    else:
        message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("string_pattern_mismatch", "enum", "literal_error") and "input" in error:
        message = f"{message} (got {error['input']!r})"
    return f"{CONFIG_NAMESPACE}:{'.'.join(loc)}: {message}"
