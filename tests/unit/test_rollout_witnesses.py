"""The pure helpers around the state machine, each by what it tells the run or the operator: which witness
a run trusts, what the live workloads say, what a run records of what was applied, the router's tag record,
a promotion's evidence, image tags, and the vocabulary's own checks."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from components.gates.model import GateResult, GateVerdict
from components.rollout.applied import AppliedState, mismatches, recorded_state
from components.rollout.codec import UnrecoverableState, to_output
from components.rollout.decision import TAG_PREFIX, decision_record, read_decision_record
from components.rollout.live import ColorWorkload, LiveRouter, LiveService, image_tag
from components.rollout.model import Color, Completion, Phase, RolloutSpec, Shift, StepPlan, Weights, WorkloadSpec, plan_for
from components.rollout.promotion import evidence_for
from components.rollout.trust import assess
from components.rollout.verify import combine, rolled_back_in_place, verify_colors, warm_color_problem
from tests.unit.test_codec import T0, at_ten_percent

NOW = T0 + timedelta(minutes=5)
RULE = "listener rule arn:rule"


def live(state=None, weights=None, where=RULE, **changes) -> LiveRouter:
    state = state or at_ten_percent()
    return LiveRouter(True, weights or state.weights, decision_record("web", state), where=where, **changes)


def at_half():
    return at_ten_percent().with_(weights=Weights(50, 50), step=2, step_started_at=T0 + timedelta(minutes=3))


# --- which witness a run starts from ----------------------------------------------------------------------


def test_a_router_that_cannot_be_read_is_never_taken_for_a_first_deploy():
    with pytest.raises(UnrecoverableState) as stop:
        assess("web", None, LiveRouter(False, problem="AccessDenied"), deployed_before=False, now=NOW, prefix=TAG_PREFIX)
    assert "the stack output rollouts.web is missing, and the router: could not be read (AccessDenied)" in str(stop.value)


def test_nothing_deployed_is_a_first_deploy_from_no_witness():
    found = assess("web", None, LiveRouter(False), deployed_before=False, now=NOW, prefix=TAG_PREFIX)
    assert (found.previous, found.first_deploy, found.hold, found.source) == (None, True, None, "none")


def test_a_router_found_without_an_output_is_not_a_first_deploy():
    found = assess("web", None, live(), deployed_before=False, now=NOW, prefix=TAG_PREFIX)
    assert found.first_deploy is False and found.source == "live" and found.previous.weights == Weights(90, 10)
    assert found.hold == f"the stack output rollouts.web is missing; continuing from the live record on {RULE}, traffic unchanged"


def test_live_weights_other_than_recorded_hold_with_what_to_do():
    state = at_ten_percent()
    found = assess("web", to_output(state), live(state, weights=Weights(70, 30)), True, NOW, TAG_PREFIX)
    assert found.previous == state and found.source == "output" and found.first_deploy is False
    assert found.hold == (f"{RULE} carries 70/30 but 90/10 is recorded (changed outside Pulumi?); "
                          "restore it or run `pulumi up --refresh`")


def test_agreeing_witnesses_on_a_router_without_a_readable_split_hold():
    state = at_ten_percent()
    found = assess("web", to_output(state), LiveRouter(True, None, decision_record("web", state), where=RULE), True, NOW, TAG_PREFIX)
    assert found.previous == state and found.first_deploy is False
    assert "not the recorded 90/10 (changed outside Pulumi?)" in found.hold


@pytest.mark.parametrize("output, why", [
    pytest.param({**to_output(at_ten_percent()), "phase": "sideways"}, "is unreadable (phase is not one of",
                 id="an unreadable output says why"),
    pytest.param({**to_output(at_ten_percent()), "step": 3}, "is inconsistent (step 3 is outside the plan [0, 10, 50, 100])",
                 id="an inconsistent output says why"),
    pytest.param(to_output(at_half()), "differs from the live record", id="an output that disagrees with the router"),
])
def test_the_live_record_takes_over_and_the_hold_says_what_was_wrong_with_the_output(output, why):
    found = assess("web", output, live(), True, NOW, TAG_PREFIX)
    assert found.source == "live" and found.first_deploy is False and found.hold.startswith(f"the stack output rollouts.web {why}")
    assert found.hold.endswith(f"continuing from the live record on {RULE}, traffic unchanged")


def test_problems_of_an_inconsistent_record_are_all_named():
    output = {**to_output(at_ten_percent()), "stableVersion": "7", "strategy": "yolo"}
    found = assess("web", output, live(), True, NOW, TAG_PREFIX)
    assert "is inconsistent (strategy 'yolo' is not one of canary, blue-green, red-black, rolling, shadow; versions.blue" in found.hold


@pytest.mark.parametrize("router, why", [
    pytest.param(LiveRouter(False, Weights(90, 10), problem="Throttling", where=RULE), f"the live record on {RULE} could not be read (Throttling)",
                 id="a router read that failed"),
    pytest.param(LiveRouter(False, Weights(90, 10), where=RULE), f"the live record on {RULE} was not found", id="a router not found"),
    pytest.param(LiveRouter(True, Weights(90, 10), {}, where=RULE), f"the live record on {RULE} is missing", id="a router without a record"),
    pytest.param(LiveRouter(True, Weights(90, 10), {k: v for k, v in decision_record("web", at_ten_percent()).items()
                                                     if k != "cutover:plan"}, where=""),
                 "the live record on the router is unreadable (the record on the router lacks cutover:plan)",
                 id="a router whose record lacks a key, where unknown"),
    pytest.param(live(at_half(), weights=Weights(90, 10)),
                 f"the live record on {RULE} describes 50/50 but the router carries 90/10 (a write that did not complete)",
                 id="a record that claims more than the router carries"),
])
def test_the_output_is_used_when_the_live_record_is_not_and_the_hold_says_why(router, why):
    state = at_ten_percent()
    found = assess("web", to_output(state), router, True, NOW, TAG_PREFIX)
    assert found.previous == state and found.source == "output" and found.first_deploy is False
    assert found.hold == f"{why}; continuing from the stack output, traffic unchanged"


def test_agreeing_witnesses_continue_without_a_hold():
    state = at_ten_percent()
    found = assess("web", to_output(state), live(state), True, NOW, TAG_PREFIX)
    assert (found.previous, found.first_deploy, found.hold, found.source) == (state, False, None, "output")


def test_kubernetes_annotations_are_read_under_their_own_prefix():
    state = at_ten_percent()
    router = LiveRouter(True, state.weights, decision_record("web", state, prefix="cutover.dev/"), where="HTTPRoute shop/web")
    found = assess("web", None, router, True, NOW, "cutover.dev/")
    assert found.source == "live" and found.previous.weights == Weights(90, 10)


def test_neither_witness_stops_the_run_with_what_to_inspect_and_set():
    with pytest.raises(UnrecoverableState) as stop:
        assess("api", to_output(at_half()), live(weights=Weights(70, 30)), True, NOW, TAG_PREFIX)
    assert str(stop.value) == (
        "where api stands cannot be trusted: the stack output rollouts.api disagrees with the router, and "
        f"{RULE} carries 70/30. Inspect `pulumi stack output rollouts --json` and the router's cutover:* record; then set "
        "cutover:services.api.recover to {stableColor, stableVersion} for one run to put all traffic on that color"
    )


# --- what the live workloads say before traffic moves -----------------------------------------------------


def colors(blue: ColorWorkload | None = None, green: ColorWorkload | None = None) -> dict[str, ColorWorkload]:
    return {c: w for c, w in (("blue", blue or ColorWorkload(True, "1", 2, True)), ("green", green)) if w is not None}


@pytest.mark.parametrize("seen, platform, verdict, inconclusive, reason", [
    pytest.param(ColorWorkload(True, "1", 2, True, "primary deployment rolled back"), "aws", GateVerdict.ABORT, False,
                 "green runs 1, not the candidate 2: the ECS deployment circuit breaker rolled it back (primary deployment rolled back)",
                 id="ECS rolled the candidate back"),
    pytest.param(ColorWorkload(True, "1", 2, True), "kubernetes", GateVerdict.ABORT, False,
                 "green runs 1, not the candidate 2: its Deployment was rolled back or edited", id="Kubernetes rolled it back"),
    pytest.param(ColorWorkload(True, "1", 2, True), "", GateVerdict.ABORT, False,
                 "green runs 1, not the candidate 2: it was rolled back", id="an unnamed platform rolled it back"),
    pytest.param(None, "aws", GateVerdict.HOLD, True, "the candidate on green: its workload could not be located", id="not located"),
    pytest.param(ColorWorkload(False), "aws", GateVerdict.HOLD, True, "the candidate on green: its workload was not found", id="not found"),
    pytest.param(ColorWorkload(True, "2", 0, True), "aws", GateVerdict.HOLD, True,
                 "the candidate on green: it has no tasks (an autoscaler has not raised it yet?)", id="no tasks"),
    pytest.param(ColorWorkload(True, "2", 2, False, "1 of 2 tasks running"), "aws", GateVerdict.HOLD, True,
                 "the candidate on green: the deployment of 2 has not finished (1 of 2 tasks running)", id="still deploying"),
])
def test_the_candidate_is_checked_before_traffic_moves(seen, platform, verdict, inconclusive, reason):
    found = verify_colors(at_ten_percent(), colors(green=seen), platform)
    assert (found.verdict, found.inconclusive, found.reason, found.source) == (verdict, inconclusive, reason, "workload")


@pytest.mark.parametrize("seen", [
    pytest.param(ColorWorkload(True, "2", 1, True), id="one task is enough"),
    pytest.param(ColorWorkload(True, "2", None, None), id="unknown count and state are not a problem"),
])
def test_a_ready_candidate_passes_the_check(seen):
    assert verify_colors(at_ten_percent(), colors(green=seen), "aws") is None


@pytest.mark.parametrize("blue", [
    pytest.param(ColorWorkload(False), id="a stable color not found is left to the router check"),
    pytest.param(ColorWorkload(True, None, 2, True), id="a stable color whose image is unknown"),
])
def test_the_stable_color_is_questioned_only_when_it_runs_another_version(blue):
    assert verify_colors(at_ten_percent(), colors(blue, ColorWorkload(True, "2", 2, True)), "aws") is None


def test_no_candidate_in_flight_needs_no_candidate_check():
    stable = at_ten_percent().with_(phase=Phase.STABLE, candidate_version=None, step=None, weights=Weights(100, 0))
    aborted = at_ten_percent().with_(phase=Phase.ABORTED, step=None, weights=Weights(100, 0), aborted_by="gate")
    assert verify_colors(stable, colors(), "aws") is None
    assert verify_colors(aborted, colors(green=ColorWorkload(True, "1", 0, True)), "aws") is None


def promoted():
    return at_ten_percent().with_(phase=Phase.STABLE, stable_color=Color.GREEN, stable_version="2", candidate_version=None, step=None,
                                  weights=Weights(0, 100), rollback_version="1", scale_down_at=T0 + timedelta(minutes=30),
                                  last_shift=Shift(Weights(50, 50), Weights(0, 100), "advance", "advance"))


@pytest.mark.parametrize("state, blue, problem", [
    pytest.param(promoted(), ColorWorkload(True, "1", 2, True), None, id="the warm color runs the last good version"),
    pytest.param(promoted(), ColorWorkload(True, "1", 1, True), None, id="one warm task is enough"),
    pytest.param(promoted().with_(rollback_version=None), ColorWorkload(True, "1", 2, True), "no version to roll back to",
                 id="nothing to roll back to"),
    pytest.param(promoted(), ColorWorkload(True, "7", 2, True), "it runs 7", id="the warm color runs something else"),
    pytest.param(promoted(), ColorWorkload(True, "1", 0, True), "it has no tasks", id="the warm color has no tasks"),
    pytest.param(promoted(), ColorWorkload(True, "1", 2, False, "draining"), "the deployment of 1 has not finished (draining)",
                 id="the warm color is still deploying"),
    pytest.param(promoted(), None, "its workload could not be located", id="the warm color cannot be located"),
])
def test_a_one_run_rollback_checks_the_warm_color(state, blue, problem):
    assert warm_color_problem(state, {"blue": blue} if blue else {}) == problem


@pytest.mark.parametrize("blue, rolled_back", [
    pytest.param(ColorWorkload(True, "1", 2, True), None, id="the recorded version runs"),
    pytest.param(ColorWorkload(True, "0.9", 2, True), "0.9", id="the platform went back to 0.9"),
    pytest.param(ColorWorkload(True, None, 2, True), None, id="an unknown image is not a rollback"),
    pytest.param(ColorWorkload(False, "0.9"), None, id="a missing workload is not a rollback"),
    pytest.param(None, None, id="a workload not located is not a rollback"),
])
def test_a_rolling_update_the_platform_rolled_back_is_noticed(blue, rolled_back):
    assert rolled_back_in_place(at_ten_percent(), {"blue": blue} if blue else {}) == rolled_back


@pytest.mark.parametrize("gate, check, wins", [
    pytest.param(GateResult(GateVerdict.ADVANCE, "passed"), GateResult(GateVerdict.HOLD, "deploying"), "check", id="a hold beats a pass"),
    pytest.param(GateResult(GateVerdict.HOLD, "few requests"), GateResult(GateVerdict.HOLD, "deploying"), "check",
                 id="of two holds the workload's is reported"),
    pytest.param(GateResult(GateVerdict.HOLD, "few requests"), GateResult(GateVerdict.ABORT, "rolled back"), "check", id="an abort beats a hold"),
    pytest.param(GateResult(GateVerdict.ABORT, "alarm"), GateResult(GateVerdict.HOLD, "deploying"), "gate", id="a gate abort stands"),
    pytest.param(GateResult(GateVerdict.HOLD, "drift"), GateResult(GateVerdict.ADVANCE, "fine"), "gate", id="a pass never softens a hold"),
])
def test_the_stricter_verdict_wins(gate, check, wins):
    assert combine(gate, check) is (check if wins == "check" else gate)


# --- what a run records of what was applied ---------------------------------------------------------------


def test_every_mismatch_between_plan_and_applied_is_named():
    planned = at_half()
    applied = AppliedState(Weights(90, 10), {"blue": "1", "green": "1.9"}, {"blue": 2, "green": 0})
    assert mismatches(planned, applied) == ["router holds 90/10, not 50/50", "green runs 1.9, not 2", "green has 0 tasks, not 2"]
    assert mismatches(planned, AppliedState(Weights(50, 50), {"green": "2"}, {"green": 2})) == []


def test_a_first_deploy_that_did_not_apply_says_so_in_its_reason():
    planned = at_ten_percent()
    recorded = recorded_state(planned, None, AppliedState(Weights(100, 0)))
    assert recorded.weights == Weights(90, 10)
    assert recorded.reason == f"{planned.reason}; applied differs from the plan: router holds 100/0, not 90/10"


def test_several_mismatches_are_all_said():
    before, planned = at_ten_percent(), at_half()
    kept = recorded_state(planned, before, AppliedState(Weights(90, 10), {"green": "2"}, {"green": 1}))
    assert kept.reason == "applied differs from the plan (router holds 90/10, not 50/50; green has 1 tasks, not 2): the next run checks the live router"
    again = recorded_state(planned, before, AppliedState(Weights(90, 10), {"green": "2"}, {"green": 2, "blue": 2}))
    assert again.reason == "not applied (router holds 90/10, not 50/50): this step is taken again next run"
    first = recorded_state(planned, None, AppliedState(Weights(90, 10), {"green": "1"}))
    assert first.reason.endswith("; applied differs from the plan: router holds 90/10, not 50/50; green runs 1, not 2")


def test_a_step_that_did_not_apply_anywhere_names_every_difference():
    before, planned = at_ten_percent(), at_half().with_(replicas={Color.BLUE: 2, Color.GREEN: 3})
    kept = recorded_state(planned, before, AppliedState(Weights(90, 10), {"green": "2"}, {"green": 2}))
    assert kept.reason == "not applied (router holds 90/10, not 50/50; green has 2 tasks, not 3): this step is taken again next run"


def test_a_step_that_did_not_apply_is_taken_again_next_run():
    before, planned = at_ten_percent(), at_half()
    kept = recorded_state(planned, before, AppliedState(Weights(90, 10), {"green": "2"}))
    assert kept.weights == Weights(90, 10) and kept.step == 1
    assert kept.reason == "not applied (router holds 90/10, not 50/50): this step is taken again next run"
    odd = recorded_state(planned, before, AppliedState(Weights(70, 30)))
    assert odd.reason == "applied differs from the plan (router holds 70/30, not 50/50): the next run checks the live router"


# --- the record on the router ---------------------------------------------------------------------------


@pytest.mark.parametrize("cause, before, after, candidate", [
    pytest.param("advance", Weights(90, 10), Weights(50, 50), "green", id="an advance names the color that gained"),
    pytest.param("advance", Weights(50, 50), Weights(100, 0), "blue", id="an advance onto blue names blue"),
    pytest.param("rollback", Weights(90, 10), Weights(100, 0), "green", id="a rollback names the color that lost"),
    pytest.param("aborted", Weights(10, 90), Weights(0, 100), "blue", id="an abort names the color that lost"),
    pytest.param("recovered", Weights(50, 50), Weights(100, 0), "green", id="a recovery names the color that lost"),
    pytest.param("advance", Weights(90, 10), Weights(90, 10), "none", id="no change names no color"),
    pytest.param("first-deploy", None, Weights(100, 0), "none", id="a first deploy names no color"),
])
def test_the_router_record_names_the_candidate_of_the_last_shift(cause, before, after, candidate):
    state = at_ten_percent().with_(last_shift=Shift(before, after, cause))
    assert decision_record("web", state)["cutover:candidate-color"] == candidate


WITNESSED = ("phase", "stable_color", "stable_version", "candidate_version", "step", "weights", "step_started_at", "versions",
             "replicas", "scale_down_at", "last_shift", "strategy", "aborted_by", "plan", "rollback_version", "evidence")


def aborted_warm():
    return at_ten_percent().with_(
        phase=Phase.ABORTED, step=None, weights=Weights(100, 0), aborted_by="config", scale_down_at=T0 + timedelta(minutes=30),
        last_shift=Shift(Weights(90, 10), Weights(100, 0), "aborted", "none"), evidence="staging 2026-02-28T10:00:00Z")


@pytest.mark.parametrize("state", [
    pytest.param(at_ten_percent(), id="a canary at 10 percent"),
    pytest.param(aborted_warm(), id="an aborted candidate kept warm"),
    pytest.param(aborted_warm().with_(strategy="red-black", plan=(0, 100)), id="a red-black rollout"),
    pytest.param(promoted(), id="a promotion inside its rollback window"),
    pytest.param(at_ten_percent().with_(last_shift=None), id="a state whose last shift was lost"),
])
def test_the_router_record_carries_everything_the_next_run_continues_from(state):
    back = read_decision_record(decision_record("web", state))
    assert {f: getattr(back, f) for f in WITNESSED if f != "last_shift"} == {f: getattr(state, f) for f in WITNESSED if f != "last_shift"}
    shift = state.last_shift or Shift(None, state.weights, "none", "none", state.step)
    assert back.last_shift == replace(shift, step=state.step) and back.reason == ""


def test_a_router_record_without_optional_keys_reads_with_none():
    tags = decision_record("web", at_ten_percent().with_(rollback_version="0.9", evidence="staging 2026-03-01T10:00:00Z"))
    assert read_decision_record(tags).rollback_version == "0.9"
    del tags["cutover:rollback-version"], tags["cutover:evidence"]
    old = read_decision_record(tags)
    assert old.rollback_version is None and old.evidence == "none"


@pytest.mark.parametrize("tag, value, message", [
    pytest.param("cutover:weights", "90/10/0", "weights '90/10/0' is not '<blue>/<green>'", id="three weights"),
    pytest.param("cutover:weights", "90/20", "weights: weights must sum to 100, got 90/20", id="weights over 100"),
    pytest.param("cutover:weights-before", "x/y", "weights-before 'x/y' is not '<blue>/<green>'", id="a previous weight that is a word"),
    pytest.param("cutover:step", "one", "step 'one' is not a whole number", id="a step that is a word"),
    pytest.param("cutover:blue-replicas", "-1", "blue-replicas '-1' is not a whole number", id="a negative replica count"),
    pytest.param("cutover:plan", "0/ten/100", "plan '0/ten/100' is not percents separated by '/'", id="a plan step that is a word"),
    pytest.param("cutover:stable-color", "teal", "stable-color is not one of ['blue', 'green']: 'teal'", id="an unknown color"),
    pytest.param("cutover:step-started-at", "noon", "step-started-at is not an ISO-8601 timestamp: 'noon'", id="a start that is a word"),
    pytest.param("cutover:green-replicas", "two", "green-replicas 'two' is not a whole number", id="a replica count that is a word"),
    pytest.param("cutover:scale-down-at", "later", "scale-down-at is not an ISO-8601 timestamp: 'later'", id="a scale-down that is a word"),
])
def test_a_damaged_router_record_is_refused_naming_the_tag(tag, value, message):
    tags = decision_record("web", at_ten_percent())
    tags[tag] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        read_decision_record(tags)


def test_a_router_record_missing_keys_names_them_all():
    tags = decision_record("web", at_ten_percent())
    del tags["cutover:phase"], tags["cutover:plan"]
    with pytest.raises(ValueError) as refused:
        read_decision_record(tags)
    assert str(refused.value) == "the record on the router lacks cutover:phase, cutover:plan"


def test_the_router_record_reads_back_the_replica_counts_and_plan():
    state = read_decision_record(decision_record("web", at_ten_percent().with_(plan=())))
    assert state.replicas == {Color.BLUE: 2, Color.GREEN: 2} and state.plan == () and state.step == 1


def test_keys_under_another_prefix_are_ignored():
    tags = {**decision_record("web", at_ten_percent(), prefix="cutover.dev/"), 7: "x", "cutover:phase": "sideways"}
    assert read_decision_record(tags, prefix="cutover.dev/").weights == Weights(90, 10)


# --- a promotion's evidence from another stack ------------------------------------------------------------


def staging(*completed: Completion) -> dict:
    return {"web": to_output(at_ten_percent().with_(completed=completed))}


AT = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("source, require, why, evidence", [
    pytest.param(staging(Completion("2", AT, "canary", ("advance", "ready"))), True, None, "staging 2026-01-05T10:00:00Z",
                 id="a version staging completed on passing gates may start"),
    pytest.param(staging(Completion("2", AT, "canary", ("none",))), False, None, "staging 2026-01-05T10:00:00Z",
                 id="without requireAnalysis any completion will do"),
    pytest.param(staging(Completion("2", AT, "canary", ("advance", "none"))), True,
                 "staging completed 2 but not on passing gates (steps carried by: advance, none) and promotion.requireAnalysis is set",
                 "none", id="requireAnalysis refuses a step carried without analysis"),
    pytest.param(staging(Completion("2", AT, "canary")), True,
                 "staging completed 2 but not on passing gates (steps carried by: none) and promotion.requireAnalysis is set",
                 "none", id="requireAnalysis refuses a completion with no verdicts"),
    pytest.param(staging(Completion("1", AT, "canary", ("advance",))), False,
                 "staging has not completed 2 (its last completed version is 1); promote it there first", "none",
                 id="a version staging has not completed waits"),
    pytest.param(staging(Completion("2", AT, "canary", ("none",)), Completion("3", AT + timedelta(days=1), "canary", ("advance",))),
                 True, "staging completed 2 but not on passing gates (steps carried by: none) and promotion.requireAnalysis is set",
                 "none", id="the completion of the version itself is judged, not the newest"),
    pytest.param({"api": {}}, False, "staging has not completed 2 (it has completed no version); promote it there first", "none",
                 id="a service staging does not have waits"),
    pytest.param("stack not found", False, "staging could not be read (stack not found): 2 starts only once staging shows it completed",
                 "none", id="an unreadable source stack waits"),
    pytest.param(["web"], False, "staging has not completed 2 (it has completed no version); promote it there first", "none",
                 id="a source output that is not an object waits"),
])
def test_a_promotion_starts_only_on_the_source_stacks_completion(source, require, why, evidence):
    assert evidence_for("2", "staging", source, "web", require) == (why, evidence)


def test_the_newest_completion_of_a_version_is_the_evidence():
    source = staging(Completion("2", AT, "canary", ("none",)), Completion("2", AT + timedelta(hours=1), "canary", ("advance",)))
    assert evidence_for("2", "staging", source, "web", True) == (None, "staging 2026-01-05T11:00:00Z")


# --- image tags and unread services -----------------------------------------------------------------------


@pytest.mark.parametrize("image, tag", [
    ("public.ecr.aws/nginx/nginx:1.28", "1.28"),
    ("nginx:1.27", "1.27"),
    ("localhost:5000/shop/api:2.0.1", "2.0.1"),
    ("localhost:5000/shop/api", None),
    ("nginx", None),
    (None, None),
    (128, None),
], ids=["a registry path with a tag", "a bare name with a tag", "a registry port and a tag", "a registry port is not a tag",
        "no tag", "no image", "not a string"])
def test_the_version_a_workload_runs_is_its_image_tag(image, tag):
    assert image_tag(image) == tag


def test_an_unread_service_has_no_router_and_says_why():
    unread = LiveService.unread("recover is set")
    assert unread.router == LiveRouter(found=False, where="recover is set") and dict(unread.colors) == {}
    assert LiveService.unread().router.where == ""


# --- the vocabulary's own checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("blue, green", [(0, 0), (90, 20), (101, -1), (50.0, 50), (50, "50")],
                         ids=["nothing", "more than 100", "out of range", "a float", "a string"])
def test_weights_a_router_must_never_receive_are_refused(blue, green):
    with pytest.raises(ValueError, match=f"weights must (be integers 0..100|sum to 100), got {blue}/{green}"):
        Weights(blue, green)


def test_weights_read_by_color_name_and_as_the_gate_expects_them():
    weights = Weights(90, 10)
    assert (weights.of_name("blue"), weights.of_name("green"), weights.as_dict(), weights.label()) == (90, 10, {"blue": 90, "green": 10}, "90/10")
    assert (Weights.split(Color.BLUE, 25), Weights.all_on(Color.GREEN)) == (Weights(25, 75), Weights(0, 100))


INCREASE = "a step plan must increase and end at 100, got"
MIRROR = "only a two-color plan's steps at 0 % can be mirrored, got"


@pytest.mark.parametrize("make, message", [
    pytest.param(lambda: StepPlan(()), f"{INCREASE} ()", id="an empty plan"),
    pytest.param(lambda: StepPlan((0, 50)), f"{INCREASE} (0, 50)", id="a plan that never reaches 100"),
    pytest.param(lambda: StepPlan((0, 50, 50, 100)), f"{INCREASE} (0, 50, 50, 100)", id="a plan that repeats a share"),
    pytest.param(lambda: StepPlan((0, 60, 40, 100)), f"{INCREASE} (0, 60, 40, 100)", id="a plan that goes down"),
    pytest.param(lambda: StepPlan((10, 100)), "a two-color plan starts at 0 % (deployed, not yet serving), got (10, 100)",
                 id="a two-color plan that starts serving at once"),
    pytest.param(lambda: StepPlan((0, 100), mirror_at=frozenset({2})), f"{MIRROR} [2] of (0, 100)", id="a mirror past the last step"),
    pytest.param(lambda: StepPlan((0, 100), mirror_at=frozenset({-1})), f"{MIRROR} [-1] of (0, 100)", id="a mirror before the first step"),
    pytest.param(lambda: plan_for("linear"), "unknown strategy kind 'linear'", id="an unknown strategy"),
    pytest.param(lambda: plan_for("shadow"), "a shadow phase continues with canary or blue-green, not None",
                 id="a shadow phase continuing with nothing"),
    pytest.param(lambda: plan_for("canary"), f"{INCREASE} (0,)", id="a canary without steps"),
])
def test_plans_that_could_skip_or_serve_too_early_are_refused(make, message):
    with pytest.raises(ValueError) as refused:
        make()
    assert str(refused.value) == message


def test_plans_of_each_strategy():
    assert plan_for("rolling") == StepPlan((100,), in_place=True) and plan_for("rolling").last_step == 0
    assert plan_for("canary", [5, 100]).last_step == 2
    assert StepPlan((5, 100), in_place=True).candidate_percents == (5, 100), "an in-place plan may start serving"
    shadow = plan_for("shadow", then="blue-green")
    assert (shadow.candidate_percents, shadow.pause_at, shadow.mirror_at) == ((0, 100), frozenset({0}), frozenset({0}))


@pytest.mark.parametrize("verdicts, analysed", [
    (("advance", "ready"), True), (("advance", "promote"), False), (("none",), False), ((), False),
], ids=["every step on passing gates", "one step by hand", "no analysis", "no steps recorded"])
def test_a_completion_counts_as_analysed_only_when_every_step_passed_a_gate(verdicts, analysed):
    assert Completion("2", AT, "canary", verdicts).analysed is analysed


@pytest.mark.parametrize("replicas, weights, serving", [
    pytest.param({Color.BLUE: 2, Color.GREEN: 2}, Weights(100, 0), {"1", "2"}, id="a warm color counts"),
    pytest.param({Color.BLUE: 2, Color.GREEN: 0}, Weights(100, 0), {"1"}, id="a cold idle color does not"),
    pytest.param({Color.BLUE: 0, Color.GREEN: 0}, Weights(90, 10), {"1", "2"}, id="traffic counts without replicas"),
    pytest.param({Color.BLUE: 2}, Weights(100, 0), {"1"}, id="a color without a count is cold"),
    pytest.param({Color.BLUE: 2, Color.GREEN: 1}, Weights(100, 0), {"1", "2"}, id="one warm task counts"),
    pytest.param({Color.BLUE: 0, Color.GREEN: 0}, Weights(99, 1), {"1", "2"}, id="one percent of traffic counts"),
    pytest.param({Color.BLUE: 0, Color.GREEN: 0}, Weights(100, 0), {"1"}, id="blue's traffic counts for blue"),
])
def test_the_versions_deployed_somewhere(replicas, weights, serving):
    state = at_ten_percent().with_(replicas=replicas, weights=weights)
    assert state.serving_or_warm() == serving


def test_a_rollback_window_needs_the_last_good_version_warm_on_the_idle_color():
    window = promoted()
    assert window.rollback_until == T0 + timedelta(minutes=30)
    assert window.with_(versions={Color.BLUE: "7", Color.GREEN: "2"}).rollback_until is None
    assert window.with_(replicas={Color.BLUE: 0, Color.GREEN: 2}).rollback_until is None
    assert replace(window, candidate_version="3").rollback_until is None


@pytest.mark.parametrize("other, changes", [
    pytest.param(WorkloadSpec(256, 512, {"A": "1"}, {"S": "arn:s"}), [], id="the same spec"),
    pytest.param(WorkloadSpec(512, 1024, {"A": "2"}, {"S": "arn:t"}), ["environment", "secrets", "cpu", "memory"], id="everything"),
    pytest.param(WorkloadSpec(256, 1024, {"A": "1"}, {"S": "arn:s"}), ["memory"], id="memory alone"),
])
def test_a_spec_change_is_named_field_by_field_in_config_order(other, changes):
    assert WorkloadSpec(256, 512, {"A": "1"}, {"S": "arn:s"}).changes_from(other) == changes


def test_each_color_records_the_spec_its_workload_applied():
    before, planned = at_ten_percent(), at_half()
    applied = AppliedState(Weights(90, 10), {"green": "2"}, specs={"green": WorkloadSpec(512, 1024)})
    kept = recorded_state(planned, before.with_(specs={Color.BLUE: WorkloadSpec(256, 512)}), applied)
    assert kept.weights == Weights(90, 10) and kept.specs == {Color.BLUE: WorkloadSpec(256, 512), Color.GREEN: WorkloadSpec(512, 1024)}
    assert recorded_state(planned, before, AppliedState(Weights(50, 50))).specs == planned.specs
