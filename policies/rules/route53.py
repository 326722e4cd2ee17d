"""Route53 weighted records: identifiable, short-lived in caches, and never all weight zero."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._common import (
    ROUTE53_RECORD,
    PreviewUnknowns,
    all_zero,
    as_number,
    dig,
    fmt,
    items,
    preview_checks,
    read_each,
    schema,
    setting,
    show,
    whole_in_range,
)

ROUTE53_MAX_WEIGHT = 255

WEIGHTED_RECORDS_SCHEMA = schema(
    maxTtlSeconds={
        "type": "integer",
        "minimum": 0,
        "default": 60,
        "description": "Longest TTL in seconds a weighted record may have; resolvers cache a split that long.",
    },
)


def _weighted_policies(props: Any) -> list[Any]:
    return items(props.get("weightedRoutingPolicies"))


def route53_weighted_records_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ROUTE53_RECORD:
        return
    with preview_checks() as unknowns:
        policies = _weighted_policies(args.props)
        if not policies:
            return
        who = f"Weighted record '{args.name}'"
        max_ttl = as_number(setting(args, WEIGHTED_RECORDS_SCHEMA, "maxTtlSeconds"))
        with unknowns.guard():
            identifier = args.props.get("setIdentifier")
            if not isinstance(identifier, str) or not identifier.strip():
                report_violation(f"{who} has no setIdentifier; Route53 needs one to tell weighted records apart.", None)
        with unknowns.guard():
            if not items(args.props.get("aliases")):  # alias records take the target's TTL
                ttl = as_number(args.props.get("ttl"))
                if ttl is None:
                    report_violation(f"{who} has no ttl; set one of at most {fmt(max_ttl)} s.", None)
                elif max_ttl is not None and ttl > max_ttl:
                    report_violation(f"{who} has ttl {fmt(ttl)} s, above {fmt(max_ttl)} s; resolvers would keep an "
                                     "old traffic split that long after a weight change or rollback.", None)
        for i, policy in enumerate(policies):
            with unknowns.guard():
                raw = dig(policy, "weight")
                if not whole_in_range(as_number(raw), 0, ROUTE53_MAX_WEIGHT):
                    report_violation(f"{who}: weightedRoutingPolicies[{i}].weight {show(raw)} is outside "
                                     f"0..{ROUTE53_MAX_WEIGHT} (whole numbers only).", None)


route53_weighted_records = ResourceValidationPolicy(
    name="route53-weighted-records",
    description="Route53 weighted records have a setIdentifier, a weight within 0..255 and a TTL no longer "
                "than the configured bound (default 60 s), so a weight change or rollback takes effect quickly.",
    validate=route53_weighted_records_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=WEIGHTED_RECORDS_SCHEMA,
)


def route53_weighted_set_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    unknowns = PreviewUnknowns()
    sets: dict[tuple[str, str, str], list[tuple[Any, float | None]]] = {}
    for resource in args.resources:
        if resource.resource_type != ROUTE53_RECORD:
            continue
        with unknowns.guard(resource.name):
            policies = _weighted_policies(resource.props)
            if not policies:
                continue
            key = (str(resource.props.get("zoneId")), str(resource.props.get("name")),
                   str(resource.props.get("type")))
            # an unknown weight reads as None: that set can't be judged
            weights = read_each(policies, unknowns, lambda _, policy: as_number(dig(policy, "weight")), resource.name)
            sets.setdefault(key, []).extend((resource, w) for w in weights)
    for (_, name, record_type), members in sets.items():
        if not all_zero([w for _, w in members]):
            continue
        names = sorted({r.name for r, _ in members})
        for resource in sorted({r.urn: r for r, _ in members}.values(), key=lambda r: r.name):
            report_violation(
                f"Weighted record '{resource.name}': every record of {name} {record_type} "
                f"({', '.join(names)}) has weight 0. Route53 then splits traffic equally instead of "
                "turning it off, which sends users to the color meant to be drained.", resource.urn)
    unknowns.reraise()


route53_weighted_set = StackValidationPolicy(
    name="route53-weighted-set-not-all-zero",
    description="The weighted records that share a zone, name and type never all have weight 0 (Route53 treats "
                "all-zero as an equal split, not as off).",
    validate=route53_weighted_set_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

POLICIES = [route53_weighted_records, route53_weighted_set]
