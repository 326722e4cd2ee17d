"""A change of a service's workload spec — `environment`, `secrets`, `cpu`, `memory` — played through the whole
program and read from the live world: each color runs the spec it was deployed with, so a new spec reaches
traffic with a new version, step by step, and never all at once on the stable color.

Mirrors Argo Rollouts, where a pod-template change is a new revision and the stable ReplicaSet keeps its
template. Every story runs on AWS (router alb and route53) and Kubernetes (router gateway); canary
[10, 50, 100], bake 0. The decision itself (`components.app.color_specs`, pure) has its table at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from components.app import color_specs
from components.rollout.codec import CorruptState, from_output, to_output
from components.rollout.machine import first_deploy
from components.rollout.model import Color, Phase, RolloutSpec, Weights, WorkloadSpec, plan_for
from rehearsal.scenario import Run, Stack
from tests.builders import CANARY, aws_config, kubernetes_config, kubernetes_service, service
from tests.kubernetes.harness import START
from tests.scenarios.mirrored import deployment_of
from tests.scenarios.safety import capacity_where_traffic, ecs_of, images_changed_under_traffic, task_of, weights

OLD = {"MODE": "old"}
NEW = {"MODE": "new"}
NEWER = {"MODE": "newer"}


@dataclass(frozen=True)
class Platform:
    """One service on one platform and router: how to build it, its versions, and its workload's resources."""

    service: str
    config: Callable[[], dict[str, Any]]
    versions: tuple[str, str]
    """(deployed first, the next one)."""
    workloads: Callable[[str], tuple[str, ...]]
    """Color -> keys (`type::name`) of the resources that carry its tasks / pods and their spec."""
    start: Any = None


def _aws(router: str) -> Platform:
    def config() -> dict[str, Any]:
        web = service("canary", router=router)
        web["environment"] = dict(OLD)
        return aws_config({"web": web})

    return Platform("web", config, ("1", "2"), lambda color: (task_of("web", color), ecs_of("web", color)))


def _kubernetes() -> Platform:
    def config() -> dict[str, Any]:
        return kubernetes_config({"api": kubernetes_service("gateway", CANARY, environment=dict(OLD))})

    return Platform("api", config, ("1.27", "1.28"), lambda color: (deployment_of("api", color),), START)


PLATFORMS = {"aws alb": _aws("alb"), "aws route53": _aws("route53"), "kubernetes gateway": _kubernetes()}
ON_EVERY_PLATFORM = pytest.mark.parametrize("platform", PLATFORMS.values(), ids=PLATFORMS.keys())


# --- helpers -------------------------------------------------------------------------------------------

def deployed(platform: Platform) -> Stack:
    stack = Stack(platform.config(), **({"start": platform.start} if platform.start else {}))
    run = stack.up()
    assert run.result.error is None, run.result.error
    assert stack.serving(platform.service)["blue"].environment == OLD
    return stack


def up(stack: Stack, platform: Platform, **settings: Any) -> Run:
    """Set `settings` on the service, let a minute pass, take one `pulumi up`; check what users get is safe."""
    for key, value in settings.items():
        stack.set(f"cutover:services.{platform.service}.{key}", value)
    before = stack.serving(platform.service)
    stack.advance(1)
    run = stack.up()
    assert run.result.error is None, run.result.error
    after = stack.serving(platform.service)
    assert capacity_where_traffic(after) == [] and images_changed_under_traffic(before, after) == [], f"run {run.number}"
    return run


def held(stack: Stack, platform: Platform, color: str) -> dict[str, Any]:
    """What the cloud holds for a color's workload: key -> applied inputs."""
    return {key: stack.world.resources[key].inputs for key in platform.workloads(color)}


def environment_share(stack: Stack, platform: Platform) -> dict[str, int]:
    """MODE -> percent of production traffic answered with it."""
    found: dict[str, int] = {}
    for share in stack.serving(platform.service).values():
        if share.weight:
            mode = share.environment.get("MODE", "")
            found[mode] = found.get(mode, 0) + share.weight
    return found


def record(run: Run, platform: Platform) -> dict[str, Any]:
    return run.rollout(platform.service)


# --- (a) a new environment with a new version ----------------------------------------------------------

@ON_EVERY_PLATFORM
def test_an_environment_changed_with_the_version_reaches_traffic_only_through_the_candidate_step_by_step(platform):
    stack = deployed(platform)
    stable = held(stack, platform, "blue")
    old, new = platform.versions
    run = up(stack, platform, version=new, environment=dict(NEW))
    serving = stack.serving(platform.service)
    assert weights(serving) == (100, 0)
    assert serving["green"].version == new and serving["green"].environment == NEW, "the candidate runs the new environment"
    assert serving["blue"].environment == OLD and held(stack, platform, "blue") == stable, "the stable color is not updated"
    assert "blue keeps its spec while it serves" in record(run, platform)["reason"]
    for expected in ((90, 10), (50, 50), (0, 100)):
        run = up(stack, platform)
        assert weights(stack.serving(platform.service)) == expected
        assert held(stack, platform, "blue") == stable, f"run {run.number}: the stable color's workload changed under traffic"
        assert environment_share(stack, platform) == {k: v for k, v in (("old", expected[0]), ("new", expected[1])) if v}
    final = record(run, platform)
    assert final["phase"] == "stable" and final["stableVersion"] == new
    assert environment_share(stack, platform) == {"new": 100}
    assert final["specs"]["green"]["environment"] == NEW and final["specs"]["blue"]["environment"] == OLD
    assert stack.serving(platform.service)["blue"].environment == OLD, "the warm color keeps what it ran (rollback target)"


# --- (b) abort of such a rollout -----------------------------------------------------------------------

@ON_EVERY_PLATFORM
def test_an_abort_of_a_version_shipped_with_a_new_environment_puts_all_traffic_back_on_the_old_environment(platform):
    stack = deployed(platform)
    stable = held(stack, platform, "blue")
    old, new = platform.versions
    up(stack, platform, version=new, environment=dict(NEW))
    up(stack, platform)
    assert environment_share(stack, platform) == {"old": 90, "new": 10}
    for _ in range(2):  # the abort, then a run that keeps it
        run = up(stack, platform, abort=new)
        assert weights(stack.serving(platform.service)) == (100, 0) and record(run, platform)["phase"] == "aborted"
        assert environment_share(stack, platform) == {"old": 100}
        assert held(stack, platform, "blue") == stable, "the stable color was never updated"
    assert "environment in the config differs from what blue runs: not applied while" in record(run, platform)["reason"]


# --- (c) an environment change with no new version -----------------------------------------------------

@ON_EVERY_PLATFORM
def test_an_environment_change_with_no_rollout_goes_in_place_to_the_serving_color_with_a_warning(platform):
    stack = deployed(platform)
    idle = held(stack, platform, "green")
    run = up(stack, platform, environment=dict(NEW))
    serving = stack.serving(platform.service)
    assert weights(serving) == (100, 0) and serving["blue"].environment == NEW
    assert serving["blue"].capacity == 2, "the rolling update keeps the serving color's capacity"
    assert held(stack, platform, "green") == idle, "the idle color is not touched"
    assert set(run.changed(platform.service)["updated"]) | set(run.changed(platform.service)["replaced"]) == set(platform.workloads("blue"))
    words = ("applied in place to blue", "not by steps", "ship such a change with a new version to roll it out by steps")
    reason = record(run, platform)["reason"]
    warnings = [line for line in run.result.logs if line.startswith("warning:")]
    assert all(w in reason for w in words), reason
    assert any(all(w in line for w in words) for line in warnings), warnings
    assert record(run, platform)["specs"]["blue"]["environment"] == NEW
    _rolls_without_losing_capacity(stack, platform, "blue")
    again = up(stack, platform)
    assert not again.changed(platform.service)["updated"] and "in place" not in record(again, platform)["reason"]


def _rolls_without_losing_capacity(stack: Stack, platform: Platform, color: str) -> None:
    """The platform's own rolling update: new tasks / pods start before old ones stop."""
    workload = stack.world.resources[platform.workloads(color)[-1]].inputs
    if platform.service == "web":
        assert workload["deploymentMinimumHealthyPercent"] == 100 and workload["deploymentCircuitBreaker"]["rollback"]
    else:
        assert workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# --- (d) an environment change mid-rollout -------------------------------------------------------------

@ON_EVERY_PLATFORM
def test_an_environment_change_mid_rollout_goes_to_the_candidate_only(platform):
    stack = deployed(platform)
    stable = held(stack, platform, "blue")
    old, new = platform.versions
    up(stack, platform, version=new, environment=dict(NEW))
    up(stack, platform)
    run = up(stack, platform, environment=dict(NEWER))
    serving = stack.serving(platform.service)
    assert serving["green"].environment == NEWER and serving["green"].version == new
    assert serving["blue"].environment == OLD and held(stack, platform, "blue") == stable
    assert "applied to the candidate green only; blue keeps its spec while it serves" in record(run, platform)["reason"]
    while weights(stack.serving(platform.service)) != (0, 100):
        up(stack, platform)
        assert held(stack, platform, "blue") == stable
    assert environment_share(stack, platform) == {"newer": 100}


# --- (e) a record written before specs were recorded ---------------------------------------------------

@ON_EVERY_PLATFORM
def test_a_record_without_specs_from_an_older_program_runs_on_without_a_hold(platform):
    stack = deployed(platform)
    stable = held(stack, platform, "blue")
    stack.damage(platform.service, specs=None)
    assert "specs" not in stack.saved_outputs["rollouts"][platform.service]
    run = up(stack, platform)
    assert not any(run.changed(platform.service).values()), "the config's spec stands in: nothing changes"
    assert record(run, platform)["reason"] == "no rollout: stable"
    assert record(run, platform)["specs"]["blue"]["environment"] == OLD, "the record carries specs from now on"
    stack.damage(platform.service, specs=None)
    old, new = platform.versions
    run = up(stack, platform, version=new)
    assert record(run, platform)["phase"] == "progressing" and "unchanged" not in record(run, platform)["reason"]
    assert stack.serving(platform.service)["green"].version == new and held(stack, platform, "blue") == stable


# --- the decision itself (pure): which spec each color runs after a run --------------------------------

A, B, C = (WorkloadSpec(256, 512, {"MODE": mode}) for mode in ("a", "b", "c"))
BLUE, GREEN = Color.BLUE, Color.GREEN
STABLE = first_deploy(RolloutSpec("1", 2, plan_for("canary", [10, 100])), START, "canary").with_(specs={BLUE: A, GREEN: A})
DEPLOYED = STABLE.with_(phase=Phase.PROGRESSING, candidate_version="2", step=0, versions={BLUE: "1", GREEN: "2"},
                        replicas={BLUE: 2, GREEN: 2})
AT_TEN = DEPLOYED.with_(step=1, weights=Weights(90, 10), specs={BLUE: A, GREEN: B})
ABORTED = AT_TEN.with_(phase=Phase.ABORTED, step=None, weights=Weights.all_on(BLUE), aborted_by="config")
PROMOTED = AT_TEN.with_(phase=Phase.STABLE, stable_color=GREEN, stable_version="2", candidate_version=None, step=None,
                        weights=Weights.all_on(GREEN))
ROLLING = STABLE.with_(strategy="rolling")

SPEC_CASES = {
    # name: (previous, state, config's spec, specs after the run, words in the reason, warned)
    "a new version takes the config's spec to the candidate; the stable color keeps its own":
        (STABLE, DEPLOYED, B, {BLUE: A, GREEN: B}, "green runs it with 2; blue keeps its spec", False),
    "no version change and nothing in flight: in place on the serving color, with a warning":
        (STABLE, STABLE, B, {BLUE: B, GREEN: A}, "applied in place to blue", True),
    "mid-rollout: the candidate only":
        (AT_TEN, AT_TEN.with_(step=2), C, {BLUE: A, GREEN: C}, "applied to the candidate green only", False),
    "an aborted candidate: nobody gets it":
        (ABORTED, ABORTED, C, {BLUE: A, GREEN: B}, "not applied while 2 is aborted", False),
    "the run that promotes keeps both, and warns that the next run applies it in place":
        (AT_TEN, PROMOTED, C, {BLUE: A, GREEN: B}, "the next run applies it in place", True),
    "after a promotion the warm color keeps what it ran":
        (PROMOTED, PROMOTED, C, {BLUE: A, GREEN: C}, "applied in place to green", True),
    "a record without specs: the config's spec stands in and nothing changes":
        (STABLE.with_(specs={}), STABLE, B, {BLUE: B, GREEN: B}, "", False),
    "rolling: a new version takes it in place, nothing to warn about":
        (ROLLING, ROLLING.with_(stable_version="2", versions={BLUE: "2", GREEN: "1"}), B, {BLUE: B, GREEN: A}, "", False),
    "rolling: a spec change alone goes in place, nothing to warn about":
        (ROLLING, ROLLING, B, {BLUE: B, GREEN: A}, "applied in place to blue by the platform's rolling update", False),
}


@pytest.mark.parametrize("case", SPEC_CASES.values(), ids=SPEC_CASES.keys())
def test_which_spec_each_color_runs(case):
    previous, state, configured, expected, words, warned = case
    planned = color_specs(previous, state, configured)
    assert planned.specs == expected
    assert words in planned.note and (words or not planned.note)
    assert bool(planned.warning) is warned


def test_the_record_carries_each_colors_spec_with_secret_references_only():
    spec = WorkloadSpec(512, 1024, {"MODE": "a"}, {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:1:secret:db"})
    output = to_output(STABLE.with_(specs={BLUE: spec, GREEN: A}))
    assert output["specs"]["blue"] == {"cpu": 512, "memory": 1024, "environment": {"MODE": "a"},
                                       "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:1:secret:db"}}
    assert from_output(output).specs == {BLUE: spec, GREEN: A}
    assert from_output({**output, "specs": None}).specs == {}, "an older record: no specs, no error"
    with pytest.raises(CorruptState, match="specs.green.cpu"):
        from_output({**output, "specs": {**output["specs"], "green": {"memory": 512}}})
