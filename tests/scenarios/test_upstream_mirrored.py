"""The end-to-end scenarios of the tools this project is measured against — Argo Rollouts
(test/e2e/*_test.go) and Flagger (test/*/test-*.sh) — played as successive `pulumi up` runs.

Upstream, a controller reconciles continuously and a test waits for a status; here each run is one
step, so every test checks after *every* run what the upstream tests check at each wait: the weights
users get (read from the live world, not from the program's record), the phase the run recorded, and
exactly which resources the run changed — and, through `step`, that no traffic carrier is replaced and
that traffic only goes where there is capacity. Each docstring names the upstream test it mirrors, or
says why there is none. Canary steps are [10, 50, 100] with no bake time unless a test says otherwise.
"""

from __future__ import annotations

import copy

import pytest

from rehearsal.scenario import Stack
from tests.builders import BLUE_GREEN, CANARY, aws_config, kubernetes_config, kubernetes_service, service
from tests.scenarios.gated import ANALYSIS
from tests.scenarios.mirrored import (
    decision_of,
    deployment_of,
    first_deploy,
    gated,
    preview_of,
    preview_rule_of,
    record_of,
    route_of,
    step,
)
from tests.scenarios.safety import ecs_of, rule_of, task_of

NOTHING: dict = {}
"""`changed=NOTHING`: the run writes no resource of the service."""


def weights_move(router: str, name: str = "web") -> set[str]:
    """What a run that moves traffic writes: the rule, or the decision record then both weighted records."""
    return {rule_of(name)} if router == "alb" else {decision_of(name), record_of(name, "blue"), record_of(name, "green")}


def record_only(router: str, name: str = "web") -> set[str]:
    """What a run that changes the decision record but no weight writes (the rule carries it as tags)."""
    return {rule_of(name)} if router == "alb" else {decision_of(name)}


def deploys(color: str, router: str = "alb", name: str = "web") -> dict[str, set[str]]:
    """A version deployed on an idle color at 0 %: a new task definition revision, its ECS service, the record."""
    return {"updated": {ecs_of(name, color)} | record_only(router, name), "replaced": {task_of(name, color)}}


def aws_stack(router: str = "alb", kind: str = "canary", **strategy) -> Stack:
    stack = Stack(aws_config({"web": service(kind, router=router, **strategy)}))
    first_deploy(stack, "web")
    return stack


def kubernetes_stack(strategy: dict) -> Stack:
    stack = Stack(kubernetes_config({"api": kubernetes_service("gateway", strategy)}))
    first_deploy(stack, "api")
    return stack


def at_ten_percent(router: str = "alb", **strategy) -> Stack:
    """A canary of version 2 on `web`: deployed on green at 0 %, then its first step, 90/10."""
    stack = aws_stack(router, **strategy)
    step(stack, "web", version="2", serves=(100, 0), phase="progressing", changed=deploys("green", router))
    step(stack, "web", serves=(90, 10), phase="progressing", changed={"updated": weights_move(router)})
    return stack


def api_at(share: int) -> Stack:
    """A Kubernetes canary of 1.28 on the gateway router, taken to `share` % (10 or 50)."""
    stack = kubernetes_stack(CANARY)
    step(stack, "api", version="1.28", serves=(100, 0), phase="progressing",
         changed={"updated": {deployment_of("api", "green"), route_of("api")}})
    for reached in (10, 50):
        step(stack, "api", serves=(100 - reached, reached), phase="progressing", changed={"updated": {route_of("api")}})
        if reached == share:
            return stack
    raise ValueError(f"a [10, 50, 100] canary has no step at {share} %")


def rolled_back_by_hand(stack: Stack, key: str, version: str) -> None:
    """`kubectl rollout undo`: the Deployment's pod template runs `version` again; Pulumi's state does not know."""
    spec = copy.deepcopy(dict(stack.world.resources[key].outputs["spec"]))
    container = spec["template"]["spec"]["containers"][0]
    container["image"] = f"{container['image'].rsplit(':', 1)[0]}:{version}"
    stack.world.edit(key, spec=spec)


# --- operator control ---------------------------------------------------------------------------------

@pytest.mark.parametrize("router", ["alb", "route53"])
def test_abort_then_retry_then_promote(router):
    """Mirrors Argo Rollouts test/e2e/functional_test.go `TestRolloutAbortRetryPromote`: a canary paused at its
    first weight is aborted (all traffic back on stable, Degraded), retried, and runs to Healthy on its own.
    Here the abort keeps the candidate's tasks warm for the scale-down delay (Argo scales revision 2 to 0 at
    once) and the retry restarts from step 0 without redeploying; the old color goes to 0 after the delay."""
    stack = at_ten_percent(router)
    step(stack, "web", abort="2", serves=(100, 0), phase="aborted", changed={"updated": weights_move(router)})
    assert stack.serving("web")["green"].capacity == 2, "the aborted candidate stays warm"
    step(stack, "web", serves=(100, 0), phase="aborted", changed=NOTHING)
    retried = step(stack, "web", abort=None, serves=(100, 0), phase="progressing", changed={"updated": record_only(router)})
    assert retried.rollout("web")["step"] == 0 and "restarts from the first step" in retried.rollout("web")["reason"]
    step(stack, "web", serves=(90, 10), phase="progressing", changed={"updated": weights_move(router)})
    step(stack, "web", serves=(50, 50), phase="progressing", changed={"updated": weights_move(router)})
    done = step(stack, "web", serves=(0, 100), phase="stable", changed={"updated": weights_move(router)})
    assert done.rollout("web")["stableVersion"] == "2" and stack.serving("web")["blue"].capacity == 2
    step(stack, "web", minutes=31, serves=(0, 100), phase="stable",
         changed={"updated": record_only(router) | {ecs_of("web", "blue")}})
    assert stack.serving("web")["blue"].capacity == 0, "revision 1 pods: 0, once the scale-down delay has passed"


def test_promote_full_after_an_abort_skips_the_remaining_steps_and_the_bake_time():
    """Mirrors Argo Rollouts test/e2e/functional_test.go `TestCanaryPromoteFull` ("full promotion after abort"):
    a canary held in a long pause is aborted, then fully promoted and goes Healthy. Here `promote` never passes
    an `abort` (README), so the abort is lifted in the same run `promote: 2` is set: 2 is redeployed at step 0,
    and the next run takes it to 100 % inside a 60-minute bake."""
    stack = at_ten_percent(bakeMinutes=60)
    step(stack, "web", minutes=10, serves=(90, 10), phase="progressing", changed=NOTHING)  # inside the bake: holds
    step(stack, "web", abort="2", serves=(100, 0), phase="aborted", changed={"updated": {rule_of("web")}})
    step(stack, "web", abort=None, promote="2", serves=(100, 0), phase="progressing", changed={"updated": {rule_of("web")}})
    promoted = step(stack, "web", serves=(0, 100), phase="stable", changed={"updated": {rule_of("web")}})
    record = promoted.rollout("web")
    assert record["stableVersion"] == "2" and record["lastShift"]["cause"] == "promote"
    step(stack, "web", promote=None, serves=(0, 100), phase="stable", changed=NOTHING)


def test_promote_full_of_a_paused_blue_green_on_kubernetes():
    """Mirrors Argo Rollouts test/e2e/functional_test.go `TestBlueGreenPromoteFull`: a blue-green waiting for
    promotion is fully promoted (no analysis run). Gateway router: the HTTPRoute is the only write."""
    stack = kubernetes_stack(BLUE_GREEN)
    step(stack, "api", version="1.28", serves=(100, 0), phase="paused",
         changed={"updated": {deployment_of("api", "green"), preview_of("api"), route_of("api")}})
    step(stack, "api", serves=(100, 0), phase="paused", changed=NOTHING)
    promoted = step(stack, "api", promote="1.28", serves=(0, 100), phase="stable", changed={"updated": {route_of("api")}})
    assert promoted.rollout("api")["lastShift"]["cause"] == "promote"
    assert stack.serving("api")["blue"].capacity == 2, "1.27 stays warm for the scale-down delay"
    step(stack, "api", promote=None, serves=(0, 100), phase="stable", changed=NOTHING)


# --- good and bad releases ------------------------------------------------------------------------------

def test_good_to_bad_a_healthy_release_then_a_candidate_that_fails_its_gate(aws):
    """Mirrors Argo Rollouts test/e2e/functional_test.go `TestRolloutGoodToBadUpdate` (a healthy rollout updated
    to a bad spec goes Degraded while stable keeps its pods) and Flagger test/gatewayapi/test-canary.sh (its
    canary promotion test, then the "canary deployment rollback test" whose load test hits /status/500 until
    the canary Fails). Gate in moto; steps [50, 100]."""
    stack = gated(aws, ANALYSIS, steps=[50, 100])
    step(stack, "web", version="2", serves=(100, 0), phase="progressing", changed=deploys("green"))
    step(stack, "web", serves=(50, 50), phase="progressing", changed={"updated": {rule_of("web")}})
    good = step(stack, "web", minutes=5, traffic=(1000, 2), serves=(0, 100), phase="stable",
                changed={"updated": {rule_of("web")}})
    assert good.rollout("web")["stableVersion"] == "2"
    step(stack, "web", version="3", serves=(0, 100), phase="progressing", changed=deploys("blue"))
    step(stack, "web", serves=(50, 50), phase="progressing", changed={"updated": {rule_of("web")}})
    bad = step(stack, "web", minutes=5, traffic=(1000, 200), serves=(0, 100), phase="aborted",
               changed={"updated": {rule_of("web")}})
    record = bad.rollout("web")
    assert record["abortedBy"] == "gate" and "error rate 20.0% > 5.0%" in record["reason"]
    assert stack.serving("web")["green"].version == "2" and stack.serving("web")["green"].capacity == 2
    still = step(stack, "web", minutes=5, serves=(0, 100), phase="aborted", changed=NOTHING)
    assert "to retry 3" in still.rollout("web")["reason"], "a gate abort stays aborted until a person acknowledges it"


def test_bad_to_good_an_aborted_candidate_replaced_by_a_fixed_one():
    """Mirrors Argo Rollouts test/e2e/functional_test.go `TestRolloutBadToGoodUpdate`: a revision that crashes
    goes Degraded, the spec is fixed, and the rollout makes progress to Healthy. Here the bad candidate is one the
    ECS circuit breaker rolled back (it runs the old image while ECS reports steady state): it is aborted before
    any traffic reaches it, and the fixed version 3 takes its color from step 0."""
    stack = aws_stack()
    step(stack, "web", version="2", serves=(100, 0), phase="progressing", changed=deploys("green"))
    stack.world.roll_back("web-green-svc")
    bad = step(stack, "web", serves=(100, 0), phase="aborted", changed={"updated": {rule_of("web")}})
    assert bad.rollout("web")["abortedBy"] == "gate" and "circuit breaker" in bad.rollout("web")["reason"]
    step(stack, "web", version="3", serves=(100, 0), phase="progressing", changed=deploys("green"))
    step(stack, "web", serves=(90, 10), phase="progressing", changed={"updated": {rule_of("web")}})
    step(stack, "web", serves=(50, 50), phase="progressing", changed={"updated": {rule_of("web")}})
    done = step(stack, "web", serves=(0, 100), phase="stable", changed={"updated": {rule_of("web")}})
    assert done.rollout("web")["stableVersion"] == "3" and stack.serving("web")["green"].version == "3"


def test_bad_to_bad_two_broken_candidates_in_a_row_never_reach_users_on_kubernetes():
    """Mirrors Argo Rollouts test/e2e/functional_test.go `TestRolloutBadToBadUpdate`: a crashing revision is
    replaced by another crashing one, and the stable revision keeps all its pods. Here each candidate's
    Deployment is rolled back by hand (`kubectl rollout undo`), so each is aborted before its first traffic."""
    stack = kubernetes_stack(CANARY)
    green = deployment_of("api", "green")
    for version in ("1.28", "1.29"):
        step(stack, "api", version=version, serves=(100, 0), phase="progressing",
             changed={"updated": {green, route_of("api")}})
        rolled_back_by_hand(stack, green, "1.27")
        bad = step(stack, "api", serves=(100, 0), phase="aborted", changed={"updated": {route_of("api")}})
        assert f"not the candidate {version}" in bad.rollout("api")["reason"]
        assert stack.serving("api")["blue"].version == "1.27" and stack.serving("api")["blue"].capacity == 2
    step(stack, "api", serves=(100, 0), phase="aborted", changed=NOTHING)


# --- blue-green -----------------------------------------------------------------------------------------

def test_blue_green_pre_promotion_gate_failure_then_a_retry_that_passes(aws):
    """Mirrors Argo Rollouts test/e2e/analysis_test.go `TestBlueGreenPrePromotionFail`: the pre-promotion
    analysis fails, the rollout is Degraded with the active service still on revision 1; then a retry whose
    analysis passes promotes revision 2. Here the gate judges the candidate on the preview (test listener)
    traffic when the switch is approved; a gate abort is retried by setting `abort` and lifting it."""
    stack = gated(aws, ANALYSIS, kind="blue-green")
    step(stack, "web", version="2", serves=(100, 0), phase="paused", changed=deploys("green"))
    failed = step(stack, "web", approve="2", minutes=5, traffic=(1000, 500), serves=(100, 0), phase="aborted",
                  changed={"updated": {rule_of("web")}})
    assert failed.rollout("web")["abortedBy"] == "gate"
    step(stack, "web", abort="2", serves=(100, 0), phase="aborted", changed={"updated": {rule_of("web")}})
    step(stack, "web", abort=None, serves=(100, 0), phase="progressing", changed={"updated": {rule_of("web")}})
    passed = step(stack, "web", minutes=5, traffic=(1000, 0), serves=(0, 100), phase="stable",
                  changed={"updated": {rule_of("web"), preview_rule_of("web")}})
    assert passed.rollout("web")["stableVersion"] == "2"


@pytest.mark.parametrize("router", ["alb", "route53"])
def test_blue_green_post_promotion_failure_rolls_back_while_the_old_color_is_warm(router):
    """Mirrors Argo Rollouts test/e2e/analysis_test.go `TestBlueGreenPostPromotionFail`: after the switch, the
    post-promotion analysis fails and the active service returns to revision 1, which was still running. This
    program has no post-promotion analysis: the operator (or the pipeline that watched the alarm) sets
    `version` back, and inside the rollback window all traffic returns in one router write, no image or
    capacity change."""
    stack = aws_stack(router, "blue-green")
    step(stack, "web", version="2", serves=(100, 0), phase="paused", changed=deploys("green", router))
    switch = weights_move(router) | ({preview_rule_of("web")} if router == "alb" else set())
    step(stack, "web", approve="2", serves=(0, 100), phase="stable", changed={"updated": switch})
    back = step(stack, "web", version="1", serves=(100, 0), phase="stable", changed={"updated": switch})
    assert back.rollout("web")["lastShift"]["cause"] == "rollback" and stack.serving("web")["blue"].version == "1"
    assert stack.serving("web")["green"].capacity == 2, "the bad release stays warm for the scale-down delay"
    step(stack, "web", minutes=31, serves=(100, 0), phase="stable",
         changed={"updated": record_only(router) | {ecs_of("web", "green")}})
    assert stack.serving("web")["green"].capacity == 0


# --- a new version while one is in flight -------------------------------------------------------------

def test_abort_and_update_in_the_same_run():
    """Mirrors Argo Rollouts test/e2e/analysis_test.go `TestBlueGreenAbortAndUpdate`: revision 2 is aborted,
    then an update to revision 3 proceeds (paused for promotion, then Healthy). Here both settings land in one
    run: the abort wins (recorded as aborted by the operator), 3 is deployed on the freed color in the next
    run, and the leftover `abort: 2` only warns from then on."""
    stack = at_ten_percent()
    aborted = step(stack, "web", abort="2", version="3", serves=(100, 0), phase="aborted",
                   changed={"updated": {rule_of("web")}})
    assert aborted.rollout("web")["abortedBy"] == "config" and "3 is deployed next run" in aborted.rollout("web")["reason"]
    step(stack, "web", serves=(100, 0), phase="progressing", changed=deploys("green"))
    moving = step(stack, "web", serves=(90, 10), phase="progressing", changed={"updated": {rule_of("web")}})
    assert "abort names 2, which is deployed nowhere any more" in moving.rollout("web")["reason"]
    step(stack, "web", serves=(50, 50), phase="progressing", changed={"updated": {rule_of("web")}})
    done = step(stack, "web", serves=(0, 100), phase="stable", changed={"updated": {rule_of("web")}})
    assert done.rollout("web")["stableVersion"] == "3"


def test_superseded_mid_step_on_kubernetes():
    """Mirrors Argo Rollouts test/e2e/canary_test.go `TestCanaryWithPausedRollout`: while revision 2 is paused
    mid-canary, revision 3 is applied; revision 2 ends with no pods serving and revision 3 takes the canary.
    Here 1.28 serves 50 %: the first run hands its traffic back to stable (an image changes only on a color
    carrying nothing), the next deploys 1.29 on that color at 0 %, the next gives it the first step."""
    stack = api_at(50)
    handed_back = step(stack, "api", version="1.29", serves=(100, 0), phase="stable", changed={"updated": {route_of("api")}})
    assert "1.28 superseded by 1.29" in handed_back.rollout("api")["reason"]
    step(stack, "api", serves=(100, 0), phase="progressing",
         changed={"updated": {deployment_of("api", "green"), route_of("api")}})
    assert stack.serving("api")["green"].version == "1.29"
    step(stack, "api", serves=(90, 10), phase="progressing", changed={"updated": {route_of("api")}})


def test_fast_rollback_by_reverting_the_version_mid_canary_on_kubernetes():
    """Mirrors Argo Rollouts test/e2e/canary_test.go `TestCanaryDynamicStableScaleRollbackToStable` (an undo to
    the stable revision mid-canary) and the fast-tracked rollback of test/e2e/analysis_test.go
    `TestBlueGreenAnalysis` (re-applying the original spec skips pauses and analysis): setting `version` back to
    the stable one returns all traffic in one run, one route write."""
    stack = api_at(50)
    back = step(stack, "api", version="1.27", serves=(100, 0), phase="stable", changed={"updated": {route_of("api")}})
    assert back.rollout("api")["candidateVersion"] is None and stack.serving("api")["blue"].version == "1.27"
    step(stack, "api", serves=(100, 0), phase="stable", changed=NOTHING)
    step(stack, "api", minutes=31, serves=(100, 0), phase="stable",
         changed={"updated": {deployment_of("api", "green"), route_of("api")}})
    assert stack.serving("api")["green"].capacity == 0


# --- spec changes ---------------------------------------------------------------------------------------

def test_replica_change_during_a_rollout():
    """Mirrors Argo Rollouts test/e2e/canary_test.go `TestRolloutScalingWhenPaused`: a canary paused at 25 % is
    scaled to 8 then to 4 replicas and both revisions follow. Here (bake 10 minutes, so the runs hold the step)
    both colors follow `replicas` — the candidate runs full capacity, not its share — and the weights stay."""
    stack = at_ten_percent(bakeMinutes=10)
    both = {ecs_of("web", "blue"), ecs_of("web", "green")}
    for count in (4, 1):
        step(stack, "web", replicas=count, serves=(90, 10), phase="progressing", changed={"updated": both | {rule_of("web")}})
        assert stack.serving("web")["blue"].capacity == stack.serving("web")["green"].capacity == count
    step(stack, "web", minutes=10, serves=(50, 50), phase="progressing", changed={"updated": {rule_of("web")}})


def test_spec_and_version_change_in_the_same_run():
    """No direct upstream counterpart: in Argo Rollouts and Flagger every pod-template change is the new
    revision, so a spec change and a version change are one update and the stable ReplicaSet keeps its
    template (nearest: Argo Rollouts test/e2e/functional_test.go `TestBlueGreenToCanary`, which changes the
    template and the strategy in one apply). Here `environment` and `version` change together: the candidate
    is deployed at 0 % with the new environment, the stable color's task definition and ECS service are not
    touched in any run while it serves, and the new environment reaches users only through the canary's steps."""
    stack = aws_stack()
    stable = {key: stack.world.resources[key].inputs for key in (task_of("web", "blue"), ecs_of("web", "blue"))}
    step(stack, "web", environment={"MODE": "new"}, version="2", serves=(100, 0), phase="progressing", changed=deploys("green"))
    assert stack.serving("web")["green"].environment == {"MODE": "new"} and stack.serving("web")["blue"].environment == {}
    for weights in [(90, 10), (50, 50)]:
        step(stack, "web", serves=weights, phase="progressing", changed={"updated": {rule_of("web")}})
    step(stack, "web", serves=(0, 100), phase="stable", changed={"updated": {rule_of("web")}})
    assert {key: stack.world.resources[key].inputs for key in stable} == stable, "the stable color was never updated"
    assert stack.serving("web")["green"].environment == {"MODE": "new"}


# --- failures, lost state, hand edits -----------------------------------------------------------------

FAILED_UPS = {
    # name -> (router, the key the provider rejects, users after the failed run, what it applied,
    #          then per later run: (users get, phase, step recorded, what the run writes))
    "alb rule": ("alb", rule_of("web"), (90, 10), set(), [
        ((50, 50), "progressing", 2, weights_move("alb")),
        ((0, 100), "stable", None, weights_move("alb"))]),
    "route53 gaining record": ("route53", record_of("web", "green"), (90, 10), {decision_of("web")}, [
        ((90, 10), "progressing", 1, {decision_of("web")}),  # the intent no record followed is written back
        ((50, 50), "progressing", 2, weights_move("route53")),
        ((0, 100), "stable", None, weights_move("route53"))]),
    "route53 losing record": ("route53", record_of("web", "blue"), (64, 36), {decision_of("web"), record_of("web", "green")}, [
        ((50, 50), "progressing", 2, {record_of("web", "blue")}),  # the write that stopped half way is finished
        ((0, 100), "stable", None, weights_move("route53"))]),
}


@pytest.mark.parametrize("case", FAILED_UPS.values(), ids=FAILED_UPS.keys())
def test_a_failed_up_then_a_successful_one_advances_the_step_exactly_once(case):
    """No direct upstream counterpart: a controller retries a failed reconcile on its own and no e2e test
    injects a failed API write (nearest: Argo Rollouts test/e2e/functional_test.go `TestFixInvalidSpec`, a
    Degraded rollout that recovers once the cause is fixed). Here the provider rejects one router write of the
    run that would take 90/10 to 50/50: the ALB rule is one write, nothing moves; Route53 writes the intent,
    then the gaining record, then the losing one, so a stop leaves the gaining color below its new share
    (90:50 is 64/36). The next runs finish that one step — never skip it, never take it twice."""
    router, rejected, after_failure, applied, then = case
    stack = at_ten_percent(router)
    step(stack, "web", fail=[rejected], serves=after_failure, recorded=(90, 10), phase="progressing",
         changed={"updated": applied} if applied else NOTHING)
    assert rejected in stack.world.resources, "a failed update deletes nothing"
    assert stack.saved_outputs["rollouts"]["web"]["step"] == 1, "the failed run's step is not recorded as taken"
    for weights, phase, taken, writes in then:
        run = step(stack, "web", serves=weights, phase=phase, changed={"updated": writes})
        assert run.rollout("web")["step"] == taken


CORRUPTIONS = {
    "alb: the record is not an object": ("alb", {"rollouts": "garbage{"}),
    "route53: weights are not numbers": ("route53", {"weights": {"blue": "ninety", "green": 10}}),
}


@pytest.mark.parametrize("case", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_previous_outputs_continue_from_the_live_record_then_advance_once(case):
    """No direct upstream counterpart: Argo Rollouts and Flagger keep a rollout's state in the Rollout/Canary
    object's status, which the API server validates, and no e2e test corrupts it. Here the stack output the
    next run starts from is damaged: the run continues from the decision record on the live router (rule tags
    or SSM parameter), traffic unchanged, and the run after it takes exactly the next step."""
    router, damage = case
    stack = at_ten_percent(router)
    if "rollouts" in damage:
        stack.saved_outputs = {**stack.saved_outputs, "rollouts": {"web": damage["rollouts"]}}
    else:
        stack.damage("web", **damage)
    held = step(stack, "web", serves=(90, 10), phase="progressing", changed=NOTHING)
    assert "continuing from the live record" in held.rollout("web")["reason"]
    step(stack, "web", serves=(50, 50), phase="progressing", changed={"updated": weights_move(router)})


def test_corrupt_previous_outputs_on_kubernetes_continue_from_the_httproute_annotations():
    """No direct upstream counterpart (see the AWS test above). Here the record says step 99 of a [10, 50, 100]
    plan: the run continues from the `cutover.dev/*` annotations on the HTTPRoute, then takes the next step."""
    stack = api_at(10)
    stack.damage("api", step=99)
    held = step(stack, "api", serves=(90, 10), phase="progressing", changed=NOTHING)
    assert "step 99 is outside the plan" in held.rollout("api")["reason"]
    step(stack, "api", serves=(50, 50), phase="progressing", changed={"updated": {route_of("api")}})


def _drift_alb(stack: Stack, blue: int, green: int) -> None:
    key = rule_of("web")
    actions = copy.deepcopy(list(stack.world.resources[key].outputs["actions"]))
    groups = actions[0]["forward"]["targetGroups"]
    groups[0]["weight"], groups[1]["weight"] = blue, green  # blue's group first, as the program writes them
    stack.world.edit(key, actions=actions)


def _drift_route53(stack: Stack, blue: int, green: int) -> None:
    for color, weight in (("blue", blue), ("green", green)):
        stack.world.edit(record_of("web", color), weightedRoutingPolicies=[{"weight": weight}])


def _drift_gateway(stack: Stack, blue: int, green: int) -> None:
    key = route_of("api")
    spec = copy.deepcopy(dict(stack.world.resources[key].outputs["spec"]))
    refs = spec["rules"][0]["backendRefs"]
    refs[0]["weight"], refs[1]["weight"] = blue, green  # the blue Service's backendRef first
    stack.world.edit(key, spec=spec)


DRIFTS = {
    # name -> (router, service, edit, weights set by hand, users then get, what the run writes on its next step)
    "alb rule edited to 70/30": ("alb", "web", _drift_alb, (70, 30), (70, 30), {rule_of("web")}),
    "alb rule edited to relative 70:50": ("alb", "web", _drift_alb, (70, 50), (58, 42), {rule_of("web")}),
    "route53 green record raised to 50": ("route53", "web", _drift_route53, (90, 50), (64, 36), weights_move("route53")),
    "gateway backendRefs edited to 70/30": ("gateway", "api", _drift_gateway, (70, 30), (70, 30), {route_of("api")}),
}


@pytest.mark.parametrize("case", DRIFTS.values(), ids=DRIFTS.keys())
def test_drift_a_router_changed_outside_the_program_holds_until_it_is_restored(case):
    """No e2e test changes the router behind the tool's back. Nearest: Argo Rollouts test/e2e/aws_test.go
    `TestALBCanaryUpdate`, run with `--aws-verify-target-group`, where the controller reads the ALB's weights
    back through the AWS API before it goes on. Here (no analysis configured) each run reads the router back
    through the provider; live weights other than the recorded ones hold the rollout — whether or not the
    edited numbers sum to 100 (ALB and Route53 weights are relative) — and once the weights are restored by
    hand the next run takes exactly the next step."""
    router, name, edit, by_hand, users_get, next_write = case
    stack = api_at(10) if router == "gateway" else at_ten_percent(router)
    edit(stack, *by_hand)
    for _ in range(2):
        held = step(stack, name, serves=users_get, recorded=(90, 10), phase="progressing", changed=NOTHING)
        assert "changed outside Pulumi" in held.rollout(name)["reason"]
    edit(stack, 90, 10)
    step(stack, name, serves=(50, 50), phase="progressing", changed={"updated": next_write})


def test_drift_never_holds_an_abort():
    """Nearest upstream: as above. Going back is never held: with the rule edited by hand to 70/30, `abort`
    still returns all traffic to stable in one run (the rule write restores what the record says)."""
    stack = at_ten_percent()
    _drift_alb(stack, 70, 30)
    step(stack, "web", serves=(70, 30), recorded=(90, 10), phase="progressing", changed=NOTHING)
    step(stack, "web", abort="2", serves=(100, 0), phase="aborted", changed={"updated": {rule_of("web")}})
