"""Safety under partial failure: a failed update keeps what resolved, and the next run starts from there.

Each test plays the sequence that found a defect (canary [10, 50, 100], bake 0, router alb unless
stated), with the provider rejecting one resource where the sequence says so, and checks what users
are served after every run — from the live world, not from the program's own record.
"""

from __future__ import annotations

import pytest

from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.scenarios.safety import (
    capacity_where_traffic,
    ecs_of,
    images_changed_under_traffic,
    rule_of,
    share_of,
    task_of,
    up_until,
    weights,
)


def deployed(services: dict) -> Stack:
    stack = Stack(aws_config(services))
    assert stack.up().result.error is None
    return stack


# --- 1. a color loses capacity only after the router took its traffic away ---------------------

def test_red_black_with_the_rule_failing_never_leaves_traffic_without_tasks():
    stack = deployed({"web": service("red-black", scaleDownDelayMinutes=0)})
    stack.set("cutover:services.web.version", "2")
    for _ in range(3):
        stack.advance(1)
        stack.up(fail=[rule_of("web")])
        assert capacity_where_traffic(stack.serving("web")) == []
    assert weights(stack.serving("web")) == (100, 0), "the failed rule kept all traffic on blue"
    assert stack.serving("web")["blue"].version == "1"


@pytest.mark.parametrize("setting", [("version", "2"), ("abort", "2")], ids=["last canary step", "abort"])
def test_with_no_scale_down_delay_a_failed_rule_keeps_capacity_where_traffic_is(setting):
    stack = deployed({"web": service(scaleDownDelayMinutes=0)})
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (50, 50))
    key, value = setting
    stack.set(f"cutover:services.web.{key}", value)
    stack.advance(1)
    stack.up(fail=[rule_of("web")])
    assert weights(stack.serving("web")) == (50, 50)
    assert capacity_where_traffic(stack.serving("web")) == []


def test_with_no_scale_down_delay_the_old_color_is_scaled_down_after_the_shift_in_the_same_run():
    stack = deployed({"web": service(scaleDownDelayMinutes=0)})
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (0, 100))
    assert stack.serving("web")["blue"].capacity == 0
    run = stack.runs[-1]
    assert rule_of("web") in run.result.dependencies[ecs_of("web", "blue")], "blue's scale-down waits for the rule"


# --- 2. a color's image changes only while it carries no traffic ---------------------------------

def test_a_superseding_version_never_lands_on_a_color_carrying_traffic_even_when_the_rule_fails():
    stack = deployed({"web": service()})
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (50, 50))
    stack.set("cutover:services.web.version", "3")
    before = stack.serving("web")
    stack.advance(1)
    stack.up(fail=[rule_of("web")])
    after = stack.serving("web")
    assert images_changed_under_traffic(before, after) == []
    assert share_of(after, "3") == 0


def test_a_superseding_version_returns_traffic_to_stable_before_the_candidate_is_updated():
    stack = deployed({"web": service()})
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (50, 50))
    stack.set("cutover:services.web.version", "3")
    for _ in range(5):
        before = stack.serving("web")
        stack.advance(1)
        assert stack.up().result.error is None
        after = stack.serving("web")
        assert images_changed_under_traffic(before, after) == []
        assert capacity_where_traffic(after) == []
    assert weights(stack.serving("web")) == (0, 100) and stack.serving("web")["green"].version == "3"


# --- 3. the exported record follows what was applied, versions and capacity too -------------------

def test_a_candidate_image_that_was_not_applied_is_not_recorded():
    stack = deployed({"web": service(steps=[37, 100])})
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (63, 37))
    stack.set("cutover:services.web.version", "3")
    for _ in range(3):
        stack.advance(1)
        # The provider reports the new task definition as done, but green keeps running 2.
        run = stack.up(not_taken=[task_of("web", "green")])
        record = run.rollout("web")
        assert record["versions"]["green"] != "3", "green still runs 2: the record must say so"
        assert share_of(stack.serving("web"), "3") == 0


def test_a_rolling_update_that_was_not_applied_does_not_become_stable():
    stack = deployed({"web": service("rolling")})
    stack.set("cutover:services.web.version", "2")
    stack.advance(1)
    record = stack.up(not_taken=[task_of("web", "blue")]).rollout("web")
    assert record["stableVersion"] == "1" and record["versions"]["blue"] == "1"


# --- 4. one service's failure never changes what another's next run starts from ----------------

def test_a_failure_in_one_service_does_not_corrupt_another_services_next_run():
    stack = deployed({"web": service(), "api": service()})
    stack.set("cutover:services.web.version", "2")
    stack.set("cutover:services.api.version", "2")
    up_until(stack, "api", (50, 50))
    assert weights(stack.serving("web")) == (50, 50)
    stack.advance(1)
    stack.up(fail=[rule_of("web")])  # api promotes to green; web's rule fails
    assert weights(stack.serving("api")) == (0, 100)
    stack.set("cutover:services.api.version", "3")
    for _ in range(4):
        before = stack.serving("api")
        stack.advance(1)
        assert stack.up().result.error is None
        after = stack.serving("api")
        assert images_changed_under_traffic(before, after) == []
        assert capacity_where_traffic(after) == []


# --- 5. a damaged record that still parses is checked before it is trusted -------------------------

def _mid_canary(**strategy) -> Stack:
    stack = deployed({"web": service(**strategy)})
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (90, 10))
    return stack


def _next_run_keeps_traffic(stack: Stack) -> None:
    before = stack.serving("web")
    stack.advance(1)
    stack.up()
    after = stack.serving("web")
    assert weights(after) == weights(before), f"traffic moved from {weights(before)} to {weights(after)}"
    assert capacity_where_traffic(after) == []
    assert images_changed_under_traffic(before, after) == []


def test_a_step_beyond_the_plan_is_not_trusted():
    stack = _mid_canary()
    stack.damage("web", step=99)
    _next_run_keeps_traffic(stack)


def test_a_stable_color_swapped_by_hand_is_not_trusted():
    stack = _mid_canary()
    stack.damage("web", stableColor="green", candidateColor="blue")
    _next_run_keeps_traffic(stack)


def test_an_unconfigured_version_in_the_record_is_never_deployed():
    stack = _mid_canary()
    stack.damage("web", versions={"blue": "7", "green": "2"})
    _next_run_keeps_traffic(stack)
    assert "7" not in {s.version for s in stack.serving("web").values()}


def test_an_unconfigured_stable_version_is_never_deployed_even_by_a_later_recovery():
    stack = _mid_canary()
    stack.damage("web", stableVersion="7")
    stack.advance(1)
    stack.up()
    stack.damage("web", weights={"blue": "ninety"})  # a later damage sends the program into recovery
    for _ in range(3):
        stack.advance(1)
        stack.up()
        assert "7" not in {s.version for s in stack.serving("web").values()}
        assert capacity_where_traffic(stack.serving("web")) == []


def test_a_step_start_moved_into_the_past_does_not_skip_the_bake_time():
    stack = _mid_canary(bakeMinutes=30)
    stack.damage("web", stepStartedAt="2020-01-01T00:00:00Z")
    _next_run_keeps_traffic(stack)


def test_swapped_weights_on_a_paused_blue_green_do_not_promote_without_approval():
    stack = deployed({"web": service("blue-green")})
    stack.set("cutover:services.web.version", "2")
    stack.advance(1)
    stack.up()
    assert stack.runs[-1].rollout("web")["phase"] == "paused"
    stack.damage("web", weights={"blue": 0, "green": 100})
    stack.advance(1)
    stack.up()
    assert share_of(stack.serving("web"), "2") == 0, "2 was never approved"


@pytest.mark.parametrize("kind", ["canary", "blue-green"])
def test_missing_rollouts_on_a_live_stack_is_not_a_first_deploy(kind):
    stack = deployed({"web": service(kind, scaleDownDelayMinutes=0)})
    stack.set("cutover:services.web.version", "2")
    if kind == "canary":
        up_until(stack, "web", (0, 100))  # green serves 2; blue is scaled to zero
        stack.advance(5)
        stack.up()
        stack.set("cutover:services.web.abort", "3")
    else:
        stack.advance(1)
        stack.up()  # 2 waits for approval at 0 %
    stack.drop_outputs("rollouts")
    before = stack.serving("web")
    stack.advance(1)
    stack.up()
    after = stack.serving("web")
    assert weights(after) == weights(before)
    assert capacity_where_traffic(after) == []
    if kind == "blue-green":
        assert share_of(after, "2") == 0, "2 was never approved"
