"""Which reader judges which service, and what it is asked: the gates' side of one program run.

Builds the program's `GateSource` from config, the previous run's `endpoints`
output (the ARNs the readers look at) and the clock. Readers are made lazily,
one per kind, so a run without analysis never touches AWS or Prometheus.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, Mapping

from components.app import rollout_spec
from components.config import CutoverConfig, Platform, Router, ServiceConfig, StrategyKind
from components.gates.aws_identity import gate_identity
from components.gates.gate import evaluate_gate
from components.gates.model import GateResult
from components.gates.reader import EvidenceReader, EvidenceRequest, Route53Target
from components.gates.verdict import Thresholds
from components.rollout.model import Phase, RolloutState

ReaderFactory = Callable[[ServiceConfig], EvidenceReader]


def default_reader_factory(region: str, aws_settings: Mapping[str, Any] | None = None) -> ReaderFactory:
    """Readers for the program: Prometheus per distinct query set, one CloudWatch reader for all.

    `aws_settings` are the stack's `aws:*` values (keys `profile`, `assumeRoles`, `assumeRole`;
    `region` is the one passed): the CloudWatch reader runs as the provider does. They are checked
    here, before any gate runs: a malformed value raises `AwsSettingsError` naming the key.
    """
    identity = gate_identity({**(aws_settings or {}), "region": region})
    readers: dict[str, EvidenceReader] = {}

    def reader_for(service: ServiceConfig) -> EvidenceReader:
        prometheus = service.strategy.analysis.prometheus
        if prometheus is not None:
            key = f"prometheus:{prometheus.url}:{prometheus.error_rate_query}:{prometheus.latency_query}:{prometheus.request_query}"
            if key not in readers:
                from components.gates.prometheus_reader import PrometheusEvidenceReader

                readers[key] = PrometheusEvidenceReader(
                    prometheus.url, prometheus.error_rate_query, prometheus.latency_query, request_query=prometheus.request_query
                )
            return readers[key]
        if "cloudwatch" not in readers:
            from components.gates.cloudwatch_reader import CloudWatchEvidenceReader

            readers["cloudwatch"] = CloudWatchEvidenceReader(identity=identity)
        return readers["cloudwatch"]

    return reader_for


def bake_warnings(config: CutoverConfig) -> list[str]:
    """One sentence per AWS service whose CloudWatch metric gate cannot have evidence when its bake ends.

    The CloudWatch reader counts only complete minutes after the step started (see
    `cloudwatch_reader.metric_window`); with a shorter bake the first gate after it holds as
    inconclusive, and enough of those pause the rollout. Services judged by Prometheus, with no
    metric threshold (alarms and health only), or on Kubernetes (bake only without Prometheus) are
    not concerned.
    """
    short = {
        name: service.strategy.bake_minutes
        for name, service in config.services.items()
        if service.platform is Platform.AWS
        and service.strategy.analysis is not None
        and service.strategy.analysis.prometheus is None
        and Thresholds.from_analysis(service.strategy.analysis, service.replicas).judges_metrics
    }
    if not short:
        return []
    from components.gates.cloudwatch_reader import SETTLE_DELAY, minimum_bake_minutes  # boto3: only when needed

    minimum = minimum_bake_minutes()
    settle = int(SETTLE_DELAY.total_seconds() // 60)
    return [
        f"cutover:services.{name}.strategy.bakeMinutes is {bake}, below {minimum}: the CloudWatch gate counts only "
        f"whole minutes after the step started that are at least {settle} min old (ALB metrics arrive per minute, "
        f"minutes late), so when the bake ends there is no complete minute to judge yet and the first gate holds "
        f"as inconclusive; set it to {minimum} or more"
        for name, bake in sorted(short.items())
        if bake < minimum
    ]


def gate_source(
    config: CutoverConfig,
    previous_endpoints: Any,
    now: datetime,
    reader_for: ReaderFactory,
) -> Callable[[str, ServiceConfig, RolloutState], GateResult]:
    endpoints = previous_endpoints if isinstance(previous_endpoints, Mapping) else {}

    def gate(name: str, service: ServiceConfig, previous: RolloutState) -> GateResult:
        analysis = service.strategy.analysis
        if analysis is None:
            return GateResult.bake_only()
        if service.platform is Platform.KUBERNETES and analysis.prometheus is None:
            # Readiness is the Deployment's await in the run; metrics need a Prometheus to ask.
            return GateResult.bake_only()
        thresholds = thresholds_for(service, previous)
        request = replace(evidence_request(config, name, service, previous, endpoints.get(name) or {}, now),
                          metrics=thresholds.judges_metrics)
        return evaluate_gate(reader_for(service), request, thresholds)

    return gate


def thresholds_for(service: ServiceConfig, previous: RolloutState) -> Thresholds:
    """What this run judges. A (re)start only asks whether an alarm fires; a candidate deployed at 0 %
    has served nothing yet, so only its health counts (blue-green previews excepted: their candidate is
    judged on the test listener's traffic), unless it received mirrored requests (a shadow phase): then
    the analysis judges it against stable over the same window."""
    analysis = service.strategy.analysis
    if previous.candidate_version is None or previous.phase is Phase.ABORTED:
        return Thresholds(required_healthy=0)
    if shadowing(service, previous):
        return replace(Thresholds.from_analysis(analysis, service.replicas), against_stable=True)
    if previous.candidate_percent == 0 and service.strategy.continues_as is not StrategyKind.BLUE_GREEN:
        return Thresholds(min_requests=analysis.min_requests if analysis else 0, required_healthy=service.replicas)
    return Thresholds.from_analysis(analysis, service.replicas)


def evidence_request(
    config: CutoverConfig, name: str, service: ServiceConfig, previous: RolloutState, endpoints: Mapping[str, Any], now: datetime
) -> EvidenceRequest:
    """What to look at: the candidate color's target group over [stepStartedAt, now], the router's live weights."""
    candidate = previous.candidate_color.value
    target_groups = dict(endpoints.get("targetGroupArns") or {})
    balancers = dict(endpoints.get("loadBalancerArns") or {})
    route53 = None
    if service.effective_router is Router.ROUTE53 and config.dns is not None:
        route53 = Route53Target(zone_id=config.dns.zone_id, record_name=service.host or f"{name}.{config.dns.domain}", record_type="CNAME")
    return EvidenceRequest(
        service=name,
        platform=service.platform.value,
        candidate_color=candidate,
        candidate_version=previous.candidate_version or service.version,
        since=previous.step_started_at,
        until=now,
        candidate_target_group_arn=target_groups.get(candidate),
        load_balancer_arn=balancers.get("shared") or balancers.get(candidate),
        listener_rule_arn=endpoints.get("listenerRuleArn"),
        expected_weights=previous.weights.as_dict(),
        target_group_arns=target_groups,
        route53=route53,
        alarms=() if reverting(service, previous) else tuple(service.strategy.analysis.alarms),
        mirror_target_group_arn=endpoints.get("mirrorTargetGroupArn"),
        mirror_color=previous.stable_color.value,
        stable_color=previous.stable_color.value if shadowing(service, previous) else None,
        stable_version=previous.stable_version if shadowing(service, previous) else None,
    )


def shadowing(service: ServiceConfig, previous: RolloutState) -> bool:
    """The window being judged had the router copy live requests to the candidate (a shadow phase)."""
    return previous.mirrors_under(rollout_spec(service).plan)


def reverting(service: ServiceConfig, previous: RolloutState) -> bool:
    """Going back to the last known good version: the alarms likely fire because of the release being
    left, so they must not veto the way back (the candidate's own metrics and health still count)."""
    return service.version == previous.rollback_version and service.version != previous.stable_version
