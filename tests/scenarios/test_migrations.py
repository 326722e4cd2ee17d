"""Expand/contract migrations through the whole program under the mock engine, run after run.

The migration runs are dynamic resources (`pulumi-python:dynamic:Resource`); the harness plays their
provider (`LiveWorld.migration_outcome`: a task per create, planted exit codes, a finished run kept) — the
provider's own ECS run/wait logic is tested against moto and Stubber in tests/gates/test_migration_task.py."""

from __future__ import annotations

from rehearsal.scenario import Stack
from tests.builders import CANARY, aws_config, kubernetes_config, kubernetes_service, service
from tests.scenarios.safety import share_of, weights

DYNAMIC = "pulumi-python:dynamic:Resource"
RULE = "aws:lb/listenerRule:ListenerRule::web-route-rule"
MIGRATIONS = {"migrations": {"expand": {"command": ["./manage.py", "migrate", "--expand"]},
                             "contract": {"command": ["./manage.py", "migrate", "--contract"]}}}


def migrating_stack(kind: str = "canary", delay: int = 10, **extra) -> Stack:
    stack = Stack(aws_config({"web": {**service(kind, scaleDownDelayMinutes=delay), "hooks": MIGRATIONS, **extra}}))
    assert stack.up().result.error is None
    assert stack.world.migration_runs == [], "a first deploy has nothing to migrate"
    return stack


def key(name: str) -> str:
    return f"{DYNAMIC}::{name}"


def test_expand_runs_once_with_the_candidates_image_before_its_first_shift_and_the_shift_waits_for_it():
    stack = migrating_stack()
    stack.set("cutover:services.web.version", "2")
    deployed = stack.up()
    assert stack.world.migration_runs == ["web-expand-2"] and deployed.weights("web") == (100, 0)
    run = deployed.result.resources[key("web-expand-2")]
    green_task = deployed.result.named("aws:ecs/taskDefinition:TaskDefinition", "web-green-task")
    assert run.inputs["taskDefinition"] == green_task.outputs["arn"], "the candidate's task definition: its image and secrets"
    assert run.inputs["command"] == ["./manage.py", "migrate", "--expand"] and run.inputs["container"] == "web"
    assert run.inputs["subnets"] == ["subnet-c", "subnet-d"]
    assert "aws:ecs/service:Service::web-green-svc" in deployed.result.dependencies[key("web-expand-2")]
    assert "expand migration of 2 runs now, before any traffic reaches it" in deployed.rollout("web")["reason"]
    shifted = stack.up()
    assert shifted.weights("web") == (90, 10)
    assert key("web-expand-2") in shifted.result.dependencies[RULE], "the router update depends on the expand run"
    assert "advanced to step 1 (expand migration of 2 succeeded)" in shifted.rollout("web")["reason"]
    stack.up()
    stack.up()
    assert stack.world.migration_runs == ["web-expand-2"], "never repeated"


def test_a_failed_expand_aborts_with_traffic_untouched_and_a_restart_runs_it_again():
    stack = migrating_stack()
    stack.world.migration_exit_codes["web-expand-2"] = 3
    stack.set("cutover:services.web.version", "2")
    stack.up()
    aborted = stack.up()
    record = aborted.rollout("web")
    assert record["phase"] == "aborted" and record["abortedBy"] == "gate"
    assert "the expand migration of 2 failed: exit code 3" in record["reason"]
    assert weights(stack.serving("web")) == (100, 0) and share_of(stack.serving("web"), "1") == 100
    stack.up()
    assert stack.world.migration_runs == ["web-expand-2"], "a failed run is not retried on its own"
    stack.world.migration_exit_codes.clear()
    stack.set("cutover:services.web.abort", "2")
    stack.advance(1)
    stack.up()
    stack.set("cutover:services.web.abort", None)
    stack.advance(1)
    stack.up()  # abort lifted: 2 redeployed at 0 %, a new attempt of its expand (keyed by the restart's time)
    assert stack.world.migration_runs == ["web-expand-2", "web-expand-2"]
    assert stack.up().weights("web") == (90, 10)


def test_promote_does_not_skip_a_failed_expand():
    stack = migrating_stack(promote="2")
    stack.world.migration_exit_codes["web-expand-2"] = 1
    stack.set("cutover:services.web.version", "2")
    stack.up()
    run = stack.up()
    assert run.rollout("web")["phase"] == "aborted" and weights(stack.serving("web")) == (100, 0)


def test_contract_runs_once_only_after_promotion_and_once_the_old_color_reached_zero():
    stack = migrating_stack()
    stack.set("cutover:services.web.version", "2")
    for _ in range(4):  # 0 %, 10 %, 50 %, promoted
        stack.advance(1)
        stack.up()
    assert stack.runs[-1].weights("web") == (0, 100)
    assert stack.world.migration_runs == ["web-expand-2"], "blue still runs 1 warm: no contract yet"
    stack.advance(5)
    stack.up()
    assert stack.world.migration_runs == ["web-expand-2"], "inside the scale-down delay"
    stack.advance(10)
    zero = stack.up()
    assert zero.rollout("web")["replicas"]["blue"] == 0
    assert stack.world.migration_runs == ["web-expand-2", "web-contract-2"]
    contract = zero.result.resources[key("web-contract-2")]
    assert contract.inputs["command"] == ["./manage.py", "migrate", "--contract"]
    assert contract.inputs["taskDefinition"] == zero.result.named("aws:ecs/taskDefinition:TaskDefinition", "web-green-task").outputs["arn"]
    assert "aws:ecs/service:Service::web-blue-svc" in zero.result.dependencies[key("web-contract-2")], "after blue's scale-down"
    assert "contract migration of 2 runs now, after blue reached zero" in zero.rollout("web")["reason"]
    for _ in range(2):
        stack.advance(5)
        stack.up()
    stack.set("cutover:services.web.version", "3")
    stack.up()  # 3 deployed on blue: blue has tasks again, 2 is still stable
    assert stack.world.migration_runs == ["web-expand-2", "web-contract-2", "web-expand-3"], "never repeated"


def test_a_failed_contract_leaves_the_new_version_serving_and_says_so():
    stack = migrating_stack("red-black", delay=0)
    stack.world.migration_exit_codes["web-contract-2"] = 2
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.up()  # switched to green
    stack.advance(1)
    stack.up()  # blue at zero -> the contract runs and fails
    assert stack.world.migration_runs == ["web-expand-2", "web-contract-2"]
    after = stack.up()
    record = after.rollout("web")
    assert record["stableVersion"] == "2" and weights(stack.serving("web")) == (0, 100)
    assert "the contract migration of 2 failed: exit code 2" in record["reason"]
    assert any("the contract migration of 2 failed" in line for line in after.result.logs if line.startswith("warning"))
    assert stack.world.migration_runs == ["web-expand-2", "web-contract-2"], "not retried on its own"


def test_a_preview_runs_no_migration():
    stack = migrating_stack()
    stack.set("cutover:services.web.version", "2")
    stack.preview()
    assert stack.world.migration_runs == []
    stack.up()
    assert stack.world.migration_runs == ["web-expand-2"]


def test_migrations_are_refused_with_rolling_and_accepted_on_kubernetes():
    kube = Stack(kubernetes_config({"api": kubernetes_service("gateway", CANARY, hooks=MIGRATIONS)})).up()
    assert kube.result.error is None, "Kubernetes runs them as Jobs: tests/kubernetes/test_migrations.py"
    rolling = Stack(aws_config({"web": {**service("rolling"), "hooks": MIGRATIONS}})).up()
    assert rolling.result.refused and "cutover:services.web.hooks.migrations: rolling replaces tasks in place" in rolling.result.error
