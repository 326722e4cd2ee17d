"""ECS services: roll back failed deployments on their own, keep capacity in production, and give tasks time."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._common import (
    ECS_SERVICE,
    PRODUCTION_SETTING,
    as_number,
    dig,
    fmt,
    items,
    preview_checks,
    schema,
    setting,
    show,
)

ECS_DEFAULT_MINIMUM_HEALTHY_PERCENT = 100  # AWS default for REPLICA services when the field is omitted


def ecs_circuit_breaker_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE:
        return
    with preview_checks():
        breaker = args.props.get("deploymentCircuitBreaker")
        enable, rollback = dig(breaker, "enable"), dig(breaker, "rollback")
        if enable is not True or rollback is not True:
            report_violation(
                f"ECS service '{args.name}' has deploymentCircuitBreaker enable={enable}, rollback={rollback}; "
                "both must be true so a deployment whose tasks never turn healthy rolls back by itself.", None)


ecs_circuit_breaker = ResourceValidationPolicy(
    name="ecs-circuit-breaker-rollback",
    description="ECS services enable the deployment circuit breaker with rollback, so a task set that never "
                "becomes healthy is rolled back by ECS instead of replacing healthy tasks.",
    validate=ecs_circuit_breaker_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)


MINIMUM_HEALTHY_SCHEMA = schema(
    production=PRODUCTION_SETTING,
    minimumHealthyPercent={
        "type": "integer",
        "minimum": 0,
        "maximum": 200,
        "default": 100,
        "description": "Lowest deploymentMinimumHealthyPercent allowed on production stacks.",
    },
)


def ecs_minimum_healthy_percent_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE or setting(args, MINIMUM_HEALTHY_SCHEMA, "production") is not True:
        return
    floor = as_number(setting(args, MINIMUM_HEALTHY_SCHEMA, "minimumHealthyPercent"))
    with preview_checks():
        raw = args.props.get("deploymentMinimumHealthyPercent")
        percent = ECS_DEFAULT_MINIMUM_HEALTHY_PERCENT if raw is None else as_number(raw)
        if percent is None or (floor is not None and percent < floor):
            report_violation(
                f"ECS service '{args.name}' has deploymentMinimumHealthyPercent {show(raw)}; production requires at "
                f"least {fmt(floor)} so a deployment never runs below full capacity.", None)


ecs_minimum_healthy_percent = ResourceValidationPolicy(
    name="ecs-minimum-healthy-percent",
    description="On production stacks ECS services keep deploymentMinimumHealthyPercent at or above the "
                "configured floor (default 100), so deployments add capacity before removing any.",
    validate=ecs_minimum_healthy_percent_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=MINIMUM_HEALTHY_SCHEMA,
)


def ecs_health_check_grace_period_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE:
        return
    with preview_checks():
        if not items(args.props.get("loadBalancers")):
            return
        grace = as_number(args.props.get("healthCheckGracePeriodSeconds"))
        if grace is None or grace <= 0:
            report_violation(
                f"ECS service '{args.name}' is load balanced but has no healthCheckGracePeriodSeconds; set it so "
                "slow-starting tasks are not killed by failing load balancer health checks.", None)


ecs_health_check_grace_period = ResourceValidationPolicy(
    name="ecs-health-check-grace-period",
    description="Load-balanced ECS services set healthCheckGracePeriodSeconds, so new tasks get time to start "
                "before load balancer health checks count against them.",
    validate=ecs_health_check_grace_period_validator,
    enforcement_level=EnforcementLevel.ADVISORY,
)

POLICIES = [ecs_circuit_breaker, ecs_minimum_healthy_percent, ecs_health_check_grace_period]
