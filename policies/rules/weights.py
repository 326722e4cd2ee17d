"""Weighted traffic splits: ALB forwards, the target groups behind them, Gateway API and ingress-nginx weights."""

from __future__ import annotations

from typing import Any, Callable

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ._common import (
    ALB_LISTENER,
    ALB_LISTENER_RULE,
    ALB_TARGET_GROUP,
    K8S_HTTPROUTE,
    K8S_INGRESS,
    PreviewUnknowns,
    all_zero,
    as_number,
    dig,
    fmt,
    is_map,
    items,
    preview_checks,
    read_each,
    schema,
    setting,
    show,
    whole_in_range,
)

ALB_MAX_WEIGHT = 999
ALB_MAX_TARGET_GROUPS = 5
GATEWAY_MAX_WEIGHT = 1_000_000
GATEWAY_DEFAULT_WEIGHT = 1  # Gateway API: an omitted backendRef weight means 1.
PROVIDER_DEFAULT_DEREGISTRATION_DELAY = 300


def _actions_key(resource_type: str) -> str | None:
    return {ALB_LISTENER: "defaultActions", ALB_LISTENER_RULE: "actions"}.get(resource_type)


def _kind(resource_type: str) -> str:
    return "listener rule" if resource_type == ALB_LISTENER_RULE else "listener"


def _each_forward(resource_type: str, props: Any, unknowns: PreviewUnknowns,
                  visit: Callable[[str, Any], None], resource_name: str | None = None) -> None:
    """`visit(where, action)` for every forward action of a listener or listener rule (`where` is e.g.
    "actions[0]"), each action read and visited under its own guard."""
    key = _actions_key(resource_type)
    with unknowns.guard(resource_name):
        for i, action in enumerate(items(props.get(key))):
            with unknowns.guard(resource_name):
                if dig(action, "type") == "forward":
                    visit(f"{key}[{i}]", action)


def _target_groups(action: Any) -> list[Any]:
    return items(dig(action, "forward", "targetGroups"))


def alb_forward_weights_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _actions_key(args.resource_type) is None:
        return
    who = f"ALB {_kind(args.resource_type)} '{args.name}'"

    def check_forward(action_at: str, action: Any) -> None:
        if dig(action, "forward") is None:
            return
        where = f"{action_at}.forward.targetGroups"
        groups = _target_groups(action)
        if len(groups) > ALB_MAX_TARGET_GROUPS:
            report_violation(
                f"{who}: {where} forwards to {len(groups)} target groups; an ALB forward action allows "
                f"at most {ALB_MAX_TARGET_GROUPS}.", None)

        def valid_weight(j: int, group: Any) -> float | None:
            weight = as_number(group.get("weight") if is_map(group) else None)
            if weight is None:
                report_violation(
                    f"{who}: {where}[{j}] has no explicit weight; weighted forwards must state every "
                    "weight so the traffic split is what the rollout decided.", None)
            elif not whole_in_range(weight, 0, ALB_MAX_WEIGHT):
                report_violation(
                    f"{who}: {where}[{j}] weight {fmt(weight)} is outside 0..{ALB_MAX_WEIGHT} "
                    "(whole numbers only).", None)
            else:
                return weight
            return None

        if all_zero(read_each(groups, unknowns, valid_weight)):
            report_violation(f"{who}: {where} gives every target group weight 0, so no target receives traffic.",
                             None)

    with preview_checks() as unknowns:
        _each_forward(args.resource_type, args.props, unknowns, check_forward)


alb_forward_weights = ResourceValidationPolicy(
    name="alb-forward-weights",
    description="ALB weighted forwards stay valid: each weight is explicit and within 0..999, at most 5 target "
                "groups per action, and never every weight zero (that would drop all traffic).",
    validate=alb_forward_weights_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


TARGET_GROUP_HEALTH_SCHEMA = schema(
    maxDeregistrationDelaySeconds={
        "type": "integer",
        "minimum": 0,
        "maximum": 3600,
        "default": 120,
        "description": "Longest allowed deregistrationDelay in seconds (the provider default is 300).",
    },
)


def _forwarded_arns(resource: Any, unknowns: PreviewUnknowns) -> list[tuple[str | None, str]]:
    """(target group arn or None if not known yet, where) for every forward of a listener or listener rule."""
    found: list[tuple[str | None, str]] = []

    def collect(action_at: str, action: Any) -> None:
        single = action.get("targetGroupArn")
        if single is not None:
            found.append((single if isinstance(single, str) else None, f"{action_at}.targetGroupArn"))
        for j, group in enumerate(_target_groups(action)):
            with unknowns.guard(resource.name):
                arn = group.get("arn") if is_map(group) else None
                found.append((arn if isinstance(arn, str) else None, f"{action_at}.forward.targetGroups[{j}].arn"))

    _each_forward(resource.resource_type, resource.props, unknowns, collect, resource.name)
    return found


def _target_groups_by_arn(args: StackValidationArgs, unknowns: PreviewUnknowns) -> dict[str, Any]:
    """The stack's ALB target groups by ARN (an unknown ARN at preview is noted, not guessed)."""
    groups: dict[str, Any] = {}
    for resource in args.resources:
        if resource.resource_type == ALB_TARGET_GROUP:
            with unknowns.guard(resource.name):
                arn = resource.props.get("arn")
                if isinstance(arn, str):
                    groups[arn] = resource
    return groups


def alb_target_group_health_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    max_delay = as_number(setting(args, TARGET_GROUP_HEALTH_SCHEMA, "maxDeregistrationDelaySeconds"))
    unknowns = PreviewUnknowns()
    groups_by_arn = _target_groups_by_arn(args, unknowns)

    forwarded: dict[str, list[str]] = {}
    for resource in args.resources:
        if _actions_key(resource.resource_type) is None:
            continue
        for arn, where in _forwarded_arns(resource, unknowns):
            if arn is None:
                unknowns.note([where], resource.name)
            elif arn not in groups_by_arn:
                report_violation(
                    f"ALB {_kind(resource.resource_type)} '{resource.name}' forwards ({where}) to target group "
                    f"{arn}, which this stack does not manage, so its health check and deregistration delay "
                    "can't be verified.", resource.urn)
            else:
                forwarded.setdefault(arn, []).append(resource.name)

    for arn, users in forwarded.items():
        group = groups_by_arn[arn]
        who = f"Target group '{group.name}' (forwarded by {', '.join(sorted(set(users)))})"
        with unknowns.guard(group.name):
            check = group.props.get("healthCheck")
            enabled = dig(check, "enabled")
            path = dig(check, "path")
            if enabled is False:
                report_violation(f"{who} has its health check disabled; traffic would shift to unchecked targets.",
                                 group.urn)
            elif not isinstance(path, str) or not path.strip():
                report_violation(f"{who} has no health check with an explicit path; set healthCheck.path to the "
                                 "service's readiness endpoint.", group.urn)
        with unknowns.guard(group.name):
            delay = as_number(group.props.get("deregistrationDelay"))
            if delay is None:
                report_violation(
                    f"{who} leaves deregistrationDelay unset, so the provider default of "
                    f"{PROVIDER_DEFAULT_DEREGISTRATION_DELAY} s applies; the limit is {fmt(max_delay)} s.", group.urn)
            elif max_delay is not None and delay > max_delay:
                report_violation(f"{who} has deregistrationDelay {fmt(delay)} s, above the limit of "
                                 f"{fmt(max_delay)} s; draining that long stalls every weight change.", group.urn)
    unknowns.reraise()


alb_target_group_health = StackValidationPolicy(
    name="alb-target-group-health",
    description="Every target group an ALB forwards to has a health check with an explicit path and a "
                "deregistration delay within the configured bound, so shifting weight never sends traffic to "
                "unready targets or waits minutes for draining.",
    validate=alb_target_group_health_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=TARGET_GROUP_HEALTH_SCHEMA,
)


def _sticky(group: Any) -> bool:
    """A target group with stickiness on (pulumi-aws: `stickiness.enabled` defaults to true once the block is set)."""
    block = group.props.get("stickiness")
    return is_map(block) and block.get("enabled", True) is not False


def alb_sticky_weighted_forward_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    unknowns = PreviewUnknowns()
    groups_by_arn = _target_groups_by_arn(args, unknowns)
    for resource in args.resources:
        if _actions_key(resource.resource_type) is None:
            continue

        def check_forward(action_at: str, action: Any, resource: Any = resource) -> None:
            arns = [dig(group, "arn") for group in _target_groups(action)]
            if len(arns) < 2:
                return  # not a weighted forward: one target group, nothing to move between
            sticky = sorted(groups_by_arn[arn].name for arn in arns if isinstance(arn, str) and arn in groups_by_arn
                            and _sticky(groups_by_arn[arn]))
            if sticky and dig(action, "forward", "stickiness", "enabled") is not True:
                report_violation(
                    f"ALB {_kind(resource.resource_type)} '{resource.name}': {action_at} is a weighted forward whose "
                    f"target groups {', '.join(sticky)} keep users on one target, but the forward action has no group "
                    "stickiness (forward.stickiness {enabled: true, duration}): each request still picks a target "
                    "group by weight, so users bounce between versions during the shift.", resource.urn)

        _each_forward(resource.resource_type, resource.props, unknowns, check_forward, resource.name)
    unknowns.reraise()


alb_sticky_weighted_forward = StackValidationPolicy(
    name="alb-sticky-weighted-forward",
    description="A weighted ALB forward whose target groups have stickiness also has group stickiness on the "
                "forward action, so a user stays on the version they started on instead of switching per request.",
    validate=alb_sticky_weighted_forward_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


def httproute_backend_weights_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != K8S_HTTPROUTE:
        return
    who = f"HTTPRoute '{args.name}'"

    def check_rule(i: int, rule: Any) -> None:
        def valid_weight(j: int, ref: Any) -> float | None:
            raw = ref.get("weight") if is_map(ref) else None
            weight = float(GATEWAY_DEFAULT_WEIGHT) if raw is None else as_number(raw)
            if whole_in_range(weight, 0, GATEWAY_MAX_WEIGHT):
                return weight
            report_violation(f"{who}: spec.rules[{i}].backendRefs[{j}] weight {show(raw)} is outside "
                             f"0..{GATEWAY_MAX_WEIGHT} (whole numbers only).", None)
            return None

        if all_zero(read_each(items(dig(rule, "backendRefs")), unknowns, valid_weight)):
            report_violation(f"{who}: spec.rules[{i}] gives every backendRef weight 0; the gateway answers "
                             "503 to all of that rule's traffic.", None)

    with preview_checks() as unknowns:
        for i, rule in enumerate(items(dig(args.props, "spec", "rules"))):
            with unknowns.guard():
                check_rule(i, rule)


httproute_backend_weights = ResourceValidationPolicy(
    name="httproute-backend-weights",
    description="Gateway API HTTPRoute backendRef weights stay within 0..1,000,000 and never all zero within a "
                "rule (all zero makes the gateway return 503).",
    validate=httproute_backend_weights_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


NGINX_CANARY = "nginx.ingress.kubernetes.io/canary"
NGINX_CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
NGINX_CANARY_WEIGHT_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"


def nginx_canary_weight_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != K8S_INGRESS:
        return
    with preview_checks():
        annotations = dig(args.props, "metadata", "annotations")
        if not is_map(annotations) or str(annotations.get(NGINX_CANARY, "")).lower() != "true":
            return
        raw_total = annotations.get(NGINX_CANARY_WEIGHT_TOTAL, "100")
        total = as_number(raw_total)
        if total is None or total <= 0 or not total.is_integer():
            report_violation(f"Canary Ingress '{args.name}': {NGINX_CANARY_WEIGHT_TOTAL} {raw_total!r} is not a "
                             "positive whole number.", None)
            return
        raw = annotations.get(NGINX_CANARY_WEIGHT)
        if raw is None:
            return  # header/cookie-only canary: no weighted split to check
        if not isinstance(raw, str):
            report_violation(f"Canary Ingress '{args.name}': {NGINX_CANARY_WEIGHT} must be a string annotation, "
                             f"got {raw!r}.", None)
            return
        if not whole_in_range(as_number(raw), 0, total):
            report_violation(f"Canary Ingress '{args.name}': {NGINX_CANARY_WEIGHT} {raw!r} is outside "
                             f"0..{fmt(total)} (whole numbers only).", None)


nginx_canary_weight = ResourceValidationPolicy(
    name="nginx-canary-weight",
    description="ingress-nginx canary Ingresses carry a canary-weight that is a whole number within "
                "0..canary-weight-total (default 100).",
    validate=nginx_canary_weight_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

POLICIES = [alb_forward_weights, alb_target_group_health, alb_sticky_weighted_forward, httproute_backend_weights,
            nginx_canary_weight]
