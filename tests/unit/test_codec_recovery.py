"""Reading the previous run's record back: what a damaged, partial or older record becomes, and what the
next run then does. A record that cannot be trusted is refused with a message naming the key (it reaches
the operator through `UnrecoverableState`); parts that only describe the past are dropped, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from components.gates.model import GateResult, GateVerdict
from components.rollout.codec import CorruptState, from_output, problems, to_output
from components.rollout.decision import decision_record
from components.rollout.machine import next_state
from components.rollout.model import Color, Completion, Phase, RolloutSpec, RolloutState, Shift, Weights, WorkloadSpec
from components.rollout.promotion import evidence_for
from tests.unit.test_codec import CANARY, T0, at_ten_percent

NOW = T0 + timedelta(minutes=5)
SPEC = RolloutSpec("2", 2, CANARY, max_inconclusive_runs=3)
INCONCLUSIVE = GateResult(GateVerdict.HOLD, "not enough evidence: 37 requests < 100", inconclusive=True)


def record(**changes: object) -> dict:
    """The output of a canary of 2 at 10 %, with `changes` applied (a value of `...` removes the key)."""
    out = to_output(at_ten_percent())
    for key, value in changes.items():
        if value is ...:
            del out[key]
        else:
            out[key] = value
    return out


def next_run(previous: RolloutState, gate: GateResult = GateResult.bake_only(), spec: RolloutSpec = SPEC) -> RolloutState:
    return next_state(previous, spec, gate, NOW, "canary")


# --- the output contract --------------------------------------------------------------------------------


def documented_output_fields() -> set[str]:
    """The field names of `rollouts` in the README's Outputs table: what users script against."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("`rollouts` — an object keyed by service:", 1)[1].split("`endpoints`", 1)[0]
    return {name for row in table.splitlines() if row.startswith("| `") for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_the_record_carries_every_field_the_readme_documents():
    documented = documented_output_fields()
    assert {"candidateColor", "inconclusiveRuns", "rollbackUntil", "evidence"} <= documented
    assert documented <= set(record())


def every_field_set() -> RolloutState:
    """A state in which no field has its default, so a field the codec drops or garbles shows (the codec
    copies; whether the values agree with each other is `problems`' business)."""
    state = at_ten_percent()
    gate = GateResult(GateVerdict.HOLD, "the candidate on green: not ready", True, {"requests": 37, "errorRate": 0.5}, "workload")
    state = state.with_(
        inconclusive_runs=2, gate=gate, strategy="shadow", rollback_version="0.9", evidence="staging 2026-02-28T10:00:00Z",
        last_shift=Shift(Weights(100, 0), Weights(90, 10), "advance", "advance", 1), past_versions=("0.9", "1", "2"),
        verdicts=("ready",), completed=(Completion("1", T0 - timedelta(days=1), "canary", ("advance", "ready")),),
        mirror_percent=40, reason="advanced to step 1", scale_down_at=T0 + timedelta(minutes=30), aborted_by="gate",
        specs={Color.BLUE: WorkloadSpec(256, 512, {"LOG": "debug", "A": "1"}, {"DB_PASSWORD": "arn:aws:secretsmanager:db"}),
               Color.GREEN: WorkloadSpec(512, 1024)},
    )
    assert all(getattr(state, f.name) != f.default for f in fields(RolloutState) if f.name != "warning"), "warning is never saved"
    return state


def test_a_record_read_back_is_the_state_that_was_written():
    state = every_field_set()
    assert from_output(to_output(state)) == state
    assert to_output(from_output(to_output(state))) == to_output(state), "a run that applied nothing re-records it unchanged"


@pytest.mark.parametrize("state, candidate_color", [
    pytest.param(at_ten_percent(), "green", id="a rollout in flight names the candidate color"),
    pytest.param(at_ten_percent().with_(phase=Phase.STABLE, candidate_version=None, step=None, weights=Weights(100, 0)), None,
                 id="no rollout in flight names no candidate color"),
])
def test_the_candidate_color_is_named_only_while_there_is_a_candidate(state, candidate_color):
    assert to_output(state)["candidateColor"] == candidate_color


def test_the_rollback_deadline_is_exported_only_while_the_old_color_is_warm():
    warm = at_ten_percent().with_(
        phase=Phase.STABLE, stable_color=Color.GREEN, stable_version="2", candidate_version=None, step=None,
        weights=Weights(0, 100), rollback_version="1", scale_down_at=T0 + timedelta(minutes=30),
    )
    assert to_output(warm)["rollbackUntil"] == "2026-03-01T12:30:00Z"
    assert to_output(warm.with_(replicas={Color.BLUE: 0, Color.GREEN: 2}))["rollbackUntil"] is None


# --- refused records: the message names what is wrong -----------------------------------------------------


@pytest.mark.parametrize("damaged, message", [
    pytest.param([1, 2], "the record is not an object", id="a list instead of an object"),
    pytest.param(record(versions=...), "versions and replicas per color are missing", id="versions missing"),
    pytest.param(record(replicas=...), "versions and replicas per color are missing", id="replicas missing"),
    pytest.param(record(versions={"blue": "1"}), "versions.green is missing", id="one color's version missing"),
    pytest.param(record(replicas={"blue": 2, "green": "two"}), "replicas.green is not a whole number: 'two'",
                 id="a replica count that is a word"),
    pytest.param(record(replicas={"blue": True, "green": 2}), "replicas.blue is not a whole number: True",
                 id="a replica count that is a boolean"),
    pytest.param(record(phase="sideways"), "phase is not one of ['stable', 'progressing', 'paused', 'aborted']: 'sideways'",
                 id="an unknown phase"),
    pytest.param(record(stableVersion=""), "stableVersion is missing", id="an empty stable version"),
    pytest.param(record(stableVersion=7), "stableVersion is missing", id="a stable version that is a number"),
    pytest.param(record(candidateVersion=""), "candidateVersion is missing", id="an empty candidate version"),
    pytest.param(record(step="one"), "step is not a whole number: 'one'", id="a step that is a word"),
    pytest.param(record(weights=...), "weights is missing", id="weights missing"),
    pytest.param(record(weights={"blue": 90}), "weights.green is not a whole number: None", id="one color's weight missing"),
    pytest.param(record(weights={"blue": "ninety", "green": 10}), "weights.blue is not a whole number: 'ninety'",
                 id="a weight that is a word"),
    pytest.param(record(weights={"blue": 90, "green": 20}), "weights: weights must sum to 100, got 90/20", id="weights over 100"),
    pytest.param(record(stepStartedAt=...), "stepStartedAt is not a timestamp", id="the step start missing"),
    pytest.param(record(scaleDownAt="soon"), "scaleDownAt is not an ISO-8601 timestamp: 'soon'", id="a scale-down time that is a word"),
    pytest.param(record(inconclusiveRuns=1.5), "inconclusiveRuns is not a whole number: 1.5", id="a fractional count"),
    pytest.param(record(plan="0/10/100"), "plan is not a list of percents", id="a plan that is a string"),
    pytest.param(record(plan=[0, "ten", 100]), "plan[1] is not a whole number: 'ten'", id="a plan step that is a word"),
    pytest.param(record(rollbackVersion=""), "rollbackVersion is missing", id="an empty rollback version"),
    pytest.param(record(mirrorPercent="all"), "mirrorPercent is not a whole number: 'all'", id="a mirror share that is a word"),
    pytest.param(record(specs=["blue"]), "specs is not an object", id="specs that are a list"),
    pytest.param(record(specs={"green": "512/1024"}), "specs.green is not an object", id="a color's spec that is a string"),
    pytest.param(record(specs={"blue": {"cpu": 256, "memory": 512, "environment": {"A": 1}}}),
                 "specs.blue.environment is not an object of strings", id="an environment value that is a number"),
    pytest.param(record(specs={"green": {"memory": 512}}), "specs.green.cpu is not a whole number: None", id="a spec without cpu"),
    pytest.param(record(specs={"green": {"cpu": 256}}), "specs.green.memory is not a whole number: None", id="a spec without memory"),
])
def test_a_record_that_cannot_be_read_is_refused_naming_the_key(damaged, message):
    with pytest.raises(CorruptState) as refused:
        from_output(damaged)
    assert str(refused.value) == message


# --- what an older or partly damaged record becomes, and what the next run does ---------------------------


def test_a_record_from_before_inconclusive_runs_were_counted_starts_counting_at_zero():
    previous = from_output(record(inconclusiveRuns=...))
    held = next_run(previous, INCONCLUSIVE)
    assert held.phase is Phase.PROGRESSING and held.inconclusive_runs == 1 and held.weights == Weights(90, 10)


def test_a_record_from_before_shadow_phases_mirrors_nothing():
    previous = from_output(record(mirrorPercent=...))
    assert previous.mirror_percent == 0 and problems(previous, NOW) == []


def test_a_record_from_before_workload_specs_has_none():
    assert from_output(record(specs=...)).specs == {} and from_output(record(specs=None)).specs == {}


def test_a_record_without_evidence_says_none():
    previous = from_output(record(evidence=...))
    assert to_output(next_run(previous))["evidence"] == "none"


def test_a_paused_record_without_a_reason_still_says_what_it_waits_for():
    previous = from_output(record(phase="paused", reason=...))
    assert next_run(previous).reason == "paused; waiting for approve: 2"


def test_a_record_without_a_strategy_is_not_trusted():
    previous = from_output(record(strategy=...))
    assert "strategy '' is not one of canary, blue-green, red-black, rolling, shadow" in problems(previous, NOW)


@pytest.mark.parametrize("last_shift", [
    pytest.param({"from": {"blue": 100}, "to": {"blue": 90, "green": 10}}, id="a shift from half a weight"),
    pytest.param({"from": {"blue": 100, "green": 0}, "to": "90/10"}, id="a shift to a string"),
    pytest.param({"from": {"blue": 100, "green": 0}, "to": {"blue": 90, "green": 10}, "step": "one"}, id="a shift at a step that is a word"),
    pytest.param("advance", id="a shift that is a word"),
])
def test_a_corrupt_last_shift_is_dropped_and_the_next_step_records_a_whole_one(last_shift):
    previous = from_output(record(lastShift=last_shift))
    assert previous.last_shift is None and problems(previous, NOW) == [], "the rollout itself is still trusted"
    moved = next_run(previous)
    assert moved.weights == Weights(50, 50)
    assert (moved.last_shift.before, moved.last_shift.after, moved.last_shift.cause, moved.last_shift.step) == (
        Weights(90, 10), Weights(50, 50), "advance", 2)
    assert decision_record("web", moved)["cutover:weights-before"] == "90/10"


def test_a_last_shift_from_an_older_program_reads_with_no_verdict():
    previous = from_output(record(lastShift={"from": None, "to": {"blue": 90, "green": 10}, "cause": "advance"}))
    assert previous.last_shift == Shift(None, Weights(90, 10), "advance", "none", None)
    assert decision_record("web", previous)["cutover:verdict"] == "none"


def test_a_last_shift_without_a_cause_reads_with_an_empty_one():
    previous = from_output(record(lastShift={"from": {"blue": 100, "green": 0}, "to": {"blue": 90, "green": 10}}))
    assert previous.last_shift.cause == ""


@pytest.mark.parametrize("gate", [
    pytest.param({"verdict": "maybe", "reason": "?"}, id="an unknown verdict"),
    pytest.param("advance", id="a gate that is a word"),
])
def test_a_corrupt_gate_is_dropped_and_the_next_run_judges_with_its_own(gate):
    previous = from_output(record(gate=gate))
    assert previous.gate is None and problems(previous, NOW) == []
    moved = next_run(previous, INCONCLUSIVE)
    assert moved.weights == Weights(90, 10) and moved.gate == INCONCLUSIVE and moved.inconclusive_runs == 1


def test_a_gate_from_an_older_program_reads_with_the_defaults():
    previous = from_output(record(gate={"verdict": "hold"}))
    assert previous.gate == GateResult(GateVerdict.HOLD, "", False, {}, "gate")


def test_gate_measurements_survive_the_round_trip():
    gate = GateResult(GateVerdict.ADVANCE, "passed", False, {"requests": 800, "errorRate": 0.002})
    assert from_output(record(gate=gate.to_output())).gate.measurements == {"requests": 800, "errorRate": 0.002}


@pytest.mark.parametrize("completed", [
    pytest.param(..., id="a record from before completions were kept"),
    pytest.param(None, id="completions that are null"),
    pytest.param(5, id="completions that are a number"),
    pytest.param("1.0", id="completions that are a string"),
])
def test_unreadable_completions_are_no_completions_and_a_promotion_from_here_waits(completed):
    previous = from_output(record(completed=completed))
    assert previous.completed == ()
    why, _ = evidence_for("1", "staging", {"web": to_output(previous)}, "web", require_analysis=False)
    assert why == "staging has not completed 1 (it has completed no version); promote it there first"


def test_one_damaged_completion_drops_only_itself():
    good = {"version": "1", "completedAt": "2026-02-28T10:00:00Z", "strategy": "canary", "verdicts": ["advance"]}
    later = {"version": "2", "completedAt": "2026-03-01T10:00:00Z", "verdicts": ["promote"]}
    previous = from_output(record(completed=[good, {"version": "1.5", "completedAt": "yesterday"}, "junk", {"version": ""}, later]))
    assert [c.version for c in previous.completed] == ["1", "2"]
    assert previous.completed[1].strategy == "" and previous.completed[1].verdicts == ("promote",)
    why, evidence = evidence_for("2", "staging", {"web": to_output(previous)}, "web", require_analysis=False)
    assert why is None and evidence == "staging 2026-03-01T10:00:00Z"


def test_entries_of_the_version_history_that_are_not_versions_are_dropped():
    previous = from_output(record(pastVersions=["1", 5, "", None, True, "2"], verdicts=["advance", 0, 1, "ready"]))
    assert previous.past_versions == ("1", "2") and previous.verdicts == ("advance", "ready")
    assert to_output(previous)["pastVersions"] == ["1", "2"]


def test_a_completion_with_a_time_in_another_zone_is_read_as_utc():
    entry = {"version": "1", "completedAt": "2026-02-28T15:30:00+05:30", "strategy": "canary", "verdicts": ["advance"]}
    assert to_output(from_output(record(completed=[entry])))["completed"][0]["completedAt"] == "2026-02-28T10:00:00Z"
