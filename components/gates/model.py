"""What a gate decides and why: the values that cross from gate I/O into the rollout machine.

Pure: no pulumi, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping


class GateVerdict(str, Enum):
    ADVANCE = "advance"
    HOLD = "hold"
    ABORT = "abort"


@dataclass(frozen=True)
class GateResult:
    """A verdict with the reason a person reads and the numbers it was based on.

    `inconclusive` marks a hold for lack of evidence (no data, too few requests,
    API errors): enough of those in a row pause the rollout for a human.
    """

    verdict: GateVerdict
    reason: str
    inconclusive: bool = False
    measurements: Mapping[str, Any] = field(default_factory=dict)
    source: str = "gate"
    """`gate` (metrics, alarms, drift), `workload` (the live check of the candidate's workload: `promote` may
    override an inconclusive gate, never an unverified workload) or `none` (no analysis configured)."""

    @classmethod
    def bake_only(cls) -> "GateResult":
        return cls(GateVerdict.ADVANCE, "no analysis configured: bake time alone decides", source="none")

    def to_output(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "inconclusive": self.inconclusive,
            "measurements": dict(self.measurements),
            "source": self.source,
        }
