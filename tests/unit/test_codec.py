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


STABLE_ON_BLUE = {"phase": Phase.STABLE, "candidate_version": None, "step": None, "weights": Weights(100, 0)}
ABORTED_ON_BLUE = {"phase": Phase.ABORTED, "step": None, "weights": Weights(100, 0), "aborted_by": "gate"}
STABLE_RULE = "phase stable must have all traffic on the stable color, no candidate and no step"
ABORTED_RULE = "phase aborted must have all traffic on the stable color, a candidate and no step"


@pytest.mark.parametrize(
    "changes, problem",
    [
        pytest.param({"step": 99}, "step 99 is outside the plan [0, 10, 50, 100]", id="a step beyond the plan"),
        pytest.param({"step": 3, "weights": Weights(0, 100)}, "step 3 is outside the plan [0, 10, 50, 100]",
                     id="a step at 100 percent is a promotion, not a step in flight"),
        pytest.param({"step": 2}, "weights 90/10 are not step 2 of the plan [0, 10, 50, 100]",
                     id="weights that are not the plan's weights at its step"),
        pytest.param({"stable_color": Color.GREEN}, "versions.green is '2' but stableVersion is '1'", id="a swapped stable color"),
        pytest.param({"versions": {Color.BLUE: "7", Color.GREEN: "2"}}, "versions.blue is '7' but stableVersion is '1'",
                     id="an unconfigured version on the stable color"),
        pytest.param({"stable_version": "7"}, "versions.blue is '1' but stableVersion is '7'", id="a stable version no color runs"),
        pytest.param({"versions": {Color.BLUE: "1", Color.GREEN: "7"}}, "versions.green is '7' but candidateVersion is '2'",
                     id="a candidate its color does not run"),
        pytest.param({"phase": Phase.STABLE}, STABLE_RULE, id="a stable phase with split traffic"),
        pytest.param({**STABLE_ON_BLUE, "candidate_version": "2"}, STABLE_RULE, id="a stable phase with a candidate"),
        pytest.param({**STABLE_ON_BLUE, "step": 1}, STABLE_RULE, id="a stable phase with a step"),
        pytest.param({"weights": Weights(0, 100)}, "weights 0/100 are not step 1 of the plan [0, 10, 50, 100]",
                     id="a paused candidate at 100 without promotion"),
        pytest.param({"candidate_version": None}, "phase progressing needs a candidate and a step", id="progressing without a candidate"),
        pytest.param({"step": None}, "phase progressing needs a candidate and a step", id="progressing without a step"),
        pytest.param({**ABORTED_ON_BLUE, "candidate_version": None}, ABORTED_RULE, id="aborted without a candidate"),
        pytest.param({**ABORTED_ON_BLUE, "step": 1}, ABORTED_RULE, id="aborted at a step"),
        pytest.param({**ABORTED_ON_BLUE, "weights": Weights(90, 10)}, ABORTED_RULE, id="aborted with the candidate serving"),
        pytest.param({**ABORTED_ON_BLUE, "aborted_by": None}, "phase aborted without abortedBy", id="aborted without saying by whom"),
        pytest.param({"step_started_at": T0 + timedelta(days=1)}, "stepStartedAt 2026-03-02T12:00:00Z is in the future",
                     id="a step that starts tomorrow"),
        pytest.param({"step_started_at": T0 + timedelta(minutes=10, seconds=1)}, "stepStartedAt 2026-03-01T12:10:01Z is in the future",
                     id="a step that starts just beyond the allowed clock skew"),
        pytest.param({"scale_down_at": T0}, "scaleDownAt is set while a candidate is in flight", id="a scale-down during a rollout"),
        pytest.param({"plan": (10, 50, 100)}, "plan [10, 50, 100] does not start at 0, increase and end at 100",
                     id="a plan without its deploy step"),
        pytest.param({"plan": (0, 10, 50)}, "plan [0, 10, 50] does not start at 0, increase and end at 100", id="a plan short of 100"),
        pytest.param({"plan": (0, 10, 10, 100)}, "plan [0, 10, 10, 100] does not start at 0, increase and end at 100",
                     id="a plan that repeats a share"),
        pytest.param({"plan": (0, 10, 5, 100)}, "plan [0, 10, 5, 100] does not start at 0, increase and end at 100",
                     id="a plan that goes down"),
        pytest.param({"plan": ()}, "plan [] does not start at 0, increase and end at 100", id="no plan"),
        pytest.param({"strategy": "yolo"}, "strategy 'yolo' is not one of canary, blue-green, red-black, rolling, shadow", id="an unknown strategy"),
        pytest.param({"replicas": {Color.BLUE: 2, Color.GREEN: -1}}, "negative counts", id="a negative replica count"),
        pytest.param({"inconclusive_runs": -1}, "negative counts", id="a negative inconclusive count"),
        pytest.param({"mirror_percent": 50}, "mirrorPercent 50 while no candidate in flight is at 0 %", id="a mirror while serving"),
        pytest.param({**STABLE_ON_BLUE, "rollback_version": "1"}, "rollbackVersion '1' is the stable version",
                     id="a rollback to the version already stable"),
    ],
)
def test_records_that_parse_but_contradict_themselves_are_not_trusted(changes, problem):
    damaged = replace(at_ten_percent(), **changes)
    assert problem in problems(damaged, T0 + timedelta(minutes=5))


def at_zero_percent():
    state = at_ten_percent()
    return state.with_(step=0, weights=Weights(100, 0))


@pytest.mark.parametrize("share, trusted", [(1, True), (100, True), (0, True), (101, False), (-5, False)])
def test_a_mirror_share_of_a_candidate_at_zero_percent(share, trusted):
    found = problems(at_zero_percent().with_(mirror_percent=share), T0 + timedelta(minutes=5))
    assert (found == []) is trusted, found


def test_a_step_started_within_the_allowed_clock_skew_is_trusted():
    assert problems(at_ten_percent(), at_ten_percent().step_started_at - timedelta(minutes=5)) == []


def test_a_rolling_update_the_platform_refused_is_trusted_though_no_color_runs_it():
    """What the program records when ECS rolled a rolling update back (components/app.py): the refused
    version stays aborted, recorded as the candidate, while the stable color runs the old one."""
    refused = at_ten_percent().with_(
        strategy="rolling", plan=(100,), phase=Phase.ABORTED, step=None, weights=Weights(100, 0), aborted_by="gate",
        versions={Color.BLUE: "1", Color.GREEN: "1"},
    )
    assert problems(refused, T0 + timedelta(minutes=5)) == []
    assert problems(refused.with_(strategy="canary"), T0 + timedelta(minutes=5)) == ["versions.green is '1' but candidateVersion is '2'"]


def test_records_are_utc_whatever_the_time_zone_of_the_runner(monkeypatch):
    import time

    from components.rollout.codec import iso, parse_time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert iso(T0) == "2026-03-01T12:00:00Z"
        assert parse_time("2026-03-01T17:30:00+05:30", "at") == T0 and parse_time("2026-03-01T17:30:00+05:30", "at").utcoffset() == timedelta(0)
    finally:
        monkeypatch.undo()
        time.tzset()


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
