"""Per service: where it stands (checked against the live router), the next state, and what the platform applies.

Pure: no pulumi. `decide_service` turns the two witnesses of the previous run (the stack output and
the live router), the live workloads, the gate and the clock into a `ServiceDecision`; `color_plan`
turns a decision into plain values for a platform's entry component, including the in-run order
that keeps every prefix of a run safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from components.config import CutoverConfig, Platform, RecoverConfig, Router, ServiceConfig, StrategyKind
from components.gates.model import GateResult, GateVerdict
from components.gates.smoke_verdict import first_shift_hooks_due, with_smoke
from components.rollout.codec import UnrecoverableState
from components.rollout.decision import ANNOTATION_PREFIX, TAG_PREFIX, decision_record
from components.rollout.live import LiveService
from components.rollout.machine import next_state
from components.rollout.model import Color, Phase, RolloutSpec, RolloutState, Shift, Weights, WorkloadSpec, plan_for
from components.rollout.trust import Assessment, assess
from components.rollout.verify import combine, rolled_back_in_place, verify_colors, warm_color_problem

EvidenceSource = Callable[[str, str], tuple[str | None, str]]
"""(service name, version about to start) -> (why it may not start yet, or None; the evidence to record)."""
GateSource = Callable[[str, ServiceConfig, RolloutState], GateResult]
"""(service name, its config, its previous state) -> verdict; only called while a version differs from stable."""
SmokeSource = Callable[[str, ServiceConfig, RolloutState], GateResult]
"""(service name, its config, its previous state) -> the first-shift hooks' verdict (expand migration record, smoke
checks; source "workload"); only called in a run that may move the first weight onto a candidate at 0 %
(`smoke_verdict.first_shift_hooks_due`)."""


def bake_only_gate(name: str, service: ServiceConfig, previous: RolloutState) -> GateResult:
    return GateResult.bake_only()


@dataclass(frozen=True)
class ServiceDecision:
    """What one run decided for a service, and what the platform needs to know about it."""

    name: str
    previous: RolloutState | None
    """The state this run started from (None: first deploy)."""
    state: RolloutState
    """The state this run applies."""
    first_deploy: bool
    source: str = "output"
    """Which witness `previous` came from: output, live, recover or none."""
    live_replicas: Mapping[str, int] = field(default_factory=dict)
    """Color -> desired count the live read found (an autoscaler may have moved it)."""


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
    """Colors whose share rises this run."""
    ready_first: tuple[str, ...] = ()
    """Colors whose workload changes upward (share, image or capacity rises): the router waits for them,
    so traffic and the decision record move only onto what is ready."""
    after_router: tuple[str, ...] = ()
    """Colors whose capacity drops: their workloads wait for the router update that took their traffic."""
    new_colors: tuple[str, ...] = ()
    """Colors created in this run (AWS attaches a target group to an ECS service only once a rule forwards to it)."""
    capacity: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """With `autoscaling`: color -> (min, max) the autoscaler keeps its count within; empty otherwise."""
    mirror_percent: int = 0
    """Share of live requests the router copies to the candidate color this run (a shadow phase); 0: none."""
    mirror_methods: tuple[str, ...] = ()
    """Request methods that are copied while mirroring (`strategy.mirrorMethods`)."""
    specs: Mapping[str, WorkloadSpec] = field(default_factory=dict)
    """Color -> the workload spec (environment, secrets, cpu, memory) its tasks / pods run (see `color_specs`)."""


def color_plan(decision: ServiceDecision, service: ServiceConfig) -> ColorPlan:
    state, previous = decision.state, decision.previous
    colors = tuple(sorted(c.value for c in ((state.stable_color, state.candidate_color) if uses_two_colors(service) else (state.stable_color,))))
    existing = _existing_colors(previous)
    new = tuple(c for c in colors if c not in existing)
    gaining = tuple(c.value for c in Color if state.weights.of(c) > (previous.weights.of(c) if previous else 0))
    ready_first, after_router = [], []
    for color in (c for c in colors if c not in new):
        before_version = previous.versions.get(Color(color)) if previous else None
        before_replicas = previous.replicas.get(Color(color)) if previous else None
        before_spec = previous.specs.get(Color(color)) if previous else None
        now_replicas = state.replicas[Color(color)]
        rises = (color in gaining or before_version != state.versions[Color(color)]
                 or before_replicas is None or now_replicas > before_replicas
                 or before_spec is not None and before_spec != state.specs.get(Color(color)))
        if rises and not (before_replicas is not None and now_replicas < before_replicas):
            ready_first.append(color)
        elif before_replicas is not None and now_replicas < before_replicas:
            after_router.append(color)
    return ColorPlan(
        colors=colors,
        versions={c.value: v for c, v in state.versions.items()},
        replicas={c.value: n for c, n in state.replicas.items()},
        weights=state.weights,
        stable_color=state.stable_color.value,
        candidate_color=state.candidate_color.value,
        candidate_deployed=state.candidate_version is not None,
        first_deploy=decision.first_deploy,
        gaining=gaining,
        ready_first=tuple(ready_first),
        after_router=tuple(after_router),
        new_colors=new,
        capacity=autoscaling_bounds(decision, service, colors),
        mirror_percent=state.mirror_percent,
        mirror_methods=tuple(m.value for m in service.strategy.mirror_methods) if state.mirror_percent else (),
        # A state without a color's spec (built outside `decide_service`) runs the config's.
        specs={c.value: state.specs.get(c, configured_spec(service)) for c in Color},
    )


def configured_spec(service: ServiceConfig) -> WorkloadSpec:
    """The workload spec the config asks for: what a color gets with a new version."""
    return WorkloadSpec(service.cpu, service.memory, dict(service.environment), dict(service.secrets))


@dataclass(frozen=True)
class SpecPlan:
    """Each color's workload spec this run, and what to tell the user about a spec change."""

    specs: dict[Color, WorkloadSpec]
    note: str = ""
    """Appended to the reason; empty when the spec did not change or nothing differs from the config."""
    warning: str = ""
    """A spec change that goes in place, not by steps (the console warns)."""


def color_specs(previous: RolloutState | None, state: RolloutState, configured: WorkloadSpec) -> SpecPlan:
    """Which workload spec each color runs after this run: a color keeps its pinned spec while it keeps its
    version, so a change of environment, secrets, cpu or memory reaches traffic with a new version, by steps.

    - a color that gets a new version this run (a deploy onto the candidate color, a rolling update) gets
      the config's spec;
    - during a rollout in flight, the candidate color gets the config's spec (the stable color keeps its own);
    - with no rollout in flight and none starting (phase stable before and after, same stable version), a
      spec change goes in place to the serving (stable) color: the platform's rolling update keeps capacity
      (ECS rolling deployment with its circuit breaker, Kubernetes RollingUpdate), but it takes no steps. A
      warm color keeps its spec: a rollback returns to what that version ran when it served;
    - otherwise (an aborted candidate, the run that promotes or rolls back) every color keeps its spec.

    Worked example, `environment` changed with `version` 1 -> 2 on a canary that serves 1 on blue: green gets
    2 with the new environment at 0 %, blue keeps serving 1 with the old one; after the promotion green
    serves 2 with the new environment and blue keeps the old one with 1 (warm for a rollback).
    """
    if previous is None:
        return SpecPlan({c: configured for c in Color})
    # A record written before specs were recorded has none: the config's spec stands in for what each color
    # runs (no hold, no error). Only the first run after such a record can change a serving color's spec.
    before = {c: previous.specs.get(c, configured) for c in Color}
    specs = {c: configured if state.versions.get(c) != previous.versions.get(c) else before[c] for c in Color}
    stable, candidate = state.stable_color, state.candidate_color
    # No rollout in flight and none starting: the only way a spec change can reach the serving color.
    quiet = (previous.phase is Phase.STABLE and state.phase is Phase.STABLE and state.stable_color == previous.stable_color
             and state.stable_version == previous.stable_version)
    if state.in_flight:
        specs[candidate] = configured
    elif quiet:
        specs[stable] = configured
    changed = configured.changes_from(before[stable])
    if not changed:
        return SpecPlan(specs)
    fields = ", ".join(changed)
    if specs[stable] == configured:
        if not quiet:
            return SpecPlan(specs)  # it came with the stable color's new version (a rolling update)
        if state.strategy == "rolling":  # one color: a new version goes in place too, nothing to warn about
            return SpecPlan(specs, f"{fields} changed: applied in place to {stable.value} by the platform's rolling update")
        words = (f"{fields} changed with no new version: applied in place to {stable.value} by the platform's rolling update, "
                 "not by steps; ship such a change with a new version to roll it out by steps")
        return SpecPlan(specs, words, words)
    if state.in_flight:
        if specs[candidate] == before[candidate]:
            return SpecPlan(specs)  # the candidate already runs it: nothing changes this run
        if state.versions.get(candidate) != previous.versions.get(candidate):
            return SpecPlan(specs, f"{fields} changed: {candidate.value} runs it with {state.candidate_version}; "
                                   f"{stable.value} keeps its spec while it serves")
        return SpecPlan(specs, f"{fields} changed mid-rollout: applied to the candidate {candidate.value} only; "
                               f"{stable.value} keeps its spec while it serves")
    if state.phase is Phase.STABLE:
        words = (f"{fields} in the config differs from what {stable.value} runs: not applied in this run; the next run "
                 "applies it in place, not by steps (set it back, or ship it with a new version)")
        return SpecPlan(specs, words, words)
    return SpecPlan(specs, f"{fields} in the config differs from what {stable.value} runs: not applied while "
                           f"{state.candidate_version} is {state.phase.value}")


def autoscaling_bounds(decision: ServiceDecision, service: ServiceConfig, colors: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Per color the (min, max) an autoscaler keeps its count within: 0/0 for a color the plan scales down;
    otherwise at least `minReplicas`, and at least its new share of the tasks the other color runs now — a
    canary step (or the promotion, or a rollback) never lands on a floor sized for idle; the floor decays
    as the other color scales in.

    The count itself belongs to the autoscaler: the program sets only these bounds."""
    scaling = service.autoscaling
    if scaling is None:
        return {}
    state = decision.state
    bounds = {}
    for color in colors:
        if state.replicas[Color(color)] == 0:
            bounds[color] = (0, 0)
            continue
        share = state.weights.of(Color(color))
        other = decision.live_replicas.get(Color(color).other().value, 0)
        floor = max(scaling.min_replicas, math.ceil(other * share / 100))
        bounds[color] = (min(floor, scaling.max_replicas), scaling.max_replicas)
    return bounds


def _existing_colors(previous: RolloutState | None) -> tuple[str, ...]:
    if previous is None:
        return ()
    if previous.strategy == "rolling":
        return (previous.stable_color.value,)
    return ("blue", "green")


def rollout_spec(service: ServiceConfig) -> RolloutSpec:
    strategy = service.strategy
    analysis = strategy.analysis
    return RolloutSpec(
        version=service.version,
        replicas=service.replicas,
        plan=plan_for(strategy.kind.value, strategy.steps, strategy.then.value if strategy.then else None),
        bake=timedelta(minutes=strategy.bake_minutes),
        scale_down_delay=timedelta(minutes=strategy.scale_down_delay_minutes),
        approve=service.approve,
        abort=service.abort,
        promote=service.promote,
        max_inconclusive_runs=analysis.max_inconclusive_runs if analysis else 3,
        platform=service.platform.value,
        mirror_percent=strategy.mirror_percent,
    )


def decide_service(
    name: str,
    service: ServiceConfig,
    output: Any,
    live: LiveService,
    deployed_before: bool,
    now: datetime,
    gate: GateSource = bake_only_gate,
    evidence: EvidenceSource | None = None,
    smoke: SmokeSource | None = None,
) -> ServiceDecision:
    """Both witnesses and the live workloads -> next state. Raises UnrecoverableState when neither
    witness can be trusted and `recover` is not set."""
    spec = rollout_spec(service)
    strategy = service.strategy.kind.value
    try:
        assessment = assess(name, output, live.router, deployed_before, now, record_prefix(service))
    except UnrecoverableState:
        if service.recover is None:
            raise
        return _recovered(name, service, spec, live, now)
    if assessment.first_deploy:
        state = next_state(None, spec, GateResult.bake_only(), now, strategy)
        return ServiceDecision(name, None, _with_specs(None, state, service), True, "none")
    previous = _platform_rolled_back(assessment.previous, live) if spec.plan.in_place else assessment.previous
    # Gates judge a candidate in flight; before a (re)start they can still veto it (an alarm firing).
    verdict = gate(name, service, previous) if spec.version != previous.stable_version else GateResult.bake_only()
    check = verify_colors(previous, live.colors, service.platform.value)
    verdict = combine(verdict, check)
    if smoke is not None and check is None and verdict.verdict is not GateVerdict.ABORT and first_shift_hooks_due(previous, service):
        # Before the first weight moves: the candidate, verified to run its version, has its expand migration
        # done and answers the smoke checks.
        verdict = with_smoke(verdict, smoke(name, service, previous))
    missing, note = _promotion(previous, spec.version, name, evidence)
    state = next_state(previous, spec, verdict, now, strategy, hold=assessment.hold or missing,
                       warm_problem=warm_color_problem(previous, live.colors))
    started = (state.candidate_version == spec.version != previous.candidate_version
               or spec.plan.in_place and state.stable_version == spec.version != previous.stable_version)
    if started:
        state = state.with_(evidence=note)
    elif missing:
        state = state.with_(warning="; ".join(w for w in (state.warning, missing) if w))
    state = _with_specs(previous, state, service)
    if service.recover is not None:
        state = state.with_(reason=f"{state.reason}; recover is set but the record is readable: remove it")
    counts = {color: seen.desired for color, seen in live.colors.items() if seen.found and seen.desired is not None}
    return ServiceDecision(name, previous, state, False, assessment.source, counts)


def _with_specs(previous: RolloutState | None, state: RolloutState, service: ServiceConfig) -> RolloutState:
    """The state with each color's workload spec, and a spec change said in the reason (and warned about)."""
    planned = color_specs(previous, state, configured_spec(service))
    state = state.with_(specs=planned.specs)
    if planned.note:
        state = state.with_(reason=f"{state.reason}; {planned.note}")
    if planned.warning:
        state = state.with_(warning="; ".join(w for w in (state.warning, planned.warning) if w))
    return state


def _promotion(previous: RolloutState, version: str, name: str, evidence: EvidenceSource | None) -> tuple[str | None, str]:
    """A version new to this stack needs the source stack's completion; going back to the last good one never does."""
    if version in (previous.stable_version, previous.candidate_version):
        return None, previous.evidence
    if version == previous.rollback_version:
        return None, "rollback"
    if evidence is None:
        return None, "none"
    return evidence(name, version)


def _platform_rolled_back(previous: RolloutState, live: LiveService) -> RolloutState:
    """Rolling: the platform (ECS circuit breaker) returned the stable color to an older image. The
    record says so, and the refused version stays aborted until someone acts."""
    running = rolled_back_in_place(previous, live.colors)
    if running is None:
        return previous
    refused = previous.stable_version
    color = previous.stable_color
    return previous.with_(
        phase=Phase.ABORTED, stable_version=running, candidate_version=refused, aborted_by="gate",
        rollback_version=None if previous.rollback_version == running else previous.rollback_version,
        completed=tuple(c for c in previous.completed if c.version != refused),
        versions={**previous.versions, color: running},
        reason=f"the platform rolled {refused} back on {color.value}: it runs {running}",
    )


def _recovered(name: str, service: ServiceConfig, spec: RolloutSpec, live: LiveService, now: datetime) -> ServiceDecision:
    """`recover: {stableColor, stableVersion}`: all traffic on that color running that version, in one run.
    The other color keeps whatever it runs and stays warm for the scale-down delay."""
    chosen: RecoverConfig = service.recover
    color = Color(chosen.stable_color)
    other = color.other()
    seen = live.colors
    live_weights = live.router.weights or Weights.all_on(other)  # unknown: assume the other color serves
    previous = RolloutState(
        phase=Phase.STABLE, stable_color=other, stable_version=chosen.stable_version, candidate_version=None, step=None,
        weights=live_weights, step_started_at=now,
        versions={c: (seen[c.value].version if c.value in seen and seen[c.value].version else chosen.stable_version) for c in Color},
        replicas={c: (seen[c.value].desired if c.value in seen and seen[c.value].desired is not None else spec.replicas) for c in Color},
        strategy=service.strategy.kind.value,
    )
    weights = Weights.all_on(color)
    state = previous.with_(
        stable_color=color, versions={**previous.versions, color: chosen.stable_version}, weights=weights,
        replicas={color: spec.replicas, other: spec.replicas}, scale_down_at=now + spec.scale_down_delay,
        last_shift=Shift(live_weights, weights, "recovered"), plan=spec.plan.candidate_percents,
        reason=f"recovered by the recover setting: all traffic on {color.value} running {chosen.stable_version}; remove recover",
        # What each color runs besides its image is not known without a record: the config's spec.
        specs={c: configured_spec(service) for c in Color},
    )
    return ServiceDecision(name, previous, state, False, "recover")


def record_prefix(service: ServiceConfig) -> str:
    return ANNOTATION_PREFIX if service.platform is Platform.KUBERNETES else TAG_PREFIX


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


def decision_tags(decision: ServiceDecision, state: RolloutState | None = None, prefix: str = TAG_PREFIX) -> dict[str, str]:
    return decision_record(decision.name, state or decision.state, prefix)


def uses_two_colors(service: ServiceConfig) -> bool:
    return service.strategy.kind is not StrategyKind.ROLLING


def needs_preview(service: ServiceConfig) -> bool:
    """A preview endpoint that reaches the candidate color: blue-green's, and every service with smoke checks."""
    return service.strategy.continues_as is StrategyKind.BLUE_GREEN or bool(service.hooks and service.hooks.smoke)


def is_aws(service: ServiceConfig) -> bool:
    return service.platform is Platform.AWS


def on_shared_alb(service: ServiceConfig) -> bool:
    return is_aws(service) and service.effective_router is Router.ALB
