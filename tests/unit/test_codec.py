"""The stack output record: written by one run, read back by the next."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from components.gates.model import GateResult
from components.rollout.codec import CorruptState, UnrecoverableState, from_output, recover, to_output
from components.rollout.machine import next_state
from components.rollout.model import Color, Phase, RolloutSpec, Weights, plan_for

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def mid_canary():
    spec = RolloutSpec("1", 2, plan_for("canary", [10, 50, 100]))
    state = next_state(None, spec, GateResult.bake_only(), T0)
    return next_state(state, RolloutSpec("2", 2, spec.plan), GateResult.bake_only(), T0 + timedelta(minutes=1))


def test_a_record_survives_the_round_trip():
    state = mid_canary()
    assert from_output(to_output(state)) == state


def test_the_record_has_the_documented_fields():
    record = to_output(mid_canary())
    assert {"phase", "step", "weights", "stableColor", "stableVersion", "candidateVersion", "stepStartedAt"} <= set(record)
    assert record["stepStartedAt"] == "2026-03-01T12:01:00Z"
    assert record["weights"] == {"blue": 90, "green": 10}


@pytest.mark.parametrize(
    "field, value, problem",
    [
        pytest.param("weights", {"blue": 90.5, "green": 9.5}, "not a whole number", id="fractional weights are corrupt"),
        pytest.param("stableColor", "purple", "stableColor is not one of", id="an unknown color is corrupt"),
        pytest.param("stepStartedAt", "2026-03-01T12:01:00", "has no time zone", id="a naive timestamp is corrupt"),
        pytest.param("phase", "stable", "phase stable but traffic is not all on the stable color", id="a stable phase with split traffic is corrupt"),
        pytest.param("candidateVersion", None, "without a candidate version", id="progressing without a candidate is corrupt"),
    ],
)
def test_corrupt_records_are_refused_with_the_reason(field, value, problem):
    record = to_output(mid_canary())
    record[field] = value
    with pytest.raises(CorruptState, match=problem):
        from_output(record)


def test_recovery_puts_all_traffic_on_the_named_stable_color():
    record = to_output(mid_canary())
    record["weights"] = "broken"
    state = recover(record, "2", 2, T0, "weights is missing")
    assert state.weights == Weights.all_on(Color.BLUE) and state.phase is Phase.PAUSED
    assert state.versions[Color.GREEN] == "2", "the candidate color keeps what it runs: no redeploy"


def test_recovery_without_a_stable_version_is_impossible():
    with pytest.raises(UnrecoverableState):
        recover({"stableColor": "blue"}, "2", 2, T0, "weights is missing")
