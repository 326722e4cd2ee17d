"""Kubernetes Deployments: ready before they take traffic, never below capacity while rolling, protected from drains.
Migration Jobs: their containers request resources like the Deployments' (a Job serves no traffic, so it needs no
readiness probe, rolling strategy or disruption budget)."""

from __future__ import annotations

from typing import Any, Callable

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._common import (
    K8S_DEPLOYMENT,
    K8S_JOB,
    K8S_PDB,
    PreviewUnknowns,
    check_pod_containers,
    dig,
    is_map,
    preview_checks,
    show,
)

DEFAULT_NAMESPACE = "default"
ZERO_UNAVAILABLE = {0, "0", "0%"}


def _check_containers(args: ResourceValidationArgs, report_violation: ReportViolation,
                      problem: Callable[[Any], str | None], kinds: tuple[str, ...] = (K8S_DEPLOYMENT,)) -> None:
    """Report `problem` for each (regular) container of a Deployment (or of the `kinds` given), named by name or
    else by index."""
    if args.resource_type not in kinds:
        return
    with preview_checks() as unknowns:
        check_pod_containers(args, report_violation, unknowns, problem, _container_label, fields=("containers",))


def _container_label(container: Any, field: str, index: int) -> str:
    name = dig(container, "name")
    return f"container '{name}'" if isinstance(name, str) else f"container #{index}"


def _missing_readiness_probe(container: Any) -> str | None:
    if is_map(dig(container, "readinessProbe")):
        return None
    return "has no readinessProbe; without one a pod receives traffic as soon as it starts."


def k8s_readiness_probes_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _check_containers(args, report_violation, _missing_readiness_probe)


k8s_readiness_probes = ResourceValidationPolicy(
    name="k8s-readiness-probes",
    description="Every container of a Deployment has a readiness probe, so pods join Services and routes only "
                "once they can serve.",
    validate=k8s_readiness_probes_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


def k8s_rolling_update_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != K8S_DEPLOYMENT:
        return
    who = f"Deployment '{args.name}'"
    with preview_checks():
        strategy = dig(args.props, "spec", "strategy")
        kind = dig(strategy, "type")
        if kind not in (None, "RollingUpdate"):
            report_violation(f"{who} uses strategy {kind!r}; use RollingUpdate with maxUnavailable 0.", None)
            return
        rolling = dig(strategy, "rollingUpdate")
        if not is_map(rolling) or "maxUnavailable" not in rolling:
            report_violation(f"{who} leaves spec.strategy.rollingUpdate.maxUnavailable unset (Kubernetes defaults to "
                             "25%); set it to 0 explicitly.", None)
            return
        raw = rolling["maxUnavailable"]
        value = int(raw) if isinstance(raw, float) and raw.is_integer() else raw
        if value not in ZERO_UNAVAILABLE:
            report_violation(f"{who} has spec.strategy.rollingUpdate.maxUnavailable {show(raw)}; it must be 0 so a "
                             "rollout never removes a ready pod before its replacement is ready.", None)


k8s_rolling_update = ResourceValidationPolicy(
    name="k8s-rolling-update-zero-unavailable",
    description="Deployments roll with strategy RollingUpdate and an explicit maxUnavailable of 0, so capacity "
                "never drops during a rollout.",
    validate=k8s_rolling_update_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


def _missing_requests(container: Any) -> str | None:
    requests = dig(container, "resources", "requests")
    missing = [r for r in ("cpu", "memory") if not is_map(requests) or requests.get(r) in (None, "")]
    if not missing:
        return None
    return f"has no {' or '.join(missing)} request; the scheduler can't reserve room for the new pods of a rollout."


def k8s_resource_requests_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _check_containers(args, report_violation, _missing_requests, kinds=(K8S_DEPLOYMENT, K8S_JOB))


k8s_resource_requests = ResourceValidationPolicy(
    name="k8s-resource-requests",
    description="Every container of a Deployment (and of a migration Job) requests cpu and memory, so surge pods "
                "of a rollout are scheduled onto nodes that can run them.",
    validate=k8s_resource_requests_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


def _namespace(props: Any) -> str:
    namespace = dig(props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) and namespace else DEFAULT_NAMESPACE


def _plain_labels(value: Any) -> dict[str, Any]:
    """Labels with every value read (so an unknown label raises, as it should)."""
    return {k: value[k] for k in value} if is_map(value) else {}


def k8s_pod_disruption_budget_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    unknowns = PreviewUnknowns()
    budgets: list[tuple[str, dict[str, Any], str]] = []
    for resource in args.resources:
        if resource.resource_type == K8S_PDB:
            with unknowns.guard(resource.name):
                selector = _plain_labels(dig(resource.props, "spec", "selector", "matchLabels"))
                if selector:
                    budgets.append((_namespace(resource.props), selector, resource.name))
    for resource in args.resources:
        if resource.resource_type != K8S_DEPLOYMENT:
            continue
        with unknowns.guard(resource.name):
            namespace = _namespace(resource.props)
            labels = _plain_labels(dig(resource.props, "spec", "template", "metadata", "labels"))
            covered = any(ns == namespace and all(labels.get(k) == v for k, v in selector.items())
                          for ns, selector, _ in budgets)
            if not covered:
                report_violation(
                    f"Deployment '{resource.name}' (namespace {namespace}) has no PodDisruptionBudget whose "
                    "spec.selector.matchLabels select its pod template labels; a node drain could evict all of its "
                    "pods at once.", resource.urn)
    unknowns.reraise()


k8s_pod_disruption_budget = StackValidationPolicy(
    name="k8s-pod-disruption-budget",
    description="Every Deployment's pods are selected by a PodDisruptionBudget in the same namespace (its "
                "matchLabels are a subset of the pod template labels), so voluntary disruptions keep capacity.",
    validate=k8s_pod_disruption_budget_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

POLICIES = [k8s_readiness_probes, k8s_rolling_update, k8s_resource_requests, k8s_pod_disruption_budget]
