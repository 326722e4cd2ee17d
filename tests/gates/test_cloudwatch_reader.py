"""The CloudWatch reader against moto (in-process and a real moto_server) and against broken endpoints."""

from __future__ import annotations

import contextlib
import functools
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from components.gates.cloudwatch_reader import CloudWatchEvidenceReader, arn_suffix
from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.verdict import Thresholds
from tests.gates.conftest import REGION, AlbWorld, build_alb_world, forward, route53_pair
from tests.servers import closed_port_url, hanging_server, throttling_server

THRESHOLDS = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=100, required_healthy=2)
# Fault tests: every read must end within the reader's own bound; SLACK covers thread scheduling only.
FAULT_TIMEOUT_S = 2.0
SLACK_S = 1.5


@functools.cache
def shared_session() -> boto3.Session:
    """One session for the module (made inside the first test's dummy environment): it caches
    the service models, the slow part of making clients. Clients are still made per reader,
    so each picks up the test's AWS_ENDPOINT_URL."""
    return boto3.Session()


def reader(**options: float) -> CloudWatchEvidenceReader:
    # No retries in the moto tests (max_attempts counts the first try), so moto's gaps fail fast.
    return CloudWatchEvidenceReader(shared_session(), region=REGION, **{"timeout_seconds": 5.0, "max_attempts": 1, **options})


def put_traffic(world: AlbWorld, requests: int, errors: int, mean_latency_s: float, minutes_ago: int = 5) -> None:
    """What an ALB publishes for the green target group in one minute inside the window
    (requests span the last 10 minutes; the reader counts minutes at least SETTLE_DELAY old)."""
    dims = [
        {"Name": "TargetGroup", "Value": arn_suffix(world.target_group_arns["green"])},
        {"Name": "LoadBalancer", "Value": arn_suffix(world.load_balancer_arn)},
    ]
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    data = [
        {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": at, "Value": requests, "Unit": "Count"},
        {
            "MetricName": "TargetResponseTime",
            "Dimensions": dims,
            "Timestamp": at,
            "StatisticValues": {
                "SampleCount": requests,
                "Sum": requests * mean_latency_s,
                "Minimum": mean_latency_s / 2,
                "Maximum": mean_latency_s * 2,
            },
            "Unit": "Seconds",
        },
    ]
    if errors:  # as ALB: no 5xx datapoint in a minute without 5xx
        data.append({"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Timestamp": at, "Value": errors, "Unit": "Count"})
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)


def alarm(name: str, state: str) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")


def test_a_healthy_canary_advances(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=3, mean_latency_s=0.12)
    alarm("web-5xx", "OK")
    result = evaluate_gate(reader(), world.request(alarms=("web-5xx",)), THRESHOLDS)
    assert result.verdict is GateVerdict.ADVANCE, result.reason
    assert result.measurements == {
        "requests": 1000,
        "errors": 3,
        "errorRate": 0.003,
        "latencyMs": pytest.approx(120.0),
        "healthyTargets": 2,
        "alarms": [],
    }


def test_twenty_percent_5xx_aborts(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=500, errors=100, mean_latency_s=0.1)
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert result.verdict is GateVerdict.ABORT
    assert result.reason == "error rate 20.0% > 5.0% (100 of 500 requests)"


def test_slow_responses_abort_on_the_request_weighted_mean(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=400, errors=0, mean_latency_s=0.1, minutes_ago=6)
    put_traffic(world, requests=100, errors=0, mean_latency_s=4.1, minutes_ago=5)
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    # (400 * 0.1 + 100 * 4.1) / 500 = 0.9 s; the mean of the two minutes would be 2.1 s
    assert result.verdict is GateVerdict.ABORT
    assert result.measurements["latencyMs"] == pytest.approx(900.0)


def test_no_traffic_holds_inconclusive_never_passes(moto: str) -> None:
    world = build_alb_world()
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.measurements["requests"] is None


def test_traffic_before_the_step_started_does_not_count(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1, minutes_ago=30)
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)


def test_too_few_requests_hold_inconclusive(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=37, errors=0, mean_latency_s=0.1)
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive, result.reason) == (
        GateVerdict.HOLD,
        True,
        "not enough evidence: 37 requests < 100",
    )


def test_an_alarm_in_alarm_aborts_despite_good_numbers(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    alarm("web-5xx", "OK")
    alarm("web-p99", "ALARM")
    result = evaluate_gate(reader(), world.request(alarms=("web-5xx", "web-p99")), THRESHOLDS)
    assert result.verdict is GateVerdict.ABORT
    assert result.reason == "alarms in ALARM: web-p99"


def test_a_misspelt_alarm_makes_the_gate_inconclusive(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    alarm("web-5xx", "OK")
    result = evaluate_gate(reader(), world.request(alarms=("web-5xx", "web-5xxx")), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "'web-5xxx' does not exist" in result.reason


def test_weights_changed_by_hand_hold_as_drift(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    boto3.client("elbv2", region_name=REGION).modify_rule(
        RuleArn=world.rule_arn, Actions=[forward(world.target_group_arns, {"blue": 70, "green": 30})]
    )
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, False)
    assert result.reason == "live weights 70/30 differ from recorded 90/10 (changed outside Pulumi?)"


def test_a_candidate_short_of_healthy_targets_holds(moto: str) -> None:
    world = build_alb_world(replicas=1)
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.reason == "candidate not ready: 1 of 2 targets healthy"


@pytest.mark.parametrize(
    "live, verdict",
    [
        pytest.param({"blue": 90, "green": 10}, GateVerdict.ADVANCE, id="records as recorded advance"),
        pytest.param({"blue": 9, "green": 1}, GateVerdict.ADVANCE, id="the same shares in other units advance"),
        pytest.param({"blue": 50, "green": 50}, GateVerdict.HOLD, id="records edited by hand hold as drift"),
    ],
)
def test_route53_weighted_records_are_checked_for_drift(moto: str, live: dict, verdict: GateVerdict) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    target = route53_pair(live)
    result = evaluate_gate(reader(), world.request(listener_rule_arn=None, route53=target), THRESHOLDS)
    assert result.verdict is verdict, result.reason
    if verdict is GateVerdict.HOLD:
        assert result.reason == "live weights 50/50 differ from recorded 90/10 (changed outside Pulumi?)"
        assert not result.inconclusive


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param(closed_port_url, id="an endpoint that refuses connections"),
        pytest.param(throttling_server, id="an endpoint that throttles every call"),
        pytest.param(hanging_server, id="an endpoint that accepts and never answers"),
        pytest.param(
            lambda: throttling_server(retry_after_ms=8000), id="an endpoint asking for a long retry-after cannot stretch the read"
        ),
    ],
)
def test_a_broken_endpoint_holds_inconclusive_within_the_bound(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, endpoint
) -> None:
    world = AlbWorld(
        load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
        listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
        rule_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
        target_group_arns={
            c: f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-{c}/73e2d6bc24d8a06{i}"
            for i, c in enumerate(("blue", "green"))
        },
    )
    with _as_context(endpoint) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        gate_reader = reader(timeout_seconds=FAULT_TIMEOUT_S, max_attempts=2)
        started = time.monotonic()
        result = evaluate_gate(gate_reader, world.request(alarms=("web-5xx",)), THRESHOLDS)
        elapsed = time.monotonic() - started
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True), result.reason
    assert elapsed < FAULT_TIMEOUT_S + SLACK_S, f"read took {elapsed:.1f} s"
    if endpoint is throttling_server:
        assert "Throttling" in result.reason


def _as_context(endpoint):
    """closed_port_url gives a plain url; the servers are context managers."""
    made = endpoint()
    return contextlib.nullcontext(made) if isinstance(made, str) else made
