"""Every decision of the state machine, one story each: what the run does to traffic, phase and replicas,
the words the operator reads, and what the next run does.

Each story starts from a state a real sequence of runs produced and passes every run through the stack
output (`to_output` then `from_output`), as `pulumi up` does, so a decision that only holds inside one
process cannot pass here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest

from components.gates.model import GateResult, GateVerdict
from components.rollout.codec import from_output, problems, to_output
from components.rollout.decision import decision_record, read_decision_record
from components.rollout.machine import next_state
from components.rollout.model import Color, Completion, Phase, RolloutSpec, RolloutState, Shift, StepPlan, Weights, plan_for

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
DELAY = timedelta(minutes=30)
BAKE_ONLY = GateResult.bake_only()
PASSED = GateResult(GateVerdict.ADVANCE, "passed: error rate 0.2% <= 5.0%, 800 requests", measurements={"requests": 800})
INCONCLUSIVE = GateResult(GateVerdict.HOLD, "not enough evidence: 37 requests < 100", inconclusive=True)
DRIFT = GateResult(GateVerdict.HOLD, "live weights 70/30 differ from recorded 90/10", inconclusive=False)
FAILING = GateResult(GateVerdict.ABORT, "error rate 20.0% > 5.0%")
UNVERIFIED = GateResult(GateVerdict.HOLD, "the deployment of 2 has not finished", inconclusive=True, source="workload")

BLUE_ONLY, GREEN_ONLY = Weights(100, 0), Weights(0, 100)


@dataclass
class Rollout:
    """One service across runs: each `run` edits the config, lets minutes pass and runs `pulumi up` once."""

    spec: RolloutSpec
    strategy: str
    now: datetime = T0
    state: RolloutState | None = None

    def run(self, *, after: float = 1, gate: GateResult = BAKE_ONLY, hold: str | None = None,
            warm_problem: str | None = None, strategy: str | None = None, **config: object) -> RolloutState:
        self.now += timedelta(minutes=after)
        self.spec = replace(self.spec, **config)
        self.strategy = strategy or self.strategy
        previous = None if self.state is None else from_output(to_output(self.state))
        self.state = next_state(previous, self.spec, gate, self.now, self.strategy, hold=hold, warm_problem=warm_problem)
        assert problems(self.state, self.now) == [], "every state the machine writes is one the next run trusts"
        return self.state


def canary(steps=(10, 50, 100), **changes) -> Rollout:
    """Version 1 deployed on blue; the canary moves to `steps` once `version` changes."""
    rollout = Rollout(replace(RolloutSpec("1", 2, plan_for("canary", list(steps)), scale_down_delay=DELAY), **changes), "canary")
    rollout.run(after=0)
    return rollout


def at_ten_percent(**changes) -> Rollout:
    """Canary of 2 carrying 10 % of traffic, its step started one minute ago."""
    rollout = canary(**changes)
    rollout.run(version="2")
    assert rollout.run().weights == Weights(90, 10)
    return rollout


def deployed_at_zero(**changes) -> Rollout:
    """Canary of 2 deployed on green, carrying nothing yet."""
    rollout = canary(**changes)
    assert rollout.run(version="2").step == 0
    return rollout


def promoted_to_green(**changes) -> Rollout:
    """2 promoted on green (blue still runs 1, warm for 30 minutes) at T0 + 4 min."""
    rollout = at_ten_percent(**changes)
    rollout.run()
    assert rollout.run().phase is Phase.STABLE and rollout.state.stable_color is Color.GREEN
    return rollout


def weights(state: RolloutState) -> tuple[int, int]:
    return state.weights.blue, state.weights.green


# --- setting version back to the stable one while a candidate is in flight ------------------------------


def test_setting_version_back_to_stable_returns_all_traffic_at_once_and_keeps_the_candidate_warm():
    rollout = at_ten_percent()
    back = rollout.run(version="1")
    assert (back.phase, weights(back), back.candidate_version, back.step) == (Phase.STABLE, (100, 0), None, None)
    assert back.reason == "version set back to stable: rolled back"
    assert (back.last_shift.before, back.last_shift.after, back.last_shift.cause) == (Weights(90, 10), BLUE_ONLY, "rollback")
    assert back.versions[Color.GREEN] == "2" and back.replicas[Color.GREEN] == 2, "the candidate keeps its tasks, image unchanged"
    assert back.scale_down_at == rollout.now + DELAY and back.step_started_at == rollout.now
    assert rollout.run(after=29).replicas[Color.GREEN] == 2
    cold = rollout.run(after=1)
    assert cold.replicas[Color.GREEN] == 0 and "green scaled to zero after the scale-down delay" in cold.reason


def test_setting_version_back_while_green_is_stable_returns_traffic_to_green():
    rollout = promoted_to_green()
    rollout.run(after=40, version="3")
    assert weights(rollout.run()) == (10, 90)
    back = rollout.run(version="2")
    assert weights(back) == (0, 100) and back.stable_color is Color.GREEN and back.stable_version == "2"


def test_the_record_of_a_way_back_names_the_color_that_lost_traffic():
    rollout = at_ten_percent()
    record = decision_record("web", rollout.run(version="1"))
    assert (record["cutover:cause"], record["cutover:candidate-color"], record["cutover:weights"]) == ("rollback", "green", "100/0")


# --- abort by the config setting, and lifting it ----------------------------------------------------------


def test_abort_returns_all_traffic_in_one_run_and_keeps_the_candidate_warm_for_the_delay():
    rollout = at_ten_percent()
    aborted = rollout.run(abort="2")
    assert (aborted.phase, aborted.aborted_by, weights(aborted)) == (Phase.ABORTED, "config", (100, 0))
    assert aborted.candidate_version == "2" and aborted.step is None and aborted.reason == "aborted by the abort setting"
    assert aborted.last_shift == Shift(Weights(90, 10), BLUE_ONLY, "aborted", "none")
    assert decision_record("web", aborted)["cutover:candidate-color"] == "green"
    assert aborted.step_started_at == rollout.now and aborted.scale_down_at == rollout.now + DELAY
    assert aborted.replicas == {Color.BLUE: 2, Color.GREEN: 2}
    assert rollout.run(after=29).replicas[Color.GREEN] == 2
    assert rollout.run(after=1).replicas[Color.GREEN] == 0


def test_an_abort_left_in_place_keeps_the_rollout_aborted_and_says_how_to_retry():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    again = rollout.run()
    assert again.phase is Phase.ABORTED and weights(again) == (100, 0)
    assert again.reason == "aborted: remove abort to retry 2" and again.aborted_by == "config"


def test_lifting_the_abort_restarts_the_same_version_from_its_first_step():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    restarted = rollout.run(abort=None)
    assert (restarted.phase, restarted.step, weights(restarted), restarted.aborted_by) == (Phase.PROGRESSING, 0, (100, 0), None)
    assert restarted.reason == "abort lifted: 2 restarts from the first step; first shift next run"
    assert weights(rollout.run()) == (90, 10)


@pytest.mark.parametrize("gate, hold, why", [
    pytest.param(FAILING, None, "error rate 20.0% > 5.0%", id="a failing gate keeps a lifted abort from restarting"),
    pytest.param(BAKE_ONLY, "the stack output was repaired", "the stack output was repaired",
                 id="a run that may not move forward keeps a lifted abort from restarting"),
])
def test_a_lifted_abort_restarts_only_when_allowed(gate, hold, why):
    rollout = at_ten_percent()
    rollout.run(abort="2")
    kept = rollout.run(abort=None, gate=gate, hold=hold)
    assert kept.phase is Phase.ABORTED and kept.candidate_version == "2" and weights(kept) == (100, 0)
    assert kept.reason == f"abort lifted but 2 not restarted: {why}"
    assert rollout.run().step == 0, "restarts once allowed"


def test_a_new_version_after_an_abort_does_not_start_in_a_run_that_may_not_move_forward():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    held = rollout.run(version="3", abort=None, hold="the stack output was repaired")
    assert held.candidate_version == "2" and held.versions[Color.GREEN] == "2"
    assert held.reason == "rollout of 3 not started: the stack output was repaired"
    started = rollout.run()
    assert started.candidate_version == "3" and started.step == 0 and started.versions[Color.GREEN] == "3"


# --- a gate abort -----------------------------------------------------------------------------------------


def test_a_gate_abort_says_why_and_how_to_retry_once():
    rollout = at_ten_percent()
    aborted = rollout.run(gate=FAILING)
    assert (aborted.phase, aborted.aborted_by, weights(aborted)) == (Phase.ABORTED, "gate", (100, 0))
    assert aborted.reason == "gate aborted: error rate 20.0% > 5.0%"
    hint = "to retry 2, set abort: 2 and remove it in a later run"
    assert rollout.run().reason == f"gate aborted: error rate 20.0% > 5.0%; {hint}"
    assert rollout.run().reason.count(hint) == 1, "the hint is said once, not once per run"


# --- a run that may not move forward ----------------------------------------------------------------------


def test_a_hold_keeps_traffic_step_and_bake_clock_and_says_why():
    rollout = at_ten_percent()
    started = rollout.state.step_started_at
    held = rollout.run(after=10, hold="the stack output was repaired")
    assert (weights(held), held.step, held.step_started_at) == ((90, 10), 1, started)
    assert held.reason == "holding at 90/10: the stack output was repaired"
    assert weights(rollout.run()) == (50, 50)


# --- a newer version while a candidate is in flight -------------------------------------------------------


def test_a_newer_version_over_a_candidate_carrying_traffic_returns_the_traffic_first():
    rollout = at_ten_percent()
    back = rollout.run(version="3")
    assert (back.phase, weights(back), back.candidate_version, back.versions[Color.GREEN]) == (Phase.STABLE, (100, 0), None, "2")
    assert back.reason == "2 superseded by 3: traffic back on blue first; 3 is deployed next run"
    assert back.last_shift.cause == "rollback" and back.scale_down_at == rollout.now + DELAY
    deployed = rollout.run()
    assert (deployed.candidate_version, deployed.versions[Color.GREEN], deployed.step, weights(deployed)) == ("3", "3", 0, (100, 0))


def test_a_candidate_carrying_one_percent_carries_traffic():
    rollout = canary(steps=(1, 2, 100))
    rollout.run(version="2")
    assert weights(rollout.run()) == (99, 1)
    back = rollout.run(version="3")
    assert weights(back) == (100, 0) and back.versions[Color.GREEN] == "2", "no image changes under live traffic"


def test_a_newer_version_over_a_candidate_at_zero_percent_replaces_it_in_the_same_run():
    rollout = deployed_at_zero()
    replaced = rollout.run(version="3")
    assert (replaced.phase, replaced.candidate_version, replaced.versions[Color.GREEN], replaced.step) == (Phase.PROGRESSING, "3", "3", 0)
    assert replaced.reason == "2 superseded by 3: 3 deployed at 0%; first shift next run"
    assert replaced.step_started_at == rollout.now


@pytest.mark.parametrize("config, gate, hold, why", [
    pytest.param({"abort": "3"}, BAKE_ONLY, None, "abort names 3", id="a newer version named by abort is not started"),
    pytest.param({}, FAILING, None, "error rate 20.0% > 5.0%", id="a newer version is not started while the gate aborts"),
    pytest.param({}, BAKE_ONLY, "the stack output was repaired", "the stack output was repaired",
                 id="a newer version is not started in a run that may not move forward"),
])
def test_a_newer_version_that_may_not_start_leaves_stable_alone(config, gate, hold, why):
    rollout = deployed_at_zero()
    state = rollout.run(version="3", gate=gate, hold=hold, **config)
    assert (state.phase, state.candidate_version, weights(state), state.versions[Color.GREEN]) == (Phase.STABLE, None, (100, 0), "2")
    assert state.reason == f"2 superseded; 3 not started: {why}"
    assert state.scale_down_at == rollout.now + DELAY and state.replicas[Color.GREEN] == 2


# --- the one-run rollback to the last known good version --------------------------------------------------


def test_a_revert_inside_the_window_moves_everything_back_in_one_run():
    rollout = promoted_to_green()
    promoted_at = rollout.now
    rollout.run(after=3, gate=INCONCLUSIVE)
    back = rollout.run(after=1, version="1", gate=FAILING)
    assert (back.phase, back.stable_color, back.stable_version, weights(back)) == (Phase.STABLE, Color.BLUE, "1", (100, 0))
    assert (back.candidate_version, back.step, back.aborted_by, back.rollback_version) == (None, None, None, None)
    assert back.step_started_at == rollout.now and back.inconclusive_runs == 0
    assert back.reason == (f"rolled back to 1 on blue in one run (rollback window open until "
                           f"{(promoted_at + DELAY):%H:%M} UTC); 2 stays warm on green for the scale-down delay")
    assert back.last_shift == Shift(GREEN_ONLY, BLUE_ONLY, "rollback", "none"), "a way back is never credited to a gate"
    assert back.scale_down_at == rollout.now + DELAY and back.replicas == {Color.BLUE: 2, Color.GREEN: 2}
    assert rollout.run(after=30).replicas[Color.GREEN] == 0


def test_a_revert_onto_green_moves_everything_to_green():
    rollout = promoted_to_green()
    rollout.run(after=40, version="3")
    for _ in range(3):
        rollout.run()
    assert (rollout.state.stable_color, rollout.state.stable_version, rollout.state.rollback_version) == (Color.BLUE, "3", "2")
    back = rollout.run(version="2")
    assert (back.stable_color, back.stable_version, weights(back)) == (Color.GREEN, "2", (0, 100))


def test_the_rollback_window_closes_at_the_scale_down_time_exactly():
    rollout = promoted_to_green()
    until = rollout.state.rollback_until
    late = rollout.run(after=(until - rollout.now).total_seconds() / 60, version="1")
    assert weights(late) == (0, 100) and late.candidate_version == "1" and late.step == 0
    assert late.reason.startswith(f"reverting to 1: the rollback window closed at {until:%H:%M} UTC, so this is an ordinary rollout; ")
    assert late.step_started_at == rollout.now


def test_a_revert_after_the_old_color_was_scaled_down_is_an_ordinary_rollout():
    rollout = promoted_to_green()
    rollout.run(after=31)
    late = rollout.run(version="1")
    assert late.reason.startswith("reverting to 1: the rollback window closed (blue was scaled down), so this is an ordinary rollout")
    assert late.candidate_version == "1" and late.versions[Color.BLUE] == "1" and weights(late) == (0, 100)


def test_an_ordinary_revert_waits_in_a_run_that_may_not_move_forward():
    rollout = promoted_to_green()
    rollout.run(after=31)
    held = rollout.run(version="1", hold="the stack output was repaired")
    assert held.candidate_version is None and weights(held) == (0, 100)
    assert held.reason.endswith("rollout of 1 not started: the stack output was repaired")


# --- promote by hand --------------------------------------------------------------------------------------


def test_promote_waits_on_an_unverified_workload_and_says_so():
    rollout = at_ten_percent()
    waits = rollout.run(promote="2", gate=UNVERIFIED)
    assert weights(waits) == (90, 10) and waits.reason == "promote: 2 waits: the deployment of 2 has not finished"


def test_promote_past_an_inconclusive_gate_records_who_carried_the_step():
    rollout = at_ten_percent(bake=timedelta(hours=1))
    promoted = rollout.run(promote="2", gate=INCONCLUSIVE)
    assert (promoted.phase, weights(promoted), promoted.stable_version) == (Phase.STABLE, (0, 100), "2")
    assert promoted.reason.endswith("by the promote setting (gate: not enough evidence: 37 requests < 100); remove promote")
    assert promoted.last_shift == Shift(Weights(90, 10), GREEN_ONLY, "promote", "hold"), "the router record shows the gate it overrode"
    assert promoted.completed[-1].verdicts == ("none", "promote"), "a promotion by hand is not analysis"


def test_promote_named_at_the_start_says_it_takes_the_candidate_to_100_once_verified():
    rollout = canary()
    deployed = rollout.run(version="2", promote="2")
    assert deployed.step == 0 and deployed.reason.endswith("; promote takes it to 100% once it is verified")
    assert weights(rollout.run()) == (0, 100)


# --- advancing, baking, holding and pausing ---------------------------------------------------------------


def test_the_bake_time_left_is_rounded_up_to_whole_minutes():
    rollout = at_ten_percent(bake=timedelta(minutes=5))
    baking = rollout.run(after=1.5)
    assert weights(baking) == (90, 10) and baking.reason == "baking step 1: about 4 min left", "3.5 minutes left"


def test_a_passing_gate_puts_its_evidence_in_the_reason_and_on_the_record():
    rollout = at_ten_percent()
    moved = rollout.run(gate=PASSED)
    assert moved.reason == "advanced to step 2 (passed: error rate 0.2% <= 5.0%, 800 requests)"
    assert (moved.last_shift.verdict, moved.last_shift.step, moved.last_shift.cause) == ("advance", 2, "advance")
    assert moved.verdicts == ("none", "advance")
    promoted = rollout.run(gate=PASSED)
    assert promoted.completed[-1] == Completion("2", rollout.now, "canary", ("none", "advance", "advance"))


def test_a_gate_without_measurements_advances_without_evidence_words():
    rollout = at_ten_percent()
    assert rollout.run().reason == "advanced to step 2"


@pytest.mark.parametrize("limit, holds_before_pause", [(1, 0), (2, 1), (3, 2)])
def test_inconclusive_holds_pause_the_rollout_at_the_limit(limit, holds_before_pause):
    rollout = at_ten_percent(max_inconclusive_runs=limit)
    for run in range(holds_before_pause):
        state = rollout.run(gate=INCONCLUSIVE)
        assert state.phase is Phase.PROGRESSING and state.inconclusive_runs == run + 1
        assert state.reason == "holding step 1: not enough evidence: 37 requests < 100"
    paused = rollout.run(gate=INCONCLUSIVE)
    assert paused.phase is Phase.PAUSED and paused.inconclusive_runs == limit and weights(paused) == (90, 10)
    assert paused.reason == f"paused after {limit} inconclusive runs (not enough evidence: 37 requests < 100); approve: 2 to go on"


def test_a_conclusive_hold_neither_counts_nor_resets_the_inconclusive_runs():
    rollout = at_ten_percent()
    rollout.run(gate=INCONCLUSIVE)
    held = rollout.run(gate=DRIFT)
    assert held.inconclusive_runs == 1 and held.reason == "holding step 1: live weights 70/30 differ from recorded 90/10"


def test_an_approved_pause_goes_on_with_a_fresh_count_of_inconclusive_runs():
    rollout = at_ten_percent(max_inconclusive_runs=2)
    rollout.run(gate=INCONCLUSIVE)
    assert rollout.run(gate=INCONCLUSIVE).phase is Phase.PAUSED
    resumed = rollout.run(approve="2", gate=INCONCLUSIVE)
    assert resumed.phase is Phase.PROGRESSING and resumed.inconclusive_runs == 1 and weights(resumed) == (90, 10)
    assert resumed.reason == "holding step 1: not enough evidence: 37 requests < 100"


def test_advancing_resets_the_inconclusive_count():
    rollout = at_ten_percent()
    rollout.run(gate=INCONCLUSIVE)
    assert rollout.run().inconclusive_runs == 0


def test_a_paused_rollout_recovered_from_the_live_record_still_says_what_it_waits_for():
    rollout = at_ten_percent(max_inconclusive_runs=1)
    paused = rollout.run(gate=INCONCLUSIVE).with_(reason="")  # the live record carries no reason
    state = next_state(paused, rollout.spec, BAKE_ONLY, rollout.now + timedelta(minutes=1), "canary")
    assert state.phase is Phase.PAUSED and state.reason == "paused; waiting for approve: 2"


def test_a_paused_rollout_says_what_it_waits_for_once():
    rollout = at_ten_percent(max_inconclusive_runs=1)
    rollout.run(gate=INCONCLUSIVE)
    for _ in range(2):
        reason = rollout.run().reason
    assert reason.count("approve: 2") == 1


def test_a_plan_that_pauses_at_a_traffic_step_waits_there_for_approval():
    plan = StepPlan((0, 10, 50, 100), pause_at=frozenset({1}))
    rollout = Rollout(RolloutSpec("1", 2, plan, scale_down_delay=DELAY), "canary")
    rollout.run(after=0)
    rollout.run(version="2")
    paused = rollout.run()
    assert (paused.phase, weights(paused)) == (Phase.PAUSED, (90, 10)) and paused.reason == "advanced to step 1; waiting for approve: 2"
    assert weights(rollout.run()) == (90, 10)
    assert weights(rollout.run(approve="2")) == (50, 50)


def test_a_switch_to_blue_green_mid_canary_keeps_the_earned_share_until_approved():
    rollout = at_ten_percent()
    rollout.run()
    blue_green = plan_for("blue-green")
    paused = rollout.run(plan=blue_green, strategy="blue-green")
    assert (paused.phase, weights(paused), paused.candidate_version, paused.strategy) == (Phase.PAUSED, (50, 50), "2", "blue-green")
    assert paused.reason == "waiting for approve: 2 before moving past 50% ((0, 100) pauses for approval)"
    approved = rollout.run(approve="2")
    assert (approved.phase, weights(approved), approved.stable_version) == (Phase.STABLE, (0, 100), "2")


# --- rolling: one color, replaced in place ---------------------------------------------------------------


def rolling(platform: str = "aws", **changes) -> Rollout:
    rollout = Rollout(replace(RolloutSpec("1", 2, plan_for("rolling"), scale_down_delay=DELAY, platform=platform), **changes), "rolling")
    rollout.run(after=0)
    return rollout


@pytest.mark.parametrize("platform, words", [
    ("aws", "ECS replaces the tasks in place; its circuit breaker rolls a failed deployment back"),
    ("kubernetes", "the Deployment replaces its pods in place; a rollout that never becomes ready stops on the old pods"),
    ("", "the platform replaces the workload in place"),
], ids=["on ECS", "on Kubernetes", "on an unnamed platform"])
def test_a_rolling_update_replaces_the_stable_color_and_says_how_the_platform_rolls_it(platform, words):
    rollout = rolling(platform)
    first_shift = rollout.state.last_shift
    rolled = rollout.run(version="2", gate=PASSED)
    assert (rolled.phase, rolled.stable_version, rolled.versions[Color.BLUE], weights(rolled)) == (Phase.STABLE, "2", "2", (100, 0))
    assert rolled.reason == f"rolling update to 2 ({words})"
    assert rolled.step_started_at == rollout.now and rolled.replicas == {Color.BLUE: 2, Color.GREEN: 0}
    assert rolled.last_shift == first_shift, "no weight changed: the router's record is not rewritten"
    assert rolled.completed[-1] == Completion("2", rollout.now, "rolling", ("advance",))
    assert to_output(rolled)["gate"] is None, "a gate judges a candidate; a rolling update has none"
    assert rolled.past_versions == ("1", "2") and rolled.rollback_version == "1" and rolled.plan == (100,)


def test_rolling_back_to_the_previous_version_leaves_nothing_to_roll_back_to():
    rollout = rolling()
    rollout.run(version="2")
    back = rollout.run(version="1")
    assert back.stable_version == "1" and back.rollback_version is None
    assert to_output(back)["rollbackVersion"] is None


def test_a_stable_rolling_service_records_no_gate_verdict():
    rollout = rolling()
    state = rollout.run(gate=PASSED)
    assert state.reason == "no rollout: stable" and to_output(state)["gate"] is None


def test_a_rolling_update_of_a_record_without_a_last_shift_records_one():
    rollout = rolling()
    record = to_output(rollout.state)
    record["lastShift"] = None
    rolled = next_state(from_output(record), replace(rollout.spec, version="2"), BAKE_ONLY, T0 + timedelta(minutes=1), "rolling")
    assert (rolled.last_shift.before, rolled.last_shift.after, rolled.last_shift.cause) == (BLUE_ONLY, BLUE_ONLY, "rolling")


def test_rolling_on_a_service_promoted_to_green_keeps_traffic_on_green():
    rollout = promoted_to_green()
    rolled = rollout.run(after=40, plan=plan_for("rolling"), strategy="rolling", version="3")
    assert (rolled.stable_color, weights(rolled), rolled.versions[Color.GREEN], rolled.versions[Color.BLUE]) == (Color.GREEN, (0, 100), "3", "1")


@pytest.mark.parametrize("make, percent", [
    pytest.param(at_ten_percent, 10, id="at 10 percent"),
    pytest.param(lambda: _at_one_percent(), 1, id="at 1 percent"),
])
def test_switching_to_rolling_mid_canary_returns_traffic_first_then_rolls(make, percent):
    rollout = make()
    assert rollout.state.candidate_percent == percent
    back = rollout.run(plan=plan_for("rolling"), strategy="rolling")
    assert (back.phase, back.candidate_version, back.stable_version, weights(back)) == (Phase.STABLE, None, "1", (100, 0))
    assert back.reason == "switched to rolling: traffic back on the stable color first"
    rolled = rollout.run()
    assert rolled.stable_version == "2" and rolled.versions[Color.BLUE] == "2" and rolled.reason.startswith("rolling update to 2")


def _at_one_percent() -> Rollout:
    rollout = canary(steps=(1, 100))
    rollout.run(version="2")
    rollout.run()
    return rollout


def test_switching_to_rolling_with_the_candidate_at_zero_percent_rolls_in_that_run():
    rollout = deployed_at_zero()
    rollout.run(gate=INCONCLUSIVE)
    rolled = rollout.run(plan=plan_for("rolling"), strategy="rolling")
    assert (rolled.phase, rolled.candidate_version, rolled.step, rolled.stable_version) == (Phase.STABLE, None, None, "2")
    assert rolled.versions[Color.BLUE] == "2" and rolled.inconclusive_runs == 0 and rolled.plan == (100,)


def test_rolling_keeps_a_gate_abort_until_a_person_acknowledges_it():
    rollout = at_ten_percent()
    rollout.run(gate=FAILING)
    kept = rollout.run(plan=plan_for("rolling"), strategy="rolling")
    assert (kept.phase, kept.stable_version, kept.versions[Color.BLUE]) == (Phase.ABORTED, "1", "1")
    assert kept.reason == "gate aborted: error rate 20.0% > 5.0%; set abort: 2 and remove it in a later run to retry"
    assert rollout.run().reason.count("to retry") == 1


def test_rolling_after_a_lifted_config_abort_rolls_the_version_out():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    rolled = rollout.run(abort=None, plan=plan_for("rolling"), strategy="rolling")
    assert (rolled.phase, rolled.stable_version, rolled.aborted_by, rolled.candidate_version) == (Phase.STABLE, "2", None, None)


def test_rolling_a_newer_version_after_a_gate_abort():
    rollout = at_ten_percent()
    rollout.run(gate=FAILING)
    rolled = rollout.run(version="3", plan=plan_for("rolling"), strategy="rolling")
    assert (rolled.phase, rolled.stable_version, rolled.aborted_by) == (Phase.STABLE, "3", None)


def test_rolling_back_to_stable_over_an_aborted_candidate_clears_it():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    cleared = rollout.run(version="1", abort=None, plan=plan_for("rolling"), strategy="rolling")
    assert (cleared.phase, cleared.candidate_version, cleared.step, cleared.aborted_by) == (Phase.STABLE, None, None, None)
    assert cleared.reason == "rolling on 1: nothing in flight"


# --- the first deploy, promotion and what each run records ------------------------------------------------


def test_the_first_deploy_puts_everything_on_blue_and_keeps_green_cold():
    first = Rollout(RolloutSpec("1", 2, plan_for("blue-green"), scale_down_delay=DELAY), "blue-green").run(after=0)
    assert (first.phase, first.stable_color, first.stable_version, weights(first)) == (Phase.STABLE, Color.BLUE, "1", (100, 0))
    assert first.versions == {Color.BLUE: "1", Color.GREEN: "1"} and first.replicas == {Color.BLUE: 2, Color.GREEN: 0}
    assert (first.candidate_version, first.step, first.step_started_at, first.strategy) == (None, None, T0, "blue-green")
    assert first.reason == "first deploy: blue serves 100%" and first.past_versions == ("1",) and first.plan == (0, 100)
    assert first.last_shift == Shift(None, BLUE_ONLY, "first-deploy")
    assert decision_record("web", first)["cutover:cause"] == "first-deploy"


def test_a_run_without_a_strategy_name_keeps_the_recorded_one():
    rollout = canary()
    state = next_state(rollout.state, replace(rollout.spec, version="2"), BAKE_ONLY, T0 + timedelta(minutes=1))
    assert state.strategy == "canary"


def test_deploying_a_candidate_starts_its_rollout_clean():
    rollout = at_ten_percent()
    rollout.run(gate=INCONCLUSIVE)
    rollout.run(gate=FAILING)
    deployed = rollout.run(version="3", gate=INCONCLUSIVE)
    assert (deployed.phase, deployed.candidate_version, deployed.step, deployed.plan) == (Phase.PROGRESSING, "3", 0, (0, 10, 50, 100))
    assert (deployed.aborted_by, deployed.verdicts, deployed.inconclusive_runs, deployed.scale_down_at) == (None, (), 0, None)
    assert deployed.step_started_at == rollout.now and deployed.past_versions == ("1", "2", "3")
    assert deployed.replicas == {Color.BLUE: 2, Color.GREEN: 2} and to_output(deployed)["gate"] is None


def test_a_promotion_keeps_the_old_color_warm_and_says_until_when_a_revert_is_one_run():
    rollout = at_ten_percent()
    rollout.run(gate=PASSED)
    promoted = rollout.run(gate=PASSED)
    assert (promoted.phase, promoted.stable_color, promoted.stable_version, promoted.candidate_version) == (Phase.STABLE, Color.GREEN, "2", None)
    assert (promoted.step, promoted.verdicts, promoted.rollback_version, promoted.inconclusive_runs) == (None, (), "1", 0)
    assert promoted.scale_down_at == rollout.now + DELAY and promoted.step_started_at == rollout.now
    assert promoted.reason == f"promoted 2 on green; until {rollout.now + DELAY:%H:%M} UTC version: 1 switches back in one run"
    assert promoted.last_shift == Shift(Weights(50, 50), GREEN_ONLY, "advance", "advance")
    assert to_output(promoted)["rollbackUntil"] == f"{rollout.now + DELAY:%Y-%m-%dT%H:%M:%SZ}"


def test_without_a_scale_down_delay_a_promotion_promises_no_one_run_revert():
    rollout = at_ten_percent(scale_down_delay=timedelta(0))
    rollout.run()
    promoted = rollout.run()
    assert promoted.reason == "promoted 2 on green; blue scaled to zero after the scale-down delay"
    assert promoted.replicas == {Color.BLUE: 0, Color.GREEN: 2} and promoted.rollback_until is None


def test_promoting_a_revert_leaves_no_version_to_roll_back_to():
    rollout = promoted_to_green()
    rollout.run(after=40, version="1")
    for _ in range(3):
        rollout.run()
    back = rollout.state
    assert (back.stable_version, back.stable_color, back.rollback_version) == ("1", Color.BLUE, None)
    assert back.reason == "promoted 1 on blue"


def test_a_red_black_switch_is_one_step_after_the_deploy():
    rollout = Rollout(RolloutSpec("1", 2, plan_for("red-black"), scale_down_delay=DELAY), "red-black")
    rollout.run(after=0)
    assert weights(rollout.run(version="2")) == (100, 0)
    switched = rollout.run(gate=PASSED)
    assert (switched.phase, weights(switched)) == (Phase.STABLE, (0, 100))
    assert switched.completed[-1].verdicts == ("advance",)


def test_completions_and_past_versions_keep_the_last_ten_without_repeats():
    rollout = canary(steps=(100,), scale_down_delay=timedelta(0))
    for version in [str(v) for v in range(2, 14)] + ["5"]:
        rollout.run(version=version)
        rollout.run()
    state = rollout.state
    assert state.stable_version == "5"
    newest_ten = ["4", "6", "7", "8", "9", "10", "11", "12", "13", "5"]  # 2 and 3 fell off; 5 moved to the end
    assert [c.version for c in state.completed] == newest_ten and list(state.past_versions) == newest_ten


def test_an_idle_color_goes_cold_exactly_at_the_scale_down_time():
    rollout = promoted_to_green()
    until = rollout.state.scale_down_at
    warm = rollout.run(after=(until - rollout.now).total_seconds() / 60 - 1 / 60)
    assert warm.replicas[Color.BLUE] == 2 and warm.scale_down_at == until
    cold = rollout.run(after=1 / 60)
    assert cold.replicas[Color.BLUE] == 0 and cold.scale_down_at is None
    assert cold.reason == "no rollout: stable; blue scaled to zero after the scale-down delay"
    assert rollout.run().reason == "no rollout: stable", "said once, in the run that scales down"


def test_a_paused_blue_green_candidate_keeps_its_replicas():
    rollout = Rollout(RolloutSpec("1", 3, plan_for("blue-green"), scale_down_delay=DELAY), "blue-green")
    rollout.run(after=0)
    paused = rollout.run(version="2")
    assert paused.phase is Phase.PAUSED and paused.replicas == {Color.BLUE: 3, Color.GREEN: 3}
    assert paused.reason == "2 deployed on green at 0%; waiting for approve: 2"
    assert rollout.run(after=60).replicas == {Color.BLUE: 3, Color.GREEN: 3}


def test_a_blue_green_approved_in_advance_does_not_wait():
    rollout = Rollout(RolloutSpec("1", 2, plan_for("blue-green"), scale_down_delay=DELAY), "blue-green")
    rollout.run(after=0)
    deployed = rollout.run(version="2", approve="2")
    assert deployed.phase is Phase.PROGRESSING and deployed.reason == "2 deployed on green at 0%; first shift next run"
    assert weights(rollout.run()) == (0, 100)


# --- settings that name another version ---------------------------------------------------------------------


@pytest.mark.parametrize("make, config, holds, warning", [
    pytest.param(at_ten_percent, {"abort": "3"}, True, "abort names 3, but the version in flight is 2: write abort: 2",
                 id="an abort of a version never deployed holds the one in flight"),
    pytest.param(at_ten_percent, {"approve": "3"}, True, "approve names 3, but the version in flight is 2: write approve: 2",
                 id="an approve of another version holds"),
    pytest.param(at_ten_percent, {"abort": "1"}, True,
                 "abort names 1, but 1 is already stable: to replace it, set version to another release; 2 is in flight: write abort: 2",
                 id="an abort of the stable version holds and says how to replace it"),
    pytest.param(at_ten_percent, {"promote": "1"}, True, "promote names 1, but 1 is already stable; 2 is in flight: write promote: 2",
                 id="a promote of the stable version holds"),
    pytest.param(canary, {"approve": "3"}, False, "approve names 3, but nothing is in flight: remove it",
                 id="an approve with nothing in flight only warns"),
    pytest.param(canary, {"abort": "1"}, False, "abort names 1, but 1 is already stable: to replace it, set version to another release",
                 id="an abort of the stable version with nothing in flight only warns"),
    pytest.param(promoted_to_green, {"abort": "2"}, False, "abort names 2, but 2 is already stable: to go back, set version: 1",
                 id="an abort of a promoted version says how to go back"),
])
def test_a_setting_naming_another_version_says_what_to_write(make, config, holds, warning):
    rollout = make()
    before = rollout.state
    state = rollout.run(**config)
    assert state.warning == warning and state.reason.count(warning) == 1
    if holds:
        assert weights(state) == weights(before) and state.step == before.step
    assert from_output(to_output(state)).warning == "", "a warning is said in the run it applies to, never saved"


def test_a_new_version_with_an_abort_of_another_version_holds_the_start():
    rollout = canary()
    held = rollout.run(version="2", abort="3")
    assert held.candidate_version is None and held.warning == "abort names 3, but the version in flight is 2: write abort: 2"
    assert held.reason == f"rollout of 2 not started: {held.warning}"


def test_a_warning_already_in_the_reason_is_not_repeated():
    rollout = canary()
    held = rollout.run(version="2", abort="3")
    assert held.reason.count("write abort: 2") == 1


def test_a_setting_naming_the_candidate_or_the_new_version_is_no_warning():
    rollout = at_ten_percent()
    assert rollout.run(approve="2").warning == "" and rollout.run(promote="2").warning == ""
    fresh = canary()
    assert fresh.run(version="2", approve="2").warning == ""


def test_a_stale_abort_of_a_version_deployed_nowhere_only_warns():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    rollout.run(version="3")
    rollout.run(after=31)
    assert rollout.state.candidate_version == "3" and rollout.state.serving_or_warm() == {"1", "3"}
    moved = rollout.run()
    assert moved.warning == "abort names 2, which is deployed nowhere any more: it has no effect, remove it"
    assert weights(moved) == (50, 50), "a leftover abort holds nothing"


def test_a_stable_run_records_no_gate_verdict():
    state = canary().run(gate=PASSED)
    assert state.reason == "no rollout: stable" and to_output(state)["gate"] is None


def test_a_step_records_the_gate_verdict_that_carried_it_and_a_hold_records_its_gate():
    rollout = at_ten_percent()
    held = rollout.run(gate=INCONCLUSIVE)
    assert to_output(held)["gate"]["reason"] == "not enough evidence: 37 requests < 100"
    assert held.last_shift == Shift(BLUE_ONLY, Weights(90, 10), "advance", "advance", 1), "a hold writes no new shift"


def test_setting_version_back_after_an_abort_does_not_restart_the_refused_version():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    assert rollout.run(after=31).replicas[Color.GREEN] == 0
    back = rollout.run(version="1", abort=None)
    assert (back.phase, back.candidate_version, weights(back)) == (Phase.STABLE, None, (100, 0))
    assert back.replicas[Color.GREEN] == 0 and back.scale_down_at is None, "2 failed: nothing may start it again"
    assert rollout.run(after=5).replicas[Color.GREEN] == 0


def test_abort_and_a_newer_version_in_one_run_abort_first_then_start_the_newer_one():
    rollout = at_ten_percent()
    aborted = rollout.run(version="3", abort="2")
    assert (aborted.phase, aborted.aborted_by, weights(aborted)) == (Phase.ABORTED, "config", (100, 0))
    assert aborted.reason == "aborted by the abort setting; 3 is deployed next run"
    started = rollout.run()
    assert (started.candidate_version, started.versions[Color.GREEN], started.step) == ("3", "3", 0)


def test_a_warning_is_for_its_run_only():
    rollout = canary()
    warned = next_state(rollout.state, replace(rollout.spec, approve="3"), BAKE_ONLY, T0 + timedelta(minutes=1), "canary")
    assert warned.warning
    assert next_state(warned, rollout.spec, BAKE_ONLY, T0 + timedelta(minutes=2), "canary").warning == ""


def test_a_strategy_edit_is_recorded():
    rollout = at_ten_percent()
    state = rollout.run(plan=plan_for("red-black"), strategy="red-black")
    assert state.strategy == "red-black" and to_output(state)["strategy"] == "red-black"


def test_a_rolling_update_waits_in_a_run_that_may_not_move_forward():
    rollout = rolling()
    held = rollout.run(version="2", hold="the stack output was repaired")
    assert held.stable_version == "1" and held.versions[Color.BLUE] == "1"
    assert held.reason == "rolling update to 2 not applied: the stack output was repaired"


def test_switching_to_rolling_with_the_version_set_back_clears_a_candidate_at_zero():
    rollout = deployed_at_zero()
    cleared = rollout.run(version="1", plan=plan_for("rolling"), strategy="rolling")
    assert (cleared.phase, cleared.candidate_version, cleared.step, cleared.stable_version) == (Phase.STABLE, None, None, "1")
    assert cleared.reason == "rolling on 1: nothing in flight"


@pytest.mark.parametrize("settings", [
    pytest.param({"version": "1"}, id="when the version is set back"),
    pytest.param({"version": "3"}, id="when a newer version supersedes it"),
])
def test_an_approve_of_the_candidate_in_flight_is_no_warning(settings):
    rollout = at_ten_percent()
    assert rollout.run(approve="2", **settings).warning == ""


def test_an_approve_of_an_aborted_version_after_going_back_to_stable_warns():
    rollout = at_ten_percent()
    rollout.run(abort="2")
    state = rollout.run(version="1", abort=None, approve="2")
    assert state.warning == "approve names 2, but nothing is in flight: remove it"


def test_two_settings_naming_other_versions_are_both_said():
    rollout = at_ten_percent()
    state = rollout.run(abort="3", approve="3")
    both = "abort names 3, but the version in flight is 2: write abort: 2; approve names 3, but the version in flight is 2: write approve: 2"
    assert state.warning == both and state.reason == f"holding at 90/10: {both}"


def test_a_newer_version_over_a_candidate_at_zero_starts_a_fresh_inconclusive_count():
    rollout = deployed_at_zero()
    assert rollout.run(gate=INCONCLUSIVE).inconclusive_runs == 1
    assert rollout.run(version="3").inconclusive_runs == 0


@pytest.mark.parametrize("gate, config", [
    pytest.param(FAILING, {}, id="a gate abort"),
    pytest.param(BAKE_ONLY, {"promote": "2"}, id="a promotion by hand"),
    pytest.param(BAKE_ONLY, {"version": "1"}, id="a way back"),
])
def test_leaving_the_step_clears_the_inconclusive_count(gate, config):
    rollout = at_ten_percent()
    rollout.run(gate=INCONCLUSIVE)
    assert rollout.run(gate=gate, **config).inconclusive_runs == 0


@pytest.mark.parametrize("steps, plan", [
    pytest.param((10, 25, 100), (0, 10, 25, 100), id="a step added"),
    pytest.param((100,), (0, 100), id="the remaining steps removed"),
])
def test_steps_edited_mid_rollout_are_the_plan_recorded_with_the_next_move(steps, plan):
    rollout = at_ten_percent()
    moved = rollout.run(plan=plan_for("canary", list(steps)))
    assert moved.plan == plan and to_output(moved)["plan"] == list(plan)


def test_steps_edited_while_stable_are_the_plan_of_the_next_rollout():
    rollout = canary()
    deployed = rollout.run(version="2", plan=plan_for("canary", [25, 100]))
    assert deployed.plan == (0, 25, 100)
    assert weights(rollout.run()) == (75, 25)


def test_a_candidate_at_one_percent_bakes():
    rollout = canary(steps=(1, 100), bake=timedelta(minutes=5))
    rollout.run(version="2")
    assert weights(rollout.run()) == (99, 1)
    assert rollout.run(after=1).reason == "baking step 1: about 4 min left"


def test_the_minutes_left_count_a_started_minute():
    rollout = at_ten_percent(bake=timedelta(minutes=5))
    assert rollout.run(after=1.95).reason == "baking step 1: about 4 min left", "3 min 3 s left"


def test_a_live_record_that_does_not_know_a_colors_tasks_still_decides():
    rollout = promoted_to_green()
    tags = decision_record("web", rollout.state)
    tags["cutover:blue-replicas"] = "none"
    previous = read_decision_record(tags)
    assert Color.BLUE not in previous.replicas
    state = next_state(previous, rollout.spec, BAKE_ONLY, rollout.now + timedelta(minutes=31), "canary")
    assert state.replicas == {Color.GREEN: 2, Color.BLUE: 0} and state.reason == "no rollout: stable"


def test_a_single_warm_task_is_scaled_to_zero_and_said_so():
    rollout = promoted_to_green(replicas=1)
    assert rollout.state.replicas == {Color.BLUE: 1, Color.GREEN: 1}
    cold = rollout.run(after=30)
    assert cold.replicas[Color.BLUE] == 0 and cold.reason.endswith("; blue scaled to zero after the scale-down delay")
