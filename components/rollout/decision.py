"""The decision record a run leaves on the resource that carries a service's weights: the live witness.

Component properties never reach policies (pulumi/pulumi#10533), and a stack output can be
stale, lost or damaged, so each service's state also travels as flat strings — tags (AWS) or
annotations (Kubernetes) — on its router: the ALB listener rule, the SSM parameter of a Route53
router, or the Kubernetes object that carries the weights. It is written in the same update as
the weights, after the workloads it describes were updated, so it never claims more than the
router carries. The next run reads it back through the provider and compares it with the stack
output (`components/rollout/trust.py`).

Values stay within what AWS tags accept (letters, digits, spaces and `_ . : / = + - @`, at most
256 characters). The record changes only when the state does, so a holding run writes nothing.
Pure: no pulumi.
"""

from __future__ import annotations

from typing import Any, Mapping

from components.rollout.codec import CorruptState, _enum, iso, parse_time
from components.rollout.model import Color, Phase, RolloutState, Shift, Weights

TAG_PREFIX = "cutover:"
ANNOTATION_PREFIX = "cutover.dev/"
NONE = "none"
# Keys a policy reads to judge the last weight change (policies/rules/discipline.py).
SHIFT_KEYS = ("service", "strategy", "step", "weights-before", "weights", "candidate-color", "cause", "verdict")
# Keys the next run needs to continue from this record alone.
STATE_KEYS = (
    "phase", "plan", "stable-color", "stable-version", "candidate-version", "blue-version", "green-version",
    "blue-replicas", "green-replicas", "step-started-at", "scale-down-at", "aborted-by",
)
# Keys added later: a record written before them still reads (as `none`).
OPTIONAL_KEYS = ("rollback-version", "evidence")


def decision_record(service: str, state: RolloutState, prefix: str = TAG_PREFIX) -> dict[str, str]:
    """Tags such as `cutover:weights-before=90/10`, `cutover:weights=50/50`, `cutover:phase=progressing`."""
    shift = state.last_shift
    before = shift.before.label() if shift and shift.before else NONE
    candidate = NONE
    if shift and shift.before and shift.after != shift.before:
        # The candidate of a shift is the color that gained traffic, or the one that lost it on a way back.
        gained = [c for c in ("blue", "green") if getattr(shift.after, c) > getattr(shift.before, c)]
        candidate = gained[0] if shift.cause not in ("rollback", "aborted", "recovered") else _other(gained[0])
    record = {
        "service": service,
        "strategy": state.strategy or NONE,
        "step": _text(state.step),
        "weights-before": before,
        "weights": state.weights.label(),
        "candidate-color": candidate,
        "cause": shift.cause if shift else NONE,
        "verdict": shift.verdict if shift else NONE,
        "phase": state.phase.value,
        "plan": "/".join(str(p) for p in state.plan) or NONE,
        "stable-color": state.stable_color.value,
        "stable-version": state.stable_version,
        "candidate-version": _text(state.candidate_version),
        "blue-version": state.versions.get(Color.BLUE, NONE),
        "green-version": state.versions.get(Color.GREEN, NONE),
        "blue-replicas": _text(state.replicas.get(Color.BLUE)),
        "green-replicas": _text(state.replicas.get(Color.GREEN)),
        "step-started-at": iso(state.step_started_at),
        "scale-down-at": iso(state.scale_down_at) if state.scale_down_at else NONE,
        "aborted-by": _text(state.aborted_by),
        "rollback-version": _text(state.rollback_version),
        "evidence": state.evidence or NONE,
    }
    return {prefix + key: value for key, value in record.items()}


def read_decision_record(values: Mapping[str, Any], prefix: str = TAG_PREFIX) -> RolloutState:
    """The state a decision record describes; raises CorruptState when it is incomplete or malformed."""
    flat = {key[len(prefix):]: value for key, value in values.items() if isinstance(key, str) and key.startswith(prefix)}
    missing = [key for key in (*SHIFT_KEYS, *STATE_KEYS) if not isinstance(flat.get(key), str)]
    if missing:
        raise CorruptState(f"the record on the router lacks {', '.join(prefix + k for k in missing)}")
    weights = _split(flat["weights"], "weights")
    before = None if flat["weights-before"] == NONE else _split(flat["weights-before"], "weights-before")
    step = _number(flat["step"], "step")
    return RolloutState(
        phase=_enum(Phase, flat["phase"], "phase"),
        stable_color=_enum(Color, flat["stable-color"], "stable-color"),
        stable_version=flat["stable-version"],
        candidate_version=None if flat["candidate-version"] == NONE else flat["candidate-version"],
        step=step,
        weights=weights,
        step_started_at=parse_time(flat["step-started-at"], "step-started-at"),
        versions={Color.BLUE: flat["blue-version"], Color.GREEN: flat["green-version"]},
        replicas={c: n for c, n in ((Color.BLUE, _number(flat["blue-replicas"], "blue-replicas")),
                                    (Color.GREEN, _number(flat["green-replicas"], "green-replicas"))) if n is not None},
        scale_down_at=None if flat["scale-down-at"] == NONE else parse_time(flat["scale-down-at"], "scale-down-at"),
        reason="",
        last_shift=Shift(before, weights, flat["cause"], flat["verdict"], step),
        strategy=flat["strategy"],
        aborted_by=None if flat["aborted-by"] == NONE else flat["aborted-by"],
        plan=_percents(flat["plan"]),
        rollback_version=None if flat.get("rollback-version", NONE) == NONE else flat["rollback-version"],
        evidence=flat.get("evidence", NONE),
    )


def same_state(a: RolloutState, b: RolloutState) -> bool:
    """Do two witnesses describe the same rollout? (What the live record holds, compared on both.)"""
    return decision_record("", a) == decision_record("", b)


def _split(text: str, key: str) -> Weights:
    parts = text.split("/")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise CorruptState(f"{key} {text!r} is not '<blue>/<green>'")
    try:
        return Weights(int(parts[0]), int(parts[1]))
    except ValueError as err:
        raise CorruptState(f"{key}: {err}") from None


def _percents(text: str) -> tuple[int, ...]:
    if text == NONE:
        return ()
    if not all(part.isdigit() for part in text.split("/")):
        raise CorruptState(f"plan {text!r} is not percents separated by '/'")
    return tuple(int(part) for part in text.split("/"))


def _number(text: str, key: str) -> int | None:
    if text == NONE:
        return None
    if not text.isdigit():
        raise CorruptState(f"{key} {text!r} is not a whole number")
    return int(text)


def _text(value: object) -> str:
    return NONE if value is None else str(value)


def _other(color: str) -> str:
    return "green" if color == "blue" else "blue"
