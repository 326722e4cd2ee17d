"""Rollout state <-> the JSON-shaped stack output `rollouts.<service>`.

Reading is defensive: the previous outputs come from a checkpoint that a failed
update, a hand edit or an older program may have left in any shape. Anything
that does not parse is "no verified state": when the stable color and version
can still be recovered, the service returns to them and pauses; otherwise the
run stops before registering anything (traffic unchanged). Pure: no pulumi.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from components.gates.model import GateResult, GateVerdict
from components.rollout.model import Color, InvalidWeights, Phase, RolloutState, Shift, Weights


class CorruptState(ValueError):
    """The previous record of a service cannot be trusted."""


class UnrecoverableState(ValueError):
    """The previous record of a service does not even say which version is stable."""


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise CorruptState(f"{key} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CorruptState(f"{key} is not an ISO-8601 timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise CorruptState(f"{key} has no time zone: {value!r}")
    return moment.astimezone(timezone.utc)


def to_output(state: RolloutState) -> dict[str, Any]:
    """The record the next run reads; field names follow the README's output contract."""
    return {
        "phase": state.phase.value,
        "step": state.step,
        "weights": _weights_out(state.weights),
        "stableColor": state.stable_color.value,
        "stableVersion": state.stable_version,
        "candidateColor": state.candidate_color.value if state.candidate_version is not None else None,
        "candidateVersion": state.candidate_version,
        "stepStartedAt": iso(state.step_started_at),
        "versions": {c.value: state.versions[c] for c in Color},
        "replicas": {c.value: state.replicas[c] for c in Color},
        "scaleDownAt": iso(state.scale_down_at) if state.scale_down_at else None,
        "inconclusiveRuns": state.inconclusive_runs,
        "reason": state.reason,
        "gate": state.gate.to_output() if state.gate else None,
        "lastShift": _shift_out(state.last_shift),
        "strategy": state.strategy,
        "abortedBy": state.aborted_by,
    }


def from_output(record: Any) -> RolloutState:
    """Parse one service's previous record; raise CorruptState naming what is wrong."""
    if not isinstance(record, Mapping):
        raise CorruptState("the record is not an object")
    stable_color = _color(record.get("stableColor"), "stableColor")
    stable_version = _text(record.get("stableVersion"), "stableVersion")
    candidate_version = _optional_text(record.get("candidateVersion"), "candidateVersion")
    phase = _enum(Phase, record.get("phase"), "phase")
    weights = _weights(record.get("weights"), "weights")
    step = _optional_int(record.get("step"), "step")
    if phase in (Phase.PROGRESSING, Phase.PAUSED, Phase.ABORTED) and candidate_version is None:
        raise CorruptState(f"phase {phase.value} without a candidate version")
    if phase is Phase.PROGRESSING and step is None:
        raise CorruptState("phase progressing without a step")
    if phase is Phase.STABLE and (candidate_version is not None or weights != Weights.all_on(stable_color)):
        raise CorruptState("phase stable but traffic is not all on the stable color")
    versions = record.get("versions")
    replicas = record.get("replicas")
    if not isinstance(versions, Mapping) or not isinstance(replicas, Mapping):
        raise CorruptState("versions and replicas per color are missing")
    gate = record.get("gate")
    return RolloutState(
        phase=phase,
        stable_color=stable_color,
        stable_version=stable_version,
        candidate_version=candidate_version,
        step=step,
        weights=weights,
        step_started_at=parse_time(record.get("stepStartedAt"), "stepStartedAt"),
        versions={c: _text(versions.get(c.value), f"versions.{c.value}") for c in Color},
        replicas={c: _int(replicas.get(c.value), f"replicas.{c.value}") for c in Color},
        scale_down_at=parse_time(record["scaleDownAt"], "scaleDownAt") if record.get("scaleDownAt") else None,
        inconclusive_runs=_int(record.get("inconclusiveRuns", 0), "inconclusiveRuns"),
        reason=str(record.get("reason") or ""),
        gate=_gate(gate) if isinstance(gate, Mapping) else None,
        last_shift=_shift(record.get("lastShift")),
        strategy=str(record.get("strategy") or ""),
        aborted_by=record.get("abortedBy") if record.get("abortedBy") in ("config", "gate") else None,
    )


def recover(record: Any, spec_version: str, replicas: int, now: datetime, problem: str) -> RolloutState:
    """This run's state when the previous record is corrupt: all traffic on the stable color it names.

    It is the run's result, not an input to `next_state`: nothing moves toward a
    version that was not verified. If the configured version differs from the
    stable one, the rollout waits before its first step for `approve`.
    Raises UnrecoverableState when even the stable color and version are unreadable.
    """
    try:
        if not isinstance(record, Mapping):
            raise CorruptState("the record is not an object")
        stable_color = _color(record.get("stableColor"), "stableColor")
        stable_version = _text(record.get("stableVersion"), "stableVersion")
    except CorruptState as err:
        raise UnrecoverableState(f"{problem}; and {err}") from None
    idle = stable_color.other()
    candidate_version = spec_version if spec_version != stable_version else None
    weights = Weights.all_on(stable_color)
    reason = f"previous record unreadable ({problem}): all traffic on stable {stable_version}"
    if candidate_version:
        reason += f"; approve: {candidate_version} to start its rollout from the first step"
    return RolloutState(
        phase=Phase.PAUSED if candidate_version else Phase.STABLE,
        stable_color=stable_color,
        stable_version=stable_version,
        candidate_version=candidate_version,
        step=None,
        weights=weights,
        step_started_at=now,
        versions={stable_color: stable_version, idle: _salvage(record, "versions", idle, _text, stable_version)},
        replicas={stable_color: replicas, idle: _salvage(record, "replicas", idle, _int, 0)},
        reason=reason,
        last_shift=Shift(None, weights, "recovered"),
    )


def _salvage(record: Mapping[str, Any], key: str, color: Color, read, default):
    try:
        return read((record.get(key) or {}).get(color.value), f"{key}.{color.value}")
    except (CorruptState, AttributeError):
        return default


def _weights_out(weights: Weights) -> dict[str, int]:
    return {"blue": weights.blue, "green": weights.green}


def _shift_out(shift: Shift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {
        "from": _weights_out(shift.before) if shift.before else None,
        "to": _weights_out(shift.after),
        "cause": shift.cause,
        "verdict": shift.verdict,
        "step": shift.step,
    }


def _shift(raw: Any) -> Shift | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        before = _weights(raw["from"], "lastShift.from") if raw.get("from") else None
        return Shift(
            before, _weights(raw.get("to"), "lastShift.to"), str(raw.get("cause") or ""), str(raw.get("verdict") or "none"),
            _optional_int(raw.get("step"), "lastShift.step"),
        )
    except CorruptState:
        return None


def _gate(raw: Mapping[str, Any]) -> GateResult | None:
    try:
        return GateResult(
            GateVerdict(raw.get("verdict")),
            str(raw.get("reason") or ""),
            bool(raw.get("inconclusive")),
            dict(raw.get("measurements") or {}),
        )
    except ValueError:
        return None


def _weights(raw: Any, key: str) -> Weights:
    if not isinstance(raw, Mapping):
        raise CorruptState(f"{key} is missing")
    try:
        return Weights(_int(raw.get("blue"), f"{key}.blue"), _int(raw.get("green"), f"{key}.green"))
    except InvalidWeights as err:
        raise CorruptState(f"{key}: {err}") from None


def _int(value: Any, key: str) -> int:
    # The engine hands numbers back as floats (30 -> 30.0); accept only whole ones.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise CorruptState(f"{key} is not a whole number: {value!r}")
    return int(value)


def _optional_int(value: Any, key: str) -> int | None:
    return None if value is None else _int(value, key)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise CorruptState(f"{key} is missing")
    return value


def _optional_text(value: Any, key: str) -> str | None:
    return None if value is None else _text(value, key)


def _color(value: Any, key: str) -> Color:
    return _enum(Color, value, key)


def _enum(kind: type, value: Any, key: str):
    try:
        return kind(value)
    except ValueError:
        raise CorruptState(f"{key} is not one of {[m.value for m in kind]}: {value!r}") from None
