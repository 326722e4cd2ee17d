"""The pure rollout state machine: worked examples as tables, invariants as properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.gates.model import GateResult, GateVerdict
from components.rollout.codec import from_output, problems, to_output
from components.rollout.decision import decision_record, read_decision_record, same_state
from components.rollout.machine import next_state
from components.rollout.model import Color, InvalidWeights, Phase, RolloutSpec, Weights, plan_for

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
ADVANCE = GateResult.bake_only()
HOLD = GateResult(GateVerdict.HOLD, "not enough evidence", inconclusive=True)
DRIFT = GateResult(GateVerdict.HOLD, "live weights differ", inconclusive=False)
ABORT = GateResult(GateVerdict.ABORT, "5xx 20% > 1%")


def canary(version: str = "1", **changes) -> RolloutSpec:
    return replace(RolloutSpec(version=version, replicas=2, plan=plan_for("canary", [10, 50, 100])), **changes)


def run_through(spec_versions, gate=ADVANCE, spec=None, minutes=1):
    """First deploy with version 1, then one run per entry of `spec_versions`."""
    spec = spec or canary()
    now = T0
    state = next_state(None, spec, gate, now)
    states = [state]
    for version in spec_versions:
        now += timedelta(minutes=minutes)
        state = next_state(state, replace(spec, version=version), gate, now)
        states.append(state)
    return states


@pytest.mark.parametrize(
    "kind, expected",
    [
        pytest.param("canary", [(100, 0), (100, 0), (90, 10), (50, 50), (0, 100)],
                     id="canary is deployed at 0 percent, then moves 10, 50 and promotes at 100"),
        pytest.param("red-black", [(100, 0), (100, 0), (0, 100), (0, 100), (0, 100)],
                     id="red-black switches in the run after the one that deploys"),
        pytest.param("rolling", [(100, 0), (100, 0), (100, 0), (100, 0), (100, 0)], id="rolling keeps all traffic on one color"),
    ],
)
def test_weight_sequences(kind, expected):
    spec = RolloutSpec("1", 2, plan_for(kind, [10, 50, 100] if kind == "canary" else None))
    states = run_through(["2", "2", "2", "2"], spec=spec)
    assert [(s.weights.blue, s.weights.green) for s in states] == expected
    assert states[-1].stable_version == "2" and states[-1].phase is Phase.STABLE


@pytest.mark.parametrize(
    "gate, phase, weights",
    [
        pytest.param(HOLD, Phase.PROGRESSING, (90, 10), id="an inconclusive gate holds the step"),
        pytest.param(DRIFT, Phase.PROGRESSING, (90, 10), id="drift holds the step"),
        pytest.param(ABORT, Phase.ABORTED, (100, 0), id="a failing gate aborts back to stable in one run"),
    ],
)
def test_gate_verdicts_during_a_canary(gate, phase, weights):
    started = run_through(["2", "2"])[-1]
    state = next_state(started, canary("2"), gate, T0 + timedelta(hours=1))
    assert state.phase is phase and (state.weights.blue, state.weights.green) == weights


def test_inconclusive_runs_pause_the_rollout_after_the_limit():
    state = run_through(["2", "2"])[-1]
    spec = canary("2", max_inconclusive_runs=3)
    phases = []
    for minute in range(1, 5):
        state = next_state(state, spec, HOLD, T0 + timedelta(minutes=10 * minute))
        phases.append(state.phase)
    assert phases == [Phase.PROGRESSING, Phase.PROGRESSING, Phase.PAUSED, Phase.PAUSED]
    assert "inconclusive" in state.reason and state.weights == Weights(90, 10)
    resumed = next_state(state, replace(spec, approve="2"), ADVANCE, T0 + timedelta(hours=2))
    assert resumed.weights == Weights(50, 50) and resumed.phase is Phase.PROGRESSING


def test_drift_holds_do_not_count_toward_the_pause():
    state = run_through(["2", "2"])[-1]
    for minute in range(1, 6):
        state = next_state(state, canary("2"), DRIFT, T0 + timedelta(minutes=10 * minute))
    assert state.phase is Phase.PROGRESSING and state.inconclusive_runs == 0


def test_bake_time_is_measured_from_the_step_start():
    spec = canary(bake=timedelta(minutes=5))
    deployed = next_state(next_state(None, spec, ADVANCE, T0), replace(spec, version="2"), ADVANCE, T0)
    started = next_state(deployed, replace(spec, version="2"), ADVANCE, T0)
    assert started.weights == Weights(90, 10), "a candidate at 0 % has nothing to bake"
    early = next_state(started, replace(spec, version="2"), ADVANCE, T0 + timedelta(minutes=4, seconds=59))
    on_time = next_state(started, replace(spec, version="2"), ADVANCE, T0 + timedelta(minutes=5))
    assert early.weights == Weights(90, 10) and early.step_started_at == T0
    assert on_time.weights == Weights(50, 50) and on_time.step_started_at == T0 + timedelta(minutes=5)


def test_blue_green_waits_for_approval_of_this_exact_version():
    spec = RolloutSpec("1", 2, plan_for("blue-green"))
    state = next_state(next_state(None, spec, ADVANCE, T0), replace(spec, version="2"), ADVANCE, T0)
    assert state.phase is Phase.PAUSED and state.weights == Weights(100, 0) and state.replicas[Color.GREEN] == 2
    wrong = next_state(state, replace(spec, version="2", approve="1.9"), ADVANCE, T0 + timedelta(hours=1))
    assert wrong.phase is Phase.PAUSED
    right = next_state(state, replace(spec, version="2", approve="2"), ADVANCE, T0 + timedelta(hours=1))
    assert right.phase is Phase.STABLE and right.weights == Weights(0, 100)


def test_promotion_keeps_the_old_color_warm_then_scales_it_to_zero():
    states = run_through(["2", "2", "2", "2"], spec=canary(scale_down_delay=timedelta(minutes=30)))
    promoted = states[-1]
    assert promoted.replicas == {Color.GREEN: 2, Color.BLUE: 2}
    warm = next_state(promoted, canary("2", scale_down_delay=timedelta(minutes=30)), ADVANCE, promoted.step_started_at + timedelta(minutes=29))
    cold = next_state(warm, canary("2"), ADVANCE, promoted.step_started_at + timedelta(minutes=30))
    assert warm.replicas[Color.BLUE] == 2 and cold.replicas[Color.BLUE] == 0
    assert cold.versions[Color.BLUE] == "1", "the old color is scaled down, not redeployed"


def test_weights_reject_invalid_values():
    with pytest.raises(InvalidWeights):
        Weights(0, 0)
    with pytest.raises(InvalidWeights):
        Weights(90, 20)


# --- properties -------------------------------------------------------------------------

EVENTS = st.one_of(
    st.tuples(st.just("version"), st.sampled_from(["1", "2", "3"])),
    st.tuples(st.just("approve"), st.sampled_from([None, "1", "2", "3"])),
    st.tuples(st.just("abort"), st.sampled_from([None, "2", "3"])),
    st.tuples(st.just("gate"), st.sampled_from([ADVANCE, HOLD, DRIFT, ABORT])),
    st.tuples(st.just("wait"), st.integers(min_value=0, max_value=90)),
    st.tuples(st.just("plan"), st.sampled_from(["canary", "canary-long", "blue-green", "red-black", "rolling",
                                                "shadow-canary", "shadow-blue-green"])),
)
NAMED_PLANS = {
    "canary": plan_for("canary", [10, 50, 100]),
    "canary-long": plan_for("canary", [1, 2, 3, 100]),
    "blue-green": plan_for("blue-green"),
    "red-black": plan_for("red-black"),
    "rolling": plan_for("rolling"),
    "shadow-canary": plan_for("shadow", [10, 50, 100], then="canary"),
    "shadow-blue-green": plan_for("shadow", then="blue-green"),
}
PLANS = st.sampled_from(sorted(NAMED_PLANS))


def strategy_of(plan: str) -> str:
    return "shadow" if plan.startswith("shadow") else plan.removesuffix("-long")


@settings(max_examples=600, deadline=None)
@given(plan=PLANS, events=st.lists(EVENTS, max_size=25), bake=st.integers(0, 30), holds=st.lists(st.booleans(), max_size=25))
def test_every_run_keeps_the_invariants(plan, events, bake, holds):
    spec = RolloutSpec("1", 2, NAMED_PLANS[plan], bake=timedelta(minutes=bake), scale_down_delay=timedelta(minutes=30))
    strategy = strategy_of(plan)
    now = T0
    gate = ADVANCE
    state = next_state(None, spec, gate, now, strategy)
    for index, (kind, value) in enumerate(events):
        if kind == "wait":
            now += timedelta(minutes=value)
            continue
        if kind == "gate":
            gate = value
        elif kind == "plan":  # the user edits the strategy, even mid-rollout
            spec, strategy = replace(spec, plan=NAMED_PLANS[value]), strategy_of(value)
        else:
            spec = replace(spec, **{kind: value})
        hold = "repaired" if index < len(holds) and holds[index] else None
        previous = state
        state = next_state(from_output(to_output(previous)), spec, gate, now, strategy, hold=hold)

        # Every state the machine writes is consistent, and survives both records unchanged.
        assert problems(state, now) == []
        assert from_output(to_output(state)) == state.with_(warning="")  # a warning is for this run only
        assert same_state(read_decision_record(decision_record("web", state)), state)
        for color in Color:
            before, after = previous.weights.of(color), state.weights.of(color)
            # An image changes only on a color that carried nothing (rolling replaces tasks in place).
            if previous.versions[color] != state.versions[color] and not spec.plan.in_place:
                assert before == 0 and after == 0
            # A color that receives traffic has its replicas.
            if after > 0:
                assert state.replicas[color] == spec.replicas
            # A version gains at most one step of the plan in use per run, and only when moving forward is allowed.
            if after > before and state.versions[color] != previous.stable_version:
                assert hold is None and gate.verdict is GateVerdict.ADVANCE
                assert after == next(p for p in spec.plan.candidate_percents if p > before)
                assert before == 0 or now - previous.step_started_at >= spec.bake, "nothing advances inside the bake time"
                assert spec.abort != state.versions[color], "an aborted version never gains traffic"
                if spec.plan.pause_at:
                    assert spec.approve == state.versions[color], "a plan with a pause never advances without approval"
        # Shadow: mirroring happens only while the candidate is in flight at a mirrored step, serving nothing;
        # anything that leaves that step (abort included) stops it in the same run; a mirrored step bakes.
        if state.mirror_percent:
            assert state.mirrors_under(spec.plan) and state.weights == Weights.all_on(state.stable_color)
            assert state.mirror_percent == spec.mirror_percent
        if state.phase is Phase.ABORTED or not state.in_flight:
            assert state.mirror_percent == 0
        if previous.mirrors_under(spec.plan) and state.candidate_percent > 0 and state.stable_color == previous.stable_color:
            assert now - previous.step_started_at >= spec.bake, "a shadow phase bakes before the first shift"
        # Abort and setting the version back return all traffic to stable in this very run.
        if previous.candidate_version is not None and spec.version == previous.stable_version:
            assert state.weights == Weights.all_on(previous.stable_color)
        if previous.in_flight and spec.abort == previous.candidate_version == spec.version:
            assert state.phase is Phase.ABORTED and state.weights == Weights.all_on(previous.stable_color)


def test_a_gate_abort_stays_aborted_until_a_person_acknowledges_it():
    started = run_through(["2", "2"])[-1]
    aborted = next_state(started, canary("2"), ABORT, T0 + timedelta(hours=1))
    later = next_state(aborted, canary("2"), ADVANCE, T0 + timedelta(hours=2))
    assert later.phase is Phase.ABORTED and later.weights == Weights(100, 0) and "set abort: 2" in later.reason
    acknowledged = next_state(later, canary("2", abort="2"), ADVANCE, T0 + timedelta(hours=3))
    retried = next_state(acknowledged, canary("2"), ADVANCE, T0 + timedelta(hours=4))
    assert retried.phase is Phase.PROGRESSING and retried.step == 0 and retried.weights == Weights(100, 0)
    assert next_state(retried, canary("2"), ADVANCE, T0 + timedelta(hours=5)).weights == Weights(90, 10)


def test_a_new_version_after_a_gate_abort_starts_a_fresh_rollout():
    started = run_through(["2", "2"])[-1]
    aborted = next_state(started, canary("2"), ABORT, T0 + timedelta(hours=1))
    fresh = next_state(aborted, canary("3"), ADVANCE, T0 + timedelta(hours=2))
    assert fresh.candidate_version == "3" and fresh.step == 0 and fresh.aborted_by is None
    assert fresh.versions[Color.GREEN] == "3" and fresh.weights == Weights(100, 0)


def test_switching_strategy_mid_rollout_never_skips_past_the_plan():
    at_half = run_through(["2", "2", "2"])[-1]
    assert at_half.weights == Weights(50, 50)
    blue_green = RolloutSpec("2", 2, plan_for("blue-green"))
    state = next_state(at_half, blue_green, ADVANCE, T0 + timedelta(hours=1))
    assert state.phase is Phase.PAUSED and state.weights == Weights(50, 50), "the earned share is kept, 100 % waits for approval"
    assert "waiting for approve: 2" in state.reason
    approved = next_state(state, replace(blue_green, approve="2"), ADVANCE, T0 + timedelta(hours=2))
    assert approved.phase is Phase.STABLE and approved.weights == Weights(0, 100)
    red_black = next_state(at_half, RolloutSpec("2", 2, plan_for("red-black")), ADVANCE, T0 + timedelta(hours=1))
    assert red_black.phase is Phase.STABLE and red_black.weights == Weights(0, 100)


@pytest.mark.parametrize(
    "spec_change, gate",
    [
        pytest.param({"abort": "2"}, ADVANCE, id="switching to rolling never rolls out a version the user aborted"),
        pytest.param({}, ABORT, id="switching to rolling never rolls out a version the gate aborts"),
    ],
)
def test_rolling_respects_abort_and_gates(spec_change, gate):
    started = run_through(["2", "2"])[-1]
    rolling = replace(RolloutSpec("2", 2, plan_for("rolling")), **spec_change)
    state = next_state(started, rolling, gate, T0 + timedelta(hours=1))
    assert state.stable_version == "1" and state.weights == Weights(100, 0), "the candidate's traffic returns first"
    later = next_state(state, rolling, gate, T0 + timedelta(hours=2))
    assert later.stable_version == "1" and later.versions[Color.BLUE] == "1" and "not applied" in later.reason
    plain = next_state(next_state(None, RolloutSpec("1", 2, plan_for("rolling")), ADVANCE, T0), rolling, gate, T0)
    assert plain.stable_version == "1" and plain.versions[Color.BLUE] == "1"


def test_a_version_aborted_in_advance_never_starts():
    stable = run_through([])[-1]
    state = next_state(stable, canary("2", abort="2"), ADVANCE, T0 + timedelta(minutes=5))
    assert state.candidate_version is None and state.weights == Weights(100, 0) and "abort names 2" in state.reason


# --- operator control: rollback window, promote, settings naming other versions -------------------

def promoted_to_2():
    """Blue 1 -> green 2 promoted at T0+4 min; blue stays warm for 30 minutes."""
    return run_through(["2", "2", "2", "2"])[-1]


def test_a_revert_inside_the_window_switches_back_in_one_run_and_ignores_the_gate():
    state = promoted_to_2()
    assert state.rollback_version == "1" and state.rollback_until == state.scale_down_at
    back = next_state(state, canary("1"), ABORT, T0 + timedelta(minutes=10))
    assert (back.weights.blue, back.weights.green) == (100, 0) and back.stable_version == "1"
    assert back.versions[Color.BLUE] == "1" and back.last_shift.cause == "rollback" and back.rollback_version is None


@pytest.mark.parametrize("minutes, warm_problem, why", [
    pytest.param(40, None, "closed", id="after the scale-down delay"),
    pytest.param(10, "it runs 7", "cannot take the traffic back: it runs 7", id="when the warm color is not what the record says"),
])
def test_a_revert_outside_the_window_is_an_ordinary_rollout(minutes, warm_problem, why):
    state = promoted_to_2()
    back = next_state(state, canary("1"), ADVANCE, T0 + timedelta(minutes=minutes), warm_problem=warm_problem)
    assert (back.weights.blue, back.weights.green) == (0, 100) and back.candidate_version == "1" and back.step == 0
    assert why in back.reason and "ordinary rollout" in back.reason


@pytest.mark.parametrize("gate, expected", [
    pytest.param(HOLD, (0, 100), id="past an inconclusive gate"),
    pytest.param(ABORT, (100, 0), id="never past a gate abort"),
    pytest.param(DRIFT, (90, 10), id="never over a router changed by hand"),
    pytest.param(GateResult(GateVerdict.HOLD, "deployment not finished", True, source="workload"), (90, 10),
                 id="never onto an unverified workload"),
])
def test_promote(gate, expected):
    at_ten = run_through(["2", "2"])[-1]
    state = next_state(at_ten, canary("2", promote="2", bake=timedelta(hours=1)), gate, T0 + timedelta(minutes=3))
    assert (state.weights.blue, state.weights.green) == expected
    if expected == (0, 100):
        assert state.last_shift.cause == "promote" and "promote setting" in state.reason


@pytest.mark.parametrize("setting, holds", [
    pytest.param({"abort": "3"}, True, id="an abort of an unknown version holds"),
    pytest.param({"approve": "3"}, True, id="an approve of another version holds"),
    pytest.param({"promote": "1"}, True, id="a promote of the stable version holds"),
    pytest.param({"abort": "2"}, False, id="an abort of the candidate aborts"),
])
def test_settings_naming_another_version_hold_with_what_to_write(setting, holds):
    at_ten = run_through(["2", "2"])[-1]
    state = next_state(at_ten, canary("2", **setting), ADVANCE, T0 + timedelta(minutes=3))
    if holds:
        key = next(iter(setting))
        assert (state.weights.blue, state.weights.green) == (90, 10) and f"write {key}: 2" in state.warning
    else:
        assert state.phase is Phase.ABORTED and state.warning == ""


def test_a_stale_abort_only_warns():
    aborted = next_state(run_through(["2", "2"])[-1], canary("2", abort="2"), ADVANCE, T0 + timedelta(minutes=3))
    three = next_state(aborted, canary("3", abort="2"), ADVANCE, T0 + timedelta(minutes=4))
    moved = next_state(three, canary("3", abort="2"), ADVANCE, T0 + timedelta(minutes=5))
    assert moved.candidate_percent == 10 and "deployed nowhere" in moved.warning
