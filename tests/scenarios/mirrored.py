"""One `pulumi up` at a time, checked the way the upstream end-to-end suites check a rollout after each
action: the weights users get (read from the live world), the phase the run recorded, and exactly which
resources the run changed — plus the product's invariants, in every run: no traffic carrier replaced or
deleted, capacity wherever traffic goes, no image changed on a color that carried traffic.

Used by tests/scenarios/test_upstream_mirrored.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from rehearsal.engine import TRAFFIC_CARRIERS
from rehearsal.moto_backend import MotoAws, MotoBackedMocks
from rehearsal.scenario import Run, Stack
from rehearsal.traffic import inside_first_counted_minute, put_candidate_traffic
from rehearsal.world import Share
from tests.builders import aws_config, service
from tests.scenarios.safety import capacity_where_traffic, images_changed_under_traffic, weights

CHANGE_KINDS = ("created", "updated", "replaced", "deleted")


# --- resource keys (`type::name`) of the traffic path, per router ------------------------------------

def record_of(service: str, color: str) -> str:
    """A Route53 service's weighted record of one color."""
    return f"aws:route53/record:Record::{service}-dns-{color}"


def decision_of(service: str) -> str:
    """A Route53 service's decision record (SSM parameter), written before the records."""
    return f"aws:ssm/parameter:Parameter::{service}-dns-decision"


def preview_rule_of(service: str) -> str:
    """The rule on the shared ALB's test listener that reaches a blue-green candidate."""
    return f"aws:lb/listenerRule:ListenerRule::{service}-preview"


def deployment_of(service: str, color: str) -> str:
    return f"kubernetes:apps/v1:Deployment::{service}-{color}-deployment"


def route_of(service: str) -> str:
    """The HTTPRoute of a `router: gateway` service."""
    return f"kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::{service}-gateway-route"


def preview_of(service: str) -> str:
    """The preview Service of a blue-green `router: gateway` service."""
    return f"kubernetes:core/v1:Service::{service}-gateway-preview"


# --- one run, checked -------------------------------------------------------------------------------

def step(
    stack: Stack,
    service: str,
    *,
    serves: tuple[int, int],
    phase: str,
    changed: dict[str, Iterable[str]],
    recorded: tuple[int, int] | None = None,
    minutes: float = 1,
    fail: Iterable[str] = (),
    traffic: tuple[int, int] | None = None,
    **settings: Any,
) -> Run:
    """Set `settings` on the service (`abort="2"`; None removes the key), let `minutes` pass, take one
    `pulumi up` and check it:

    - `serves`: (blue, green) weights of the live router afterwards;
    - `recorded`: the weights the run recorded (default `serves`; differs only when someone else moved them);
    - `phase`: the phase recorded for the service;
    - `changed`: {kind: resource keys} of the service whose inputs the cloud holds changed in this run —
      exactly; kinds left out are empty. A failed update (`fail`: keys the provider rejects) applies only
      what resolved and deletes nothing; the record checked is then the one saved before it.
    - `traffic`: (requests, errors) the candidate answered in the first whole minute of the step (moto stacks).
    """
    for key, value in settings.items():
        stack.set(f"cutover:services.{service}.{key}", value)
    before = stack.serving(service)
    held = _inputs(stack, service)
    previous_completed = not stack.runs or stack.runs[-1].result.error is None
    fail = tuple(fail)
    if traffic is not None:
        at = inside_first_counted_minute(stack.now)
        stack.advance(minutes)
        requests, errors = traffic
        put_candidate_traffic(stack.saved, service, at=at, requests=requests, errors=errors)
    else:
        stack.advance(minutes)
    run = stack.up(fail=fail)
    after = stack.serving(service)
    if fail:
        assert run.result.error is not None and set(run.result.failed) == set(fail), run.result.error
        record = stack.saved_outputs["rollouts"][service]
    else:
        assert run.result.error is None, run.result.error
        record = run.rollout(service)
    where = f"run {run.number} ({record['reason']})"
    assert weights(after) == serves, f"{where}: users get {weights(after)}, expected {serves}"
    recorded = recorded or serves
    assert (record["weights"]["blue"], record["weights"]["green"]) == recorded, f"{where}: recorded {record['weights']}"
    assert record["phase"] == phase, f"{where}: phase {record['phase']}, expected {phase}"
    applied = applied_changes(run, service, held, _inputs(stack, service))
    assert applied == _normalized(changed), f"{where}: changed {applied}"
    if previous_completed and run.result.error is None:
        assert applied == _normalized(run.changed(service)), f"{where}: the engine's diff says {run.changed(service)}"
    _invariants(run, service, before, after)
    return run


def applied_changes(run: Run, service: str, held: Mapping[str, Any], holds: Mapping[str, Any]) -> dict[str, set[str]]:
    """What the run changed in the cloud for the service: the resources whose inputs the cloud holds differ from
    before (`held`, `holds`: key -> inputs). `Run.changed` diffs against the last *completed* run, which after a
    failed update misses the partial writes the next run reverts; a failed update applies only what resolved
    and deletes nothing (pulumi/pulumi#15754)."""
    replaced = set(run.changed(service)["replaced"])
    found = {
        "created": set(holds) - set(held),
        "updated": {k for k in set(holds) & set(held) if holds[k] != held[k] and k not in replaced},
        "replaced": {k for k in set(holds) & set(held) if holds[k] != held[k] and k in replaced},
        "deleted": set(held) - set(holds),
    }
    return {kind: keys for kind, keys in found.items() if keys}


def _inputs(stack: Stack, service: str) -> dict[str, Any]:
    """Key -> inputs of every resource of `service` the cloud holds now."""
    return {key: applied.inputs for key, applied in stack.world.resources.items() if applied.name.startswith(f"{service}-")}


def first_deploy(stack: Stack, service: str) -> Run:
    """The stack's first run: every resource created, all traffic on blue, nothing replaced."""
    run = stack.up()
    assert run.result.error is None, run.result.error
    changed = run.changed(service)
    assert changed["updated"] == changed["replaced"] == changed["deleted"] == ()
    carriers = {key for key in changed["created"] if key.split("::", 1)[0] in TRAFFIC_CARRIERS}
    assert carriers, f"{service}: no traffic carrier created"
    assert weights(stack.serving(service)) == run.weights(service) == (100, 0)
    assert run.rollout(service)["phase"] == "stable"
    _invariants(run, service, None, stack.serving(service))
    return run


def _normalized(changed: dict[str, Iterable[str]]) -> dict[str, set[str]]:
    unknown = set(changed) - set(CHANGE_KINDS)
    assert not unknown, f"not a kind of change: {unknown}"
    return {kind: set(keys) for kind, keys in changed.items() if set(keys)}


def _invariants(run: Run, service: str, before: Mapping[str, Share] | None, after: Mapping[str, Share]) -> None:
    lost = [key for key in (*run.changed(service)["replaced"], *run.changed(service)["deleted"])
            if key.split("::", 1)[0] in TRAFFIC_CARRIERS and (run.result.error is None or key in run.result.applied)]
    assert lost == [], f"run {run.number}: traffic carriers replaced or deleted: {lost}"
    assert capacity_where_traffic(after) == [], f"run {run.number}"
    if before is not None:
        assert images_changed_under_traffic(before, after) == [], f"run {run.number}"


# --- a stack whose AWS side also exists in moto (the gates read CloudWatch, alarms, target health) ------

def gated(moto: MotoAws, analysis: dict[str, Any], kind: str = "canary", **strategy: Any) -> Stack:
    """A deployed stack of one `web` service with `analysis`, its AWS side in moto; the first run checked."""
    config = aws_config({"web": service(kind, analysis=analysis, **strategy)})
    config["cutover:dns"]["zoneId"] = moto.create_zone("example.com")
    # Near the real clock: moto keeps CloudWatch datapoints of recent minutes only.
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    stack = Stack(config, start=start, mocks_factory=lambda previous, region: MotoBackedMocks(previous, region, moto))
    first_deploy(stack, "web")
    return stack
