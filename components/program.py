"""One run of the cutover program: config -> previous outputs -> decisions -> resources -> outputs.

Everything that can refuse the run (bad config, an unreadable previous record)
happens before the first resource is registered, and surfaces as a
`pulumi.RunError`: the CLI prints its message without a traceback and the
update changes nothing.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import pulumi

from components.app import (
    GateSource,
    ServiceDecision,
    bake_only_gate,
    color_plan,
    decide_service,
    decision_tags,
    needs_preview,
    on_shared_alb,
    previous_records,
    routing_host,
)
from components.config import (
    CONFIG_KEYS,
    CONFIG_NAMESPACE,
    DEFAULT_TEST_LISTENER_PORT,
    PRIVATE_RANGES,
    CutoverConfig,
    CutoverConfigError,
    Platform,
    load_config,
)
from components.rollout.codec import CorruptState, UnrecoverableState, parse_time, to_output

CLOCK_OVERRIDE = "CUTOVER_NOW"
"""ISO-8601 time the rehearsal and tests run at; unset in real runs (the wall clock)."""


def run() -> dict[str, pulumi.Output[Any]]:
    """The whole program; exports and returns the stack outputs."""
    config = _load_config()
    now = _now()
    previous = _read_previous_outputs()
    decisions = _decide(config, previous.get("rollouts"), now, _gate_source(config, previous, now))
    records, endpoints = _build(config, decisions)
    outputs = {
        "rollouts": pulumi.Output.all(**records) if records else pulumi.Output.from_input({}),
        "endpoints": pulumi.Output.all(**endpoints) if endpoints else pulumi.Output.from_input({}),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


def _load_config() -> CutoverConfig:
    settings = pulumi.Config(CONFIG_NAMESPACE)
    raw = {key: settings.get(key) for key in (*CONFIG_KEYS, *_other_keys_in_namespace())}
    try:
        return load_config({key: value for key, value in raw.items() if value is not None})
    except CutoverConfigError as err:
        raise pulumi.RunError(str(err)) from None


def _other_keys_in_namespace() -> list[str]:
    """`cutover:*` keys besides ours (typos such as `cutover:servics`), so they are refused, not ignored."""
    from pulumi.runtime import config as runtime_config  # the SDK's view of every config key of the run

    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{CONFIG_NAMESPACE}:"
    return sorted(k.removeprefix(prefix) for k in present if k.startswith(prefix) and k.removeprefix(prefix) not in CONFIG_KEYS)


def _region() -> str:
    return pulumi.Config("aws").get("region") or "us-east-1"


def _now() -> datetime:
    override = os.environ.get(CLOCK_OVERRIDE)
    if not override:
        return datetime.now(timezone.utc)
    try:
        return parse_time(override, CLOCK_OVERRIDE)
    except CorruptState as err:
        raise pulumi.RunError(f"{CLOCK_OVERRIDE}: {err}") from None


def _read_previous_outputs() -> dict[str, Any]:
    """This stack's last saved outputs, through a StackReference to itself; {} on its first run."""
    from pulumi.runtime.sync_await import _sync_await  # the documented sync bridge for plain values at run time

    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference("cutover-previous-run", stack_name=name)
    previous = {}
    for key in ("rollouts", "endpoints"):
        details = _sync_await(reference.get_output_details(key))
        previous[key] = details.value if details.value is not None else details.secret_value
    return previous


def _gate_source(config: CutoverConfig, previous: dict[str, Any], now: datetime) -> GateSource:
    if not any(service.strategy.analysis for service in config.services.values()):
        return bake_only_gate
    from components.gates.wiring import default_reader_factory, gate_source

    return gate_source(config, previous.get("endpoints"), now, default_reader_factory(_region()))


def _decide(config: CutoverConfig, rollouts: Any, now: datetime, gate: GateSource) -> dict[str, ServiceDecision]:
    records, problem = previous_records(rollouts)
    if problem:
        raise pulumi.RunError(
            f"cutover: {problem}; nothing was changed. Inspect it with `pulumi stack output rollouts --json`."
        )
    decisions = {}
    for name, service in config.services.items():
        try:
            decisions[name] = decide_service(name, service, records.get(name), now, gate)
        except UnrecoverableState as err:
            raise pulumi.RunError(
                f"cutover: previous outputs rollouts.{name} are unreadable ({err}); nothing was changed and traffic "
                "stays where it is. Inspect them with `pulumi stack output rollouts --json`."
            ) from None
    return decisions


def _build(config: CutoverConfig, decisions: dict[str, ServiceDecision]) -> tuple[dict[str, Any], dict[str, Any]]:
    records: dict[str, Any] = {}
    endpoints: dict[str, Any] = {}
    aws_services = [name for name, svc in config.services.items() if svc.platform is Platform.AWS]
    if aws_services:
        _build_aws(config, {n: decisions[n] for n in aws_services}, records, endpoints)
    kubernetes_services = [name for name, svc in config.services.items() if svc.platform is Platform.KUBERNETES]
    if kubernetes_services:
        from components.kubernetes.build import build_kubernetes

        build_kubernetes(config, {n: decisions[n] for n in kubernetes_services}, records, endpoints)
    return records, endpoints


def _build_aws(config: CutoverConfig, decisions: dict[str, ServiceDecision], records: dict, endpoints: dict) -> None:
    from components.aws.network import NetworkArgs
    from components.aws.platform import AwsPlatform, AwsPlatformArgs
    from components.aws.service import AwsService, AwsServiceArgs

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
            secret_arns=tuple(sorted({arn for s in services.values() for arn in s.secrets.values()})),
        ),
    )
    for name, decision in decisions.items():
        service = services[name]
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
                region=_region(),
                routing_host=routing_host(config, name),
                routing_path_prefix=service.path_prefix or (None if routing_host(config, name) else f"/{name}"),
                priority=config.rule_priority(name),
                preview=needs_preview(service),
                test_listener_port=test_port,
                certificate_arn=network.certificate_arn if network else None,
                dns_zone_id=config.dns.zone_id if config.dns else None,
                dns_ttl=config.dns.ttl if config.dns else 60,
                cpu=service.cpu,
                memory=service.memory,
                environment=dict(service.environment),
                secrets=dict(service.secrets),
                decision=decision_tags(decision),
            ),
        )
        records[name] = applied_record(decision, component.applied_weights)
        endpoints[name] = component.endpoints


def applied_record(decision: ServiceDecision, applied_weights: pulumi.Output[dict]) -> pulumi.Output[dict]:
    """The exported record waits on the router's applied outputs. If the router holds other weights
    than this run planned, the previous record is exported again: the recorded step never runs
    ahead of what the router carries."""
    planned = to_output(decision.state)
    previous = to_output(decision.previous) if decision.previous is not None else None

    def record(weights: dict) -> dict:
        applied = {"blue": int(weights.get("blue", 0)), "green": int(weights.get("green", 0))}
        if applied == planned["weights"]:
            return planned
        if previous is not None and applied == previous["weights"]:
            return {**previous, "reason": f"router kept {applied['blue']}/{applied['green']}: step not recorded"}
        return {**planned, "weights": applied, "reason": f"router holds {applied['blue']}/{applied['green']}, not the planned weights"}

    return applied_weights.apply(record)
