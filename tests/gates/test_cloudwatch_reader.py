"""The CloudWatch reader against moto (in-process and a real moto_server) and against broken endpoints."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Callable

import boto3
import pytest

from components.gates.cloudwatch_reader import CloudWatchEvidenceReader, arn_suffix
from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.verdict import Thresholds
from tests.gates.conftest import REGION, AlbWorld, build_alb_world, forward, returns_within, route53_pair
from tests.servers import closed_port_url, hanging_server, throttling_server

THRESHOLDS = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=100, required_healthy=2)
FAULT_TIMEOUT_S = 2.0
"""The reader's `timeout_seconds` in the broken-endpoint tests."""


@functools.cache
def shared_session() -> boto3.Session:
    """One session for the module (made inside the first test's dummy environment): it caches
    the service models, the slow part of making clients. Clients are still made per reader,
    so each picks up the test's AWS_ENDPOINT_URL."""
    return boto3.Session()


def reader(**options: float) -> CloudWatchEvidenceReader:
    # No retries in the moto tests (max_attempts counts the first try), so moto's gaps fail fast.
    return CloudWatchEvidenceReader(shared_session(), region=REGION, **{"timeout_seconds": 5.0, "max_attempts": 1, **options})


def put_traffic(world: AlbWorld, requests: int, errors: int, mean_latency_s: float, minutes_ago: int = 5, color: str = "green") -> None:
    """What an ALB publishes for the `color` target group in one minute inside the window
    (requests span the last 10 minutes; the reader counts minutes at least SETTLE_DELAY old)."""
    dims = [
        {"Name": "TargetGroup", "Value": arn_suffix(world.target_group_arns[color])},
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


# --- what the live router says: drift, deleted or foreign pieces, Route53's own rules ----------------------------

def other_target_group(world: AlbWorld, name: str) -> str:
    """A target group in the service's VPC that is not one of its colors (another service's, or a proxy's)."""
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = elbv2.describe_target_groups(TargetGroupArns=[world.target_group_arns["blue"]])["TargetGroups"][0]["VpcId"]
    return elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]


def test_a_rule_forwarding_to_a_foreign_target_group_holds_as_drift(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    foreign = other_target_group(world, "someone-else")
    boto3.client("elbv2", region_name=REGION).modify_rule(
        RuleArn=world.rule_arn, Actions=[forward({**world.target_group_arns, "green": foreign}, {"blue": 90, "green": 10})]
    )
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, False)
    assert result.reason == f"listener rule forwards to {foreign}, not a target group of web (changed outside Pulumi?)"


def test_a_rule_that_no_longer_forwards_holds_as_drift(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    boto3.client("elbv2", region_name=REGION).modify_rule(RuleArn=world.rule_arn, Actions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "maintenance"}}])
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, False)
    assert result.reason == "live weights 0/0 differ from recorded 90/10 (changed outside Pulumi?)"


def test_a_deleted_listener_rule_holds_inconclusive(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    boto3.client("elbv2", region_name=REGION).delete_rule(RuleArn=world.rule_arn)
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.reason == "evidence could not be read: weights: DescribeRules failed: RuleNotFound (One or more rules not found)"


def test_a_deleted_weighted_record_holds_as_drift(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    target = route53_pair({"blue": 90, "green": 10})
    boto3.client("route53", region_name=REGION).change_resource_record_sets(HostedZoneId=target.zone_id, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": {"Name": "web.example.com", "Type": "CNAME", "SetIdentifier": "green", "Weight": 10,
                                                   "TTL": 60, "ResourceRecords": [{"Value": "green.elb.example.com"}]}}]})
    result = evaluate_gate(reader(), world.request(listener_rule_arn=None, route53=target), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, False)
    assert result.reason == "weighted record web.example.com. 'green' is missing (deleted outside Pulumi?)"


@pytest.mark.parametrize(
    "recorded, verdict, reason",
    [
        pytest.param({"blue": 90, "green": 10}, GateVerdict.HOLD,
                     "live weights 0/0 (all zero: an equal split) differ from recorded 90/10 (changed outside Pulumi?)",
                     id="all zero is an equal split, not the recorded 90/10: drift"),
        pytest.param({"blue": 50, "green": 50}, GateVerdict.ADVANCE, None, id="all zero is the recorded 50/50: no drift"),
    ],
)
def test_all_zero_route53_weights_are_read_as_an_equal_split(moto: str, recorded: dict, verdict: GateVerdict, reason: str | None) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    target = replace(route53_pair({"blue": 0, "green": 0}), change_id=None)  # as the program asks: no change id
    result = evaluate_gate(reader(), world.request(listener_rule_arn=None, route53=target, expected_weights=recorded), THRESHOLDS)
    assert result.verdict is verdict, result.reason
    if reason is not None:
        assert (result.reason, result.inconclusive) == (reason, False)


def route53_answering(change: Callable[[dict], object]) -> dict:
    """Ready clients for the reader (on moto), Route53's GetChange answer edited by `change` as it arrives:
    moto reports every change INSYNC at once, AWS only once it reached every Route53 server."""
    clients = {name: shared_session().client(name, region_name=REGION) for name in ("cloudwatch", "elbv2", "route53")}
    clients["route53"].meta.events.register("after-call.route53.GetChange", lambda parsed, **_: change(parsed))
    return clients


@pytest.mark.parametrize(
    "change, words",
    [
        pytest.param(lambda parsed: parsed["ChangeInfo"].update(Status="PENDING"), "is PENDING, not yet INSYNC",
                     id="a change still propagating: the window may describe the old weights"),
        pytest.param(lambda parsed: parsed.pop("ChangeInfo"), "weights: unexpected KeyError: 'ChangeInfo'",
                     id="an answer without ChangeInfo is a problem, not a crash"),
    ],
)
def test_a_route53_change_not_known_to_be_insync_holds_inconclusive(moto: str, change, words: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    target = route53_pair({"blue": 90, "green": 10})
    gate_reader = CloudWatchEvidenceReader(route53_answering(change), timeout_seconds=5.0)
    result = evaluate_gate(gate_reader, world.request(listener_rule_arn=None, route53=target), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert words in result.reason
    if "PENDING" in words:
        assert result.reason == f"evidence could not be read: weights: Route53 change {target.change_id} is PENDING, not yet INSYNC"


def test_a_start_reads_alarms_health_and_weights_but_no_metrics(moto: str) -> None:
    """Before a candidate has traffic (a rollout starting) only alarms, health and drift count."""
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=900, mean_latency_s=0.1)
    alarm("web-5xx", "OK")
    result = evaluate_gate(reader(), world.request(alarms=("web-5xx",), metrics=False), Thresholds(required_healthy=0))
    assert (result.verdict, result.reason) == (GateVerdict.ADVANCE, "candidate healthy and routed as recorded; no metrics judged")
    assert result.measurements["requests"] is None, "metrics were not asked for"


def test_a_request_naming_no_candidate_target_group_holds_inconclusive(moto: str) -> None:
    """What a run sees when the previous run's endpoints are lost: no ARN to read metrics, health or weights from."""
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1)
    lost = world.request(candidate_target_group_arn=None, load_balancer_arn=None, listener_rule_arn=None, target_group_arns={})
    result = evaluate_gate(reader(), lost, THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.reason == (
        "evidence could not be read: health: the request names no candidate target group; "
        "metrics: the request names no candidate target group or load balancer"
    )


@pytest.mark.parametrize(
    "stable_errors, verdict, reason",
    [
        pytest.param(10, GateVerdict.ABORT, "error rate 20.0% > 5.0% (200 of 1000 requests) (stable 1.0% over the same window)",
                     id="a breach stable does not share aborts"),
        pytest.param(None, GateVerdict.HOLD, "error rate 20.0% > 5.0% (200 of 1000 requests), but stable's number over the "
                     "same window is missing: cannot compare", id="without stable's metrics it holds"),
    ],
)
def test_a_shadow_candidate_is_judged_against_stable_over_the_same_minutes(
    moto: str, stable_errors: int | None, verdict: GateVerdict, reason: str
) -> None:
    """Shadow phase on AWS: the rule sends everything to the mirroring proxy (which answers from stable, so its
    weight is stable's), and both colors' metrics are read over the same window."""
    world = build_alb_world()
    mirror = other_target_group(world, "web-mirror")
    boto3.client("elbv2", region_name=REGION).modify_rule(RuleArn=world.rule_arn, Actions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": world.target_group_arns["blue"], "Weight": 0},
                         {"TargetGroupArn": world.target_group_arns["green"], "Weight": 0},
                         {"TargetGroupArn": mirror, "Weight": 100}]}}])
    put_traffic(world, requests=1000, errors=200, mean_latency_s=0.1, color="green")
    if stable_errors is not None:
        put_traffic(world, requests=1000, errors=stable_errors, mean_latency_s=0.1, color="blue")
    request = world.request(expected_weights={"blue": 100, "green": 0}, mirror_target_group_arn=mirror, mirror_color="blue",
                            stable_color="blue", stable_version="1")
    result = evaluate_gate(reader(), request, replace(THRESHOLDS, against_stable=True))
    assert (result.verdict, result.reason) == (verdict, reason)
    assert result.measurements.get("stableErrorRate") == (None if stable_errors is None else stable_errors / 1000)


@pytest.mark.parametrize("options", [
    pytest.param({"timeout_seconds": 0}, id="no time bound"),
    pytest.param({"max_attempts": 0}, id="no attempt"),
    pytest.param({"identity": object()}, id="an identity and a session at once"),
])
def test_a_reader_that_could_not_work_is_refused_when_made(aws_env: None, options: dict) -> None:
    with pytest.raises(ValueError):
        CloudWatchEvidenceReader(shared_session(), **options)


# --- broken endpoints: inconclusive, with words; and the time bound honoured ------------------------------------
# No tight wall-clock bound (a loaded machine stretches any): a read that ignored its deadline would take far
# longer than BOUND_S (the servers below never answer, or ask for 30 s retry-afters: >= 15 s over 4 attempts),
# one that honours it returns after about FAULT_TIMEOUT_S; the reason says which timeout fired.

BOUND_S = 10.0


def unreachable_world() -> AlbWorld:
    return AlbWorld(
        load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
        listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
        rule_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
        target_group_arns={
            c: f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-{c}/73e2d6bc24d8a06{i}"
            for i, c in enumerate(("blue", "green"))
        },
    )


@pytest.mark.parametrize(
    "endpoint, words",
    [
        pytest.param(closed_port_url, "Could not connect to the endpoint URL", id="an endpoint that refuses connections"),
        pytest.param(throttling_server, "Throttling (Rate exceeded)", id="an endpoint that throttles every call"),
    ],
)
def test_a_failing_endpoint_holds_inconclusive(aws_env: None, monkeypatch: pytest.MonkeyPatch, endpoint, words: str) -> None:
    with _as_context(endpoint) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        gate_reader = reader(timeout_seconds=FAULT_TIMEOUT_S, max_attempts=2)
        result = returns_within(BOUND_S, lambda: evaluate_gate(gate_reader, unreachable_world().request(alarms=("web-5xx",)), THRESHOLDS))
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True), result.reason
    assert words in result.reason


@pytest.mark.parametrize(
    "endpoint, max_attempts, fired",
    [
        pytest.param(hanging_server, 2, ("Read timeout on endpoint URL", f"no answer within {FAULT_TIMEOUT_S:g} s"),
                     id="an endpoint that accepts and never answers: the per-attempt or the overall timeout"),
        pytest.param(lambda: throttling_server(retry_after_ms=30_000), 4, (f"no answer within {FAULT_TIMEOUT_S:g} s",),
                     id="an endpoint asking for 30 s retry-afters cannot stretch the read past the overall timeout"),
    ],
)
def test_a_silent_endpoint_is_given_up_on_at_the_timeout(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, endpoint, max_attempts: int, fired: tuple[str, ...]
) -> None:
    with _as_context(endpoint) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        gate_reader = reader(timeout_seconds=FAULT_TIMEOUT_S, max_attempts=max_attempts)
        result = returns_within(BOUND_S, lambda: evaluate_gate(gate_reader, unreachable_world().request(alarms=("web-5xx",)), THRESHOLDS))
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True), result.reason
    assert any(words in result.reason for words in fired), result.reason


def _as_context(endpoint):
    """closed_port_url gives a plain url; the servers are context managers."""
    made = endpoint()
    return contextlib.nullcontext(made) if isinstance(made, str) else made
