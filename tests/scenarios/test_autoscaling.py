"""Autoscaling on AWS: Application Auto Scaling owns each color's task count, the program its bounds.

Played through the whole program; the harness's world keeps what the engine would (an input registered
with `ignore_changes` is never sent again) and what Application Auto Scaling does (a color's count is
kept within its target's bounds), and `world.scale` plays the autoscaler scaling a color out.
"""

from __future__ import annotations

import pytest

from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.scenarios.safety import capacity_where_traffic, ecs_of, up_until, weights

SCALING = {"minReplicas": 2, "maxReplicas": 10, "targetCpuPercent": 60}
TARGET = "aws:appautoscaling/target:Target"
POLICY = "aws:appautoscaling/policy:Policy"


def autoscaled(router: str = "alb", **scaling) -> Stack:
    stack = Stack(aws_config({"web": {**service(router=router), "autoscaling": {**SCALING, **scaling}}}))
    assert stack.up().result.error is None
    return stack


def bounds(stack: Stack) -> dict[str, tuple[int, int]]:
    resources = stack.runs[-1].result.resources
    return {c: (int(resources[f"{TARGET}::web-{c}-scaling"].inputs["minCapacity"]),
                int(resources[f"{TARGET}::web-{c}-scaling"].inputs["maxCapacity"])) for c in ("blue", "green")}


def test_each_color_gets_a_scalable_target_and_a_cpu_policy_and_the_count_is_left_to_them():
    stack = autoscaled()
    run = stack.runs[-1].result
    for color in ("blue", "green"):
        target = run.resources[f"{TARGET}::web-{color}-scaling"].inputs
        assert target["serviceNamespace"] == "ecs" and target["scalableDimension"] == "ecs:service:DesiredCount"
        assert target["resourceId"].startswith("service/") and target["resourceId"].endswith(
            run.resources[ecs_of("web", color)].outputs["name"])
        policy = run.resources[f"{POLICY}::web-{color}-scale-on-cpu"].inputs["targetTrackingScalingPolicyConfiguration"]
        assert policy["targetValue"] == 60
        assert policy["predefinedMetricSpecification"]["predefinedMetricType"] == "ECSServiceAverageCPUUtilization"
        assert run.ignore_changes[ecs_of("web", color)] == {"desiredCount"}
    assert bounds(stack) == {"blue": (2, 10), "green": (0, 0)}, "the idle color of a first deploy is scaled to zero"


def test_the_program_never_resets_a_count_the_autoscaler_chose_and_sizes_each_step_for_its_share():
    stack = autoscaled()
    stack.world.scale("web-blue-svc", 8)  # busy: the autoscaler scaled blue out
    stack.set("cutover:services.web.version", "2")
    seen = []
    for _ in range(4):
        stack.advance(1)
        assert stack.up().result.error is None
        serving = stack.serving("web")
        assert capacity_where_traffic(serving) == []
        seen.append((weights(serving), bounds(stack), serving["blue"].capacity, serving["green"].capacity))
    assert seen == [
        ((100, 0), {"blue": (2, 10), "green": (2, 10)}, 8, 2),   # green deployed at 0 %, raised to minReplicas
        ((90, 10), {"blue": (2, 10), "green": (2, 10)}, 8, 2),   # 10 % of blue's 8 tasks is 1: minReplicas wins
        ((50, 50), {"blue": (2, 10), "green": (4, 10)}, 8, 4),   # half of blue's 8
        ((0, 100), {"blue": (2, 10), "green": (8, 10)}, 8, 8),   # promoted: at least what blue ran
    ]


def test_a_scaled_down_color_gets_zero_bounds_and_comes_back_for_the_next_version():
    stack = autoscaled()
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (0, 100))
    stack.advance(31)
    stack.up()
    assert bounds(stack)["blue"] == (0, 0) and stack.serving("web")["blue"].capacity == 0
    stack.set("cutover:services.web.version", "3")
    stack.advance(1)
    stack.up()
    assert bounds(stack)["blue"] == (2, 10) and stack.serving("web")["blue"].capacity == 2
    up_until(stack, "web", (10, 90))
    assert capacity_where_traffic(stack.serving("web")) == []


@pytest.mark.parametrize("router", ["alb", "route53"])
def test_requests_per_target_tracks_the_colors_own_target_group(router):
    stack = autoscaled(router=router, targetRequestsPerTarget=500)
    run = stack.runs[-1].result
    spec = run.resources[f"{POLICY}::web-green-scale-on-requests"].inputs["targetTrackingScalingPolicyConfiguration"]
    label = spec["predefinedMetricSpecification"]["resourceLabel"]
    assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "ALBRequestCountPerTarget"
    assert label.startswith("app/") and "/targetgroup/" in label
    assert label.endswith(run.resources["aws:lb/targetGroup:TargetGroup::web-green-tg"].outputs["arnSuffix"])


def test_without_autoscaling_the_program_still_owns_the_count():
    stack = Stack(aws_config({"web": service()}))
    run = stack.up().result
    assert not any(key.startswith(TARGET) for key in run.resources) and run.ignore_changes == {}
