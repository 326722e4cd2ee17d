"""The shadow plan as data (StepPlan.mirror_at) and what the machine does with it: examples, one per sentence."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from components.gates.model import GateResult, GateVerdict
from components.rollout.codec import from_output, problems, to_output
from components.rollout.machine import next_state
from components.rollout.model import Phase, RolloutSpec, StepPlan, Weights, plan_for

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
ADVANCE = GateResult(GateVerdict.ADVANCE, "passed")
ABORT = GateResult(GateVerdict.ABORT, "error rate 20.0% > 5.0%")


def spec(version: str, then: str = "canary", **changes) -> RolloutSpec:
    plan = plan_for("shadow", [10, 100] if then == "canary" else None, then=then)
    return replace(RolloutSpec(version, 2, plan, bake=timedelta(minutes=30), mirror_percent=50), **changes)


def shadowing(then: str = "canary", **changes):
    stable = next_state(None, spec("1", then, **changes), ADVANCE, T0, "shadow")
    return next_state(stable, spec("2", then, **changes), ADVANCE, T0 + timedelta(minutes=1), "shadow")


@pytest.mark.parametrize("then, percents, pauses", [
    ("canary", (0, 10, 100), frozenset()),
    ("blue-green", (0, 100), frozenset({0})),
], ids=["shadow then canary keeps the canary's steps", "shadow then blue-green keeps its pause"])
def test_a_shadow_plan_is_the_then_plan_with_step_0_mirrored(then, percents, pauses):
    plan = plan_for("shadow", [10, 100] if then == "canary" else None, then=then)
    assert plan.candidate_percents == percents and plan.pause_at == pauses and plan.mirror_at == frozenset({0})


@pytest.mark.parametrize("plan", [
    lambda: StepPlan((0, 10, 100), mirror_at=frozenset({1})),
    lambda: StepPlan((100,), in_place=True, mirror_at=frozenset({0})),
    lambda: plan_for("shadow", then="red-black"),
], ids=["a step that serves traffic cannot be mirrored", "rolling cannot mirror", "shadow continues with canary or blue-green"])
def test_plans_that_cannot_mirror_are_refused(plan):
    with pytest.raises(ValueError):
        plan()


def test_the_deploy_run_starts_mirroring_at_0_percent():
    state = shadowing()
    assert state.phase is Phase.PROGRESSING and state.step == 0 and state.weights == Weights(100, 0)
    assert state.mirror_percent == 50 and "mirrored requests" in state.reason
    assert problems(state, T0 + timedelta(minutes=1)) == [] and from_output(to_output(state)) == state


def test_the_shadow_phase_bakes_although_the_candidate_serves_nothing():
    state = next_state(shadowing(), spec("2"), ADVANCE, T0 + timedelta(minutes=11), "shadow")
    assert state.weights == Weights(100, 0) and state.mirror_percent == 50
    assert state.reason == "shadowing (mirrored requests only): about 20 min left"


def test_after_the_bake_a_passing_gate_moves_to_the_first_canary_step_and_mirroring_stops():
    state = next_state(shadowing(), spec("2"), ADVANCE, T0 + timedelta(minutes=31), "shadow")
    assert state.weights == Weights(90, 10) and state.step == 1 and state.mirror_percent == 0


def test_a_gate_abort_in_the_shadow_phase_stops_mirroring_and_leaves_stable_serving():
    state = next_state(shadowing(), spec("2"), ABORT, T0 + timedelta(minutes=5), "shadow")
    assert state.phase is Phase.ABORTED and state.weights == Weights(100, 0) and state.mirror_percent == 0


def test_then_blue_green_mirrors_while_it_waits_for_approval_and_switches_once_approved():
    waiting = next_state(shadowing("blue-green"), spec("2", "blue-green"), ADVANCE, T0 + timedelta(minutes=40), "shadow")
    assert waiting.phase is Phase.PAUSED and waiting.mirror_percent == 50 and "approve: 2" in waiting.reason
    switched = next_state(waiting, spec("2", "blue-green", approve="2"), ADVANCE, T0 + timedelta(minutes=41), "shadow")
    assert switched.phase is Phase.STABLE and switched.weights == Weights(0, 100) and switched.mirror_percent == 0


def test_a_strategy_edit_away_from_shadow_stops_mirroring():
    canary = RolloutSpec("2", 2, plan_for("canary", [10, 100]), bake=timedelta(minutes=30))
    state = next_state(shadowing(), canary, GateResult(GateVerdict.HOLD, "holding"), T0 + timedelta(minutes=2), "canary")
    assert state.step == 0 and state.mirror_percent == 0


def test_a_mirror_on_a_state_that_serves_the_candidate_is_a_corrupt_record():
    promoted = next_state(shadowing(), spec("2"), ADVANCE, T0 + timedelta(minutes=31), "shadow")
    assert problems(promoted.with_(mirror_percent=100), T0 + timedelta(hours=1))
