"""The state a run records: the planned one only where the applied resources say it took effect.

The router's weights, each workload's image, desired count and workload spec come back as the resources'
applied outputs. A record that claims more than was applied would send the next run forward from a place
traffic never reached — a promotion of a candidate that never ran, a "stable" version the platform
refused — so a run records its plan only when every applied value matches it, the previous state
when the applied values are still the previous ones, and otherwise the previous state with the
mismatch in its reason (the next run checks it against the live router). Whichever it records, each
color's workload spec is the one its workload applied. Pure: no pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from components.rollout.model import Color, RolloutState, Weights, WorkloadSpec


@dataclass(frozen=True)
class AppliedState:
    """What the resources applied; a value that is not known is left out (never compared)."""

    weights: Weights | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    """Color -> image tag of its applied task definition / pod template."""
    replicas: Mapping[str, int] = field(default_factory=dict)
    """Color -> applied desired count."""
    specs: Mapping[str, WorkloadSpec] = field(default_factory=dict)
    """Color -> the workload spec (environment, secret references, cpu, memory) its workload applied."""


def mismatches(state: RolloutState, applied: AppliedState) -> list[str]:
    found = []
    if applied.weights is not None and applied.weights != state.weights:
        found.append(f"router holds {applied.weights.label()}, not {state.weights.label()}")
    for color, version in sorted(applied.versions.items()):
        wanted = state.versions.get(Color(color))
        if wanted is not None and version != wanted:
            found.append(f"{color} runs {version}, not {wanted}")
    for color, count in sorted(applied.replicas.items()):
        wanted_count = state.replicas.get(Color(color))
        if wanted_count is not None and count != wanted_count:
            found.append(f"{color} has {count} tasks, not {wanted_count}")
    return found


def recorded_state(planned: RolloutState, previous: RolloutState | None, applied: AppliedState) -> RolloutState:
    """What this run records, given what its resources applied.

    >>> from datetime import datetime, timezone
    >>> from components.rollout.machine import first_deploy
    >>> from components.rollout.model import RolloutSpec, plan_for
    >>> start = first_deploy(RolloutSpec("1", 2, plan_for("rolling")), datetime(2026, 1, 5, tzinfo=timezone.utc), "rolling")
    >>> rolled = start.with_(stable_version="2", versions={Color.BLUE: "2", Color.GREEN: "1"})
    >>> recorded_state(rolled, start, AppliedState(versions={"blue": "1"})).stable_version
    '1'
    """
    wrong = mismatches(planned, applied)
    if not wrong:
        recorded = planned
    elif previous is None:
        recorded = planned.with_(reason=f"{planned.reason}; applied differs from the plan: {'; '.join(wrong)}")
    elif not mismatches(previous, applied):
        recorded = previous.with_(reason=f"not applied ({'; '.join(wrong)}): this step is taken again next run")
    else:
        recorded = previous.with_(reason=f"applied differs from the plan ({'; '.join(wrong)}): the next run checks the live router")
    if not applied.specs:
        return recorded
    return recorded.with_(specs={**recorded.specs, **{Color(c): spec for c, spec in applied.specs.items()}})
