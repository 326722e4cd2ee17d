"""Rollout state <-> the JSON-shaped stack output `rollouts.<service>`.

Reading is defensive: the previous outputs come from a checkpoint that a failed
update, a hand edit or an older program may have left in any shape. `from_output`
checks types; `problems` checks that a parsed state is consistent with itself
(weights are the plan's weights at its step, colors and versions agree, phase
matches weights, times are not in the future). A record that fails either is not
trusted; `components/rollout/trust.py` then turns to the live record on the router.
Pure: no pulumi.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from components.gates.model import GateResult, GateVerdict
from components.rollout.model import Color, Completion, InvalidWeights, Phase, RolloutState, Shift, Weights, WorkloadSpec


class CorruptState(ValueError):
    """The previous record of a service cannot be trusted."""


class UnrecoverableState(ValueError):
    """Neither the stack output nor the live router can say where a deployed service stands."""


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
        "plan": list(state.plan),
        "rollbackVersion": state.rollback_version,
        "rollbackUntil": iso(state.rollback_until) if state.rollback_until else None,
        "pastVersions": list(state.past_versions),
        "verdicts": list(state.verdicts),
        "completed": [{"version": c.version, "completedAt": iso(c.at), "strategy": c.strategy, "verdicts": list(c.verdicts)}
                      for c in state.completed],
        "evidence": state.evidence,
        "mirrorPercent": state.mirror_percent,
        "specs": {c.value: spec_out(state.specs[c]) for c in Color if c in state.specs},
    }


def from_output(record: Any) -> RolloutState:
    """Parse one service's previous record; raise CorruptState naming what is wrong."""
    if not isinstance(record, Mapping):
        raise CorruptState("the record is not an object")
    stable_color = _color(record.get("stableColor"), "stableColor")
    candidate_color = record.get("candidateColor")
    if candidate_color is not None and candidate_color != stable_color.other().value:
        raise CorruptState(f"candidateColor {candidate_color!r} is not the other color of stableColor {stable_color.value!r}")
    versions = record.get("versions")
    replicas = record.get("replicas")
    if not isinstance(versions, Mapping) or not isinstance(replicas, Mapping):
        raise CorruptState("versions and replicas per color are missing")
    gate = record.get("gate")
    aborted_by = record.get("abortedBy")
    if aborted_by not in (None, "config", "gate"):
        raise CorruptState(f"abortedBy is not config or gate: {aborted_by!r}")
    return RolloutState(
        phase=_enum(Phase, record.get("phase"), "phase"),
        stable_color=stable_color,
        stable_version=_text(record.get("stableVersion"), "stableVersion"),
        candidate_version=_optional_text(record.get("candidateVersion"), "candidateVersion"),
        step=_optional_int(record.get("step"), "step"),
        weights=_weights(record.get("weights"), "weights"),
        step_started_at=parse_time(record.get("stepStartedAt"), "stepStartedAt"),
        versions={c: _text(versions.get(c.value), f"versions.{c.value}") for c in Color},
        replicas={c: _int(replicas.get(c.value), f"replicas.{c.value}") for c in Color},
        scale_down_at=parse_time(record["scaleDownAt"], "scaleDownAt") if record.get("scaleDownAt") else None,
        inconclusive_runs=_int(record.get("inconclusiveRuns", 0), "inconclusiveRuns"),
        reason=str(record.get("reason") or ""),
        gate=_gate(gate) if isinstance(gate, Mapping) else None,
        last_shift=_shift(record.get("lastShift")),
        strategy=str(record.get("strategy") or ""),
        aborted_by=aborted_by,
        plan=_plan(record.get("plan"), "plan"),
        rollback_version=_optional_text(record.get("rollbackVersion"), "rollbackVersion"),
        past_versions=_past(record.get("pastVersions")),
        verdicts=_past(record.get("verdicts")),
        completed=completions(record.get("completed")),
        evidence=str(record.get("evidence") or "none"),
        mirror_percent=_int(record.get("mirrorPercent", 0), "mirrorPercent"),
        specs=_specs(record.get("specs")),
    )


STRATEGIES = ("canary", "blue-green", "red-black", "rolling", "shadow")
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a recorded time may lie before it counts as corrupt (clocks of CI runners differ)."""


def problems(state: RolloutState, now: datetime) -> list[str]:
    """Why a parsed state cannot be what a run of this program left behind; [] when it is consistent.

    >>> from components.rollout.machine import first_deploy
    >>> from components.rollout.model import RolloutSpec, plan_for
    >>> start = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> problems(first_deploy(RolloutSpec("1", 2, plan_for("canary", [10, 100])), start, "canary"), start)
    []
    """
    found: list[str] = []
    stable, candidate = state.stable_color, state.candidate_color
    if state.strategy not in STRATEGIES:
        found.append(f"strategy {state.strategy!r} is not one of {', '.join(STRATEGIES)}")
    in_place = state.strategy == "rolling"
    if state.versions.get(stable) != state.stable_version:
        found.append(f"versions.{stable.value} is {state.versions.get(stable)!r} but stableVersion is {state.stable_version!r}")
    on_stable = state.weights == Weights.all_on(stable)
    if state.phase is Phase.STABLE:
        if state.candidate_version is not None or state.step is not None or not on_stable:
            found.append("phase stable must have all traffic on the stable color, no candidate and no step")
    elif state.phase is Phase.ABORTED:
        if state.candidate_version is None or state.step is not None or not on_stable:
            found.append("phase aborted must have all traffic on the stable color, a candidate and no step")
        if state.aborted_by is None:
            found.append("phase aborted without abortedBy")
    else:
        found.extend(_in_flight_problems(state))
    if state.candidate_version is not None and not in_place and state.versions.get(candidate) != state.candidate_version:
        found.append(f"versions.{candidate.value} is {state.versions.get(candidate)!r} but candidateVersion is {state.candidate_version!r}")
    if state.step_started_at > now + CLOCK_SKEW:
        found.append(f"stepStartedAt {iso(state.step_started_at)} is in the future")
    if state.scale_down_at is not None and state.phase in (Phase.PROGRESSING, Phase.PAUSED):
        found.append("scaleDownAt is set while a candidate is in flight")
    if state.inconclusive_runs < 0 or any(n < 0 for n in state.replicas.values()):
        found.append("negative counts")
    if state.mirror_percent != 0 and not (state.in_flight and state.candidate_percent == 0 and 0 < state.mirror_percent <= 100):
        found.append(f"mirrorPercent {state.mirror_percent} while no candidate in flight is at 0 %")
    if state.rollback_version is not None and state.rollback_version == state.stable_version:
        found.append(f"rollbackVersion {state.rollback_version!r} is the stable version")
    return found


def _in_flight_problems(state: RolloutState) -> list[str]:
    if state.candidate_version is None or state.step is None:
        return [f"phase {state.phase.value} needs a candidate and a step"]
    plan = state.plan
    if not plan or plan[0] != 0 or plan[-1] != 100 or any(b <= a for a, b in zip(plan, plan[1:])):
        return [f"plan {list(plan)} does not start at 0, increase and end at 100"]
    if not 0 <= state.step < len(plan) - 1:
        return [f"step {state.step} is outside the plan {list(plan)}"]
    if state.candidate_percent != plan[state.step]:
        return [f"weights {state.weights.label()} are not step {state.step} of the plan {list(plan)}"]
    return []


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


def spec_out(spec: WorkloadSpec) -> dict[str, Any]:
    """One color's spec in the record: secrets are references (ARN / `secret-name:key`), never values."""
    return {"cpu": spec.cpu, "memory": spec.memory, "environment": dict(sorted(spec.environment.items())),
            "secrets": dict(sorted(spec.secrets.items()))}


def _specs(raw: Any) -> dict[Color, WorkloadSpec]:
    """Per color the spec it runs. A record written before specs has none: the run then uses the config's
    spec for every color (`app.color_specs`). A spec that is there must parse."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CorruptState("specs is not an object")
    return {c: _spec(raw[c.value], f"specs.{c.value}") for c in Color if raw.get(c.value) is not None}


def _spec(raw: Any, key: str) -> WorkloadSpec:
    if not isinstance(raw, Mapping):
        raise CorruptState(f"{key} is not an object")
    maps = {}
    for name in ("environment", "secrets"):
        values = raw.get(name) or {}
        if not isinstance(values, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
            raise CorruptState(f"{key}.{name} is not an object of strings")
        maps[name] = dict(values)
    return WorkloadSpec(_int(raw.get("cpu"), f"{key}.cpu"), _int(raw.get("memory"), f"{key}.memory"), **maps)


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
            str(raw.get("source") or "gate"),
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


def _plan(raw: Any, key: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise CorruptState(f"{key} is not a list of percents")
    return tuple(_int(p, f"{key}[{i}]") for i, p in enumerate(raw))


def completions(raw: Any) -> tuple[Completion, ...]:
    """The `completed` history of a record; entries that do not parse are left out (never evidence)."""
    found = []
    for entry in raw if isinstance(raw, (list, tuple)) else ():
        try:
            found.append(Completion(_text(entry.get("version"), "version"), parse_time(entry.get("completedAt"), "completedAt"),
                                    str(entry.get("strategy") or ""), _past(entry.get("verdicts"))))
        except (CorruptState, AttributeError):
            continue
    return tuple(found)


def _past(raw: Any) -> tuple[str, ...]:
    """Only tells a stale `abort` from a typo: an unreadable list is an empty one (a stale abort then holds)."""
    if not isinstance(raw, (list, tuple)):
        return ()
    return tuple(v for v in raw if isinstance(v, str) and v)


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
