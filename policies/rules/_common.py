"""Small helpers every rule module shares: type tokens, property access, settings, preview unknowns.

Props reach validators as the analyzer builds them: camelCase keys, numbers as floats (protobuf
`Struct`), maps and lists wrapped by `unknown_checking_proxy` (so they are `Mapping`/`Sequence`,
not `dict`/`list`), and reading a value that is unknown during preview raises `UnknownValueError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterator, TypeVar

from pulumi_policy import PolicyConfigSchema
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

# Full type tokens (STYLE #9: match resources by their full token).
ALB_LISTENER = "aws:lb/listener:Listener"
ALB_LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
ALB_TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ALB_LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
ECS_SERVICE = "aws:ecs/service:Service"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROUTE53_RECORD = "aws:route53/record:Record"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_POD_OWNERS = {K8S_DEPLOYMENT: "Deployment", K8S_JOB: "Job"}
"""Kinds whose pod template the container policies check (a migration Job runs the service's image too), by
the word their messages use."""


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    """A JSON array (the proxy's `_ListProxy` is a `Sequence`, a `str` is not an array)."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def dig(value: Any, *path: str | int) -> Any:
    """`dig(props, "spec", "template", "spec")`: None as soon as a step is missing or of the wrong shape."""
    for key in path:
        if isinstance(key, int):
            if not is_list(value) or key >= len(value):
                return None
        elif not is_map(value) or key not in value:
            return None
        value = value[key]
    return value


def items(value: Any) -> list[Any]:
    """The elements of a JSON array, or [] when absent. Reading an unknown element raises."""
    return [value[i] for i in range(len(value))] if is_list(value) else []


def as_number(value: Any) -> float | None:
    """Numbers arrive as floats, ints (mocks) or numeric strings (tags, annotations)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def fmt(number: float) -> str:
    """90.0 -> "90" for messages."""
    return str(int(number)) if float(number).is_integer() else str(number)


def show(value: Any) -> str:
    """A property value for a message: numbers without the float noise the wire adds (50.0 -> 50)."""
    number = as_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return fmt(number) if number is not None else repr(value)


class PreviewUnknowns:
    """Collects preview-time unknowns so one unknown value skips one check, not the whole policy.

    Use `with unknowns.guard():` around each check; after all checks, `unknowns.reraise()` raises
    the first `UnknownValueError` so the analyzer records its advisory "can't run policy ... during
    preview" note. Violations found on known values are reported first, so an unknown elsewhere
    never turns a real problem into a pass.
    """

    def __init__(self, resource_name: str | None = None) -> None:
        self._resource_name = resource_name
        self.first: UnknownValueError | None = None

    @contextlib.contextmanager
    def guard(self, resource_name: str | None = None) -> Iterator[None]:
        try:
            yield
        except UnknownValueError as error:
            if self.first is None:
                prefix = resource_name or self._resource_name
                self.first = UnknownValueError(error.unknown_type_sentinel, [prefix, *error.props]) if prefix else error

    def note(self, path: list[str], resource_name: str | None = None) -> None:
        """Record a value that is missing for the same reason as an unknown (e.g. an output not yet known)."""
        if self.first is None:
            prefix = resource_name or self._resource_name
            self.first = UnknownValueError(UNKNOWN_STRING_VALUE, [prefix, *path] if prefix else path)

    def reraise(self) -> None:
        if self.first is not None:
            raise self.first


@contextlib.contextmanager
def preview_checks(resource_name: str | None = None) -> Iterator[PreviewUnknowns]:
    """`with preview_checks() as unknowns:` around a validator's checks. An unknown read directly in the
    block ends it; on leaving the block (also by `return`) the first unknown, whether from the block or
    from one of its own `unknowns.guard()`s, is raised."""
    unknowns = PreviewUnknowns(resource_name)
    with unknowns.guard():
        yield unknowns
    unknowns.reraise()


T = TypeVar("T")
V = TypeVar("V")


def read_each(values: list[V], unknowns: PreviewUnknowns, read: Callable[[int, V], T | None],
              resource_name: str | None = None) -> list[T | None]:
    """`read(index, value)` for every value, each under its own guard: None where the read hit an unknown."""
    results: list[T | None] = []
    for index, value in enumerate(values):
        with unknowns.guard(resource_name):
            results.append(read(index, value))
            continue
        results.append(None)
    return results


def whole_in_range(number: float | None, low: float, high: float) -> bool:
    """A whole number within low..high (None, a missing or non-numeric value, is not)."""
    return number is not None and low <= number <= high and number.is_integer()


def all_zero(weights: list[float | None]) -> bool:
    """Every weight is known and 0 (None, an unknown or invalid weight, leaves the split undecided)."""
    return bool(weights) and None not in weights and not any(weights)


POD_CONTAINER_FIELDS = ("containers", "initContainers")


def pod_spec(props: Any) -> Any:
    """A Deployment's (or Job's) pod template spec."""
    return dig(props, "spec", "template", "spec")


def pod_containers(props: Any, fields: tuple[str, ...] = POD_CONTAINER_FIELDS) -> list[tuple[str, Any]]:
    """(field, container) for a Deployment's containers and initContainers (or just the `fields` given)."""
    pod = pod_spec(props)
    return [(f, c) for f in fields for c in items(dig(pod, f))]


def check_pod_containers(args: Any, report_violation: Any, unknowns: PreviewUnknowns,
                         problem: Callable[[Any], str | None], label: Callable[[Any, str, int], str],
                         fields: tuple[str, ...] = POD_CONTAINER_FIELDS) -> None:
    """Report "Deployment '<name>': <label> <problem>" (or "Job '<name>': ...") for every container of a pod
    template whose `problem(container)` is a message; each container is checked under its own guard."""
    kind = K8S_POD_OWNERS.get(args.resource_type, "Deployment")
    for index, (field, container) in enumerate(pod_containers(args.props, fields)):
        with unknowns.guard():
            found = problem(container)
            if found:
                report_violation(f"{kind} '{args.name}': {label(container, field, index)} {found}", None)


def schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=dict(properties))


def setting(args: Any, config_schema: PolicyConfigSchema, key: str) -> Any:
    """A policy setting: the configured value, else the schema default (the CLI normally fills it in)."""
    config = args.get_config() or {}
    if key in config and config[key] is not None:
        return config[key]
    return config_schema.properties[key].get("default")


PRODUCTION_SETTING = {
    "type": "boolean",
    "default": False,
    "description": "True on production stacks: enables the production-only checks.",
}
