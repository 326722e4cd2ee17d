"""Weights, target groups, naming and Route53: one passing and one failing case per policy at least."""

from __future__ import annotations

import pytest

from policies.offline import OfflineResource

from .builders import (
    assert_outcome,
    deployment,
    ecs_service,
    http_route,
    ingress,
    listener_rule,
    record,
    run,
    target_group,
)

NGINX = "nginx.ingress.kubernetes.io/"

CASES = [
    # (policy, resources, expected fragments or None)
    pytest.param("alb-forward-weights", [listener_rule(weights=[90, 10])], None,
                 id="a 90/10 listener rule split passes"),
    pytest.param("alb-forward-weights", [listener_rule(weights=[100, 0])], None,
                 id="one target group at zero is a valid split"),
    pytest.param("alb-forward-weights", [listener_rule(weights=[1000, 0])], ("'api-rule'", "1000", "0..999"),
                 id="a weight above 999 is rejected"),
    pytest.param("alb-forward-weights", [listener_rule(weights=[-1, 101])], ("'api-rule'", "-1"),
                 id="a negative weight is rejected"),
    pytest.param("alb-forward-weights", [listener_rule(weights=[0, 0])], ("'api-rule'", "every target group weight 0"),
                 id="all weights zero drops all traffic"),
    pytest.param("alb-forward-weights", [listener_rule(weights=[20] * 6)], ("'api-rule'", "6 target groups", "at most 5"),
                 id="six target groups exceed the ALB limit"),
    pytest.param("alb-forward-weights", [listener_rule(weights=[None, 10])], ("'api-rule'", "no explicit weight"),
                 id="an implicit weight is rejected"),
    pytest.param("alb-forward-weights",
                 [OfflineResource("aws:lb/listener:Listener", "https", {"defaultActions": [
                     {"type": "forward", "forward": {"targetGroups": [{"arn": "a", "weight": 0}]}}]})],
                 ("listener 'https'", "defaultActions[0]", "weight 0"),
                 id="listener default actions are checked too"),
    pytest.param("alb-target-group-health",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b"),
                  target_group("tg-green", "arn:tg/g")], None,
                 id="forwarded target groups with health path and 30 s delay pass"),
    pytest.param("alb-target-group-health",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b"),
                  target_group("tg-green", "arn:tg/g", path=None)], ("'tg-green'", "explicit path"),
                 id="a forwarded target group without a health check path is rejected"),
    pytest.param("alb-target-group-health",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b"),
                  target_group("tg-green", "arn:tg/g", enabled=False)], ("'tg-green'", "disabled"),
                 id="a disabled health check is rejected"),
    pytest.param("alb-target-group-health",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b", delay=None),
                  target_group("tg-green", "arn:tg/g")], ("'tg-blue'", "default of 300 s"),
                 id="an unset deregistration delay means the 300 s provider default"),
    pytest.param("alb-target-group-health",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b", delay=180),
                  target_group("tg-green", "arn:tg/g")], ("'tg-blue'", "180 s", "120 s"),
                 id="a deregistration delay above the bound is rejected"),
    pytest.param("alb-target-group-health",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/x"]), target_group("tg-blue", "arn:tg/b")],
                 ("'api-rule'", "arn:tg/x", "does not manage"),
                 id="a forward to an unmanaged target group can't pass unverified"),
    pytest.param("alb-target-group-health",
                 [target_group("tg-idle", "arn:tg/i", path=None, delay=None)], None,
                 id="target groups nothing forwards to are not judged"),
    pytest.param("alb-sticky-weighted-forward",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"], sticky_seconds=3600),
                  target_group("tg-blue", "arn:tg/b", sticky_seconds=3600), target_group("tg-green", "arn:tg/g", sticky_seconds=3600)],
                 None, id="sticky target groups behind a forward with group stickiness pass"),
    pytest.param("alb-sticky-weighted-forward",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b"),
                  target_group("tg-green", "arn:tg/g")],
                 None, id="a weighted forward without any stickiness passes"),
    pytest.param("alb-sticky-weighted-forward",
                 [listener_rule(weights=[100], arns=["arn:tg/b"]), target_group("tg-blue", "arn:tg/b", sticky_seconds=60)],
                 None, id="a sticky target group behind a single-group forward is not a weighted forward"),
    pytest.param("alb-sticky-weighted-forward",
                 [listener_rule(arns=["arn:tg/b", "arn:tg/g"]), target_group("tg-blue", "arn:tg/b", sticky_seconds=3600),
                  target_group("tg-green", "arn:tg/g")],
                 ("listener rule 'api-rule'", "actions[0]", "tg-blue", "no group stickiness"),
                 id="sticky target groups behind a forward without group stickiness are flagged"),
    pytest.param("httproute-backend-weights", [http_route(rules=[[90, 10], [None, 0]])], None,
                 id="httproute weights in range and an omitted weight meaning 1 pass"),
    pytest.param("httproute-backend-weights", [http_route(rules=[[0, 0]])], ("'api-route'", "rules[0]", "503"),
                 id="an httproute rule with all backends at zero is rejected"),
    pytest.param("httproute-backend-weights", [http_route(rules=[[1_000_001, 0]])], ("'api-route'", "1000001"),
                 id="an httproute weight above one million is rejected"),
    pytest.param("nginx-canary-weight", [ingress(annotations={f"{NGINX}canary": "true", f"{NGINX}canary-weight": "30"})],
                 None, id="a canary ingress at weight 30 passes"),
    pytest.param("nginx-canary-weight", [ingress(annotations={f"{NGINX}canary": "true", f"{NGINX}canary-weight": "130"})],
                 ("'api-canary'", "'130'", "0..100"), id="a canary weight above the total is rejected"),
    pytest.param("autonamed-replaceable-resources",
                 [target_group("tg-blue", "arn:tg/b"), ecs_service(), deployment(),
                  OfflineResource("aws:lb/loadBalancer:LoadBalancer", "alb", {"namePrefix": "api-"})], None,
                 id="autonamed resources and namePrefix pass"),
    pytest.param("autonamed-replaceable-resources",
                 [OfflineResource("aws:lb/targetGroup:TargetGroup", "tg-blue", {"name": "tg-blue-8f3a2c1",
                                                                                "__defaults": ["name"]}),
                  deployment(metadata={"name": "api-green-x7k2m9q1",
                                       "annotations": {"pulumi.com/autonamed": "true"}})], None,
                 id="names the provider autonamed after Check pass"),
    pytest.param("autonamed-replaceable-resources",
                 [OfflineResource("aws:lb/targetGroup:TargetGroup", "tg-blue", {"name": "api-blue"})],
                 ("Target group 'tg-blue'", "fixed `name`"), id="a target group with a fixed name is rejected"),
    pytest.param("autonamed-replaceable-resources",
                 [OfflineResource("aws:lb/loadBalancer:LoadBalancer", "alb", {"name": "api"})],
                 ("Load balancer 'alb'", "fixed `name`"), id="a load balancer with a fixed name is rejected"),
    pytest.param("autonamed-replaceable-resources", [ecs_service("api-green", name="api-green")],
                 ("ECS service 'api-green'", "fixed `name`"), id="an ecs service with a fixed name is rejected"),
    pytest.param("autonamed-replaceable-resources", [deployment(metadata={"name": "api"})],
                 ("Deployment 'api-green'", "metadata.name"), id="a deployment with a fixed name is rejected"),
    pytest.param("route53-weighted-records", [record("api-blue")], None,
                 id="a weighted record with identifier and 60 s ttl passes"),
    pytest.param("route53-weighted-records", [record("api-blue", set_identifier=None)],
                 ("'api-blue'", "setIdentifier"), id="a weighted record without setIdentifier is rejected"),
    pytest.param("route53-weighted-records", [record("api-blue", ttl=300)], ("'api-blue'", "ttl 300 s", "60 s"),
                 id="a weighted record with a 300 s ttl is rejected"),
    pytest.param("route53-weighted-records", [record("api-blue", weight=256)], ("'api-blue'", "256", "0..255"),
                 id="a route53 weight above 255 is rejected"),
    pytest.param("route53-weighted-records",
                 [OfflineResource("aws:route53/record:Record", "plain", {"name": "x", "type": "A", "ttl": 3600})],
                 None, id="records without weighted routing are not judged"),
    pytest.param("route53-weighted-set-not-all-zero", [record("api-blue", 0), record("api-green", 10, set_identifier="g")],
                 None, id="a weighted set with one record at zero passes"),
    pytest.param("route53-weighted-set-not-all-zero",
                 [record("api-blue", 0), record("api-green", 0, set_identifier="g")],
                 ("'api-blue'", "api.example.com CNAME", "equally"),
                 id="a weighted set with every record at zero is rejected"),
    pytest.param("route53-weighted-set-not-all-zero",
                 [record("api-blue", 0), record("web-blue", 10, record_name="web.example.com")],
                 ("'api-blue'", "weight 0"), id="records of different names form different sets"),
]


@pytest.mark.parametrize(("policy", "resources", "expected"), CASES)
def test_traffic_policy(policy: str, resources: list, expected: tuple[str, ...] | None) -> None:
    assert_outcome(run(policy, resources), expected)


def test_a_tighter_deregistration_bound_comes_from_config() -> None:
    resources = [listener_rule(weights=[100], arns=["arn:tg/b"]), target_group("tg-blue", "arn:tg/b", delay=30)]
    found = run("alb-target-group-health", resources, {"alb-target-group-health": {"maxDeregistrationDelaySeconds": 10}})
    assert_outcome(found, ("'tg-blue'", "30 s", "10 s"))


def test_the_ttl_bound_comes_from_config() -> None:
    found = run("route53-weighted-records", [record("api-blue", ttl=300)], {"route53-weighted-records": {"maxTtlSeconds": 300}})
    assert_outcome(found, None)


def test_a_single_target_group_forward_is_joined_too() -> None:
    rule = OfflineResource("aws:lb/listener:Listener", "http", {"defaultActions": [
        {"type": "forward", "targetGroupArn": "arn:tg/b"}]})
    found = run("alb-target-group-health", [rule, target_group("tg-blue", "arn:tg/b", path=None)])
    assert_outcome(found, ("'tg-blue'", "forwarded by http", "explicit path"))
