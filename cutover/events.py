"""Which phase changes a run made: compare each service's record in two consecutive outputs.

Pure: two `Rollout` maps in, a list of `PhaseEvent`s out. No I/O, no pulumi import.

| before                      | after                                   | event        |
|-----------------------------|-----------------------------------------|--------------|
| stable / aborted            | progressing (a candidate)               | started      |
| progressing, candidate v    | progressing, v, more traffic or step    | advanced     |
| anything but paused on v    | paused on v                             | paused       |
| paused on v                 | progressing on v (same traffic)         | resumed      |
| not aborted on v            | aborted on v                            | aborted      |
| progressing / paused, v     | stable on v                             | promoted     |
| progressing / paused, v     | stable on the old stable version        | rolled back  |
| stable on s (or aborted)    | stable on the rollback version / `rollback` cause | rolled back |
| stable on s                 | stable on another version               | promoted     |

A service that appears for the first time (its first deploy) and runs that change nothing raise no event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Mapping

from cutover.records import ABORTED, IN_FLIGHT, PAUSED, PROGRESSING, STABLE, Rollout


class EventKind(str, Enum):
    STARTED = "started"
    ADVANCED = "advanced"
    PAUSED = "paused"
    RESUMED = "resumed"
    ABORTED = "aborted"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled back"


@dataclass(frozen=True)
class PhaseEvent:
    """One service's phase change between two consecutive outputs of a stack."""

    stack: str
    service: str
    kind: EventKind
    from_phase: str
    to_phase: str
    weights_before: Mapping[str, int]
    weights: Mapping[str, int]
    stable_version: str | None
    stable_color: str | None
    candidate_version: str | None
    candidate_color: str | None
    versions: Mapping[str, str | None]
    step: int | None
    steps: int
    reason: str
    time: datetime

    def headline(self) -> str:
        """`dev/web: promoted 2 (blue 0 / green 100)`."""
        version = self.candidate_version if self.kind not in (EventKind.PROMOTED, EventKind.ROLLED_BACK) else self.stable_version
        weights = f"blue {self.weights.get('blue', 0)} / green {self.weights.get('green', 0)}"
        what = f"{self.kind.value} {version}" if version else self.kind.value
        return f"{self.stack}/{self.service}: {what} ({weights})"

    def text(self) -> str:
        """Headline, phases and the program's reason, in one line."""
        return f"{self.headline()} — {self.from_phase} -> {self.to_phase}: {self.reason}"

    def as_json(self) -> dict[str, Any]:
        """The generic webhook body (documented in the reply / README)."""
        return {
            "stack": self.stack,
            "service": self.service,
            "event": self.kind.value,
            "fromPhase": self.from_phase,
            "toPhase": self.to_phase,
            "weightsBefore": dict(self.weights_before),
            "weights": dict(self.weights),
            "stableVersion": self.stable_version,
            "stableColor": self.stable_color,
            "candidateVersion": self.candidate_version,
            "candidateColor": self.candidate_color,
            "versions": dict(self.versions),
            "step": self.step,
            "steps": self.steps,
            "reason": self.reason,
            "time": self.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": self.text(),
        }


def classify(before: Rollout | None, after: Rollout) -> EventKind | None:
    """The event a run made for one service (see the module table); None: nothing to tell."""
    if before is None:
        return None
    same_candidate = before.candidate_version == after.candidate_version
    if after.phase == ABORTED:
        return None if before.phase == ABORTED and same_candidate else EventKind.ABORTED
    if after.phase == STABLE:
        return _settled_stable(before, after)
    if after.phase == PAUSED:
        return None if before.phase == PAUSED and same_candidate else EventKind.PAUSED
    if after.phase == PROGRESSING:
        if before.phase not in IN_FLIGHT or not same_candidate:
            return EventKind.STARTED
        moved = after.candidate_share > before.candidate_share or (after.step or 0) > (before.step or 0)
        if before.phase == PAUSED:
            return EventKind.ADVANCED if moved else EventKind.RESUMED
        return EventKind.ADVANCED if moved else None
    return None


def _settled_stable(before: Rollout, after: Rollout) -> EventKind | None:
    if before.phase in IN_FLIGHT:
        if after.stable_version == before.candidate_version:
            return EventKind.PROMOTED
        return EventKind.ROLLED_BACK
    if before.phase == ABORTED:
        return EventKind.ROLLED_BACK if after.stable_version == before.stable_version else EventKind.PROMOTED
    if after.stable_version == before.stable_version:
        return None
    if after.last_shift_cause == "rollback" or after.stable_version == before.rollback_version:
        return EventKind.ROLLED_BACK
    return EventKind.PROMOTED


def detect_events(stack: str, before: Mapping[str, Rollout], after: Mapping[str, Rollout], time: datetime) -> list[PhaseEvent]:
    """Every service's event between two consecutive outputs of `stack`, in service order."""
    events = []
    for name, now in sorted(after.items()):
        previous = before.get(name)
        kind = classify(previous, now)
        if kind is None or previous is None:
            continue
        events.append(PhaseEvent(
            stack=stack, service=name, kind=kind, from_phase=previous.phase, to_phase=now.phase,
            weights_before=dict(previous.weights), weights=dict(now.weights),
            stable_version=now.stable_version, stable_color=now.stable_color,
            candidate_version=now.candidate_version or previous.candidate_version,
            candidate_color=now.candidate_color or previous.candidate_color,
            versions=dict(now.versions), step=now.step, steps=now.steps, reason=now.reason, time=time,
        ))
    return events
