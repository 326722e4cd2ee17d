"""Which witness a run starts from: the stack output, checked against the live router (pure, table-driven)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from components.gates.model import GateResult, GateVerdict
from components.rollout.applied import AppliedState, recorded_state
from components.rollout.codec import UnrecoverableState, to_output
from components.rollout.decision import decision_record
from components.rollout.live import ColorWorkload, LiveRouter
from components.rollout.model import Weights
from components.rollout.trust import assess
from components.rollout.verify import verify_colors
from tests.unit.test_codec import T0, at_ten_percent

NOW = T0 + timedelta(minutes=5)
PREFIX = "cutover:"


def live(state=None, weights=None, **changes) -> LiveRouter:
    state = state or at_ten_percent()
    return LiveRouter(True, weights or state.weights, decision_record("web", state), where="listener rule arn:rule", **changes)


def test_a_service_nothing_shows_was_deployed_is_a_first_deploy():
    found = assess("web", None, LiveRouter(found=False), deployed_before=False, now=NOW, prefix=PREFIX)
    assert found.first_deploy and found.previous is None


def test_agreeing_witnesses_continue_from_the_output_without_a_hold():
    state = at_ten_percent()
    found = assess("web", to_output(state), live(state), True, NOW, PREFIX)
    assert found.source == "output" and found.hold is None and found.previous.weights == Weights(90, 10)


def test_live_weights_other_than_recorded_hold_the_run_as_drift():
    state = at_ten_percent()
    found = assess("web", to_output(state), live(state, weights=Weights(70, 30)), True, NOW, PREFIX)
    assert found.hold and "carries 70/30 but 90/10 is recorded" in found.hold


@pytest.mark.parametrize(
    "output",
    [
        pytest.param(None, id="a missing output"),
        pytest.param({"phase": "progressing"}, id="an output that does not parse"),
        pytest.param({**to_output(at_ten_percent()), "step": 99}, id="an output that contradicts itself"),
        pytest.param({**to_output(at_ten_percent()), "stepStartedAt": "2020-01-01T00:00:00Z"}, id="an output the router disagrees with"),
    ],
)
def test_an_untrustworthy_output_gives_way_to_the_live_record_and_holds(output):
    found = assess("web", output, live(), True, NOW, PREFIX)
    assert found.source == "live" and found.previous.weights == Weights(90, 10)
    assert found.hold and "continuing from the live record on listener rule arn:rule, traffic unchanged" in found.hold


def test_an_unreadable_router_continues_from_the_output_and_holds():
    state = at_ten_percent()
    found = assess("web", to_output(state), LiveRouter(False, problem="AccessDenied"), True, NOW, PREFIX)
    assert found.source == "output" and found.hold and "could not be read (AccessDenied)" in found.hold


def test_a_live_record_that_disagrees_with_the_live_weights_is_not_trusted():
    state = at_ten_percent()
    stale = live(state, weights=Weights(50, 50))  # the record says 90/10, the rule carries 50/50
    with pytest.raises(UnrecoverableState, match="carries 50/50") as err:
        assess("web", None, stale, True, NOW, PREFIX)
    assert "cutover:services.web.recover" in str(err.value)


def test_a_deployed_service_with_neither_witness_stops_the_run():
    with pytest.raises(UnrecoverableState, match="where web stands cannot be trusted"):
        assess("web", None, LiveRouter(found=False), deployed_before=True, now=NOW, prefix=PREFIX)


# --- what a run records from what was applied -----------------------------------------------------

def test_the_plan_is_recorded_only_when_the_applied_values_match_it():
    before = at_ten_percent()
    planned = replace(before, weights=Weights(50, 50), step=2)
    assert recorded_state(planned, before, AppliedState(Weights(50, 50), {"green": "2"}, {"green": 2})) == planned
    kept = recorded_state(planned, before, AppliedState(Weights(90, 10), {"green": "2"}, {"green": 2}))
    assert kept.weights == Weights(90, 10) and "not applied" in kept.reason
    odd = recorded_state(planned, before, AppliedState(Weights(70, 30)))
    assert odd.weights == Weights(90, 10) and "applied differs" in odd.reason


# --- the candidate check before traffic moves ---------------------------------------------------

@pytest.mark.parametrize(
    "seen, verdict, words",
    [
        pytest.param(ColorWorkload(True, "2", 2, True), None, None, id="the candidate runs its version and settled"),
        pytest.param(ColorWorkload(True, "1", 2, True), GateVerdict.ABORT, "green runs 1, not the candidate 2", id="a rolled back candidate aborts"),
        pytest.param(ColorWorkload(True, "2", 2, False), GateVerdict.HOLD, "has not finished", id="a deployment in progress holds"),
        pytest.param(ColorWorkload(True, "2", 0, True), GateVerdict.HOLD, "has no tasks",
                     id="a candidate an autoscaler has not raised from zero holds"),
        pytest.param(ColorWorkload(False), GateVerdict.HOLD, "was not found", id="a missing workload holds"),
    ],
)
def test_the_candidate_is_verified_before_traffic_moves_onto_it(seen, verdict, words):
    state = at_ten_percent()
    found = verify_colors(state, {"blue": ColorWorkload(True, "1", 2, True), "green": seen}, "aws")
    if verdict is None:
        assert found is None
    else:
        assert found.verdict is verdict and words in found.reason


def test_a_stable_color_running_something_else_holds_without_aborting():
    state = at_ten_percent()
    found = verify_colors(state, {"blue": ColorWorkload(True, "0.9", 2, True), "green": ColorWorkload(True, "2", 2, True)}, "aws")
    assert found.verdict is GateVerdict.HOLD and found.inconclusive is False and "runs 0.9, not 1" in found.reason


def test_a_gate_verdict_is_not_softened_by_a_passing_check():
    from components.rollout.verify import combine

    abort = GateResult(GateVerdict.ABORT, "alarm")
    assert combine(abort, GateResult(GateVerdict.HOLD, "x")) is abort
    assert combine(GateResult.bake_only(), None).verdict is GateVerdict.ADVANCE
