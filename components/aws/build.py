"""All AWS services of a run: the shared platform once, then one AwsService each.

The AWS twin of `components/kubernetes/build.py`: both take the validated config and the run's
decisions, and fill `records[name]` (the exported rollout record, derived from what was applied)
and `endpoints[name]`.
"""

from __future__ import annotations

from components.app import ServiceDecision, color_plan, needs_preview, on_shared_alb, routing_host
from components.aws.network import NetworkArgs
from components.aws.platform import AwsPlatform, AwsPlatformArgs
from components.aws.service import AwsService, AwsServiceArgs, ShadowSettings
from components.config import DEFAULT_TEST_LISTENER_PORT, PRIVATE_RANGES, CutoverConfig, Router, ServiceConfig
from components.gates.migration_verdict import MigrationPlan, migration_plan


def build_aws(config: CutoverConfig, decisions: dict[str, ServiceDecision], records: dict, endpoints: dict, *,
              region: str, stack_id: str, decision_parameter, previous_endpoints: dict | None = None,
              aws_identity: dict | None = None) -> None:
    """Register the shared platform and every AWS service; `decision_parameter(name)` names a Route53
    service's decision-record parameter."""
    network = config.network
    test_port = network.test_listener_port if network else DEFAULT_TEST_LISTENER_PORT
    services = {name: config.services[name] for name in decisions}
    platform = AwsPlatform(
        "cutover",
        AwsPlatformArgs(
            network=NetworkArgs(
                network.vpc_id, tuple(network.public_subnet_ids), tuple(network.private_subnet_ids)
            ) if network else NetworkArgs(),
            certificate_arn=network.certificate_arn if network else None,
            test_listener_port=test_port,
            test_listener_cidrs=tuple(network.test_listener_cidrs) if network else PRIVATE_RANGES,
            shared_alb=any(on_shared_alb(s) for s in services.values()),
            previews=any(on_shared_alb(s) and needs_preview(s) for s in services.values()),
            # The secrets a color still runs with (its pinned spec) stay readable until no color names them.
            secret_arns=tuple(sorted({arn for s in services.values() for arn in s.secrets.values()}
                                     | {arn for d in decisions.values() for spec in d.state.specs.values() for arn in spec.secrets.values()})),
            stack_id=stack_id,
        ),
    )
    for name, decision in decisions.items():
        service = services[name]
        host = routing_host(config, name)
        component = AwsService(
            name,
            AwsServiceArgs(
                service=name,
                image=service.image,
                port=service.port,
                health_check_path=service.health_check_path,
                router=service.effective_router.value,
                plan=color_plan(decision, service),
                platform=platform,
                region=region,
                routing_host=host,
                routing_path_prefix=service.path_prefix or (None if host else f"/{name}"),
                priority=config.rule_priority(name),
                preview=needs_preview(service),
                test_listener_port=test_port,
                certificate_arn=network.certificate_arn if network else None,
                dns_zone_id=config.dns.zone_id if config.dns else None,
                dns_ttl=config.dns.ttl if config.dns else 60,
                dns_domain=config.dns.domain if config.dns else None,
                decision=decision,
                decision_parameter=decision_parameter(name) if service.effective_router is Router.ROUTE53 else None,
                autoscaling=service.autoscaling,
                sticky_seconds=service.sticky_sessions.duration_seconds if service.sticky_sessions else None,
                migrations=_migrations(decision, service, (previous_endpoints or {}).get(name)),
                migration_commands=_commands(service),
                aws_identity=dict(aws_identity or {}) if service.hooks and service.hooks.migrations else {},
                shadow=ShadowSettings(
                    percent=service.strategy.mirror_percent,
                    methods=tuple(m.value for m in service.strategy.mirror_methods),
                    rule_priorities=config.mirror_rule_priorities(name),
                ) if config.mirror_rule_priorities(name) else None,
            ),
        )
        records[name] = component.record
        endpoints[name] = component.endpoints


def _migrations(decision: ServiceDecision, service: ServiceConfig, previous_endpoints) -> MigrationPlan | None:
    """Which migration runs this service holds this run (None: no migrations configured)."""
    hooks = service.hooks
    if hooks is None or hooks.migrations is None:
        return None
    found = previous_endpoints.get("migrations") if isinstance(previous_endpoints, dict) else None
    return migration_plan(decision.previous, decision.state, hooks.migrations.expand is not None,
                          hooks.migrations.contract is not None, found)


def _commands(service: ServiceConfig) -> dict[str, tuple[str, ...]]:
    migrations = service.hooks.migrations if service.hooks else None
    if migrations is None:
        return {}
    return {phase: tuple(run.command) for phase, run in (("expand", migrations.expand), ("contract", migrations.contract)) if run}
