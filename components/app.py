"""Per service: decide the next rollout state (pure), then hand it to the platform's entry component.

`decide_service` is pure (no pulumi). `build_service` picks the platform and is
the only place that knows which component builds a service; it never learns
AWS or Kubernetes details beyond choosing the entry component.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from components.config import CutoverConfig, Platform, Router, ServiceConfig, StrategyKind
from components.gates.model import GateResult
from components.rollout.codec import CorruptState, from_output, recover
from components.rollout.decision import TAG_PREFIX, decision_record
from components.rollout.machine import next_state
from components.rollout.model import Color, RolloutSpec, RolloutState, Weights, plan_for

GateSource = Callable[[str, ServiceConfig, RolloutState], GateResult]
"""(service name, its config, its previous state) -> verdict; only called while a candidate is in flight."""


def bake_only_gate(name: str, service: ServiceConfig, previous: RolloutState) -> GateResult:
    return GateResult.bake_only()


@dataclass(frozen=True)
class ServiceDecision:
    """What one run decided for a service, and what the platform needs to know about it."""

    name: str
    previous: RolloutState | None
    state: RolloutState
    first_deploy: bool
    gaining: tuple[str, ...]
    """Colors whose share rises in this run: the router waits for them to be ready."""


@dataclass(frozen=True)
class ColorPlan:
    """What a platform's entry component builds for one service this run: plain values only."""

    colors: tuple[str, ...]
    """Colors that exist: both for two-color strategies, the stable one for rolling."""
    versions: dict[str, str]
    """Color -> image tag."""
    replicas: dict[str, int]
    """Color -> desired tasks/pods (0 = scaled down, never deleted)."""
    weights: Weights
    """Production weights this run applies."""
    stable_color: str
    """The color serving the stable version."""
    candidate_color: str
    """The other color; a preview reaches it."""
    candidate_deployed: bool
    """A candidate version is on the candidate color (in flight, paused or aborted)."""
    first_deploy: bool
    """No previous state for this service."""
    gaining: tuple[str, ...]
    """Colors whose share rises this run: the router waits for them to be ready."""


def color_plan(decision: ServiceDecision, service: ServiceConfig) -> ColorPlan:
    state = decision.state
    colors = (state.stable_color, state.candidate_color) if uses_two_colors(service) else (state.stable_color,)
    return ColorPlan(
        colors=tuple(sorted(c.value for c in colors)),
        versions={c.value: v for c, v in state.versions.items()},
        replicas={c.value: n for c, n in state.replicas.items()},
        weights=state.weights,
        stable_color=state.stable_color.value,
        candidate_color=state.candidate_color.value,
        candidate_deployed=state.candidate_version is not None,
        first_deploy=decision.first_deploy,
        gaining=decision.gaining,
    )


def rollout_spec(service: ServiceConfig) -> RolloutSpec:
    strategy = service.strategy
    analysis = strategy.analysis
    return RolloutSpec(
        version=service.version,
        replicas=service.replicas,
        plan=plan_for(strategy.kind.value, strategy.steps),
        bake=timedelta(minutes=strategy.bake_minutes),
        scale_down_delay=timedelta(minutes=strategy.scale_down_delay_minutes),
        approve=service.approve,
        abort=service.abort,
        max_inconclusive_runs=analysis.max_inconclusive_runs if analysis else 3,
    )


def decide_service(
    name: str, service: ServiceConfig, record: Any, now: datetime, gate: GateSource = bake_only_gate
) -> ServiceDecision:
    """Previous record (or None) -> next state. Raises UnrecoverableState for a record that names no stable version."""
    spec = rollout_spec(service)
    strategy = service.strategy.kind.value
    if record is None:
        state = next_state(None, spec, GateResult.bake_only(), now, strategy)
        return ServiceDecision(name, None, state, True, (state.stable_color.value,))
    try:
        previous = from_output(record)
    except CorruptState as problem:
        state = recover(record, spec.version, spec.replicas, now, str(problem))
        return ServiceDecision(name, None, state, False, ())
    # Gates judge a candidate in flight; before a (re)start they can still veto it (an alarm firing).
    verdict = gate(name, service, previous) if spec.version != previous.stable_version else GateResult.bake_only()
    state = next_state(previous, spec, verdict, now, strategy)
    gaining = tuple(c.value for c in Color if state.weights.of(c) > previous.weights.of(c))
    return ServiceDecision(name, previous, state, False, gaining)


def routing_host(config: CutoverConfig, name: str) -> str | None:
    """Host a service answers on: explicit, else `<service>.<domain>` of its platform
    (`cutover:dns.domain` on AWS, `cutover:kubernetes.hostSuffix` on Kubernetes) unless it routes by path."""
    service = config.services[name]
    if service.host:
        return service.host
    if service.platform is Platform.KUBERNETES:
        domain = config.kubernetes.host_suffix if config.kubernetes else None
    else:
        domain = config.dns.domain if config.dns else None
    return f"{name}.{domain}" if service.path_prefix is None and domain else None


def decision_tags(decision: ServiceDecision, prefix: str = TAG_PREFIX) -> dict[str, str]:
    return decision_record(decision.name, decision.state, prefix)


def uses_two_colors(service: ServiceConfig) -> bool:
    return service.strategy.kind is not StrategyKind.ROLLING


def needs_preview(service: ServiceConfig) -> bool:
    return service.strategy.kind is StrategyKind.BLUE_GREEN


def is_aws(service: ServiceConfig) -> bool:
    return service.platform is Platform.AWS


def on_shared_alb(service: ServiceConfig) -> bool:
    return is_aws(service) and service.effective_router is Router.ALB


def previous_records(outputs: Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Split the previous `rollouts` output into per-service records; a non-object is reported, not trusted."""
    if outputs is None:
        return {}, None
    if not isinstance(outputs, Mapping):
        return {}, "previous output rollouts is not an object"
    return dict(outputs), None
