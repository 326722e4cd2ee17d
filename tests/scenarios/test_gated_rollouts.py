"""Gated rollouts through the whole program: the mock engine for Pulumi, moto for AWS, a real Prometheus.

Load balancers, target groups, rules, ECS tasks (as registered targets) and
records the program registers also exist in moto, so the gate's boto3 reader
answers from an AWS API emulator run after run. A Kubernetes service with a
`prometheus` analysis is judged by the program's own Prometheus reader against
a real Prometheus server (tests/servers.py), queried with the stack's PromQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rehearsal.moto_backend import MotoBackedMocks
from rehearsal.scenario import Stack
from rehearsal.traffic import set_alarm
from tests.builders import aws_config, service
from tests.scenarios.gated import ANALYSIS, gated_stack, prometheus_stack, runs_now, step_with_traffic
from tests.scenarios.gated import prometheus  # noqa: F401 - a fixture: a real Prometheus scraping per-version counters
from tests.servers import closed_port_url


def test_a_healthy_canary_advances_to_100(aws):
    stack = gated_stack(aws)
    assert stack.runs[-1].weights("web") == (90, 10)
    seen = [step_with_traffic(stack, 1000, errors=3) for _ in range(2)]
    assert [run.weights("web") for run in seen] == [(50, 50), (0, 100)]
    assert seen[0].rollout("web")["gate"]["verdict"] == "advance"
    assert seen[0].rollout("web")["gate"]["measurements"]["requests"] == 1000
    assert seen[-1].rollout("web")["phase"] == "stable"


def test_5xx_on_the_candidate_at_the_second_step_aborts(aws):
    stack = gated_stack(aws)
    assert step_with_traffic(stack, 1000, errors=2).weights("web") == (50, 50)
    bad = step_with_traffic(stack, 1000, errors=200)
    record = bad.rollout("web")
    assert bad.weights("web") == (100, 0) and record["phase"] == "aborted"
    assert "error rate 20.0% > 5.0%" in record["reason"] and record["gate"]["verdict"] == "abort"


def test_no_traffic_holds_then_pauses_for_a_human(aws):
    stack = gated_stack(aws)
    phases = []
    for _ in range(3):
        stack.advance(5)
        run = stack.up()
        phases.append((run.rollout("web")["phase"], run.weights("web")))
    assert phases == [("progressing", (90, 10)), ("progressing", (90, 10)), ("paused", (90, 10))]
    assert "inconclusive" in run.rollout("web")["reason"]


def test_too_few_requests_never_advance(aws):
    stack = gated_stack(aws)
    run = step_with_traffic(stack, 40)
    assert run.weights("web") == (90, 10) and "40 requests < 100" in run.rollout("web")["reason"]


def test_an_alarm_in_alarm_aborts_whatever_the_step(aws):
    stack = gated_stack(aws)
    set_alarm("web-5xx", "ALARM")
    run = step_with_traffic(stack, 1000)
    assert run.weights("web") == (100, 0) and run.rollout("web")["phase"] == "aborted"
    assert "web-5xx" in run.rollout("web")["reason"]


def test_weights_changed_by_hand_are_reported_as_drift_and_hold(aws):
    stack = gated_stack(aws)
    endpoints = stack.saved.outputs["endpoints"]["web"]
    arns = endpoints["targetGroupArns"]
    aws.elbv2.modify_rule(RuleArn=endpoints["listenerRuleArn"], Actions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": arns["blue"], "Weight": 70}, {"TargetGroupArn": arns["green"], "Weight": 30}]}}])
    run = step_with_traffic(stack, 1000)
    assert run.weights("web") == (90, 10)
    assert "70/30" in run.rollout("web")["reason"] and run.rollout("web")["gate"]["inconclusive"] is False


def test_an_unhealthy_candidate_gets_no_more_traffic(aws):
    stack = gated_stack(aws)
    group = stack.saved.outputs["endpoints"]["web"]["targetGroupArns"]["green"]
    targets = aws.elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    aws.elbv2.deregister_targets(TargetGroupArn=group, Targets=[targets[0]["Target"]])
    run = step_with_traffic(stack, 1000)
    assert run.weights("web") == (90, 10) and "1 of 2 targets healthy" in run.rollout("web")["reason"]


def test_blue_green_promotion_consults_the_gate(aws):
    stack = gated_stack(aws, kind="blue-green")
    stack.set("cutover:services.web.approve", "2")
    run = step_with_traffic(stack, 1000, errors=500)
    assert run.weights("web") == (100, 0) and run.rollout("web")["phase"] == "aborted"


def test_a_firing_alarm_keeps_a_red_black_switch_from_starting(aws):
    config = aws_config({"web": service("red-black", analysis=ANALYSIS)})
    config["cutover:dns"]["zoneId"] = aws.create_zone("example.com")
    stack = Stack(config, start=datetime.now(timezone.utc) - timedelta(hours=1),
                  mocks_factory=lambda previous, region: MotoBackedMocks(previous, region, aws))
    stack.up()
    set_alarm("web-5xx", "ALARM")
    stack.set("cutover:services.web.version", "2")
    blocked = stack.up()
    assert blocked.weights("web") == (100, 0) and "not started" in blocked.rollout("web")["reason"]
    set_alarm("web-5xx", "OK")
    deployed = stack.up()
    assert deployed.weights("web") == (100, 0) and deployed.rollout("web")["candidateVersion"] == "2"
    switched = stack.up()
    assert switched.weights("web") == (0, 100) and switched.rollout("web")["stableVersion"] == "2"


def test_route53_drift_is_read_from_the_live_records(aws):
    stack = gated_stack(aws, router="route53")
    zone = stack.config["cutover:dns"]["zoneId"]
    aws.route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "web.example.com", "Type": "CNAME", "TTL": 60, "SetIdentifier": "green", "Weight": 50,
        "ResourceRecords": [{"Value": "somewhere.example.net"}]}}]})
    run = step_with_traffic(stack, 1000)
    assert run.weights("web") == (90, 10) and "differ" in run.rollout("web")["reason"]


# --- the Prometheus gate, built by the program from `analysis.prometheus` ----------------------------------

def test_a_prometheus_gate_takes_a_healthy_candidate_to_100(prometheus):
    stack = prometheus_stack(prometheus)
    stack.set("cutover:services.api.version", "2")
    runs, seen = runs_now(stack, 4)
    assert seen == [
        ("progressing", (100, 0), {"blue": (100, "1.27"), "green": (0, "2")}),  # deployed at 0 %
        ("progressing", (90, 10), {"blue": (90, "1.27"), "green": (10, "2")}),  # healthy: first step (no metrics yet)
        ("progressing", (50, 50), {"blue": (50, "1.27"), "green": (50, "2")}),  # Prometheus: 0.5 % errors, p99 99 ms
        ("stable", (0, 100), {"blue": (0, "1.27"), "green": (100, "2")}),
    ]
    judged = runs[2].rollout("api")["gate"]
    assert judged["verdict"] == "advance", judged
    assert (judged["measurements"]["requests"], judged["measurements"]["errorRate"]) == (1000, 0.005)
    assert judged["measurements"]["latencyMs"] == pytest.approx(99.0)  # histogram_quantile interpolates within (0, 0.1 s]
    assert runs[2].rollout("api")["reason"].startswith("advanced to step 2 (passed: error rate 0.5% <= 5.0%")


def test_a_prometheus_gate_aborts_a_failing_candidate_back_to_stable_in_one_run(prometheus):
    stack = prometheus_stack(prometheus)
    stack.set("cutover:services.api.version", "3")
    runs, seen = runs_now(stack, 3)
    assert seen == [
        ("progressing", (100, 0), {"blue": (100, "1.27"), "green": (0, "3")}),
        ("progressing", (90, 10), {"blue": (90, "1.27"), "green": (10, "3")}),
        ("aborted", (100, 0), {"blue": (100, "1.27"), "green": (0, "3")}),  # Prometheus: 20 % errors
    ]
    record = runs[-1].rollout("api")
    assert record["gate"]["verdict"] == "abort" and "error rate 20.0% > 5.0%" in record["reason"]


def test_an_unreachable_prometheus_holds_the_step_then_pauses_for_a_human():
    stack = prometheus_stack(closed_port_url())
    stack.set("cutover:services.api.version", "2")
    runs, seen = runs_now(stack, 4)
    at_ten = {"blue": (90, "1.27"), "green": (10, "2")}
    assert seen == [
        ("progressing", (100, 0), {"blue": (100, "1.27"), "green": (0, "2")}),
        ("progressing", (90, 10), at_ten),  # the first step needs no metrics
        ("progressing", (90, 10), at_ten),  # inconclusive 1 of 2
        ("paused", (90, 10), at_ten),       # inconclusive 2 of 2: a human decides
    ]
    held = runs[2].rollout("api")["gate"]
    assert held["verdict"] == "hold" and held["inconclusive"] is True
    assert "prometheus error-rate query: " in held["reason"] and "unreachable" in held["reason"]
    assert "inconclusive" in runs[3].rollout("api")["reason"]
