"""How a gate asks for evidence: one request value in, one `Evidence` out, behind a Protocol.

Pure: no pulumi, no boto3. The program builds an `EvidenceRequest` per service
and run from the recorded rollout state and the resources' outputs; the
CloudWatch and Prometheus readers implement `EvidenceReader`; tests inject fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Mapping, Protocol

from components.gates.verdict import Evidence


@dataclass(frozen=True)
class Route53Target:
    """The weighted record pair of a service routed by Route53."""

    zone_id: str
    """Hosted zone id, e.g. `Z0123456789ABC`."""
    record_name: str
    """Record name with or without the trailing dot, e.g. `web.example.com`."""
    set_identifiers: Mapping[str, str] = field(default_factory=lambda: {"blue": "blue", "green": "green"})
    """Color -> SetIdentifier of that color's weighted record."""
    record_type: str = "A"
    """Type of the weighted records (A for ALB aliases, CNAME otherwise)."""
    change_id: str | None = None
    """Id of the last ChangeResourceRecordSets, when known: must be INSYNC before weights count as applied."""


@dataclass(frozen=True)
class EvidenceRequest:
    """Everything a reader needs to look at one candidate over one step. Independent of thresholds.

    Colors are "blue" / "green" (the `Color` enum's values are accepted too).
    The window is [since, until]: since = the step's `stepStartedAt`, until = now,
    both timezone-aware UTC.
    """

    service: str
    platform: Literal["aws", "kubernetes"]
    candidate_color: str
    candidate_version: str
    since: datetime
    until: datetime
    candidate_target_group_arn: str | None = None
    """Target group of the candidate color (AWS): health and ALB metrics."""
    load_balancer_arn: str | None = None
    """ALB carrying the candidate's traffic (AWS): the metrics' LoadBalancer dimension."""
    listener_rule_arn: str | None = None
    """Listener rule whose weighted forward the program owns (ALB router); None for Route53."""
    expected_weights: Mapping[str, int] = field(default_factory=dict)
    """Color -> weight the program recorded, e.g. {"blue": 90, "green": 10}; drift is measured against it."""
    target_group_arns: Mapping[str, str] = field(default_factory=dict)
    """Color -> target group ARN, to read the listener rule's weights by color."""
    route53: Route53Target | None = None
    """The weighted record pair (Route53 router); None for the ALB router and Kubernetes."""
    alarms: tuple[str, ...] = ()
    """CloudWatch alarm names (`analysis.alarms`); any in ALARM aborts."""
    metrics: bool = True
    """Whether traffic metrics are judged in this run (not for a start, nor a candidate still at 0 %)."""
    mirror_target_group_arn: str | None = None
    """Shadow services on AWS: the mirroring proxy's target group; its weight in the rule is the stable color's
    (`mirror_color`), since the proxy answers every request from stable."""
    mirror_color: str | None = None
    stable_color: str | None = None
    """Shadow phase: the stable color whose numbers over the same window the candidate is compared with; None: no comparison."""
    stable_version: str | None = None
    """Its version."""


class EvidenceReader(Protocol):
    """Reads evidence about a candidate. Implementations record failures in
    `Evidence.problems` instead of raising; `evaluate_gate` still guards against a raise."""

    def read(self, request: EvidenceRequest) -> Evidence: ...


def color_key(color: object) -> str:
    """"blue" for "blue" and for `Color.BLUE`: requests may carry either."""
    return str(getattr(color, "value", color))
