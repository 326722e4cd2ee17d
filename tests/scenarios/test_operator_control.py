"""Operator control: a one-run rollback after promotion, a manual full promotion, settings that name the
wrong version, and strategy edits mid-rollout — played through the whole program, read from the live world.

Each test plays one observation of issue 9 (canary [10, 50, 100], bake 0, router alb unless stated).
"""

from __future__ import annotations

from datetime import timedelta

from rehearsal.scenario import Stack
from rehearsal.traffic import set_alarm
from tests.builders import aws_config, service
from tests.scenarios.gated import gated_stack, step_with_traffic
from tests.scenarios.safety import ecs_of, rule_of, task_of, up_until, weights


def deployed(**strategy) -> Stack:
    stack = Stack(aws_config({"web": service(**strategy)}))
    assert stack.up().result.error is None
    return stack


def promoted(stack: Stack, version: str = "2") -> dict:
    """Roll `version` out to 100 % on green; the promoted run's record."""
    stack.set("cutover:services.web.version", version)
    up_until(stack, "web", (0, 100))
    return stack.runs[-1].rollout("web")


def reason(stack: Stack) -> str:
    return stack.runs[-1].rollout("web")["reason"]


def console(stack: Stack) -> str:
    return "\n".join(stack.runs[-1].result.logs)


# --- 1. rollback window ---------------------------------------------------------------------------

def test_a_promotion_exports_how_long_a_one_run_rollback_stays_possible():
    stack = deployed()
    record = promoted(stack)
    assert record["rollbackVersion"] == "1"
    assert record["rollbackUntil"] == record["scaleDownAt"] is not None
    stack.advance(31)
    stack.up()
    closed = stack.runs[-1].rollout("web")
    assert closed["rollbackUntil"] is None and stack.serving("web")["blue"].capacity == 0


def test_setting_the_version_back_while_the_old_color_is_warm_moves_all_traffic_back_in_one_run():
    stack = deployed()
    promoted(stack)
    stack.set("cutover:services.web.version", "1")
    stack.advance(5)
    run = stack.up()
    serving = stack.serving("web")
    assert weights(serving) == (100, 0) and serving["blue"].version == "1" and serving["blue"].capacity == 2
    assert run.changed("web")["updated"] == (rule_of("web"),), "one traffic write, no image or capacity change"
    record = run.rollout("web")
    assert record["phase"] == "stable" and record["stableVersion"] == "1" and record["lastShift"]["cause"] == "rollback"
    assert "rollback window" in record["reason"]
    assert serving["green"].capacity == 2, "the bad release stays warm for the scale-down delay"


def test_the_alarm_that_caught_the_bad_release_does_not_veto_the_rollback(aws):
    stack = gated_stack(aws)
    for _ in range(2):
        step_with_traffic(stack, 1000)
    assert stack.runs[-1].weights("web") == (0, 100)
    set_alarm("web-5xx", "ALARM")
    stack.set("cutover:services.web.version", "1")
    stack.advance(1)
    run = stack.up()
    assert run.weights("web") == (100, 0) and run.rollout("web")["stableVersion"] == "1"
    assert stack.serving("web")["blue"].version == "1"


def test_after_the_scale_down_a_revert_is_an_ordinary_rollout_that_a_firing_alarm_does_not_block(aws):
    stack = gated_stack(aws)
    for _ in range(2):
        step_with_traffic(stack, 1000)
    stack.advance(31)
    stack.up()
    assert stack.serving("web")["blue"].capacity == 0
    set_alarm("web-5xx", "ALARM")
    stack.set("cutover:services.web.version", "1")
    stack.advance(1)
    started = stack.up().rollout("web")
    assert started["candidateVersion"] == "1" and started["weights"] == {"blue": 0, "green": 100}
    assert "scaled down" in started["reason"] and "ordinary rollout" in started["reason"]
    stack.advance(1)
    first_shift = stack.up()
    assert first_shift.weights("web") == (10, 90), "the alarm is not consulted when going back to the last good version"


# --- 2. no silent no-ops --------------------------------------------------------------------------

def at_ten_percent(**strategy) -> Stack:
    stack = deployed(**strategy)
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (90, 10))
    return stack


def test_an_abort_naming_another_version_holds_and_says_what_to_write():
    stack = at_ten_percent()
    stack.set("cutover:services.web.abort", "3")
    for _ in range(2):
        stack.advance(5)
        stack.up()
        assert weights(stack.serving("web")) == (90, 10), "nothing advances while abort names the wrong version"
    assert "abort: 2" in reason(stack) and "3" in reason(stack)
    assert "abort: 2" in console(stack)
    stack.set("cutover:services.web.abort", "2")
    stack.up()
    assert weights(stack.serving("web")) == (100, 0)


def test_an_approve_naming_another_version_says_which_version_waits():
    stack = deployed(kind="blue-green")
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.set("cutover:services.web.approve", "2.0")
    stack.advance(1)
    stack.up()
    assert weights(stack.serving("web")) == (100, 0)
    assert "approve names 2.0" in reason(stack) and "approve: 2" in reason(stack)


def test_an_approve_naming_another_version_holds_a_canary_that_needs_no_approval():
    stack = at_ten_percent()
    stack.set("cutover:services.web.approve", "3")
    stack.advance(5)
    stack.up()
    assert weights(stack.serving("web")) == (90, 10) and "approve: 2" in reason(stack)


def test_a_stale_abort_of_a_version_deployed_nowhere_only_warns():
    stack = at_ten_percent()
    stack.set("cutover:services.web.abort", "2")
    stack.up()
    stack.set("cutover:services.web.version", "3")
    up_until(stack, "web", (90, 10))
    assert stack.serving("web")["green"].version == "3"
    stack.advance(1)
    stack.up()
    assert weights(stack.serving("web")) == (50, 50), "the old abort never blocks a later rollout"
    assert "abort names 2" in console(stack)


def test_an_abort_naming_the_stable_version_is_not_silently_ignored():
    stack = deployed()
    promoted(stack)
    stack.set("cutover:services.web.abort", "2")
    stack.advance(1)
    stack.up()
    assert "2 is already stable" in reason(stack) and "version: 1" in reason(stack)


def test_promote_and_abort_naming_the_same_version_is_a_config_error():
    stack = at_ten_percent()
    stack.set("cutover:services.web.abort", "2")
    stack.set("cutover:services.web.promote", "2")
    run = stack.up()
    assert "cutover:services.web.promote: promote and abort both name 2" in run.result.error
    assert run.result.resources == {} and weights(stack.serving("web")) == (90, 10)


# --- 3. manual full promotion ---------------------------------------------------------------------

def test_promote_moves_all_traffic_past_an_inconclusive_gate(aws):
    stack = gated_stack(aws)
    for _ in range(3):
        stack.advance(5)
        stack.up()  # no traffic: inconclusive, then paused for a human
    assert stack.runs[-1].rollout("web")["phase"] == "paused"
    stack.set("cutover:services.web.promote", "2")
    stack.advance(1)
    run = stack.up()
    record = run.rollout("web")
    assert run.weights("web") == (0, 100) and record["stableVersion"] == "2"
    assert record["lastShift"]["cause"] == "promote"
    tags = run.result.resources[rule_of("web")].inputs["tags"]
    assert tags["cutover:cause"] == "promote"
    assert "promote" in console(stack)


def test_promote_skips_the_remaining_steps_and_the_bake_time():
    stack = at_ten_percent(bakeMinutes=60)
    stack.set("cutover:services.web.promote", "2")
    stack.advance(1)
    stack.up()
    assert weights(stack.serving("web")) == (0, 100)


def test_promote_never_passes_a_firing_alarm(aws):
    stack = gated_stack(aws)
    set_alarm("web-5xx", "ALARM")
    stack.set("cutover:services.web.promote", "2")
    stack.advance(1)
    run = stack.up()
    assert run.weights("web") == (100, 0) and run.rollout("web")["phase"] == "aborted"


def test_promote_of_a_version_not_yet_deployed_deploys_it_first_and_promotes_once_verified():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    stack.set("cutover:services.web.promote", "2")
    stack.up()
    assert weights(stack.serving("web")) == (100, 0) and stack.serving("web")["green"].version == "2"
    stack.advance(1)
    stack.up()
    assert weights(stack.serving("web")) == (0, 100)


# --- 4. strategy edits mid-rollout ----------------------------------------------------------------

def test_a_switch_to_blue_green_mid_canary_pauses_at_the_current_weights_for_approval():
    stack = at_ten_percent()
    stack.set("cutover:services.web.strategy", {"kind": "blue-green", "bakeMinutes": 0, "scaleDownDelayMinutes": 30})
    for _ in range(2):
        stack.advance(10)
        stack.up()
        assert weights(stack.serving("web")) == (90, 10)
    assert "approve: 2" in reason(stack)
    stack.set("cutover:services.web.approve", "2")
    stack.up()
    assert weights(stack.serving("web")) == (0, 100)


def test_edited_steps_continue_from_the_first_step_above_the_current_share():
    stack = at_ten_percent()
    stack.set("cutover:services.web.strategy.steps", [10, 20, 30, 100])
    stack.advance(1)
    stack.up()
    assert weights(stack.serving("web")) == (80, 20)


def test_a_switch_to_rolling_mid_canary_returns_traffic_before_replacing_anything():
    stack = at_ten_percent()
    stack.set("cutover:services.web.strategy", {"kind": "rolling", "bakeMinutes": 0, "scaleDownDelayMinutes": 30})
    stack.advance(1)
    run = stack.up()
    assert weights(stack.serving("web")) == (100, 0) and stack.serving("web")["blue"].version == "1"
    assert task_of("web", "blue") not in run.changed("web")["updated"]
    stack.advance(1)
    stack.up()
    assert stack.serving("web")["blue"].version == "2"
    assert ecs_of("web", "blue") not in stack.runs[-1].changed("web")["replaced"]


def test_rollback_until_is_the_scale_down_time(aws):
    stack = gated_stack(aws)
    for _ in range(2):
        step_with_traffic(stack, 1000)
    record = stack.runs[-1].rollout("web")
    assert record["rollbackUntil"] == (stack.now + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
