"""Expand/contract migrations on Kubernetes, run after run: a `batch/v1` Job per version, created without an
await (`pulumi.com/skipAwait`), its outcome read back by the next run and judged by the same verdict as on AWS.

The harness plays the cluster (`LiveWorld.job_outcomes`: a Job created by a run has finished by the next one,
succeeded unless planted `failed` or `running`)."""

from __future__ import annotations

import pytest

from rehearsal.scenario import Stack
from rehearsal.world import JOB
from tests.builders import BLUE_GREEN, CANARY, RED_BLACK, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import HTTPROUTE, INGRESS, SERVICE, only
from tests.scenarios.safety import share_of, weights

MIGRATIONS = {"migrations": {"expand": {"command": ["./manage.py", "migrate", "--expand"]},
                             "contract": {"command": ["./manage.py", "migrate", "--contract"]}}}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def migrating(router: str = "gateway", strategy: dict = CANARY, delay: int = 10, **extra) -> Stack:
    stack = Stack(kubernetes_config({"api": kubernetes_service(router, {**strategy, "scaleDownDelayMinutes": delay}, hooks=MIGRATIONS, **extra)}))
    assert stack.up().result.error is None
    assert stack.world.job_runs == [], "a first deploy has nothing to migrate"
    return stack


def up(stack: Stack, minutes: float = 1):
    stack.advance(minutes)
    run = stack.up()
    assert run.result.error is None, run.result.error
    return run


def job(run, phase: str):
    found = [r for r in run.result.of_type(JOB) if r.inputs["metadata"]["labels"]["cutover.dev/migration"] == phase]
    assert len(found) == 1, [r.name for r in run.result.of_type(JOB)]
    return found[0]


def job_reads(run) -> list[str]:
    return [r for r in run.result.reads if r.startswith(JOB)]


def weight_carrier(run, router: str) -> str:
    """Key of the object whose update moves the candidate's first weight."""
    if router == "gateway":
        return only(run.result, HTTPROUTE, "-route").key
    if router == "nginx":
        return only(run.result, INGRESS, "-canary").key
    return only(run.result, SERVICE, "-switch-stable").key


def test_expand_runs_once_as_a_job_with_the_candidates_image_before_its_first_shift_and_the_route_waits_for_it():
    stack = migrating()
    stack.set("cutover:services.api.version", "1.28")
    deployed = up(stack)
    assert stack.world.job_runs == ["api-expand-1.28"] and deployed.weights("api") == (100, 0)
    expand = job(deployed, "expand")
    assert expand.name.startswith("api-expand-1.28-"), "one Job per version (and attempt)"
    pod = expand.inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "nginxinc/nginx-unprivileged:1.28" and container["command"] == ["./manage.py", "migrate", "--expand"]
    assert {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}} in container["env"]
    assert {"name": "LOG_LEVEL", "value": "info"} in container["env"]
    assert expand.inputs["metadata"]["namespace"] == "shop"
    assert expand.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true", "its outcome must not fail the run"
    assert "color" not in pod.get("metadata", {}).get("labels", {}) and "color" not in expand.inputs["spec"]["template"]["metadata"]["labels"]
    assert f"{DEPLOYMENT}::api-green-deployment" in deployed.result.dependencies[expand.key], "after the candidate's Deployment is ready"
    assert expand.key not in deployed.result.dependencies[weight_carrier(deployed, "gateway")], "no traffic moves in this run"
    assert "expand migration of 1.28 runs now, before any traffic reaches it" in deployed.rollout("api")["reason"]
    assert deployed.result.outputs["endpoints"]["api"]["migrations"]["expand"]["status"] is None, "not known in the run that creates it"

    shifted = up(stack)
    assert job_reads(shifted) == [f"{JOB} shop/{expand.outputs['metadata']['name']}"], "the next run reads the Job back"
    assert shifted.weights("api") == (90, 10) and weights(stack.serving("api")) == (90, 10)
    assert "advanced to step 1 (expand migration of 1.28 succeeded)" in shifted.rollout("api")["reason"]
    assert job(shifted, "expand").key in shifted.result.dependencies[weight_carrier(shifted, "gateway")]
    assert shifted.result.outputs["endpoints"]["api"]["migrations"]["expand"]["status"] == "succeeded"
    later = [up(stack) for _ in range(3)]
    assert stack.world.job_runs == ["api-expand-1.28"], "never repeated"
    assert all(job_reads(run) == [] for run in later), "an outcome on record is not read again"


@pytest.mark.parametrize("router, strategy", [("gateway", CANARY), ("nginx", CANARY), ("service", BLUE_GREEN)])
def test_no_weight_moves_before_the_expand_job_succeeded(router, strategy):
    stack = migrating(router, strategy)
    stack.world.job_outcomes["api-expand-1.28"] = "running"
    stack.set("cutover:services.api.version", "1.28")
    stack.set("cutover:services.api.approve", "1.28")
    up(stack)
    held = up(stack)
    assert weights(stack.serving("api")) == (100, 0) and held.weights("api") == (100, 0)
    assert "the expand migration of 1.28 has not finished yet" in held.rollout("api")["reason"]
    stack.world.finish_job("api-expand-1.28")
    moved = up(stack)
    assert weights(stack.serving("api"))[1] > 0, moved.rollout("api")["reason"]
    if strategy["kind"] == "canary":  # still in flight: the Job stays registered and the weights wait for it
        assert job(moved, "expand").key in moved.result.dependencies[weight_carrier(moved, router)]
    else:  # promoted in one switch: the version is no longer in flight and its expand Job leaves the stack (as on AWS)
        assert moved.result.of_type(JOB) == [] and moved.rollout("api")["stableVersion"] == "1.28"
    assert stack.world.job_runs == ["api-expand-1.28"]


@pytest.mark.parametrize("router, strategy", [("gateway", CANARY), ("nginx", CANARY), ("service", RED_BLACK)])
def test_a_failed_expand_aborts_with_traffic_untouched_and_a_restart_runs_a_new_job(router, strategy):
    stack = migrating(router, strategy)
    stack.world.job_outcomes["api-expand-1.28"] = "failed"
    stack.set("cutover:services.api.version", "1.28")
    up(stack)
    aborted = up(stack)
    record = aborted.rollout("api")
    assert record["phase"] == "aborted" and record["abortedBy"] == "gate"
    assert "the expand migration of 1.28 failed: BackoffLimitExceeded" in record["reason"]
    assert "(Job shop/api-expand-1.28-" in record["reason"], "names the Job to inspect"
    assert weights(stack.serving("api")) == (100, 0) and share_of(stack.serving("api"), "1.27") == 100
    up(stack)
    assert stack.world.job_runs == ["api-expand-1.28"], "a failed Job is not retried on its own"
    del stack.world.job_outcomes["api-expand-1.28"]
    stack.set("cutover:services.api.abort", "1.28")
    up(stack)
    stack.set("cutover:services.api.abort", None)
    up(stack)  # abort lifted: 1.28 redeployed at 0 %, a new attempt: a new Job
    assert stack.world.job_runs == ["api-expand-1.28", "api-expand-1.28"]
    assert len({r.key for r in stack.world.of_type(JOB)}) == 1, "the failed attempt's Job left the stack"
    assert up(stack).weights("api")[1] > 0


def test_a_succeeded_expand_is_never_run_again_by_a_restart_or_an_edit_of_the_service():
    stack = migrating()
    stack.set("cutover:services.api.version", "1.28")
    up(stack)
    first = up(stack)
    assert first.weights("api") == (90, 10)
    stack.set("cutover:services.api.environment", {"LOG_LEVEL": "debug"})  # the Job's pod template is immutable
    edited = up(stack)
    assert stack.world.job_runs == ["api-expand-1.28"]
    assert not [k for k in edited.changes.replaced + edited.changes.created if k.startswith(JOB)], edited.changes
    stack.set("cutover:services.api.abort", "1.28")
    up(stack)
    stack.set("cutover:services.api.abort", None)
    up(stack)  # restarted at 0 %: its expand already succeeded
    assert up(stack).weights("api") == (90, 10)
    assert stack.world.job_runs == ["api-expand-1.28"]


def test_contract_runs_once_only_after_promotion_and_once_the_old_color_is_at_zero():
    stack = migrating()
    stack.set("cutover:services.api.version", "1.28")
    for _ in range(4):  # 0 %, 10 %, 50 %, promoted
        up(stack)
    assert weights(stack.serving("api")) == (0, 100)
    assert stack.world.job_runs == ["api-expand-1.28"], "blue still runs 1.27 warm: no contract yet"
    up(stack, 5)
    assert stack.world.job_runs == ["api-expand-1.28"], "inside the scale-down delay"
    zero = up(stack, 10)
    assert zero.rollout("api")["replicas"]["blue"] == 0 and stack.serving("api")["blue"].capacity == 0
    assert stack.world.job_runs == ["api-expand-1.28", "api-contract-1.28"]
    contract = job(zero, "contract")
    container = contract.inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginxinc/nginx-unprivileged:1.28" and container["command"] == ["./manage.py", "migrate", "--contract"]
    assert {f"{DEPLOYMENT}::api-blue-deployment", f"{DEPLOYMENT}::api-green-deployment"} <= zero.result.dependencies[contract.key], "after blue's scale-down"
    assert "contract migration of 1.28 runs now, after blue reached zero" in zero.rollout("api")["reason"]
    after = up(stack)
    assert after.result.outputs["endpoints"]["api"]["migrations"]["contract"]["status"] == "succeeded"
    up(stack, 5)
    stack.set("cutover:services.api.version", "1.29")
    up(stack)  # 1.29 deployed on blue: blue has pods again, 1.28 is still stable
    assert stack.world.job_runs == ["api-expand-1.28", "api-contract-1.28", "api-expand-1.29"], "never repeated"


def test_a_rollback_inside_the_window_runs_no_contract():
    stack = migrating(delay=30)
    stack.set("cutover:services.api.version", "1.28")
    for _ in range(4):
        up(stack)
    stack.set("cutover:services.api.version", "1.27")
    up(stack)
    for _ in range(3):
        up(stack, 20)
    assert "api-contract-1.27" not in stack.world.job_runs and "api-contract-1.28" not in stack.world.job_runs


def test_a_failed_contract_leaves_the_new_version_serving_and_says_so_every_run():
    stack = migrating("service", RED_BLACK, delay=0)
    stack.world.job_outcomes["api-contract-1.28"] = "failed"
    stack.set("cutover:services.api.version", "1.28")
    up(stack)
    up(stack)  # switched to green
    up(stack)  # blue at zero -> the contract Job runs (and fails)
    assert stack.world.job_runs == ["api-expand-1.28", "api-contract-1.28"]
    for _ in range(2):
        after = up(stack)
        record = after.rollout("api")
        assert record["stableVersion"] == "1.28" and weights(stack.serving("api")) == (0, 100)
        assert "the contract migration of 1.28 failed: BackoffLimitExceeded" in record["reason"]
        assert any("the contract migration of 1.28 failed" in line for line in after.result.logs if line.startswith("warning"))
    assert stack.world.job_runs == ["api-expand-1.28", "api-contract-1.28"], "not retried on its own"


def test_a_preview_runs_no_job():
    stack = migrating()
    stack.set("cutover:services.api.version", "1.28")
    stack.advance(1)
    stack.preview()
    assert stack.world.job_runs == [] and stack.world.of_type(JOB) == []
    up(stack)
    assert stack.world.job_runs == ["api-expand-1.28"]
    stack.advance(1)
    preview = stack.preview()
    assert preview.weights("api") == (90, 10), "a preview reads the outcome and shows the shift the update will make"
    assert stack.world.job_runs == ["api-expand-1.28"]
