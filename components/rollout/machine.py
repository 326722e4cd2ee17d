"""The rollout state machine: one pure function from (previous state, spec, gate, now) to the next state.

Every `pulumi up` calls `next_state` once per service; the platform components
then apply the returned weights, versions and replica counts. Pure: no pulumi,
no boto3.

Worked example (canary, steps [10, 50, 100], bake 0, gates passing):
    run 1  no previous state       -> stable, blue 100/0, version 1
    run 2  version 1 -> 2          -> progressing, step 0: green runs 2 at 0 % (deployed, not serving)
    run 3                          -> progressing, step 1, 90/10 (after verifying green runs 2)
    run 4                          -> progressing, step 2, 50/50
    run 5                          -> stable, green 0/100, stableVersion 2 (blue warm)
    run 6 (after scaleDownDelay)   -> stable, blue scaled to 0

Two rules keep every prefix of a run safe (see README, "How a rollout moves"):
- an image changes only on a color that carries no traffic at the start of the run (rolling excepted:
  the platform replaces tasks in place); a candidate that carries traffic when a newer version
  arrives first hands its traffic back to the stable color, and the newer version starts next run;
- traffic only moves forward when `hold` is None: a run whose previous state had to be repaired
  from the live record may return traffic to the stable color, never advance or start.
"""

from __future__ import annotations

import math
from datetime import datetime

from components.gates.model import GateResult, GateVerdict
from components.rollout.model import Color, Completion, Phase, RolloutSpec, RolloutState, Shift, Weights


IN_PLACE = {
    "aws": "ECS replaces the tasks in place; its circuit breaker rolls a failed deployment back",
    "kubernetes": "the Deployment replaces its pods in place; a rollout that never becomes ready stops on the old pods",
    "": "the platform replaces the workload in place",
}
"""How each platform carries out a rolling update, in its own words (reasons are read by its operators)."""


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
        plan=spec.plan.candidate_percents,
        past_versions=(spec.version,),
    )


def next_state(
    previous: RolloutState | None,
    spec: RolloutSpec,
    gate: GateResult,
    now: datetime,
    strategy: str = "",
    hold: str | None = None,
    warm_problem: str | None = None,
) -> RolloutState:
    """Decide one run's step for one service.

    The order of checks is the order of safety: a rollback or abort wins over
    everything, a new version restarts, and only then may a step advance.
    `hold` (a sentence) forbids moving forward this run: no start, no advance.
    `warm_problem` says why the idle color cannot take traffic back now (None: the live read
    confirmed it runs `rollback_version` with its tasks up).
    """
    if previous is None:
        return first_deploy(spec, now, strategy)
    state = previous.with_(strategy=strategy or previous.strategy, gate=gate, warning="")
    misnamed, warning = _settings_naming_other_versions(state, spec)
    state = _transition(state, spec, gate, now, hold or misnamed, warm_problem)
    if warning:
        # Said in the reason too: a hold in a run that moves nothing would otherwise go unexplained.
        state = state.with_(warning=warning, reason=state.reason if warning in state.reason else f"{state.reason}; {warning}")
    return _settle(state, spec, now)


def _transition(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime, hold: str | None,
                warm_problem: str | None = None) -> RolloutState:
    """Traffic and versions for this run; `_settle` then derives replica counts."""
    if spec.plan.in_place:
        return _rolling(state, spec, gate, now, hold)
    if state.candidate_version is None:
        if spec.version == state.rollback_version and spec.version != state.stable_version:
            return _revert(state, spec, gate, now, hold, warm_problem)
        return _start_if_asked(state, spec, gate, now, hold)
    if spec.version == state.stable_version:
        return _return_to_stable(state, spec, now, Phase.STABLE, "version set back to stable: rolled back")
    if state.phase is Phase.ABORTED:
        return _after_abort(state, spec, gate, now, hold)
    if spec.abort == state.candidate_version:
        # Before a newer version: `abort` and `version` changed in one run abort the candidate (recorded as the
        # operator's), and the newer version starts from the aborted state next run.
        newer = f"; {spec.version} is deployed next run" if spec.version != state.candidate_version else ""
        return _return_to_stable(state, spec, now, Phase.ABORTED, f"aborted by the abort setting{newer}", "config")
    if spec.version != state.candidate_version:
        return _supersede(state, spec, gate, now, hold)
    if gate.verdict is GateVerdict.ABORT:
        return _return_to_stable(state, spec, now, Phase.ABORTED, f"gate aborted: {gate.reason}", "gate")
    if hold:
        return state.with_(reason=f"holding at {state.weights.label()}: {hold}")
    if spec.promote == state.candidate_version:
        return _promote_by_hand(state, spec, gate, now)
    return _advance_or_hold(state, spec, gate, now)


def _settings_naming_other_versions(state: RolloutState, spec: RolloutSpec) -> tuple[str | None, str | None]:
    """(hold, warning): `abort`, `approve` and `promote` act on one version; naming another is never a
    silent no-op. It holds the rollout and says what to write — except an `abort` left over from a version
    that is deployed nowhere any more, which only warns, so it never blocks later rollouts."""
    moving = state.candidate_version if state.phase in (Phase.PROGRESSING, Phase.PAUSED) else None
    wanted = spec.version if spec.version != state.stable_version else None
    target = wanted or moving
    holds, warnings = [], []
    for key, named in (("abort", spec.abort), ("approve", spec.approve), ("promote", spec.promote)):
        acts_on = {spec.version, state.candidate_version} if key == "abort" else {spec.version, moving}
        if named is None or (named in acts_on and named != state.stable_version):
            continue
        if named == state.stable_version:
            message = f"{key} names {named}, but {named} is already stable"
            if key == "abort":
                message += (f": to go back, set version: {state.rollback_version}" if state.rollback_version
                            else ": to replace it, set version to another release")
            (holds if target else warnings).append(message if target is None else f"{message}; {target} is in flight: write {key}: {target}")
        elif key == "abort" and named in state.past_versions and named not in state.serving_or_warm():
            warnings.append(f"abort names {named}, which is deployed nowhere any more: it has no effect, remove it")
        elif target is None:
            warnings.append(f"{key} names {named}, but nothing is in flight: remove it")
        else:
            holds.append(f"{key} names {named}, but the version in flight is {target}: write {key}: {target}")
    return "; ".join(holds) or None, "; ".join(holds + warnings) or None


def _revert(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime, hold: str | None,
            warm_problem: str | None) -> RolloutState:
    """`version` set back to the last known good one. While the other color still runs it warm, all traffic
    returns in this run: one router write, no image change, and no gate or alarm may veto it (the alarm
    that caught the bad release is why the operator is here). Afterwards it is an ordinary rollout, which
    the gate wiring runs without alarms for the same reason."""
    idle = state.candidate_color
    until = state.rollback_until
    if until is not None and now < until and warm_problem is None:
        weights = Weights.all_on(idle)
        return state.with_(
            phase=Phase.STABLE,
            stable_color=idle,
            stable_version=spec.version,
            candidate_version=None,
            step=None,
            weights=weights,
            step_started_at=now,
            scale_down_at=now + spec.scale_down_delay,
            inconclusive_runs=0,
            aborted_by=None,
            rollback_version=None,
            reason=f"rolled back to {spec.version} on {idle.value} in one run (rollback window open until {_hhmm(until)}); "
                   f"{state.stable_version} stays warm on {state.stable_color.value} for the scale-down delay",
            last_shift=_shift(state, weights, "rollback"),
        )
    if until is None:
        why = f"the rollback window closed ({idle.value} was scaled down)"
    elif now >= until:
        why = f"the rollback window closed at {_hhmm(until)}"
    else:
        why = f"{idle.value} cannot take the traffic back: {warm_problem}"
    started = _start_if_asked(state, spec, gate, now, hold)
    return started.with_(reason=f"reverting to {spec.version}: {why}, so this is an ordinary rollout; {started.reason}")


def _promote_by_hand(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime) -> RolloutState:
    """`promote: <candidate>`: all traffic to the candidate now, past remaining steps, bake time, pauses and
    an inconclusive gate. Aborts and firing alarms were handled before this (they win); an unverified
    candidate workload or a router changed by hand still hold."""
    if gate.verdict is GateVerdict.HOLD and (gate.source == "workload" or not gate.inconclusive):
        return state.with_(reason=f"promote: {state.candidate_version} waits: {gate.reason}")
    promoted = _promote(state, spec, now, cause="promote")
    return promoted.with_(reason=f"{promoted.reason} by the promote setting (gate: {gate.reason}); remove promote")


def _start_if_asked(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime, hold: str | None) -> RolloutState:
    """No candidate: a configured version other than the stable one is deployed on the idle color at 0 %."""
    if spec.version == state.stable_version:
        return state.with_(reason="no rollout: stable", gate=None)
    refused = _start_refused(spec, gate) or hold
    if refused:
        return state.with_(reason=f"rollout of {spec.version} not started: {refused}")
    deployed = _deploy(state, spec, now, f"{spec.version} deployed on {state.candidate_color.value} at 0%")
    if spec.promote == spec.version:
        return deployed.with_(reason=f"{deployed.reason}; promote takes it to 100% once it is verified")
    return deployed


def _after_abort(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime, hold: str | None) -> RolloutState:
    """The aborted candidate carries no traffic: a new version may go onto its color; the same one restarts
    when the abort setting is lifted (a gate abort needs a person to acknowledge it first)."""
    if spec.version != state.candidate_version:
        return _start_if_asked(state, spec, gate, now, hold)
    if spec.abort == state.candidate_version:
        return state.with_(aborted_by="config", reason=f"aborted: remove abort to retry {spec.version}")
    if state.aborted_by == "gate":
        hint = f"to retry {spec.version}, set abort: {spec.version} and remove it in a later run"
        return state.with_(reason=state.reason if hint in state.reason else f"{state.reason}; {hint}")
    refused = (gate.reason if gate.verdict is GateVerdict.ABORT else None) or hold
    if refused:
        return state.with_(reason=f"abort lifted but {spec.version} not restarted: {refused}")
    return _deploy(state, spec, now, f"abort lifted: {spec.version} restarts from the first step")


def _supersede(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime, hold: str | None) -> RolloutState:
    """A newer version while a candidate is in flight. The candidate's image may change only while it
    serves nothing: from a traffic-carrying step, traffic returns to stable first."""
    old = state.candidate_version
    if state.candidate_percent > 0:
        return _return_to_stable(
            state, spec, now, Phase.STABLE,
            f"{old} superseded by {spec.version}: traffic back on {state.stable_color.value} first; "
            f"{spec.version} is deployed next run",
        )
    refused = _start_refused(spec, gate) or hold
    if refused:
        return _return_to_stable(state, spec, now, Phase.STABLE, f"{old} superseded; {spec.version} not started: {refused}")
    return _deploy(state, spec, now, f"{old} superseded by {spec.version}: {spec.version} deployed at 0%")


def _rolling(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime, hold: str | None) -> RolloutState:
    """Rolling: one color; the new version replaces the stable color's tasks and the platform rolls them."""
    leftover = state.candidate_version is not None and state.phase is not Phase.ABORTED
    if leftover and state.candidate_percent > 0:
        # Switched from a two-color strategy mid-rollout: the other color hands its traffic back first.
        return _return_to_stable(state, spec, now, Phase.STABLE, "switched to rolling: traffic back on the stable color first")
    if state.phase is Phase.ABORTED and state.aborted_by == "gate" and state.candidate_version == spec.version:
        return state.with_(reason=f"{state.reason}; set abort: {spec.version} and remove it in a later run to retry"
                           if "to retry" not in state.reason else state.reason)
    if spec.version == state.stable_version:
        if state.candidate_version is not None:
            return state.with_(phase=Phase.STABLE, candidate_version=None, step=None, aborted_by=None,
                               reason=f"rolling on {spec.version}: nothing in flight")
        return state.with_(reason="no rollout: stable", gate=None)
    refused = _start_refused(spec, gate) or hold
    if refused:
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
        past_versions=_remember(state.past_versions, spec.version),
        rollback_version=None if spec.version == state.rollback_version else state.stable_version,
        completed=_completed(state, spec.version, now, (_carried_by(state, "rolling"),)),
        inconclusive_runs=0,
        aborted_by=None,
        reason=f"rolling update to {spec.version} ({IN_PLACE.get(spec.platform, IN_PLACE[''])})",
        last_shift=_shift(state, weights, "rolling"),
        gate=None,
        plan=spec.plan.candidate_percents,
    )


def _start_refused(spec: RolloutSpec, gate: GateResult) -> str | None:
    """Why a new rollout of `spec.version` must not start: it is already aborted, or a gate aborts."""
    if spec.abort == spec.version:
        return f"abort names {spec.version}"
    if gate.verdict is GateVerdict.ABORT:
        return gate.reason
    return None


def _deploy(state: RolloutState, spec: RolloutSpec, now: datetime, reason: str) -> RolloutState:
    """Step 0: `spec.version` on the candidate color, which carries no traffic; the first shift waits for
    the next run, once the candidate is verified to run this version."""
    candidate = state.candidate_color
    assert state.candidate_percent == 0, "an image changes only on a color that carries no traffic"
    waits = 0 in spec.plan.pause_at and spec.approve != spec.version
    if 0 in spec.plan.mirror_at:
        reason = f"{reason}; receives mirrored requests (shadow), judged after the bake time"
    return state.with_(
        phase=Phase.PAUSED if waits else Phase.PROGRESSING,
        aborted_by=None,
        candidate_version=spec.version,
        versions={**state.versions, candidate: spec.version},
        past_versions=_remember(state.past_versions, spec.version),
        verdicts=(),
        step=0,
        plan=spec.plan.candidate_percents,
        step_started_at=now,
        scale_down_at=None,
        inconclusive_runs=0,
        gate=None,
        reason=f"{reason}; waiting for approve: {spec.version}" if waits else f"{reason}; first shift next run",
    )


def _enter_step(state: RolloutState, spec: RolloutSpec, step: int, now: datetime, reason: str) -> RolloutState:
    percent = spec.plan.candidate_percents[step]
    if percent == 100:
        return _promote(state, spec, now)
    weights = Weights.split(state.candidate_color, percent)
    waits = step in spec.plan.pause_at and spec.approve != state.candidate_version
    return state.with_(
        phase=Phase.PAUSED if waits else Phase.PROGRESSING,
        step=step,
        plan=spec.plan.candidate_percents,
        weights=weights,
        step_started_at=now,
        inconclusive_runs=0,
        verdicts=(*state.verdicts, _carried_by(state, "advance")),
        reason=f"{reason}; waiting for approve: {state.candidate_version}" if waits else reason,
        last_shift=_shift(state, weights, "advance", step),
    )


def _promote(state: RolloutState, spec: RolloutSpec, now: datetime, cause: str = "advance") -> RolloutState:
    """Candidate takes 100 %: it becomes stable; the old color stays warm for the scale-down delay, and
    until then setting `version` back to the old stable one returns all traffic in one run."""
    new_stable = state.candidate_color
    weights = Weights.all_on(new_stable)
    # Promoting the revert itself leaves nothing known good behind: the version it replaced was the bad one.
    reverted = state.candidate_version == state.rollback_version
    return state.with_(
        phase=Phase.STABLE,
        stable_color=new_stable,
        stable_version=state.candidate_version,
        candidate_version=None,
        step=None,
        plan=spec.plan.candidate_percents,
        weights=weights,
        step_started_at=now,
        scale_down_at=now + spec.scale_down_delay,
        inconclusive_runs=0,
        rollback_version=None if reverted else state.stable_version,
        verdicts=(),
        completed=_completed(state, state.candidate_version, now, (*state.verdicts, _carried_by(state, cause))),
        reason=f"promoted {state.candidate_version} on {new_stable.value}" + (
            "" if reverted or not spec.scale_down_delay else
            f"; until {_hhmm(now + spec.scale_down_delay)} version: {state.stable_version} switches back in one run"),
        last_shift=_shift(state, weights, cause),
    )


def _return_to_stable(
    state: RolloutState, spec: RolloutSpec, now: datetime, phase: Phase, reason: str, aborted_by: str | None = None
) -> RolloutState:
    """All traffic back on the stable color in this run; only the router changes now, and the
    candidate keeps its tasks until the scale-down delay has passed."""
    weights = Weights.all_on(state.stable_color)
    # A candidate already scaled to zero (aborted, then the delay passed) stays at zero: warming it again
    # would start a version that was refused, for a way back that does not exist.
    warm = bool(state.replicas.get(state.candidate_color))
    return state.with_(
        phase=phase,
        aborted_by=aborted_by,
        candidate_version=state.candidate_version if phase is Phase.ABORTED else None,
        step=None,
        weights=weights,
        step_started_at=now,
        scale_down_at=now + spec.scale_down_delay if warm else None,
        inconclusive_runs=0,
        reason=reason,
        last_shift=_shift(state, weights, phase.value if phase is Phase.ABORTED else "rollback"),
    )


def _advance_or_hold(state: RolloutState, spec: RolloutSpec, gate: GateResult, now: datetime) -> RolloutState:
    step = state.step if state.step is not None else 0
    if state.phase is Phase.PAUSED:
        if spec.approve != state.candidate_version:
            return state.with_(reason=_still_paused(state))
        state = state.with_(phase=Phase.PROGRESSING, inconclusive_runs=0)
    # Bake time is for watching traffic: a candidate at 0 % has nothing to watch, unless the router
    # copies live requests to it (a shadow phase), which is the point of that step.
    baked = now - state.step_started_at
    watched = state.candidate_percent > 0 or state.mirrors_under(spec.plan)
    if watched and baked < spec.bake:
        left = math.ceil((spec.bake - baked).total_seconds() / 60)
        what = "shadowing (mirrored requests only)" if state.candidate_percent == 0 else f"baking step {step}"
        return state.with_(reason=f"{what}: about {left} min left")
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
    # The next step is the first one above the current share in the plan in use now: steps edited
    # mid-rollout can never make a run skip past a configured percentage.
    target = spec.plan.next_above(state.candidate_percent)
    if spec.approve != state.candidate_version and any(p < target for p in spec.plan.pause_at):
        # A plan that pauses before this point (a switch to blue-green mid-canary) still needs its approval:
        # traffic stays where it is, the candidate keeps the share it already earned.
        return state.with_(phase=Phase.PAUSED, reason=f"waiting for approve: {state.candidate_version} before moving past "
                           f"{state.candidate_percent}% ({spec.plan.candidate_percents} pauses for approval)")
    return _enter_step(state, spec, target, now, f"advanced to step {target}{evidence}")


def _still_paused(state: RolloutState) -> str:
    reason = state.reason or "paused"
    hint = f"approve: {state.candidate_version}"
    return reason if hint in reason else f"{reason}; waiting for {hint}"


def _settle(state: RolloutState, spec: RolloutSpec, now: datetime) -> RolloutState:
    """Replica counts follow the state: stable and in-flight candidate run `replicas`;
    an idle color stays warm until `scale_down_at`, then goes to zero (never deleted)."""
    idle = state.candidate_color
    serving_candidate = state.candidate_version is not None and state.phase in (Phase.PROGRESSING, Phase.PAUSED)
    warm = state.scale_down_at is not None and now < state.scale_down_at
    idle_replicas = spec.replicas if (serving_candidate or warm) and not spec.plan.in_place else 0
    reason = state.reason
    if state.scale_down_at is not None and not warm and state.replicas.get(idle, 0) > 0 and idle_replicas == 0:
        reason = f"{reason}; {idle.value} scaled to zero after the scale-down delay"
    return state.with_(
        replicas={state.stable_color: spec.replicas, idle: idle_replicas},
        scale_down_at=state.scale_down_at if warm else None,
        reason=reason,
        # Mirroring follows the state: any run that leaves the shadow step (advance, abort, rollback,
        # promotion, a strategy edit) stops it in that same run.
        mirror_percent=spec.mirror_percent if state.mirrors_under(spec.plan) else 0,
    )


def _shift(state: RolloutState, weights: Weights, cause: str, step: int | None = None) -> Shift:
    """Record a change of weights and what justified it; a hold keeps the last record (no write)."""
    if state.weights == weights and state.last_shift is not None:
        return state.last_shift
    verdict = state.gate.verdict.value if cause in ("advance", "promote") and state.gate else "none"
    return Shift(state.weights, weights, cause, verdict, step)


def _carried_by(state: RolloutState, cause: str) -> str:
    """The verdict that carried one step: what a promotion with `requireAnalysis` checks."""
    if cause == "promote":
        return "promote"
    gate = state.gate
    if gate is None or gate.source == "none":
        return "none"
    return gate.verdict.value


def _completed(state: RolloutState, version: str, now: datetime, verdicts: tuple[str, ...], keep: int = 10) -> tuple[Completion, ...]:
    done = Completion(version, now, state.strategy, verdicts)
    return (*(c for c in state.completed if c.version != version), done)[-keep:]


def _remember(past: tuple[str, ...], version: str, keep: int = 10) -> tuple[str, ...]:
    return (*(v for v in past if v != version), version)[-keep:]


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC")
