"""Before traffic moves onto a candidate: does its color really run the candidate, and did its deployment finish?

An ECS deployment circuit breaker can return a service to its previous task definition and still
report steady state (terraform-provider-aws #19519, #20858), so "the update succeeded" is not enough:
the run reads the color's workload back and compares. Pure: no pulumi.

    candidate color runs another version         -> ABORT (the platform rolled it back)
    candidate workload missing or still deploying -> HOLD, inconclusive
    stable color runs another version            -> HOLD (changed outside cutover), never moves traffic
"""

from __future__ import annotations

from typing import Mapping

from components.gates.model import GateResult, GateVerdict
from components.rollout.live import ColorWorkload
from components.rollout.model import Phase, RolloutState

ROLLED_BACK = {
    "aws": "the ECS deployment circuit breaker rolled it back",
    "kubernetes": "its Deployment was rolled back or edited",
}


def verify_colors(state: RolloutState, colors: Mapping[str, ColorWorkload], platform: str) -> GateResult | None:
    """A verdict that overrides the gate's, or None when the live workloads are what `state` says."""
    stable = colors.get(state.stable_color.value)
    if stable is not None and stable.found and stable.version not in (None, state.stable_version):
        return _workload(GateVerdict.HOLD, f"the stable color {state.stable_color.value} runs {stable.version}, "
                         f"not {state.stable_version} (changed outside cutover?)", inconclusive=False)
    if state.candidate_version is None or state.phase not in (Phase.PROGRESSING, Phase.PAUSED):
        return None
    color = state.candidate_color.value
    seen = colors.get(color)
    if seen is not None and seen.found and seen.version != state.candidate_version:
        return _workload(GateVerdict.ABORT, f"{color} runs {seen.version}, not the candidate {state.candidate_version}: "
                         f"{ROLLED_BACK.get(platform, 'it was rolled back')}{_detail(seen)}", inconclusive=False)
    problem = _not_ready(seen, state.candidate_version)
    return None if problem is None else _workload(GateVerdict.HOLD, f"the candidate on {color}: {problem}")


def warm_color_problem(state: RolloutState, colors: Mapping[str, ColorWorkload]) -> str | None:
    """Why the idle color cannot take all traffic back right now, or None when it runs the last good
    version with its tasks up (the one-run rollback checks this instead of trusting the record)."""
    if state.rollback_version is None:
        return "no version to roll back to"
    seen = colors.get(state.candidate_color.value)
    if seen is not None and seen.found and seen.version != state.rollback_version:
        return f"it runs {seen.version}"
    if seen is not None and seen.found and seen.desired is not None and seen.desired < 1:
        return "it has no tasks"
    return _not_ready(seen, state.rollback_version)


def _not_ready(seen: ColorWorkload | None, version: str) -> str | None:
    if seen is None:
        return "its workload could not be located"
    if not seen.found:
        return "its workload was not found"
    if seen.desired is not None and seen.desired < 1:
        return "it has no tasks (an autoscaler has not raised it yet?)"
    if seen.settled is False:
        return f"the deployment of {version} has not finished{_detail(seen)}"
    return None


def _workload(verdict: GateVerdict, reason: str, inconclusive: bool = True) -> GateResult:
    return GateResult(verdict, reason, inconclusive, source="workload")


def rolled_back_in_place(state: RolloutState, colors: Mapping[str, ColorWorkload]) -> str | None:
    """Rolling: the version the stable color really runs, when the platform rolled the recorded one back."""
    stable = colors.get(state.stable_color.value)
    if stable is None or not stable.found or stable.version in (None, state.stable_version):
        return None
    return stable.version


def combine(gate: GateResult, check: GateResult | None) -> GateResult:
    """The stricter of the gate's verdict and the live check's: ABORT over HOLD over ADVANCE."""
    if check is None:
        return gate
    order = {GateVerdict.ADVANCE: 0, GateVerdict.HOLD: 1, GateVerdict.ABORT: 2}
    return check if order[check.verdict] >= order[gate.verdict] else gate


def _detail(seen: ColorWorkload) -> str:
    return f" ({seen.detail})" if seen.detail else ""
