"""The rollout state machine: one pure function from (previous state, spec, gate, now) to the next state.

Every `pulumi up` calls `next_state` once per service; the platform components
then apply the returned weights, versions and replica counts. Pure: no pulumi,
no boto3.

Worked example (canary, steps [10, 50, 100], bake 0, gates passing):
    run 1  no previous state       -> stable, blue 100/0, version 1
    run 2  version 1 -> 2          -> progressing, step 0, 90/10 (green runs 2)
    run 3                          -> progressing, step 1, 50/50
    run 4                          -> stable, green 0/100, stableVersion 2 (blue warm)
    run 5 (after scaleDownDelay)   -> stable, blue scaled to 0
"""

from __future__ import annotations

from datetime import datetime

from components.gates.model import GateResult, GateVerdict
from components.rollout.model import Color, Phase, RolloutSpec, RolloutState, Shift, Weights


def first_deploy(spec: RolloutSpec, now: datetime, strategy: str = "") -> RolloutState:
    """No previous state: the configured version goes on blue with all traffic; green idles at 0 replicas."""
    weights = Weights.all_on(Color.BLUE)
    return RolloutState(
        phase=Phase.STABLE,
        stable_color=Color.BLUE,
        stable_version=spec.version,
        candidate_version=None,
        step=None,
        weights=weights,
        step_started_at=now,
        versions={Color.BLUE: spec.version, Color.GREEN: spec.version},
        replicas={Color.BLUE: spec.replicas, Color.GREEN: 0},
        reason="first deploy: blue serves 100%",
        last_shift=Shift(None, weights, "first-deploy"),
        strategy=strategy,
    )


def next_state(
    previous: RolloutState | None, spec: RolloutSpec, gate: GateResult, now: datetime, strategy: str = ""
) -> RolloutState:
    """Decide one run's step for one service.

    The order of checks is the order of safety: a rollback or abort wins over
    everything, a new version restarts, and only then may a step advance.
    """
    if previous is None:
        return first_deploy(spec, now, strategy)
    state = _transition(previous.with_(strategy=strategy or previous.strategy, gate=gate), spec, gate, now)
    return _settle(state, spec, now)


def _transition(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime) -> RolloutState:
    """Traffic and versions for this run; `_settle` then derives replica counts."""
    if spec.plan.in_place:
        return _rolling(state, spec, gate, now)
    if state.candidate_version is None:
        if spec.version == state.stable_version:
            return state.with_(reason="no rollout: stable", gate=None)
        refused = _start_refused(spec, gate)
        if refused:
            return state.with_(reason=f"rollout of {spec.version} not started: {refused}")
        return _start(state, spec, now, f"rollout of {spec.version} started")
    if spec.version == state.stable_version:
        return _return_to_stable(state, spec, now, Phase.STABLE, "version set back to stable: rolled back")
    if spec.version != state.candidate_version:
        refused = _start_refused(spec, gate)
        if refused:
            return _return_to_stable(state, spec, now, Phase.STABLE, f"{spec.version} not started: {refused}")
        reason = f"{state.candidate_version} superseded by {spec.version}: restarted from the first step"
        return _start(state, spec, now, reason)
    if spec.abort == state.candidate_version:
        if state.phase is Phase.ABORTED:
            return state.with_(aborted_by="config", reason=f"aborted: remove abort to retry {spec.version}")
        return _return_to_stable(state, spec, now, Phase.ABORTED, "aborted by the abort setting", "config")
    if state.phase is Phase.ABORTED:
        if state.aborted_by == "gate":
            # A gate abort is sticky: retrying the same version needs a person (set abort, then remove it).
            hint = f"to retry {spec.version}, set abort: {spec.version} and remove it in a later run"
            return state.with_(reason=state.reason if hint in state.reason else f"{state.reason}; {hint}")
        if gate.verdict is GateVerdict.ABORT:
            return state.with_(reason=f"abort lifted but {spec.version} not restarted: {gate.reason}")
        return _start(state, spec, now, f"abort lifted: {spec.version} restarted from the first step")
    if gate.verdict is GateVerdict.ABORT:
        return _return_to_stable(state, spec, now, Phase.ABORTED, f"gate aborted: {gate.reason}", "gate")
    return _advance_or_hold(state, spec, gate, now)


def _rolling(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime) -> RolloutState:
    """Rolling: one color; the new version replaces the stable color's tasks and the platform rolls them."""
    if spec.version == state.stable_version and state.candidate_version is None:
        return state.with_(reason="no rollout: stable", gate=None)
    refused = _start_refused(spec, gate)
    if refused:
        # Nothing new reaches the stable color; a candidate left from another strategy loses its traffic.
        if state.candidate_version is not None and state.phase is not Phase.ABORTED:
            return _return_to_stable(state, spec, now, Phase.ABORTED, refused, "config" if spec.abort == spec.version else "gate")
        return state.with_(reason=f"rolling update to {spec.version} not applied: {refused}")
    stable = state.stable_color
    weights = Weights.all_on(stable)
    return state.with_(
        phase=Phase.STABLE,
        stable_version=spec.version,
        candidate_version=None,
        step=None,
        weights=weights,
        step_started_at=now,
        versions={**state.versions, stable: spec.version},
        inconclusive_runs=0,
        reason=f"rolling update to {spec.version} (the platform replaces tasks; circuit breaker rolls back)",
        last_shift=_shift(state, weights, "rolling"),
        gate=None,
    )


def _start_refused(spec: RolloutSpec, gate: GateResult) -> str | None:
    """Why a new rollout of `spec.version` must not start: it is already aborted, or a gate aborts."""
    if spec.abort == spec.version:
        return f"abort names {spec.version}"
    if gate.verdict is GateVerdict.ABORT:
        return gate.reason
    return None


def _start(state: RolloutState, spec: RolloutSpec, now: datetime, reason: str) -> RolloutState:
    """Put `spec.version` on the candidate color and take step 0 (which may already promote)."""
    candidate = state.candidate_color
    started = state.with_(
        aborted_by=None,
        candidate_version=spec.version,
        versions={**state.versions, candidate: spec.version},
        scale_down_at=None,
        inconclusive_runs=0,
        gate=None,
    )
    return _enter_step(started, spec, 0, now, reason, "start")


def _enter_step(state: RolloutState, spec: RolloutSpec, step: int, now: datetime, reason: str, cause: str) -> RolloutState:
    percent = spec.plan.candidate_percents[step]
    if percent == 100:
        return _promote(state, spec, now, cause)
    weights = Weights.split(state.candidate_color, percent)
    waits = step in spec.plan.pause_at and spec.approve != state.candidate_version
    return state.with_(
        phase=Phase.PAUSED if waits else Phase.PROGRESSING,
        step=step,
        weights=weights,
        step_started_at=now,
        inconclusive_runs=0,
        reason=f"{reason}; waiting for approve: {state.candidate_version}" if waits else reason,
        last_shift=_shift(state, weights, cause, step),
    )


def _promote(state: RolloutState, spec: RolloutSpec, now: datetime, cause: str) -> RolloutState:
    """Candidate takes 100 %: it becomes stable; the old color stays warm for the scale-down delay."""
    new_stable = state.candidate_color
    weights = Weights.all_on(new_stable)
    return state.with_(
        phase=Phase.STABLE,
        stable_color=new_stable,
        stable_version=state.candidate_version,
        candidate_version=None,
        step=None,
        weights=weights,
        step_started_at=now,
        scale_down_at=now + spec.scale_down_delay,
        inconclusive_runs=0,
        reason=f"promoted {state.candidate_version} on {new_stable.value}",
        last_shift=_shift(state, weights, cause),
    )


def _return_to_stable(
    state: RolloutState, spec: RolloutSpec, now: datetime, phase: Phase, reason: str, aborted_by: str | None = None
) -> RolloutState:
    """All traffic back on the stable color in this run; only the router changes now."""
    weights = Weights.all_on(state.stable_color)
    return state.with_(
        phase=phase,
        aborted_by=aborted_by,
        candidate_version=state.candidate_version if phase is Phase.ABORTED else None,
        step=None,
        weights=weights,
        step_started_at=now,
        scale_down_at=now + spec.scale_down_delay,
        inconclusive_runs=0,
        reason=reason,
        last_shift=_shift(state, weights, phase.value if phase is Phase.ABORTED else "rollback"),
    )


def _advance_or_hold(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime) -> RolloutState:
    step = state.step if state.step is not None else 0
    if state.phase is Phase.PAUSED:
        if spec.approve != state.candidate_version:
            return state.with_(reason=_still_paused(state))
        if state.step is None:  # paused before the first step (a recovered record)
            return _start(state, spec, now, f"approved: {spec.version} started from the first step")
        state = state.with_(phase=Phase.PROGRESSING, inconclusive_runs=0)
    baked = now - state.step_started_at
    if baked < spec.bake:
        left = int((spec.bake - baked).total_seconds() // 60) + 1
        return state.with_(reason=f"baking step {step}: about {left} min left")
    if gate.verdict is GateVerdict.HOLD:
        runs = state.inconclusive_runs + 1 if gate.inconclusive else state.inconclusive_runs
        if gate.inconclusive and runs >= spec.max_inconclusive_runs:
            return state.with_(
                phase=Phase.PAUSED,
                inconclusive_runs=runs,
                reason=f"paused after {runs} inconclusive runs ({gate.reason}); approve: {state.candidate_version} to go on",
            )
        return state.with_(inconclusive_runs=runs, reason=f"holding step {step}: {gate.reason}")
    evidence = f" ({gate.reason})" if gate.measurements else ""
    # The strategy may have been edited mid-rollout: never step past the end of the plan in use.
    target = min(step + 1, spec.plan.last_step)
    return _enter_step(state, spec, target, now, f"advanced to step {target}{evidence}", "advance")


def _still_paused(state: RolloutState) -> str:
    reason = state.reason or "paused"
    hint = f"approve: {state.candidate_version}"
    return reason if hint in reason else f"{reason}; waiting for {hint}"


def _settle(state: RolloutState, spec: RolloutSpec, now: datetime) -> RolloutState:
    """Replica counts follow the state: stable and in-flight candidate run `replicas`;
    an idle color stays warm until `scale_down_at`, then goes to zero (never deleted)."""
    idle = state.candidate_color
    serving_candidate = state.in_flight
    warm = state.scale_down_at is not None and now < state.scale_down_at
    idle_replicas = spec.replicas if serving_candidate or warm else 0
    if spec.plan.in_place:
        idle_replicas = 0
    reason = state.reason
    if state.scale_down_at is not None and not warm and state.replicas.get(idle, 0) > 0 and idle_replicas == 0:
        reason = f"{reason}; {idle.value} scaled to zero after the scale-down delay"
    return state.with_(
        replicas={state.stable_color: spec.replicas, idle: idle_replicas},
        scale_down_at=state.scale_down_at if warm else None,
        reason=reason,
    )


def _shift(state: RolloutState, weights: Weights, cause: str, step: int | None = None) -> Shift:
    """Record a change of weights and what justified it; a hold keeps the last record (no write)."""
    if state.weights == weights and state.last_shift is not None:
        return state.last_shift
    if cause == "advance":
        verdict = state.gate.verdict.value if state.gate else "none"
    elif cause == "start":
        # The candidate's first traffic is ordered after its service reports ready in this run.
        verdict = "ready"
    else:
        verdict = "none"
    return Shift(state.weights, weights, cause, verdict, step)
