"""The two records a run leaves (stack output and live record on the router), and what makes one untrustworthy."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from components.gates.model import GateResult
from components.rollout.codec import CorruptState, from_output, problems, to_output
from components.rollout.decision import TAG_PREFIX, decision_record, read_decision_record, same_state
from components.rollout.machine import next_state
from components.rollout.model import Color, Phase, RolloutSpec, Weights, plan_for

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
CANARY = plan_for("canary", [10, 50, 100])


def at_ten_percent():
    spec = RolloutSpec("1", 2, CANARY)
    state = next_state(None, spec, GateResult.bake_only(), T0, "canary")
    for minutes in (1, 2):
        state = next_state(state, RolloutSpec("2", 2, CANARY), GateResult.bake_only(), T0 + timedelta(minutes=minutes), "canary")
    assert state.weights == Weights(90, 10)
    return state


def test_the_output_record_carries_every_field_the_next_run_needs():
    state = at_ten_percent()
    record = to_output(state)
    assert record["stepStartedAt"] == "2026-03-01T12:02:00Z" and record["weights"] == {"blue": 90, "green": 10}
    assert record["plan"] == [0, 10, 50, 100] and record["step"] == 1
    parsed = from_output(record)
    assert (parsed.phase, parsed.step, parsed.weights, parsed.versions[Color.GREEN], parsed.plan) == (
        Phase.PROGRESSING, 1, Weights(90, 10), "2", (0, 10, 50, 100)
    )


def test_the_live_record_is_flat_tag_safe_strings_and_reads_back_to_the_same_state():
    state = at_ten_percent()
    tags = decision_record("web", state)
    assert all(key.startswith(TAG_PREFIX) and isinstance(value, str) for key, value in tags.items())
    assert all(len(value) <= 256 and set(value) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.:/=+-@")
               for value in tags.values()), "AWS tag values allow only these characters"
    assert len(tags) <= 50, "AWS allows 50 tags per resource"
    assert tags["cutover:weights"] == "90/10" and tags["cutover:plan"] == "0/10/50/100" and tags["cutover:green-version"] == "2"
    back = read_decision_record(tags)
    assert same_state(back, state) and back.step_started_at == state.step_started_at


@pytest.mark.parametrize(
    "field, value, problem",
    [
        pytest.param("weights", {"blue": 90.5, "green": 9.5}, "not a whole number", id="fractional weights are corrupt"),
        pytest.param("stableColor", "purple", "stableColor is not one of", id="an unknown color is corrupt"),
        pytest.param("stepStartedAt", "2026-03-01T12:01:00", "has no time zone", id="a naive timestamp is corrupt"),
        pytest.param("candidateColor", "blue", "is not the other color", id="a candidate color equal to the stable one is corrupt"),
        pytest.param("abortedBy", "nobody", "abortedBy is not", id="an unknown abort origin is corrupt"),
    ],
)
def test_records_that_do_not_parse_are_refused_with_the_reason(field, value, problem):
    record = to_output(at_ten_percent())
    record[field] = value
    with pytest.raises(CorruptState, match=problem):
        from_output(record)


@pytest.mark.parametrize(
    "changes, problem",
    [
        pytest.param({"step": 99}, "step 99 is outside the plan", id="a step beyond the plan"),
        pytest.param({"step": 2}, "are not step 2 of the plan", id="weights that are not the plan's weights at its step"),
        pytest.param({"stable_color": Color.GREEN}, "versions.green is '2' but stableVersion is '1'", id="a swapped stable color"),
        pytest.param({"versions": {Color.BLUE: "7", Color.GREEN: "2"}}, "versions.blue is '7'", id="an unconfigured version on the stable color"),
        pytest.param({"stable_version": "7"}, "stableVersion is '7'", id="a stable version no color runs"),
        pytest.param({"phase": Phase.STABLE}, "phase stable must have all traffic", id="a stable phase with split traffic"),
        pytest.param({"weights": Weights(0, 100)}, "are not step 1", id="a paused candidate at 100 without promotion"),
        pytest.param({"candidate_version": None}, "needs a candidate", id="progressing without a candidate"),
        pytest.param({"step": None}, "needs a candidate and a step", id="progressing without a step"),
        pytest.param({"phase": Phase.ABORTED, "step": None, "weights": Weights(100, 0), "candidate_version": None,
                      "aborted_by": "gate"}, "phase aborted must have all traffic on the stable color, a candidate",
                     id="aborted without a candidate"),
        pytest.param({"phase": Phase.ABORTED, "step": None, "weights": Weights(100, 0), "aborted_by": None},
                     "phase aborted without abortedBy", id="aborted without saying by whom"),
        pytest.param({"step_started_at": T0 + timedelta(days=1)}, "is in the future", id="a step that starts tomorrow"),
        pytest.param({"scale_down_at": T0}, "scaleDownAt is set while a candidate is in flight", id="a scale-down during a rollout"),
        pytest.param({"plan": (10, 50, 100)}, "does not start at 0", id="a plan without its deploy step"),
        pytest.param({"strategy": "yolo"}, "strategy 'yolo'", id="an unknown strategy"),
    ],
)
def test_records_that_parse_but_contradict_themselves_are_not_trusted(changes, problem):
    damaged = replace(at_ten_percent(), **changes)
    found = problems(damaged, T0 + timedelta(minutes=5))
    assert any(problem in p for p in found), found


def test_an_undamaged_record_has_no_problems():
    assert problems(at_ten_percent(), T0 + timedelta(minutes=5)) == []


@pytest.mark.parametrize(
    "tag, value, problem",
    [
        pytest.param("cutover:weights", "ninety/ten", "is not '<blue>/<green>'", id="weights that are not numbers"),
        pytest.param("cutover:phase", "sideways", "phase is not one of", id="an unknown phase"),
        pytest.param("cutover:step-started-at", "yesterday", "not an ISO-8601 timestamp", id="a time that is not a time"),
        pytest.param("cutover:plan", "10/fifty", "is not percents", id="a plan that is not percents"),
    ],
)
def test_a_damaged_live_record_is_refused_with_the_reason(tag, value, problem):
    tags = decision_record("web", at_ten_percent())
    tags[tag] = value
    with pytest.raises(CorruptState, match=problem):
        read_decision_record(tags)


def test_a_live_record_missing_a_key_names_it():
    tags = decision_record("web", at_ten_percent())
    del tags["cutover:green-version"]
    with pytest.raises(CorruptState, match="lacks cutover:green-version"):
        read_decision_record(tags)
