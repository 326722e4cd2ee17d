"""The rollout's vocabulary: colors, phases, weights, step plans and the state one run hands the next.

Pure: no pulumi, no boto3. Everything here is a frozen value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Mapping

from components.gates.model import GateResult


class Color(str, Enum):
    BLUE = "blue"
    GREEN = "green"

    def other(self) -> "Color":
        return Color.GREEN if self is Color.BLUE else Color.BLUE


class Phase(str, Enum):
    STABLE = "stable"
    PROGRESSING = "progressing"
    PAUSED = "paused"
    ABORTED = "aborted"


class InvalidWeights(ValueError):
    """Weights that a router must never receive."""


@dataclass(frozen=True)
class Weights:
    """Percent of production traffic per color: integers 0..100 that sum to 100."""

    blue: int
    green: int

    def __post_init__(self) -> None:
        if not all(isinstance(w, int) and 0 <= w <= 100 for w in (self.blue, self.green)):
            raise InvalidWeights(f"weights must be integers 0..100, got {self.blue}/{self.green}")
        if self.blue + self.green != 100:
            raise InvalidWeights(f"weights must sum to 100, got {self.blue}/{self.green}")

    @classmethod
    def split(cls, candidate: "Color", candidate_percent: int) -> "Weights":
        """`split(GREEN, 10)` is blue 90 / green 10."""
        other = 100 - candidate_percent
        return cls(blue=other, green=candidate_percent) if candidate is Color.GREEN else cls(candidate_percent, other)

    @classmethod
    def all_on(cls, color: "Color") -> "Weights":
        return cls.split(color, 100)

    def of(self, color: Color) -> int:
        return self.blue if color is Color.BLUE else self.green

    def of_name(self, color: str) -> int:
        return self.of(Color(color))

    def as_dict(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}

    def label(self) -> str:
        return f"{self.blue}/{self.green}"


@dataclass(frozen=True)
class StepPlan:
    """How a strategy moves traffic: the data the machine follows, so it never branches on names.

    `candidate_percents[i]` is the candidate's share at step i; reaching 100 promotes. Two-color
    plans begin with step 0 at 0 %: the candidate is deployed and verified (it runs its own image,
    its deployment completed) before any traffic reaches it, so an image never changes on a color
    that carries traffic. `pause_at` holds the steps that wait for `approve` before the next one.
    `in_place` strategies (rolling) keep one color and let the platform replace tasks.
    `mirror_at` holds steps at 0 % during which the router copies live requests to the candidate (a
    shadow phase): unlike other steps at 0 %, they bake and their gate judges the candidate.
    """

    candidate_percents: tuple[int, ...]
    pause_at: frozenset[int] = frozenset()
    in_place: bool = False
    mirror_at: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        percents = self.candidate_percents
        if not percents or percents[-1] != 100 or any(b <= a for a, b in zip(percents, percents[1:])):
            raise ValueError(f"a step plan must increase and end at 100, got {percents}")
        if not self.in_place and percents[0] != 0:
            raise ValueError(f"a two-color plan starts at 0 % (deployed, not yet serving), got {percents}")
        if any(not 0 <= step < len(percents) or percents[step] != 0 or self.in_place for step in self.mirror_at):
            # A mirrored step serves the candidate nothing: its responses are discarded, stable answers every request.
            raise ValueError(f"only a two-color plan's steps at 0 % can be mirrored, got {sorted(self.mirror_at)} of {percents}")

    @property
    def last_step(self) -> int:
        return len(self.candidate_percents) - 1

    def next_above(self, percent: int) -> int:
        """Index of the first step whose share is above `percent`: where a run moves next.

        >>> StepPlan((0, 10, 50, 100)).next_above(10)
        2
        >>> StepPlan((0, 25, 100)).next_above(10)   # steps edited mid-rollout: never skip past 25
        1
        """
        return next(i for i, p in enumerate(self.candidate_percents) if p > percent)


def plan_for(kind: str, steps: list[int] | None = None, then: str | None = None) -> StepPlan:
    """Step plan of a strategy kind; `then` is the strategy a shadow phase continues with.

    >>> plan_for("canary", [10, 50, 100]).candidate_percents
    (0, 10, 50, 100)
    >>> plan_for("blue-green").candidate_percents, plan_for("blue-green").pause_at
    ((0, 100), frozenset({0}))
    >>> plan_for("red-black").candidate_percents
    (0, 100)
    >>> shadow = plan_for("shadow", [10, 100], then="canary")
    >>> shadow.candidate_percents, shadow.mirror_at
    ((0, 10, 100), frozenset({0}))
    """
    if kind == "shadow":
        if then not in ("canary", "blue-green"):
            raise ValueError(f"a shadow phase continues with canary or blue-green, not {then!r}")
        # Step 0 (deployed at 0 %) receives mirrored copies of live requests, bakes and is judged.
        return replace(plan_for(then, steps), mirror_at=frozenset({0}))
    if kind == "canary":
        return StepPlan((0, *(steps or ())))
    if kind == "blue-green":
        # Step 0 deploys the candidate behind the test listener at 0 % and waits for approval.
        return StepPlan((0, 100), pause_at=frozenset({0}))
    if kind == "red-black":
        return StepPlan((0, 100))
    if kind == "rolling":
        return StepPlan((100,), in_place=True)
    raise ValueError(f"unknown strategy kind {kind!r}")


@dataclass(frozen=True)
class RolloutSpec:
    """What the user asked for one service, reduced to what the machine needs."""

    version: str
    replicas: int
    plan: StepPlan
    bake: timedelta = timedelta(0)
    scale_down_delay: timedelta = timedelta(minutes=30)
    approve: str | None = None
    abort: str | None = None
    promote: str | None = None
    """Move the candidate to 100 % next run, past remaining steps, bake time and inconclusive gates."""
    max_inconclusive_runs: int = 3
    platform: str = ""
    """`aws` or `kubernetes`: only the words of reasons depend on it."""
    mirror_percent: int = 100
    """Share of live requests the router copies to the candidate during the plan's mirrored steps."""


@dataclass(frozen=True)
class WorkloadSpec:
    """What a color's tasks / pods run besides the image: its pinned workload spec.

    A color keeps the spec it was deployed with while it keeps its version, so a change of `environment`,
    `secrets`, `cpu` or `memory` reaches traffic with a new version, step by step (`components/app.py`).
    `secrets` holds references (an ARN, `secret-name:key`), never values."""

    cpu: int
    memory: int
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def changes_from(self, other: "WorkloadSpec") -> list[str]:
        """Names of the fields that differ, in config order.

        >>> WorkloadSpec(256, 512, {"A": "1"}).changes_from(WorkloadSpec(512, 512))
        ['environment', 'cpu']
        """
        return [name for name in ("environment", "secrets", "cpu", "memory") if getattr(self, name) != getattr(other, name)]


@dataclass(frozen=True)
class Shift:
    """The last change of weights and the verdict that justified it (recorded on the router)."""

    before: Weights | None
    after: Weights
    cause: str
    verdict: str = "none"
    step: int | None = None


@dataclass(frozen=True)
class Completion:
    """A version this stack finished rolling out: the evidence another stack's promotion reads."""

    version: str
    at: datetime
    strategy: str
    verdicts: tuple[str, ...] = ()
    """The verdict that carried each step: `advance` / `ready` (gates passed), `promote` (by hand), `none` (no analysis)."""

    @property
    def analysed(self) -> bool:
        """Every step was carried by a passing gate."""
        return bool(self.verdicts) and all(v in ("advance", "ready") for v in self.verdicts)


@dataclass(frozen=True)
class RolloutState:
    """Where one service's rollout stands after a run; exported, and read back by the next run."""

    phase: Phase
    stable_color: Color
    stable_version: str
    candidate_version: str | None
    step: int | None
    weights: Weights
    step_started_at: datetime
    versions: Mapping[Color, str]
    replicas: Mapping[Color, int]
    scale_down_at: datetime | None = None
    inconclusive_runs: int = 0
    reason: str = ""
    gate: GateResult | None = None
    last_shift: Shift | None = None
    strategy: str = "canary"
    aborted_by: str | None = None
    """`config` (the abort setting: removing it retries) or `gate` (stays aborted until acknowledged)."""
    plan: tuple[int, ...] = ()
    """Candidate percents of the plan the current step belongs to (the plan of the last move)."""
    rollback_version: str | None = None
    """The stable version before the last promotion (last known good). While the other color still runs it
    warm, setting `version` back to it switches all traffic in one run; after that, reverting to it is an
    ordinary rollout that alarms do not veto."""
    past_versions: tuple[str, ...] = ()
    """Versions deployed before, newest last (bounded): tells a stale `abort` from a typo."""
    warning: str = ""
    """Something the operator should fix in the config (this run only; not saved)."""
    verdicts: tuple[str, ...] = ()
    """The verdicts that carried the steps of the rollout in flight so far."""
    completed: tuple[Completion, ...] = ()
    """Versions this stack finished, newest last (bounded): what a stack promoting from this one reads."""
    evidence: str = "none"
    """Why the version in flight (or last started) was allowed to start here: `<stack> <completedAt>` when
    another stack's completion was required and found, `rollback`, or `none`."""
    mirror_percent: int = 0
    """Share of live requests the router copies to the candidate this run (a shadow phase); 0: no mirror."""
    specs: Mapping[Color, WorkloadSpec] = field(default_factory=dict)
    """Color -> the workload spec it runs (pinned: it changes with the color's version, see `app.color_specs`);
    a color left out has no recorded spec (a record older than specs): the config's spec stands in."""

    @property
    def candidate_color(self) -> Color:
        return self.stable_color.other()

    @property
    def candidate_percent(self) -> int:
        return self.weights.of(self.candidate_color)

    @property
    def rollback_until(self) -> datetime | None:
        """Until when a one-run rollback to `rollback_version` is possible (the other color's scale-down)."""
        idle = self.candidate_color
        if (self.rollback_version is None or self.candidate_version is not None
                or self.versions.get(idle) != self.rollback_version or not self.replicas.get(idle)):
            return None
        return self.scale_down_at

    def serving_or_warm(self) -> set[str]:
        """Versions deployed on a color that has capacity or traffic."""
        return {v for c, v in self.versions.items() if self.replicas.get(c, 0) > 0 or self.weights.of(c) > 0}

    @property
    def in_flight(self) -> bool:
        """A candidate is deployed on its color and may still gain traffic."""
        return (
            self.candidate_version is not None
            and self.phase in (Phase.PROGRESSING, Phase.PAUSED)
            and self.versions.get(self.candidate_color) == self.candidate_version
        )

    def mirrors_under(self, plan: StepPlan) -> bool:
        """The candidate is in flight at a step `plan` mirrors (a shadow phase), still serving nothing."""
        return self.in_flight and self.step in plan.mirror_at and self.candidate_percent == 0

    def with_(self, **changes: object) -> "RolloutState":
        return replace(self, **changes)
