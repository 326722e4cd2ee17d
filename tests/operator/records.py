"""Rollout records for the pure tests, in the shape of the `rollouts` output."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cutover.records import Rollout

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def record(phase: str = "stable", *, step: int | None = None, blue: int = 100, stable: str = "1", candidate: str | None = None,
           stable_color: str = "blue", started: datetime = T0, strategy: str = "canary", rollback: str | None = None,
           rollback_until: datetime | None = None, cause: str | None = None, aborted_by: str | None = None,
           inconclusive: int = 0, reason: str = "", plan: tuple[int, ...] = (0, 10, 50, 100), **extra: Any) -> dict[str, Any]:
    other = "green" if stable_color == "blue" else "blue"
    weights = {"blue": blue, "green": 100 - blue}
    return {
        "phase": phase, "step": step, "weights": weights, "stableColor": stable_color, "stableVersion": stable,
        "candidateColor": other if candidate else None, "candidateVersion": candidate, "stepStartedAt": iso(started),
        "versions": {stable_color: stable, other: candidate or stable}, "replicas": {"blue": 2, "green": 2},
        "scaleDownAt": None, "inconclusiveRuns": inconclusive, "reason": reason or f"{phase}",
        "gate": {"verdict": "advance", "reason": "passed", "inconclusive": False, "measurements": {}} if candidate else None,
        "lastShift": {"cause": cause} if cause else None, "strategy": strategy, "abortedBy": aborted_by,
        "plan": list(plan), "rollbackVersion": rollback, "rollbackUntil": iso(rollback_until) if rollback_until else None,
        **extra,
    }


def rollout(phase: str = "stable", service: str = "web", **fields: Any) -> Rollout:
    return Rollout.from_output(service, record(phase, **fields))
