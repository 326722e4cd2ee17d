"""The stack's `rollouts` output and the per-service settings the tool needs, as plain values.

Pure: parsing, and when the next run may move a rollout. No pulumi import.

    >>> r = Rollout.from_output("web", {"phase": "progressing", "step": 1, "weights": {"blue": 90, "green": 10},
    ...     "candidateColor": "green", "candidateVersion": "2", "stepStartedAt": "2026-01-05T09:02:00Z",
    ...     "plan": [0, 10, 50, 100]})
    >>> next_step(r, ServiceSettings(version="2", bake_minutes=5)).at.isoformat()
    '2026-01-05T09:07:00+00:00'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from components.config import StrategyConfig

STABLE, PROGRESSING, PAUSED, ABORTED = "stable", "progressing", "paused", "aborted"
IN_FLIGHT = (PROGRESSING, PAUSED)
DEFAULT_BAKE_MINUTES = float(StrategyConfig.model_fields["bake_minutes"].default)
"""The program's default `strategy.bakeMinutes` (components/config.py), for a service that sets none."""
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time from the outputs (`2026-01-05T09:00:00Z`) as an aware UTC datetime; None stays None."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int(value: Any) -> int | None:
    # Outputs read through some paths carry numbers as floats (30 -> 30.0).
    return None if value is None else int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Rollout:
    """One service's record in the `rollouts` output (see README "Outputs")."""

    service: str
    phase: str
    step: int | None = None
    weights: Mapping[str, int] = field(default_factory=dict)
    stable_color: str | None = None
    stable_version: str | None = None
    candidate_color: str | None = None
    candidate_version: str | None = None
    step_started_at: datetime | None = None
    versions: Mapping[str, str | None] = field(default_factory=dict)
    replicas: Mapping[str, int | None] = field(default_factory=dict)
    scale_down_at: datetime | None = None
    inconclusive_runs: int = 0
    reason: str = ""
    gate: Mapping[str, Any] | None = None
    last_shift_cause: str | None = None
    strategy: str = ""
    aborted_by: str | None = None
    plan: tuple[int, ...] = ()
    rollback_version: str | None = None
    rollback_until: datetime | None = None

    @classmethod
    def from_output(cls, service: str, record: Mapping[str, Any]) -> "Rollout":
        shift = record.get("lastShift") or {}
        return cls(
            service=service,
            phase=str(record.get("phase") or "unknown"),
            step=_int(record.get("step")),
            weights={str(k): int(v) for k, v in (record.get("weights") or {}).items()},
            stable_color=_str(record.get("stableColor")),
            stable_version=_str(record.get("stableVersion")),
            candidate_color=_str(record.get("candidateColor")),
            candidate_version=_str(record.get("candidateVersion")),
            step_started_at=parse_time(record.get("stepStartedAt")),
            versions={str(k): _str(v) for k, v in (record.get("versions") or {}).items()},
            replicas={str(k): _int(v) for k, v in (record.get("replicas") or {}).items()},
            scale_down_at=parse_time(record.get("scaleDownAt")),
            inconclusive_runs=_int(record.get("inconclusiveRuns")) or 0,
            reason=str(record.get("reason") or ""),
            gate=record.get("gate") or None,
            last_shift_cause=_str(shift.get("cause")),
            strategy=str(record.get("strategy") or ""),
            aborted_by=_str(record.get("abortedBy")),
            plan=tuple(int(p) for p in (record.get("plan") or ())),
            rollback_version=_str(record.get("rollbackVersion")),
            rollback_until=parse_time(record.get("rollbackUntil")),
        )

    @property
    def in_flight(self) -> bool:
        """A candidate is being rolled out (progressing or paused)."""
        return self.phase in IN_FLIGHT and self.candidate_version is not None

    @property
    def candidate_share(self) -> int:
        """Percent of production traffic on the candidate color (0 when there is none)."""
        if not self.candidate_color or self.candidate_color == self.stable_color:
            return 0
        return int(self.weights.get(self.candidate_color, 0))

    @property
    def steps(self) -> int:
        """Steps of the plan after the deploy at 0 % (`[0, 10, 50, 100]` -> 3)."""
        return max(len(self.plan) - 1, 0)

    def weights_label(self) -> str:
        return f"blue {self.weights.get('blue', 0):>3} / green {self.weights.get('green', 0):>3}"

    def versions_label(self) -> str:
        if self.candidate_version and self.phase != STABLE:
            return f"{self.stable_version}->{self.candidate_version}"
        return str(self.stable_version)

    def fingerprint(self) -> tuple:
        """What a run that moves (or counts towards a pause) changes; equal fingerprints: the run held."""
        return (self.phase, self.step, tuple(sorted(self.weights.items())), self.stable_version,
                self.candidate_version, self.inconclusive_runs, self.step_started_at)


def rollouts_of(outputs: Mapping[str, Any]) -> dict[str, Rollout]:
    """Every service's record in the `rollouts` output (empty before the first deploy)."""
    raw = outputs.get("rollouts") or {}
    if isinstance(raw, str):
        raw = json.loads(raw)
    return {name: Rollout.from_output(name, record) for name, record in sorted(raw.items()) if isinstance(record, Mapping)}


@dataclass(frozen=True)
class ServiceSettings:
    """What stack config says about one service: the version asked for and the keys the tool reads."""

    version: str | None = None
    bake_minutes: float = DEFAULT_BAKE_MINUTES
    approve: str | None = None
    abort: str | None = None
    promote: str | None = None


def service_settings(config: Mapping[str, Any]) -> dict[str, ServiceSettings]:
    """Per service, from `cutover:services` (an object, or the JSON string the CLI hands over)."""
    services = config.get("cutover:services") or {}
    if isinstance(services, str):
        services = json.loads(services)
    settings = {}
    for name, spec in services.items():
        if not isinstance(spec, Mapping):
            continue
        strategy = spec.get("strategy") if isinstance(spec.get("strategy"), Mapping) else {}
        bake = strategy.get("bakeMinutes", DEFAULT_BAKE_MINUTES)
        settings[name] = ServiceSettings(
            version=_str(spec.get("version")),
            bake_minutes=float(bake) if isinstance(bake, (int, float)) else DEFAULT_BAKE_MINUTES,
            approve=_str(spec.get("approve")),
            abort=_str(spec.get("abort")),
            promote=_str(spec.get("promote")),
        )
    return settings


@dataclass(frozen=True)
class NextStep:
    """When a run may next move a rollout, and why then."""

    at: datetime | None
    """Earliest time a run may move it; None: no run will until someone acts (or nothing is in flight)."""
    why: str


def next_step(rollout: Rollout, settings: ServiceSettings | None) -> NextStep:
    """When the next `up` can move `rollout` (the program's rules: README "How a rollout moves").

    - progressing with the candidate at 0 %: nothing to bake, the next run verifies it and shifts;
    - progressing with traffic on the candidate: `stepStartedAt` + `bakeMinutes`;
    - paused: only `approve` (or `promote`) moves it; aborted: nothing does;
    - stable while config asks for another version: the next run starts it.
    """
    started = rollout.step_started_at or EPOCH
    if rollout.phase == PROGRESSING:
        if rollout.candidate_share == 0:
            return NextStep(started, "the candidate at 0 % has nothing to bake: the next run verifies it and shifts")
        bake = settings.bake_minutes if settings else DEFAULT_BAKE_MINUTES
        return NextStep(started + timedelta(minutes=bake), f"bake {bake:g} min from {started:%H:%M} UTC")
    if rollout.phase == PAUSED:
        return NextStep(None, f"waiting for approve: {rollout.candidate_version}")
    if rollout.phase == ABORTED:
        return NextStep(None, f"aborted{f' by {rollout.aborted_by}' if rollout.aborted_by else ''}: no run moves it")
    if settings and settings.version and settings.version != rollout.stable_version:
        return NextStep(started, f"{settings.version} is configured: the next run starts it")
    return NextStep(None, "nothing in flight")


def settled(rollout: Rollout, settings: ServiceSettings | None) -> bool:
    """No further run moves it by itself: stable at the configured version, paused or aborted."""
    if rollout.phase in (PAUSED, ABORTED):
        return True
    if rollout.phase == STABLE:
        return settings is None or settings.version is None or settings.version == rollout.stable_version
    return False


def rollback_window(rollout: Rollout, now: datetime) -> tuple[str | None, bool]:
    """(version to go back to, whether setting it is still a one-run rollback at `now`)."""
    if rollout.rollback_version is None:
        return None, False
    return rollout.rollback_version, rollout.rollback_until is not None and now < rollout.rollback_until
