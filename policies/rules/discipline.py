"""Rollout discipline: each run moves a bounded share of traffic and promotes only on a passing gate.

Component properties never reach policies (pulumi/pulumi#10533), so the program records each weight
decision on the resource that carries the weights: as tags `cutover:<key>` on ALB listener rules
(and the SSM parameter that stands in for untaggable Route53 records), and as annotations
`cutover.dev/<key>` on HTTPRoutes, canary Ingresses and Services. Keys:

    service, step, weights-before ("90/10" blue/green, or "none"), weights ("50/50"),
    candidate-color (blue|green|none), cause, verdict

Worked example (production, maxStepPercent 50): weights-before "90/10", weights "40/60",
candidate green -> green gains 50 points: allowed; "90/10" -> "30/70" gains 60: violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._common import (
    ALB_LISTENER,
    ALB_LISTENER_RULE,
    K8S_HTTPROUTE,
    K8S_INGRESS,
    K8S_SERVICE,
    PRODUCTION_SETTING,
    SSM_PARAMETER,
    dig,
    fmt,
    is_map,
    preview_checks,
    schema,
    setting,
)

AWS_PREFIX = "cutover:"
K8S_PREFIX = "cutover.dev/"
RECORD_KEYS = ("service", "step", "weights-before", "weights", "candidate-color", "cause", "verdict")
CARRIERS: dict[str, tuple[tuple[str, ...], str]] = {
    ALB_LISTENER_RULE: (("tags",), AWS_PREFIX),
    ALB_LISTENER: (("tags",), AWS_PREFIX),
    SSM_PARAMETER: (("tags",), AWS_PREFIX),
    K8S_HTTPROUTE: (("metadata", "annotations"), K8S_PREFIX),
    K8S_INGRESS: (("metadata", "annotations"), K8S_PREFIX),
    K8S_SERVICE: (("metadata", "annotations"), K8S_PREFIX),
}
CAUSES = {"first-deploy", "start", "advance", "promote", "rolling", "rollback", "aborted", "recovered"}
# "ready": the candidate's first traffic was ordered after its service reported ready in the same run
# (ECS steady state / Deployment await) — the gate of a rollout's start and of a red-black switch.
VERDICTS = {"advance", "ready", "hold", "abort", "none"}
COLORS = ("blue", "green")
GATED_CAUSES = {"start", "advance"}


class MalformedWeights(ValueError):
    """A weights tag that is not "<blue>/<green>" whole percents summing to 100."""


@dataclass(frozen=True)
class Split:
    blue: int
    green: int

    def of(self, color: str) -> int:
        return self.blue if color == "blue" else self.green

    def __str__(self) -> str:
        return f"{self.blue}/{self.green}"


def parse_split(text: str) -> Split:
    """`parse_split("90/10")` is Split(blue=90, green=10)."""
    parts = text.split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise MalformedWeights(f"{text!r} is not '<blue>/<green>' in whole percents")
    split = Split(int(parts[0]), int(parts[1]))
    if split.blue + split.green != 100:
        raise MalformedWeights(f"{text!r} does not add up to 100")
    return split


STEP_DISCIPLINE_SCHEMA = schema(
    production=PRODUCTION_SETTING,
    allowManualPromotion={
        "type": "boolean",
        "default": False,
        "description": "In production, accept `promote: <version>` (an operator moving 100 % onto the candidate past "
                       "its remaining steps and an inconclusive gate). Off: such a change is a violation a reviewer sees.",
    },
    requirePromotionEvidence={
        "type": "boolean",
        "default": True,
        "description": "In production, a candidate may gain traffic only with promotion evidence on its decision record "
                       "(`cutover:evidence`: the stack named by cutover:promotion.from completed that version). "
                       "Off: a production stack may start versions no other stack proved.",
    },
    maxStepPercent={
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 50,
        "description": "Most percentage points of traffic one run may move onto the candidate in production.",
    },
)


def read_decision_record(args: ResourceValidationArgs) -> dict[str, Any] | None:
    """The decision record's values by short key ("weights", ...), or None when this resource carries none."""
    carrier = CARRIERS.get(args.resource_type)
    if carrier is None:
        return None
    path, prefix = carrier
    source = dig(args.props, *path)
    if not is_map(source) or f"{prefix}weights" not in source:
        return None
    return {key: source.get(f"{prefix}{key}") for key in RECORD_KEYS}


def rollout_step_discipline_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    with preview_checks():
        record = read_decision_record(args)
        if record is None:
            return
        _check_record(args, record, report_violation)


def _check_record(args: ResourceValidationArgs, record: dict[str, Any], report_violation: ReportViolation) -> None:
    prefix = CARRIERS[args.resource_type][1]
    who = f"'{args.name}' (service {record.get('service')!r})"
    missing = [f"{prefix}{k}" for k, v in record.items() if not isinstance(v, str) or not v]
    if missing:
        report_violation(f"{who}: the decision record is incomplete, missing {', '.join(missing)}.", None)
        return
    cause, verdict, candidate = record["cause"], record["verdict"], record["candidate-color"]
    problems = []
    if cause not in CAUSES:
        problems.append(f"{prefix}cause {cause!r} is not one of {', '.join(sorted(CAUSES))}")
    if verdict not in VERDICTS:
        problems.append(f"{prefix}verdict {verdict!r} is not one of {', '.join(sorted(VERDICTS))}")
    if candidate not in (*COLORS, "none"):
        problems.append(f"{prefix}candidate-color {candidate!r} is not blue, green or none")
    try:
        after = parse_split(record["weights"])
        before = None if record["weights-before"] == "none" else parse_split(record["weights-before"])
    except MalformedWeights as error:
        problems.append(f"weights {error}")
    if problems:
        report_violation(f"{who}: the decision record is malformed: {'; '.join(problems)}.", None)
        return

    if candidate == "none":
        if cause in GATED_CAUSES:
            report_violation(f"{who}: cause {cause!r} moves traffic onto a candidate but candidate-color is 'none'.",
                             None)
        return

    gain = after.of(candidate) - (before.of(candidate) if before else 0)
    max_step = setting(args, STEP_DISCIPLINE_SCHEMA, "maxStepPercent")
    production = setting(args, STEP_DISCIPLINE_SCHEMA, "production") is True
    evidence = _evidence(args)
    if (production and gain > 0 and cause in (*GATED_CAUSES, "promote") and evidence in ("", "none")
            and setting(args, STEP_DISCIPLINE_SCHEMA, "requirePromotionEvidence") is not False):
        report_violation(
            f"{who}: candidate {candidate} gains traffic in production without promotion evidence ({prefix}evidence is "
            f"{evidence or 'missing'!r}); set cutover:promotion.from to the stack that must complete each version first.", None)
    if cause == "promote":
        # A manual full promotion skips the remaining steps on purpose; production allows it only by setting.
        if production and setting(args, STEP_DISCIPLINE_SCHEMA, "allowManualPromotion") is not True:
            report_violation(
                f"{who}: candidate {candidate} was promoted by hand ({before or 'none'} -> {after}, verdict {verdict!r}); "
                "production stacks accept manual promotion only with allowManualPromotion: true in this policy's config.", None)
        return
    if production and cause != "first-deploy" and max_step is not None and gain > max_step:
        report_violation(
            f"{who}: one run moves {gain} percentage points onto candidate {candidate} ({before or 'none'} -> "
            f"{after}, blue/green), more than maxStepPercent {fmt(max_step)} allows in production.", None)

    promoted = after.of(candidate) == 100
    passed = verdict == "advance" or (cause == "start" and verdict == "ready")
    if not passed and cause in GATED_CAUSES and promoted:
        report_violation(
            f"{who}: candidate {candidate} was promoted without a passing gate (cause {cause!r}, verdict "
            f"{verdict!r}, weights {after}); promotion to 100% needs gate verdict 'advance' (or 'ready' for a red-black switch).", None)
    elif verdict != "advance" and cause == "advance":
        report_violation(
            f"{who}: the rollout advanced without a passing gate (cause 'advance', verdict {verdict!r}); only "
            "verdict 'advance' may move traffic forward.", None)


def _evidence(args: ResourceValidationArgs) -> str:
    """The record's `evidence` (added after the other keys: a record without it has none)."""
    path, prefix = CARRIERS[args.resource_type]
    value = (dig(args.props, *path) or {}).get(f"{prefix}evidence")
    return value if isinstance(value, str) else ""


rollout_step_discipline = ResourceValidationPolicy(
    name="rollout-step-discipline",
    description="Each run's recorded weight decision (cutover:* tags / cutover.dev/* annotations) is well formed, "
                "moves at most maxStepPercent of traffic onto the candidate in production, and promotes or "
                "advances only on gate verdict 'advance'. Moves back toward the stable color are always allowed.",
    validate=rollout_step_discipline_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=STEP_DISCIPLINE_SCHEMA,
)

POLICIES = [rollout_step_discipline]
