"""What one run is made of, counted: the resources a canary step touches, and registrations, provider reads and
Output objects growing by the same amount with every service (no superlinear cost in cutover's own code).

Counts, not times (bench/program_runs.py measures times; it never runs in the suite). When a deliberate change
moves a count, update it here and re-run the benchmark for bench/RESULTS.md.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from rehearsal.scenario import Run, Stack
from tests.builders import CANARY, aws_config, kubernetes_config, kubernetes_service, service
from tests.kubernetes.harness import HTTPROUTE

LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
SIZES = (1, 2, 3)


def aws_stack(count: int) -> Stack:
    return Stack(aws_config({f"svc{i}": service() for i in range(count)}))


def kubernetes_stack(count: int) -> Stack:
    return Stack(kubernetes_config({f"svc{i}": kubernetes_service("gateway", CANARY, host=f"svc{i}.shop.example.com")
                               for i in range(count)}))


PLATFORMS = {"aws": (aws_stack, "2"), "kubernetes": (kubernetes_stack, "1.28")}
PER_SERVICE = {
    # resources, components, provider reads of one more service in a mid-rollout canary step
    "aws": {"custom": 10, "components": 4, "reads": 5},
    "kubernetes": {"custom": 7, "components": 4, "reads": 3},
}
OUTPUTS_PER_SERVICE_AT_MOST = {"aws": 550, "kubernetes": 500}
"""Output objects one more service adds to a run (measured: 519 and 468; a bare program registering the same
resources: about 400). Exports or records unwrapped value by value again would cost some 300 more."""


def at_ninety_ten(platform: str, count: int) -> Stack:
    """`count` canary services, each at 90/10: the next `up` moves every one of them to 50/50."""
    make, version = PLATFORMS[platform]
    stack = make(count)
    assert stack.up().result.error is None
    for name in stack.config["cutover:services"]:
        stack.set(f"cutover:services.{name}.version", version)
    for _ in range(2):  # the candidate deployed at 0 %, then the first step
        assert stack.up().result.error is None
    return stack


def counted_step(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[Run, dict[str, int]]:
    created = [0]
    track = pulumi.Output._track

    def counting_track(output):
        created[0] += 1
        track(output)

    with monkeypatch.context() as patch:
        patch.setattr(pulumi.Output, "_track", counting_track)
        run = stack.up()
    assert run.result.error is None, run.result.error
    resources = run.result.resources.values()
    return run, {"custom": sum(r.custom for r in resources), "components": sum(not r.custom for r in resources),
                 "reads": len(run.result.reads), "outputs": created[0]}


@pytest.fixture(scope="module")
def steps() -> dict[tuple[str, int], tuple[Run, dict[str, int]]]:
    patch = pytest.MonkeyPatch()
    try:
        return {(platform, count): counted_step(at_ninety_ten(platform, count), patch)
                for platform in PLATFORMS for count in SIZES}
    finally:
        patch.undo()


def touched(run: Run) -> dict[str, Any]:
    changes = run.changes
    return {"updated": sorted(changes.updated), "other": [*changes.created, *changes.replaced, *changes.deleted]}


def test_a_canary_step_on_the_alb_updates_each_services_listener_rule_and_nothing_else(steps):
    run, _ = steps["aws", 3]
    assert run.weights("svc0") == (50, 50)
    assert touched(run) == {"updated": sorted(f"{LISTENER_RULE}::svc{i}-route-rule" for i in range(3)), "other": []}


def test_a_canary_step_on_a_gateway_updates_each_services_httproute_and_nothing_else(steps):
    run, _ = steps["kubernetes", 3]
    assert run.weights("svc0") == (50, 50)
    assert touched(run) == {"updated": sorted(f"{HTTPROUTE}::svc{i}-gateway-route" for i in range(3)), "other": []}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_service_adds_the_same_resources_components_and_reads(steps, platform):
    counts = [steps[platform, n][1] for n in SIZES]
    for smaller, larger in zip(counts, counts[1:]):
        added = {key: larger[key] - smaller[key] for key in PER_SERVICE[platform]}
        assert added == PER_SERVICE[platform], f"one more {platform} service: {added}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_service_adds_the_same_number_of_output_objects_and_no_more_than_its_budget(steps, platform):
    outputs = [steps[platform, n][1]["outputs"] for n in SIZES]
    added = [larger - smaller for smaller, larger in zip(outputs, outputs[1:])]
    assert added[0] == added[1], f"Output objects per added service should not grow with the stack: {outputs}"
    assert added[0] <= OUTPUTS_PER_SERVICE_AT_MOST[platform], (
        f"{added[0]} Output objects per {platform} service (budget {OUTPUTS_PER_SERVICE_AT_MOST[platform]}): "
        "is a record or export passed through Output.all / Output.from_input again? (components/outputs.py)")
