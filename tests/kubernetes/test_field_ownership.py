"""What pulumi-kubernetes does with each object beyond its spec: which fields the program always wins
(server-side apply with `pulumi.com/patchForce`), and which objects it awaits and how.

Checked on every manifest of whole rollouts, for every router and strategy, with and without autoscaling.
"""

from __future__ import annotations

import json

import pytest

from tests.kubernetes.harness import (
    COMBINATIONS,
    DEPLOYMENT,
    HPA,
    HTTPROUTE,
    INGRESS,
    PATCH_FORCE,
    PDB,
    SERVICE,
    SKIP_AWAIT,
    WAIT_FOR,
    kubernetes_objects,
    whole_rollout_runs,
)

FORCED = {DEPLOYMENT, SERVICE, INGRESS, HTTPROUTE, HPA}
"""Kinds whose declared fields the program must win: weights (HTTPRoute backendRefs, the canary Ingress'
canary-weight), selectors (every Service), replicas and the pod template (Deployments without an HPA; with one
the manifest declares no replicas), the HPA's bounds. A PodDisruptionBudget never changes after its creation,
so a platform team's hand edit of it (a drain in an incident) is left alone."""
CASES = [(router, strategy["kind"], autoscaled) for router, strategy in COMBINATIONS for autoscaled in (False, True)]
IDS = [f"{router} router, {kind}{', autoscaled' if autoscaled else ''}" for router, kind, autoscaled in CASES]


def annotations(resource) -> dict:
    return dict(resource.inputs["metadata"].get("annotations") or {})


def every_object(router: str, kind: str, autoscaled: bool):
    for run in whole_rollout_runs(router, kind, autoscaled):
        yield from kubernetes_objects(run)


@pytest.mark.parametrize("router, kind, autoscaled", CASES, ids=IDS)
def test_the_program_forces_the_fields_it_must_always_win_so_a_hand_edit_cannot_block_an_abort(router, kind, autoscaled):
    seen = set()
    for resource in every_object(router, kind, autoscaled):
        seen.add(resource.type)
        forced = annotations(resource).get(PATCH_FORCE)
        if resource.type in FORCED:
            assert forced == "true", f"{resource.key} must carry {PATCH_FORCE}: \"true\""
        else:
            assert forced is None, f"{resource.key} must not force its fields"
    assert {DEPLOYMENT, SERVICE, PDB} <= seen


@pytest.mark.parametrize("router, kind, autoscaled", CASES, ids=IDS)
def test_a_deployment_under_an_hpa_declares_no_replicas_so_force_never_takes_them_from_the_hpa(router, kind, autoscaled):
    runs = whole_rollout_runs(router, kind, autoscaled)
    assert any(run.of_type(HPA) for run in runs) == autoscaled
    for run in runs:
        targets = {hpa.inputs["spec"]["scaleTargetRef"]["name"] for hpa in run.of_type(HPA)}
        for deployment in run.of_type(DEPLOYMENT):
            owned = deployment.outputs["metadata"]["name"] in targets
            declared = deployment.inputs["spec"].get("replicas")
            assert (declared is None) == owned, (
                f"{deployment.key}: replicas {declared!r} with{'' if owned else 'out'} an HPA"
            )


NGINX_KINDS = [strategy["kind"] for router, strategy in COMBINATIONS if router == "nginx"]
ALL = [(router, strategy["kind"]) for router, strategy in COMBINATIONS]


@pytest.mark.parametrize("kind", NGINX_KINDS)
def test_ingresses_skip_the_load_balancer_await_that_ingress_nginx_may_never_satisfy(kind):
    ingresses = [r for r in every_object("nginx", kind, False) if r.type == INGRESS]
    assert ingresses
    for ingress in ingresses:
        assert annotations(ingress).get(SKIP_AWAIT) == "true", f"{ingress.key} would wait for .status.loadBalancer"


@pytest.mark.parametrize("router, kind", ALL, ids=[f"{r} router, {k}" for r, k in ALL])
def test_only_ingresses_and_idle_services_skip_their_await(router, kind):
    """Deployments keep theirs (readiness before traffic), and so does a Service that always selects the serving color."""
    for resource in every_object(router, kind, False):
        skipped = annotations(resource).get(SKIP_AWAIT) == "true"
        if resource.type in (DEPLOYMENT, HTTPROUTE, PDB):
            assert not skipped, f"{resource.key} must keep its await"
        if resource.type == SERVICE and resource.name.endswith("-stable"):
            assert not skipped, f"{resource.key} always selects the serving color: it keeps its await"


@pytest.mark.parametrize("kind", ["canary", "blue-green", "red-black", "rolling"])
def test_every_httproute_waits_until_its_gateway_accepts_it_and_resolves_its_backends(kind):
    routes = [r for r in every_object("gateway", kind, False) if r.type == HTTPROUTE]
    assert routes
    for route in routes:
        wait_for = annotations(route).get(WAIT_FOR)
        assert wait_for is not None, f"{route.key} has no await: a refused route would still read as applied"
        assert json.loads(wait_for) == [
            "jsonpath={.status.parents[*].conditions[?(@.type=='Accepted')].status}=True",
            "jsonpath={.status.parents[*].conditions[?(@.type=='ResolvedRefs')].status}=True",
        ], "a route's conditions are per parent; `condition=Accepted` would read .status.conditions, which routes lack"
