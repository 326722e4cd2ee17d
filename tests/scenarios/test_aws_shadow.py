"""Shadow on AWS (issue 13): while the candidate shadows, the service's rule forwards the stable share to a
mirroring proxy (nginx on Fargate) that answers from stable and copies requests to the candidate; the run that ends
the phase forwards straight to the colors again, and the proxy's capacity goes only after that rule update.
What users get is read from the live world (`serving`), which follows the proxy to the color it answers from."""

from __future__ import annotations

import json

from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.scenarios.safety import capacity_where_traffic, share_of

RULE = "aws:lb/listenerRule:ListenerRule"
ECS = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
PROXY = f"{ECS}::web-mirror-svc"
MAIN_RULE = f"{RULE}::web-route-rule"


def shadow(then: str = "canary", **extra) -> dict:
    steps = {"steps": [10, 100]} if then == "canary" else {}
    return service("shadow", then=then, bakeMinutes=30, mirrorPercent=25, **steps, **extra)


def forwards(run) -> dict[str, int]:
    """The service rule's forward, by the target groups' `cutover:color` tag (the proxy's is `mirror`)."""
    color_of = {tg.outputs["arn"]: tg.inputs["tags"]["cutover:color"] for tg in run.result.of_type(TARGET_GROUP)}
    groups = run.result.resources[MAIN_RULE].inputs["actions"][0]["forward"]["targetGroups"]
    return {color_of[g["arn"]]: g["weight"] for g in groups}


def proxy_tasks(run) -> int:
    return run.result.resources[PROXY].inputs["desiredCount"]


def proxy_config(run) -> str:
    containers = json.loads(run.result.resources[f"{TASK}::web-mirror-task"].inputs["containerDefinitions"])
    return {e["name"]: e["value"] for e in containers[0]["environment"]}["CUTOVER_NGINX_CONF"]


def shadowing(then: str = "canary") -> tuple[Stack, object]:
    stack = Stack(aws_config({"web": shadow(then)}))
    first = stack.up()
    assert first.result.error is None, first.result.error
    assert forwards(first) == {"blue": 100, "green": 0, "mirror": 0} and proxy_tasks(first) == 0
    stack.set("cutover:services.web.version", "2")
    run = stack.up()
    assert run.result.error is None, run.result.error
    return stack, run


def test_the_shadow_phase_forwards_the_stable_share_through_a_proxy_that_has_capacity_and_weights_stay_on_stable():
    stack, run = shadowing()
    assert forwards(run) == {"blue": 0, "green": 0, "mirror": 100}, "stable's share goes through the proxy"
    assert proxy_tasks(run) == 2
    record = run.rollout("web")
    assert record["weights"] == {"blue": 100, "green": 0} and record["mirrorPercent"] == 25
    assert record["candidateVersion"] == "2"
    order = run.result.order
    assert order.index(PROXY) < order.index(MAIN_RULE), "the proxy is steady before the rule sends it traffic"
    assert order.index(f"{RULE}::web-mirror-via-blue") < order.index(PROXY), "its target group is attached first"
    assert MAIN_RULE in run.result.dependencies and any("web-mirror" in d for d in run.result.dependencies[MAIN_RULE])
    serving = stack.serving("web")
    assert share_of(serving, "1") == 100 and share_of(serving, "2") == 0
    assert capacity_where_traffic(serving) == []
    config = proxy_config(run)
    assert "25% 1;" in config and "GET 1;" in config and "HEAD 1;" in config and "POST" not in config
    assert "mirror_request_body off;" in config and "proxy_read_timeout 1s;" in config
    # The proxy answers from blue and copies to green, each through its own header rule on the shared ALB.
    assert 'X-Cutover-Mirror-Blue' in config.split("location = /_cutover_mirror")[0]
    assert 'X-Cutover-Mirror-Green' in config.split("location = /_cutover_mirror")[1]


def test_holding_in_the_shadow_phase_keeps_the_proxy_in_the_path_and_changes_nothing():
    stack, _ = shadowing()
    stack.advance(10)
    run = stack.up()
    assert forwards(run) == {"blue": 0, "green": 0, "mirror": 100} and proxy_tasks(run) == 2
    assert run.rollout("web")["step"] == 0 and run.rollout("web")["mirrorPercent"] == 25
    assert run.changed("web")["updated"] == () or MAIN_RULE not in run.changed("web")["updated"]


def test_after_the_bake_the_canary_step_forwards_straight_to_the_colors_and_the_proxy_scales_in_after_the_rule():
    stack, _ = shadowing()
    stack.advance(31)
    run = stack.up()
    assert run.result.error is None, run.result.error
    assert forwards(run) == {"blue": 90, "green": 10, "mirror": 0}
    assert run.rollout("web")["mirrorPercent"] == 0
    assert proxy_tasks(run) == 0
    assert MAIN_RULE in run.result.dependencies[PROXY], "the proxy's capacity goes only after the rule update"
    serving = stack.serving("web")
    assert (serving["blue"].weight, serving["green"].weight) == (90, 10)
    assert capacity_where_traffic(serving) == []
    stack.advance(31)
    run = stack.up()
    assert forwards(run) == {"blue": 0, "green": 100, "mirror": 0} and proxy_tasks(run) == 0
    assert run.rollout("web")["phase"] == "promoted" or run.rollout("web")["stableColor"] == "green"


def test_blue_green_keeps_mirroring_until_approval_and_the_switch_takes_the_proxy_out_of_the_path():
    stack, _ = shadowing("blue-green")
    stack.advance(31)
    run = stack.up()
    assert forwards(run) == {"blue": 0, "green": 0, "mirror": 100} and proxy_tasks(run) == 2
    assert run.rollout("web")["phase"] == "paused" and run.rollout("web")["mirrorPercent"] == 25
    stack.set("cutover:services.web.approve", "2")
    run = stack.up()
    assert forwards(run) == {"blue": 0, "green": 100, "mirror": 0}
    assert run.rollout("web")["mirrorPercent"] == 0
    assert proxy_tasks(run) == 0 and MAIN_RULE in run.result.dependencies[PROXY]
    serving = stack.serving("web")
    assert share_of(serving, "2") == 100 and capacity_where_traffic(serving) == []


def test_an_abort_in_the_shadow_phase_takes_the_proxy_out_of_the_path_in_one_run_and_leaves_stable_untouched():
    stack, shadow_run = shadowing()
    stable_before = {k: shadow_run.result.resources[k].inputs for k in (f"{ECS}::web-blue-svc", f"{TASK}::web-blue-task")}
    stack.set("cutover:services.web.abort", "2")
    run = stack.up()
    assert run.result.error is None, run.result.error
    assert forwards(run) == {"blue": 100, "green": 0, "mirror": 0}
    assert run.rollout("web")["phase"] == "aborted" and run.rollout("web")["mirrorPercent"] == 0
    assert proxy_tasks(run) == 0 and MAIN_RULE in run.result.dependencies[PROXY]
    assert {k: run.result.resources[k].inputs for k in stable_before} == stable_before, "stable untouched"
    serving = stack.serving("web")
    assert share_of(serving, "1") == 100 and capacity_where_traffic(serving) == []


def test_a_rollback_in_the_shadow_phase_also_ends_the_mirror_in_one_run():
    stack, _ = shadowing()
    stack.set("cutover:services.web.version", "1")
    run = stack.up()
    assert forwards(run) == {"blue": 100, "green": 0, "mirror": 0} and proxy_tasks(run) == 0
    assert share_of(stack.serving("web"), "1") == 100


def test_a_proxy_without_tasks_in_the_path_is_seen_as_serving_nothing():
    """The world follows the proxy: if its capacity were gone while the rule still forwards to it, users get nothing."""
    stack, run = shadowing()
    stack.world.scale("web-mirror-svc", 0)
    assert capacity_where_traffic(stack.serving("web")) == ["blue gets 100% with 0 tasks"]


def test_a_service_that_does_not_shadow_has_no_proxy():
    run = Stack(aws_config()).up()
    assert not [k for k in run.result.resources if "mirror" in k]


# --- the gate judges the candidate against stable over the same minutes (CloudWatch, in moto) ------

def moto_shadowing(moto):
    from datetime import datetime, timedelta, timezone

    from rehearsal.moto_backend import MotoBackedMocks

    analysis = {"maxErrorRate": 0.05, "minRequests": 100, "maxInconclusiveRuns": 5}
    config = aws_config({"web": shadow(analysis=analysis)})
    config["cutover:dns"]["zoneId"] = moto.create_zone("example.com")
    stack = Stack(config, start=datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3),
                  mocks_factory=lambda previous, region: MotoBackedMocks(previous, region, moto))
    assert stack.up().result.error is None
    stack.set("cutover:services.web.version", "2")
    deployed = stack.up()
    assert deployed.result.error is None, deployed.result.error
    return stack


def shadow_minute(stack, candidate_errors: int, stable_errors: int):
    from datetime import timedelta

    from rehearsal.traffic import inside_first_counted_minute, put_candidate_traffic

    at = inside_first_counted_minute(stack.now)
    stack.advance(31)
    put_candidate_traffic(stack.saved, "web", at=at, requests=1000, errors=candidate_errors)
    put_candidate_traffic(stack.saved, "web", at=at, requests=1000, errors=stable_errors, color="blue")
    return stack.up()


def test_on_aws_a_candidate_failing_where_stable_does_not_aborts_the_shadow_phase(aws):
    stack = moto_shadowing(aws)
    run = shadow_minute(stack, candidate_errors=200, stable_errors=10)
    record = run.rollout("web")
    assert record["phase"] == "aborted" and run.weights("web") == (100, 0)
    assert "error rate 20.0% > 5.0% (200 of 1000 requests) (stable 1.0% over the same window)" in record["reason"]
    assert record["mirrorPercent"] == 0


def test_on_aws_errors_on_both_colors_hold_instead_of_blaming_the_candidate(aws):
    stack = moto_shadowing(aws)
    run = shadow_minute(stack, candidate_errors=200, stable_errors=250)
    record = run.rollout("web")
    assert record["phase"] == "progressing" and record["gate"]["inconclusive"] is True
    assert record["gate"]["measurements"]["stableErrorRate"] == 0.25
