"""Successive runs of one stack, each fed the previous run's outputs: what `pulumi up` repeated does.

Used by the README's rehearsal command and by the scenario tests, so both
exercise the same path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from rehearsal.engine import Changes, RunResult, diff, run_program

REHEARSAL_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Run:
    number: int
    result: RunResult
    changes: Changes
    config: Mapping[str, Any]
    preview: bool

    def rollout(self, service: str) -> dict[str, Any]:
        return self.result.outputs["rollouts"][service]

    def weights(self, service: str) -> tuple[int, int]:
        w = self.rollout(service)["weights"]
        return w["blue"], w["green"]

    def changed(self, service: str | None = None) -> dict[str, tuple[str, ...]]:
        """Changed resource keys (`type::name`), optionally only those of one service."""
        def mine(keys: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(k for k in keys if service is None or k.split("::", 1)[1].startswith(f"{service}-"))

        c = self.changes
        return {"created": mine(c.created), "updated": mine(c.updated), "replaced": mine(c.replaced), "deleted": mine(c.deleted)}


class Stack:
    """A stack driven through successive runs; only `up` runs save outputs, as with the real engine."""

    def __init__(self, config: Mapping[str, Any], *, stack: str = "dev", start: datetime = REHEARSAL_EPOCH,
                 environment: Mapping[str, str] | None = None, mocks_factory=None):
        self.config: dict[str, Any] = copy.deepcopy(dict(config))
        self.stack = stack
        self.now = start
        self.environment = dict(environment or {})
        self.mocks_factory = mocks_factory
        self.saved: RunResult | None = None
        self.runs: list[Run] = []

    def set(self, dotted: str, value: Any) -> None:
        """`set("cutover:services.web.version", "2")`; a value of None removes the key."""
        head, _, rest = dotted.partition(".")
        target = self.config.setdefault(head, {})
        parts = rest.split(".") if rest else []
        if not parts:
            self.config[head] = value
            return
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)

    def up(self, *, previous_outputs: Mapping[str, Any] | None = None) -> Run:
        return self._run(preview=False, previous_outputs=previous_outputs)

    def preview(self) -> Run:
        return self._run(preview=True)

    def _run(self, *, preview: bool, previous_outputs: Mapping[str, Any] | None = None) -> Run:
        previous = previous_outputs if previous_outputs is not None else (self.saved.outputs if self.saved else None)
        result = run_program(self.config, previous, now=self.now, stack=self.stack, preview=preview,
                             environment=self.environment, mocks_factory=self.mocks_factory)
        run = Run(len(self.runs) + 1, result, diff(self.saved, result), copy.deepcopy(self.config), preview)
        self.runs.append(run)
        if not preview and result.error is None:
            self.saved = result
        return run
