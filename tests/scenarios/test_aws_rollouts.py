"""The user's story on AWS: successive `pulumi up` runs of the real program under the mock engine,
each fed the previous run's outputs through the program's self StackReference."""

from __future__ import annotations

import json

import pytest

from rehearsal.engine import TRAFFIC_CARRIERS
from rehearsal.scenario import Stack
from tests.builders import aws_config, service

RULE = "aws:lb/listenerRule:ListenerRule::web-route-rule"
ECS = "aws:ecs/service:Service"
RECORD = "aws:route53/record:Record"


def deployed(config) -> Stack:
    stack = Stack(config)
    first = stack.up()
    assert first.result.error is None, first.result.error
    return stack


def at_half_way() -> Stack:
    """A canary of version 2 at 50/50: deployed at 0 %, then 90/10, then 50/50."""
    stack = deployed(aws_config())
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.up()
    assert stack.up().weights("web") == (50, 50)
    return stack


def rule_weights(run) -> dict[str, int]:
    rule = run.result.resources[RULE]
    groups = rule.inputs["actions"][0]["forward"]["targetGroups"]
    arns = run.result.outputs["endpoints"]["web"]["targetGroupArns"]
    color_of = {arn: color for color, arn in arns.items()}
    return {color_of[g["arn"]]: g["weight"] for g in groups}


def desired_count(run, service_name: str, color: str) -> int:
    return run.result.resources[f"{ECS}::{service_name}-{color}-svc"].inputs["desiredCount"]


def image_of(run, service_name: str, color: str) -> str:
    task = run.result.resources[f"aws:ecs/taskDefinition:TaskDefinition::{service_name}-{color}-task"]
    return json.loads(task.inputs["containerDefinitions"])[0]["image"]


def test_first_deploy_puts_all_traffic_on_blue():
    run = Stack(aws_config()).up()
    record = run.rollout("web")
    assert record["phase"] == "stable"
    assert record["weights"] == {"blue": 100, "green": 0}
    assert record["stableColor"] == "blue" and record["stableVersion"] == "1"
    assert record["candidateVersion"] is None and record["step"] is None
    assert rule_weights(run) == {"blue": 100, "green": 0}
    assert desired_count(run, "web", "blue") == 2 and desired_count(run, "web", "green") == 0


def test_canary_advances_one_step_per_run_and_promotes_at_100():
    stack = deployed(aws_config())
    stack.set("cutover:services.web.version", "2")
    seen = []
    for _ in range(4):
        stack.advance(1)
        run = stack.up()
        seen.append((run.weights("web"), run.rollout("web")["phase"], run.rollout("web")["step"]))
    assert seen == [((100, 0), "progressing", 0), ((90, 10), "progressing", 1), ((50, 50), "progressing", 2),
                    ((0, 100), "stable", None)], "deployed at 0 % first, then one step per run"
    record = run.rollout("web")
    assert (record["stableColor"], record["stableVersion"], record["candidateVersion"]) == ("green", "2", None)
    assert image_of(run, "web", "green").endswith(":2")

    stack.set("cutover:services.web.version", "3")
    stack.advance(1)
    next_rollout = stack.up()
    assert next_rollout.weights("web") == (0, 100) and image_of(next_rollout, "web", "blue").endswith(":3"), (
        "the version after that is deployed onto blue, which carries nothing"
    )
    assert stack.up().weights("web") == (10, 90)


def test_middle_step_writes_only_the_services_listener_rule():
    stack = deployed(aws_config())
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.up()
    middle = stack.up()
    assert middle.weights("web") == (50, 50)
    assert middle.changed() == {"created": (), "updated": (RULE,), "replaced": (), "deleted": ()}


def test_no_traffic_resource_is_replaced_during_a_rollout():
    stack = deployed(aws_config({"web": service(), "shop": service(router="route53")}))
    stack.set("cutover:services.web.version", "2")
    stack.set("cutover:services.shop.version", "2")
    for _ in range(4):
        stack.advance(40)
        run = stack.up()
        replaced = [k for k in run.changes.replaced if k.split("::")[0] in TRAFFIC_CARRIERS]
        assert replaced == [], f"run {run.number} replaced {replaced}"
        assert run.changes.deleted == () and run.changes.created == ()


def test_no_fixed_physical_names_on_replaceable_resources():
    run = Stack(aws_config({"web": service(), "shop": service(router="route53")})).up()
    named = [r.key for r in run.result.resources.values() if r.type in TRAFFIC_CARRIERS and "name" in r.inputs and r.type != RECORD]
    assert named == []


def test_the_candidate_is_deployed_at_zero_percent_and_the_rule_records_it_only_once_it_is_steady():
    stack = deployed(aws_config())
    stack.set("cutover:services.web.version", "2")
    run = stack.up()
    assert run.weights("web") == (100, 0)
    assert f"{ECS}::web-green-svc" in run.result.dependencies[RULE], "the rule's record waits for the candidate"
    assert run.result.resources[f"{ECS}::web-green-svc"].inputs["waitForSteadyState"] is True
    assert run.result.resources[RULE].inputs["tags"]["cutover:candidate-version"] == "2"


def test_on_first_deploy_services_wait_for_the_rule_that_attaches_their_target_groups():
    order = Stack(aws_config()).up().result.order
    assert order.index(RULE) < order.index(f"{ECS}::web-blue-svc")


def test_blue_green_previews_the_candidate_then_switches_after_approval():
    stack = deployed(aws_config({"web": service("blue-green", scaleDownDelayMinutes=30)}))
    stack.set("cutover:services.web.version", "2")
    stack.advance(1)
    preview = stack.up()
    record = preview.rollout("web")
    assert record["phase"] == "paused" and preview.weights("web") == (100, 0)
    preview_rule = preview.result.resources["aws:lb/listenerRule:ListenerRule::web-preview"]
    test_listener = preview.result.resources["aws:lb/listener:Listener::cutover-shared-test"]
    assert test_listener.inputs["port"] == 8443
    assert preview_rule.inputs["actions"][0]["targetGroupArn"] == preview.result.outputs["endpoints"]["web"]["targetGroupArns"]["green"]
    assert preview.result.outputs["endpoints"]["web"]["previewUrl"] == "http://web.example.com:8443"
    assert desired_count(preview, "web", "green") == 2

    stack.advance(60)
    still = stack.up()
    assert still.rollout("web")["phase"] == "paused" and still.changed() == {"created": (), "updated": (), "replaced": (), "deleted": ()}

    stack.set("cutover:services.web.approve", "2")
    switched = stack.up()
    assert switched.weights("web") == (0, 100)
    assert switched.rollout("web")["phase"] == "stable" and switched.rollout("web")["stableColor"] == "green"
    assert desired_count(switched, "web", "blue") == 2, "the old color stays warm"

    stack.advance(29)
    assert desired_count(stack.up(), "web", "blue") == 2
    stack.advance(2)
    assert desired_count(stack.up(), "web", "blue") == 0, "then a later run scales it to zero"


def test_red_black_switches_in_the_run_after_the_candidate_was_deployed_and_verified():
    stack = deployed(aws_config({"web": service("red-black", scaleDownDelayMinutes=10)}))
    stack.set("cutover:services.web.version", "2")
    deployed_run = stack.up()
    assert deployed_run.weights("web") == (100, 0) and deployed_run.rollout("web")["phase"] == "progressing"
    run = stack.up()
    assert run.weights("web") == (0, 100) and run.rollout("web")["phase"] == "stable"
    assert desired_count(run, "web", "blue") == 2
    stack.advance(11)
    assert desired_count(stack.up(), "web", "blue") == 0


def test_rolling_updates_one_color_in_place():
    stack = deployed(aws_config({"web": service("rolling")}))
    stack.set("cutover:services.web.version", "2")
    run = stack.up()
    assert run.rollout("web")["phase"] == "stable" and run.rollout("web")["stableVersion"] == "2"
    assert not any("green" in key for key in run.result.resources if key.split("::")[1].startswith("web-"))
    svc = run.result.resources[f"{ECS}::web-blue-svc"].inputs
    assert svc["deploymentMinimumHealthyPercent"] == 100 and svc["deploymentMaximumPercent"] == 200
    assert svc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert image_of(run, "web", "blue").endswith(":2")
    assert f"{ECS}::web-blue-svc" in run.changes.updated


def test_abort_returns_all_traffic_in_one_run_changing_only_the_rule():
    stack = at_half_way()
    stack.set("cutover:services.web.abort", "2")
    aborted = stack.up()
    assert aborted.weights("web") == (100, 0) and aborted.rollout("web")["phase"] == "aborted"
    assert aborted.changed() == {"created": (), "updated": (RULE,), "replaced": (), "deleted": ()}
    stack.set("cutover:services.web.abort", None)
    restarted = stack.up()
    assert restarted.weights("web") == (100, 0) and restarted.rollout("web")["step"] == 0
    assert stack.up().weights("web") == (90, 10)


def test_a_newer_version_supersedes_the_candidate_and_restarts():
    stack = at_half_way()
    stack.set("cutover:services.web.version", "3")
    back = stack.up()
    assert back.weights("web") == (100, 0) and image_of(back, "web", "green").endswith(":2"), (
        "green carried 50 %: its traffic returns to blue before its image changes"
    )
    assert back.changed() == {"created": (), "updated": (RULE,), "replaced": (), "deleted": ()}
    run = stack.up()
    record = run.rollout("web")
    assert (record["candidateVersion"], record["step"], run.weights("web")) == ("3", 0, (100, 0))
    assert image_of(run, "web", "green").endswith(":3")
    assert not any(k.endswith("web-blue-svc") or k.endswith("web-blue-task") for k in run.changes.updated + run.changes.replaced)
    assert stack.up().weights("web") == (90, 10)


def test_setting_the_version_back_rolls_back_in_one_run():
    stack = at_half_way()
    stack.set("cutover:services.web.version", "1")
    run = stack.up()
    record = run.rollout("web")
    assert run.weights("web") == (100, 0) and record["phase"] == "stable" and record["candidateVersion"] is None
    assert run.changed() == {"created": (), "updated": (RULE,), "replaced": (), "deleted": ()}


def test_a_run_inside_the_bake_time_holds_and_changes_nothing():
    stack = deployed(aws_config({"web": service(bakeMinutes=15)}))
    stack.set("cutover:services.web.version", "2")
    stack.up()
    assert stack.up().weights("web") == (90, 10), "a candidate at 0 % has nothing to bake"
    stack.advance(14)
    held = stack.up()
    assert held.weights("web") == (90, 10) and "baking" in held.rollout("web")["reason"]
    assert held.changed() == {"created": (), "updated": (), "replaced": (), "deleted": ()}
    stack.advance(1)
    assert stack.up().weights("web") == (50, 50)


def test_route53_records_follow_the_same_weights_and_are_never_both_zero():
    stack = deployed(aws_config({"web": service(router="route53")}))
    stack.set("cutover:services.web.version", "2")
    seen = []
    for index in range(4):
        run = stack.up()
        records = {r.inputs["setIdentifier"]: r for r in run.result.of_type(RECORD)}
        weights = tuple(records[c].inputs["weightedRoutingPolicies"][0]["weight"] for c in ("blue", "green"))
        assert sum(weights) > 0
        assert all(r.inputs["ttl"] <= 60 for r in records.values())
        if index > 0:  # after the deploy, a step writes only the records (and their decision record)
            assert run.changed("web")["updated"] and all(k.startswith((RECORD, "aws:ssm")) for k in run.changed("web")["updated"])
        seen.append(weights)
    assert seen == [(100, 0), (90, 10), (50, 50), (0, 100)]
    albs = [r for r in run.result.of_type("aws:lb/loadBalancer:LoadBalancer") if r.name.startswith("web-")]
    assert len(albs) == 2, "each color has its own ALB"


def test_preview_shows_the_next_step_without_saving_it():
    stack = deployed(aws_config())
    stack.set("cutover:services.web.version", "2")
    stack.up()
    preview = stack.preview()
    assert preview.weights("web") == (90, 10)
    again = stack.preview()
    assert again.weights("web") == (90, 10), "a preview never advances the recorded step"


def test_exported_weights_come_from_the_applied_rule(monkeypatch):
    """If the router applied something else than planned, the record says what was applied."""
    from dataclasses import replace

    from rehearsal import engine

    stack = deployed(aws_config())
    stack.set("cutover:services.web.version", "2")
    stack.up()  # deployed at 0 %
    kept = stack.saved.resources[RULE].outputs["actions"]
    original = engine.RecordingMocks.new_resource

    def rule_keeps_old_weights(self, args):
        resource_id, outputs = original(self, args)
        if args.typ == "aws:lb/listenerRule:ListenerRule":
            outputs = {**outputs, "actions": kept}
            self.resources[f"{args.typ}::{args.name}"] = replace(self.resources[f"{args.typ}::{args.name}"], outputs=outputs)
        return resource_id, outputs

    monkeypatch.setattr(engine.RecordingMocks, "new_resource", rule_keeps_old_weights)
    run = stack.up()
    assert run.weights("web") == (100, 0)
    record = run.rollout("web")
    assert (record["phase"], record["step"], record["candidateVersion"]) == ("progressing", 0, "2"), "the step was not recorded"
    assert "not applied" in record["reason"]
    monkeypatch.undo()
    held = stack.up()
    assert held.weights("web") == (100, 0) and "live record" in held.rollout("web")["reason"], (
        "the rule's record claims 90/10 while it carries 100/0: the run holds and says why"
    )
    assert stack.up().weights("web") == (90, 10), "then the step is taken again"


@pytest.mark.parametrize("kind", ["canary", "blue-green", "red-black", "rolling"])
def test_decision_record_travels_on_the_router_as_tags(kind):
    stack = deployed(aws_config({"web": service(kind)}))
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.set("cutover:services.web.approve", "2")
    run = stack.up()
    tags = run.result.resources[RULE].inputs["tags"]
    assert tags["cutover:service"] == "web" and tags["cutover:strategy"] == kind
    assert tags["cutover:weights"] == "{}/{}".format(*run.weights("web"))


def test_a_service_without_dns_is_routed_by_path_prefix():
    run = Stack(aws_config(dns=False)).up()
    conditions = run.result.resources[RULE].inputs["conditions"]
    assert conditions == [{"pathPattern": {"values": ["/web", "/web/*"]}}]
    assert run.result.outputs["endpoints"]["web"]["url"].endswith(".elb.amazonaws.com/web/")


def test_without_a_network_the_program_creates_a_two_zone_vpc_with_one_nat():
    run = Stack(aws_config(network=False)).up()
    assert len(run.result.of_type("aws:ec2/vpc:Vpc")) == 1
    assert len(run.result.of_type("aws:ec2/subnet:Subnet")) == 4
    assert len(run.result.of_type("aws:ec2/natGateway:NatGateway")) == 1
    zones = {s.inputs["availabilityZone"] for s in run.result.of_type("aws:ec2/subnet:Subnet")}
    assert zones == {"us-east-1a", "us-east-1b"}


def test_https_with_a_certificate_redirects_http_and_uses_a_modern_policy():
    config = aws_config()
    config["cutover:network"]["certificateArn"] = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    run = Stack(config).up()
    https = run.result.resources["aws:lb/listener:Listener::cutover-shared-https"].inputs
    http = run.result.resources["aws:lb/listener:Listener::cutover-shared-http"].inputs
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert http["defaultActions"][0]["type"] == "redirect"
    rule = run.result.resources[RULE].inputs
    assert rule["listenerArn"].endswith(run.result.resources["aws:lb/listener:Listener::cutover-shared-https"].name + "/" + rule["listenerArn"].rsplit("/", 1)[1])


def test_the_production_url_resolves_to_the_shared_alb():
    stack = Stack(aws_config({"web": service()}))
    run = stack.up()
    record = run.result.resources["aws:route53/record:Record::web-url"].inputs
    balancer = run.result.resources["aws:lb/loadBalancer:LoadBalancer::cutover-shared-alb"].outputs
    assert record["name"] == "web.example.com" and record["type"] == "A" and "weightedRoutingPolicies" not in record
    assert record["aliases"] == [{"name": balancer["dnsName"], "zoneId": balancer["zoneId"], "evaluateTargetHealth": True}]
    endpoints = run.result.outputs["endpoints"]["web"]
    assert endpoints["url"] == "http://web.example.com" and endpoints["loadBalancerDnsName"] == balancer["dnsName"]


def test_a_host_outside_the_hosted_zone_gets_no_record():
    stack = Stack(aws_config({"web": {**service(), "host": "shop.other.org"}}))
    run = stack.up()
    assert not any(key.startswith("aws:route53/record:Record::web") for key in run.result.resources)
