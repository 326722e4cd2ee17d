"""Promotion through stacks: prod starts a version only after staging completed that same version.

Two stacks, each the real program under the mock engine; prod's reference to staging reads staging's
saved outputs (`Stack.other_stacks`), as a StackReference to `organization/cutover/staging` would.
"""

from __future__ import annotations

from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.scenarios.safety import up_until, weights

STAGING = "organization/cutover/staging"


def stacks(require_analysis: bool = False, **strategy) -> tuple[Stack, Stack]:
    staging = Stack(aws_config({"web": service(**strategy)}), stack="staging")
    prod_config = aws_config({"web": service(**strategy)})
    prod_config["cutover:promotion"] = {"from": "staging", "requireAnalysis": require_analysis}
    prod = Stack(prod_config, stack="prod")
    prod.other_stacks[STAGING] = staging
    for stack in (staging, prod):
        assert stack.up().result.error is None
    return staging, prod


def release(stack: Stack, version: str) -> None:
    stack.set("cutover:services.web.version", version)
    stack.advance(1)
    stack.up()


def test_prod_starts_a_version_only_after_staging_completed_it():
    staging, prod = stacks()
    release(prod, "2")
    assert prod.runs[-1].rollout("web")["candidateVersion"] is None and weights(prod.serving("web")) == (100, 0)
    assert "staging has not completed 2" in prod.runs[-1].rollout("web")["reason"]
    assert any("staging has not completed 2" in line for line in prod.runs[-1].result.logs)
    staging.set("cutover:services.web.version", "2")
    up_until(staging, "web", (0, 100))
    done = staging.runs[-1].rollout("web")["completed"][-1]
    assert done["version"] == "2" and done["verdicts"] == ["none", "none", "none"]
    prod.advance(1)
    started = prod.up().rollout("web")
    assert started["candidateVersion"] == "2" and started["evidence"] == f"staging {done['completedAt']}"
    assert prod.runs[-1].result.resources["aws:lb/listenerRule:ListenerRule::web-route-rule"].inputs["tags"][
        "cutover:evidence"] == f"staging {done['completedAt']}"
    up_until(prod, "web", (0, 100))


def test_prod_holds_a_version_staging_never_finished():
    staging, prod = stacks()
    staging.set("cutover:services.web.version", "2")
    up_until(staging, "web", (0, 100))
    staging.set("cutover:services.web.version", "3")
    for _ in range(2):  # deployed, then its first step: in flight, not completed
        staging.advance(1)
        staging.up()
    assert staging.runs[-1].rollout("web")["phase"] == "progressing"
    release(prod, "3")
    assert prod.runs[-1].rollout("web")["candidateVersion"] is None
    assert "staging has not completed 3 (its last completed version is 2)" in prod.runs[-1].rollout("web")["reason"]


def test_an_unreadable_staging_holds_and_never_starts():
    staging, prod = stacks()
    del prod.other_stacks[STAGING]
    release(prod, "2")
    run = prod.runs[-1]
    # The engine reports the failed reference as an error of the update; the program holds all the same.
    assert "organization/cutover/staging" in run.result.error
    assert any("staging could not be read" in line and "2 starts only once staging shows it completed" in line
               for line in run.result.logs)
    assert weights(prod.serving("web")) == (100, 0) and prod.serving("web")["green"].capacity == 0
    assert prod.saved_outputs["rollouts"]["web"]["candidateVersion"] is None


def test_a_rollback_to_the_previous_stable_version_needs_no_evidence():
    staging, prod = stacks()
    staging.set("cutover:services.web.version", "2")
    up_until(staging, "web", (0, 100))
    prod.set("cutover:services.web.version", "2")
    up_until(prod, "web", (0, 100))
    del prod.other_stacks[STAGING]  # staging unreadable, or a staging that moved on: a rollback does not care
    release(prod, "1")
    assert weights(prod.serving("web")) == (100, 0) and prod.serving("web")["blue"].version == "1"


def test_require_analysis_refuses_a_completion_no_gate_judged():
    staging, prod = stacks(require_analysis=True)
    staging.set("cutover:services.web.version", "2")
    up_until(staging, "web", (0, 100))
    release(prod, "2")
    assert prod.runs[-1].rollout("web")["candidateVersion"] is None
    assert "not on passing gates" in prod.runs[-1].rollout("web")["reason"]
