"""Stack configuration: every `cutover:*` object as a pydantic model, validated once.

This is the only place pydantic is used. `load_config` turns the raw values the
engine hands us (JSON strings, exactly as the CLI passes them) into frozen models,
or raises `CutoverConfigError` whose message names the full key path, e.g.
`cutover:services.web.strategy.steps: steps must increase and end at 100`.
No pulumi import here: the program calls this before registering anything.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import math
import re
import types
import zlib
from enum import Enum
from typing import Any, Mapping, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
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
MAX_MINUTES = 43_200
"""Longest bake or scale-down delay (30 days): a wait beyond it is a typo, and a bound keeps the clock arithmetic finite."""
MAX_COUNT = 1_000_000_000
"""Largest request count or rate: every number the program hands a provider fits a 32-bit integer."""
MAX_SURGE_PODS = 1_000
"""Largest `maxSurge` count: as many pods as the most replicas an autoscaler may run (Kubernetes takes an int32)."""
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# Environment and secret variable names: Kubernetes' strict rule, the one safe on both platforms. Kubernetes
# checks EnvVar names with validation.IsEnvVarName: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and not `.`, `..` nor starting
# with `..` (k8s.io/apimachinery/pkg/util/validation). KEP-4369 relaxes it to any printable ASCII but '=' behind the
# RelaxedEnvironmentVariableValidation gate (alpha, off, in 1.30; on by default from 1.32; GA in 1.34), so a cluster
# before 1.32 still refuses the rest. ECS documents no rule for a KeyValuePair or Secret name (API_KeyValuePair), but
# the container receives each as NAME=value, where an empty name or one with '=' cannot be told apart from its value.
# Names the strict rule accepts work on ECS and on every Kubernetes version, and a service can change platform.
VARIABLE_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
VARIABLE_NAME_WORDS = ("use ASCII letters, digits, '_', '-' and '.', not starting with a digit or '..' "
                       "(the names ECS and every Kubernetes version accept)")


class CutoverConfigError(ValueError):
    """Configuration that cannot be deployed; the message names the key and the problem."""


class ConfigProblem(ValueError):
    """Raised inside cross-field validators to blame one field of the model being checked:
    `field` is a dotted path below the model (`prometheus.errorRateQuery`), or a tuple of keys
    when a key may itself contain a dot (a service name as the user wrote it)."""

    def __init__(self, field: str | tuple[str, ...], message: str):
        super().__init__(message)
        self.field = field

    @property
    def keys(self) -> tuple[str, ...]:
        return self.field if isinstance(self.field, tuple) else tuple(self.field.split("."))


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic reads true as 1, so YAML's `replicas: on` would quietly mean one replica: refuse it."""
        numbers = _numbers_in(cls, info.field_name)
        if numbers == "one" and isinstance(value, bool):
            raise ConfigProblem((), f"must be a number, got {_got(value)}")
        if numbers == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, bool):
                    raise ConfigProblem((str(index),), f"must be a number, got {_got(item)}")
        return value


@functools.cache
def _numbers_in(model: type[BaseModel], field: str) -> str | None:
    """"one" when a field holds a number, "list" when it holds a list of numbers, else None."""
    annotation = _without_none(model.model_fields[field].annotation)
    if get_origin(annotation) is list:
        return "list" if get_args(annotation)[0] in (int, float) else None
    return "one" if annotation in (int, float) else None


def _without_none(annotation: Any) -> Any:
    """`X | None` -> X; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


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
    max_error_rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    max_latency_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    min_requests: int = Field(default=100, ge=0, le=MAX_COUNT)
    alarms: list[str] = Field(default_factory=list)
    max_inconclusive_runs: int = Field(default=3, ge=1, le=1000)
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
    bake_minutes: int = Field(default=5, ge=0, le=MAX_MINUTES)
    scale_down_delay_minutes: int = Field(default=30, ge=0, le=MAX_MINUTES)
    max_surge: str = Field(default="25%", pattern=r"^(\d+|\d{1,3}%)$")
    analysis: AnalysisConfig | None = None
    mirror_percent: int = Field(default=100, ge=1, le=100, description="shadow: share of live requests copied to the candidate")
    mirror_methods: list[HttpMethod] = Field(
        default_factory=lambda: list(SAFE_METHODS), min_length=1,
        description="shadow: request methods that are copied; state-changing ones only when listed",
    )
    then: StrategyKind | None = Field(default=None, description="shadow: the strategy that follows the shadow phase")

    @field_validator("max_surge")
    @classmethod
    def _surge_is_a_sensible_count(cls, surge: str) -> str:
        if not surge.endswith("%") and (len(surge) > len(str(MAX_SURGE_PODS)) or int(surge) > MAX_SURGE_PODS):
            raise ValueError(f"a count of at most {MAX_SURGE_PODS} pods, or a percentage such as 25%")
        return surge

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
        default=None, ge=1, le=MAX_COUNT, description="AWS ALB only: requests per task per minute (ALBRequestCountPerTarget)"
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


def _variable_name_problem(name: str) -> str | None:
    """What keeps an environment or secret variable name from working on every platform, in words; None if nothing."""
    if VARIABLE_NAME.fullmatch(name) and name != "." and not name.startswith(".."):
        return None
    if not name:
        why = "must not be empty"
    elif "=" in name:
        why = "must not contain '=' (the container receives NAME=value)"
    else:
        why = "is not one every platform accepts"
    return f"a variable name {why}: {VARIABLE_NAME_WORDS}"


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
    cpu: int = Field(default=256, ge=256, le=65_536, description="CPU units, 1024 a vCPU (Fargate takes 256..16384)")
    memory: int = Field(default=512, ge=512, le=1_048_576, description="MiB (Fargate takes up to 122880)")
    environment: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="env var -> Secrets Manager / SSM parameter ARN (AWS) or secret:key (k8s)"
    )

    @property
    def effective_router(self) -> Router:
        return self.router or DEFAULT_ROUTER[self.platform]

    @field_validator("environment", "secrets")
    @classmethod
    def _variable_names_work_everywhere(cls, variables: dict[str, str]) -> dict[str, str]:
        for name in variables:
            problem = _variable_name_problem(name)
            if problem:
                raise ConfigProblem((name,), problem)
        return variables

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
        clash = sorted(set(self.environment) & set(self.secrets))
        if clash:
            rest = clash[1:]
            more = f" (as {'is' if len(rest) == 1 else 'are'} {_shortened(', '.join(rest))})" if rest else ""
            raise ConfigProblem(("secrets", clash[0]), f"also set in environment{more}: a variable takes its value from one "
                                "place; keep it in secrets if it is sensitive, else remove it from secrets")
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
            except InvalidKubernetesSetting as err:  # its message quotes the value: a long one is cut short
                raise ConfigProblem(("secrets", env_name), str(err).replace(repr(ref), _shortened(repr(ref)))) from None


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
                raise ConfigProblem((name,), "service names are lowercase letters, digits and '-', starting with a letter, "
                                    "at most 24 characters")
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


MAX_PROBLEMS = 20
"""Problems listed in one error; a list of 10,000 bad steps is not 10,000 lines."""


def load_config(raw: Mapping[str, Any]) -> CutoverConfig:
    """Validate raw config values keyed by their short name (`services`, `network`, ...).

    Values may be JSON strings (as the engine passes objects) or already-parsed objects.
    """
    unknown = sorted(set(raw) - set(CONFIG_KEYS), key=str)
    if unknown:
        raise CutoverConfigError("\n".join(
            f"{CONFIG_NAMESPACE}:{_key_path([key])}: {_unknown_key(str(key), CONFIG_KEYS)}" for key in unknown
        ))
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
            except (ValueError, RecursionError):  # a number of thousands of digits; lists nested thousands deep
                raise CutoverConfigError(f"{CONFIG_NAMESPACE}:{key}: not a valid object (a number too long or "
                                         "nesting too deep to read)") from None
        parsed[key] = value
    if "services" not in parsed:
        raise CutoverConfigError(f"{CONFIG_NAMESPACE}:services: required; list at least one service")
    try:
        return CutoverConfig.model_validate(parsed)
    except RecursionError:
        raise CutoverConfigError(f"{CONFIG_NAMESPACE}: values nested too deep to read") from None
    except ValidationError as err:
        raise CutoverConfigError(_said(err.errors())) from None


def _said(errors: list[Any]) -> str:
    """The first MAX_PROBLEMS distinct problems, one line each, and how many more there are."""
    lines: list[str] = []
    seen = 0
    for seen, error in enumerate(errors, start=1):
        line = problem_in_words(error)
        if line not in lines:
            lines.append(line)
        if len(lines) == MAX_PROBLEMS:
            break
    if len(errors) > seen:
        lines.append(f"{CONFIG_NAMESPACE}: {len(errors) - seen} more problems not shown; fix these first")
    return "\n".join(lines)


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

ERROR_WORDS = {
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "string_type": "must be text",
    "string_unicode": "must be text (UTF-8)",
    "string_too_short": "must not be empty",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing_size": "must be a whole number of sensible size",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be above {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be below {lt}",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} {entries}",
    "too_long": "must have at most {max_length} {entries}",
    "dict_type": "must be a mapping of names to values (name: value lines)",
    "model_type": "must be a block of settings (key: value lines)",
    "model_attributes_type": "must be a block of settings (key: value lines)",
    "enum": "must be one of {choices}",
    "literal_error": "must be one of {choices}",
}
"""Every kind of problem pydantic reports about this config, said in words (`{ge}`... from the error's context).
A `string_pattern_mismatch` is said by PATTERN_WORDS, a `value_error` by the validator's own message."""
NOT_SHOWN = ("missing", "extra_forbidden", "string_too_short", "too_short", "too_long", "value_error")
"""Problems where the value itself says nothing more (a length is said, a validator names what it saw)."""
LONGEST_MESSAGE = 600
"""Characters of one problem's words; a validator that quotes a 100,000-character value is cut short."""
PLAIN_KEY = re.compile(r"[\w-]{1,64}")
"""A key printed as it is; any other (spaces, dots, control characters, very long) is printed quoted."""


def problem_in_words(error: Mapping[str, Any], prefix: str = f"{CONFIG_NAMESPACE}:", *,
                     schema: type[BaseModel] = CutoverConfig, file: str = "stack file") -> str:
    """One pydantic error as `<prefix><key path>: <the problem in words>`, e.g.
    `cutover:services.web.port: must be a whole number, got 'eighty'`.

    `schema` is the model the error's key path starts from (its keys are listed for an unknown one), `file` what
    the user edits (`quote it in the <file>`). Other checkers of YAML input (the rehearsal's scenario files) use it
    too, with their own prefix (`run 2: `): an empty key path leaves the prefix alone, without its trailing ": ".
    """
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    loc = list(error["loc"])
    # A mapping's key of the wrong type (YAML `1: ...`): pydantic puts "[key]" after the key, which is the input.
    # (A key the user wrote as "[key]" comes last too, but with its value as the input.)
    as_name = len(loc) >= 2 and loc[-1] == "[key]" and type(loc[-2]) is type(value) and loc[-2] == value
    if as_name:
        loc.pop()
    cause = ctx.get("error")
    if kind == "value_error" and isinstance(cause, ValueError):
        if isinstance(cause, ConfigProblem):
            loc.extend(cause.keys)
        message = str(cause)
    elif kind == "extra_forbidden":
        message = _unknown_key(str(loc[-1]), _known_keys(loc[:-1], schema))
    elif kind == "string_pattern_mismatch":
        message = PATTERN_WORDS.get(ctx.get("pattern"), "is not in the expected form")
    elif kind in ERROR_WORDS:
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        bounds = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt")}
        message = ERROR_WORDS[kind].format(
            **{**ctx, **bounds}, choices=", ".join(choices), entries="entry" if ctx.get("min_length", ctx.get("max_length")) == 1 else "entries"
        )
        if kind in ("too_short", "too_long") and "actual_length" in ctx:
            message += f" (got {ctx['actual_length']})"
    else:
        message = "is not valid here"  # a kind ERROR_WORDS does not know yet (pinned by tests/unit/test_config.py)
    if kind not in NOT_SHOWN:
        message += f", got {_got(value)}"
    if kind == "string_type" and _yaml_scalar(value):
        # YAML reads `version: 1.10` as the number 1.1, `on` as true, `2026-01-01` as a date: the user meant text.
        message += f": quote it in the {file} ({_key_path(loc[-1:]) or 'key'}: \"...\")"
    if kind in ("enum", "literal_error") and isinstance(value, str):
        by_lowercase = {choice.lower(): choice for choice in choices}
        near = difflib.get_close_matches(value.lower(), by_lowercase, n=1)
        if near:
            message += f"; did you mean {by_lowercase[near[0]]}?"
    if as_name:
        message = f"the name {message}"
    path = _key_path(loc)
    where = f"{prefix}{path}" if path else prefix.removesuffix(" ").removesuffix(":")
    return f"{where}: {_shortened(message, LONGEST_MESSAGE)}" if where else _shortened(message, LONGEST_MESSAGE)


def _yaml_scalar(value: Any) -> bool:
    """What YAML makes of an unquoted scalar that looks like something other than text."""
    return isinstance(value, (int, float, bool, datetime.date, datetime.time))


def _got(value: Any) -> str:
    """What the user wrote, in a few words (long text cut short, control characters escaped)."""
    if value is None:
        return "nothing (an empty value, null or ~)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (YAML reads yes, no, on and off as true and false)"
    if isinstance(value, int):
        try:
            digits = str(value)
        except ValueError:  # more digits than Python prints (sys.get_int_max_str_digits)
            return "a number of thousands of digits"
        return f"the number {digits}" if len(digits) <= 30 else f"a number of {len(digits.lstrip('-'))} digits"
    if isinstance(value, float):
        return f"the number {value!r}" if math.isfinite(value) else f"{value!r}"
    if isinstance(value, (datetime.date, datetime.time)):
        return f"the {'time' if isinstance(value, datetime.time) else 'date'} {value.isoformat()}"
    if isinstance(value, str):
        return _shortened(repr(value))
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} {'item' if len(value) == 1 else 'items'}" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return f"a value of type {type(value).__name__}"


def _shortened(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"


def _key_path(loc: list[Any] | tuple[Any, ...]) -> str:
    """`services.web.strategy.steps`; a key with spaces, dots or control characters is quoted: `services."my web"`."""
    return ".".join(
        str(part) if PLAIN_KEY.fullmatch(str(part)) else json.dumps(_shortened(str(part)), ensure_ascii=False) for part in loc
    )


def _unknown_key(key: str, known: tuple[str, ...] | list[str] | None) -> str:
    if not known:
        return "unknown key"
    near = difflib.get_close_matches(key, known, n=1) or [k for k in known if k.lower() == key.lower().replace("_", "")]
    hint = f"; did you mean {near[0]}?" if near else ""
    return f"unknown key (known: {', '.join(known)}){hint}"


def _known_keys(loc: list[Any], schema: type[BaseModel] = CutoverConfig) -> list[str] | None:
    """The keys the model at a location below `schema` takes (None: that location is no block of settings)."""
    annotation: Any = schema
    parts = list(loc)
    while True:
        annotation = _without_none(annotation)
        if get_origin(annotation) in (list, dict):
            if not parts:
                return None
            parts.pop(0)
            annotation = get_args(annotation)[-1]
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        fields = {(field.alias or name): field for name, field in annotation.model_fields.items()}
        if not parts:
            return list(fields)
        field = fields.get(parts.pop(0))
        if field is None:
            return None
        annotation = field.annotation
