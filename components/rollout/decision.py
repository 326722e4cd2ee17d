"""The decision record a run leaves on the resource that carries a service's weights.

Component properties never reach policies (pulumi/pulumi#10533), so the last
weight change and what justified it travel as tags (AWS) or annotations
(Kubernetes) on the router resource itself. The record only changes when the
weights change, so a holding run writes nothing. Pure: no pulumi.
"""

from __future__ import annotations

from components.rollout.model import RolloutState

TAG_PREFIX = "cutover:"
ANNOTATION_PREFIX = "cutover.dev/"


def decision_record(service: str, state: RolloutState, prefix: str = TAG_PREFIX) -> dict[str, str]:
    """Tags such as `cutover:weights-before=90/10`, `cutover:weights=50/50`, `cutover:verdict=advance`."""
    shift = state.last_shift
    before = shift.before.label() if shift and shift.before else "none"
    after = shift.after.label() if shift else state.weights.label()
    candidate = "none"
    if shift and shift.before and shift.after != shift.before:
        # The candidate of a shift is the color that gained traffic, or the one that lost it on a way back.
        gained = [c for c in ("blue", "green") if getattr(shift.after, c) > getattr(shift.before, c)]
        candidate = gained[0] if shift.cause not in ("rollback", "aborted", "recovered") else _other(gained[0])
    record = {
        "service": service,
        "strategy": state.strategy or "none",
        "step": str(shift.step) if shift and shift.step is not None else "none",
        "weights-before": before,
        "weights": after,
        "candidate-color": candidate,
        "cause": shift.cause if shift else "none",
        "verdict": shift.verdict if shift else "none",
    }
    return {prefix + key: value for key, value in record.items()}


def _other(color: str) -> str:
    return "green" if color == "blue" else "blue"
