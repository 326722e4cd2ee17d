"""Gated rollouts through the whole program: the mock engine for Pulumi, moto for AWS.

Load balancers, target groups, rules, ECS tasks (as registered targets) and
records the program registers also exist in moto, so the gate's boto3 reader
answers from an AWS API emulator run after run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rehearsal.moto_backend import MotoBackedMocks
from rehearsal.scenario import Stack
from rehearsal.traffic import set_alarm
from tests.builders import aws_config, service
from tests.scenarios.gated import ANALYSIS, gated_stack, step_with_traffic


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
