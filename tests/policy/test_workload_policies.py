"""ECS services and Kubernetes Deployments."""

from __future__ import annotations

import pytest

from .builders import assert_outcome, container, deployment, ecs_service, pdb, run

PROD = {"ecs-minimum-healthy-percent": {"production": True}}

CASES = [
    pytest.param("ecs-circuit-breaker-rollback", [ecs_service()], None, {},
                 id="a service with circuit breaker and rollback passes"),
    pytest.param("ecs-circuit-breaker-rollback", [ecs_service(deploymentCircuitBreaker={"enable": True, "rollback": False})],
                 ("'api-green'", "rollback=False"), {}, id="a circuit breaker without rollback is rejected"),
    pytest.param("ecs-circuit-breaker-rollback", [ecs_service(deploymentCircuitBreaker=None)],
                 ("'api-green'", "enable=None"), {}, id="a service without circuit breaker is rejected"),
    pytest.param("ecs-minimum-healthy-percent", [ecs_service(deploymentMinimumHealthyPercent=50)], None, {},
                 id="below full capacity is allowed outside production"),
    pytest.param("ecs-minimum-healthy-percent", [ecs_service(deploymentMinimumHealthyPercent=100)], None, PROD,
                 id="one hundred percent passes in production"),
    pytest.param("ecs-minimum-healthy-percent", [ecs_service(deploymentMinimumHealthyPercent=None)], None, PROD,
                 id="an omitted value means the ecs default of one hundred"),
    pytest.param("ecs-minimum-healthy-percent", [ecs_service(deploymentMinimumHealthyPercent=50)],
                 ("'api-green'", "50", "at least 100"), PROD, id="fifty percent is rejected in production"),
    pytest.param("ecs-health-check-grace-period", [ecs_service()], None, {},
                 id="a load balanced service with a grace period passes"),
    pytest.param("ecs-health-check-grace-period", [ecs_service(healthCheckGracePeriodSeconds=None, loadBalancers=None)],
                 None, {}, id="a service without load balancer needs no grace period"),
    pytest.param("ecs-health-check-grace-period", [ecs_service(healthCheckGracePeriodSeconds=None)],
                 ("'api-green'", "healthCheckGracePeriodSeconds"), {},
                 id="a load balanced service without grace period is rejected"),
    pytest.param("k8s-readiness-probes", [deployment()], None, {}, id="a container with a readiness probe passes"),
    pytest.param("k8s-readiness-probes", [deployment(containers=[container(), container("sidecar", readinessProbe=None)])],
                 ("'api-green'", "'sidecar'", "readinessProbe"), {},
                 id="a sidecar without readiness probe is rejected"),
    pytest.param("k8s-rolling-update-zero-unavailable", [deployment()], None, {},
                 id="rolling update with max unavailable zero passes"),
    pytest.param("k8s-rolling-update-zero-unavailable",
                 [deployment(strategy={"rollingUpdate": {"maxUnavailable": "0%"}})], None, {},
                 id="zero percent without explicit type passes"),
    pytest.param("k8s-rolling-update-zero-unavailable", [deployment(strategy={"type": "Recreate"})],
                 ("'api-green'", "'Recreate'"), {}, id="the recreate strategy is rejected"),
    pytest.param("k8s-rolling-update-zero-unavailable", [deployment(strategy={})],
                 ("'api-green'", "unset", "25%"), {}, id="an implicit max unavailable is rejected"),
    pytest.param("k8s-rolling-update-zero-unavailable",
                 [deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})],
                 ("'api-green'", "maxUnavailable 1"), {}, id="max unavailable one is rejected"),
    pytest.param("k8s-resource-requests", [deployment()], None, {}, id="cpu and memory requests pass"),
    pytest.param("k8s-resource-requests",
                 [deployment(containers=[container(resources={"requests": {"cpu": "100m"}})])],
                 ("'api-green'", "'app'", "memory request"), {}, id="a missing memory request is rejected"),
    pytest.param("k8s-pod-disruption-budget", [deployment(), pdb("api-pdb", {"app": "api"})], None, {},
                 id="a budget selecting a subset of the pod labels covers the deployment"),
    pytest.param("k8s-pod-disruption-budget", [deployment(), pdb("api-pdb", {"app": "api"}, namespace="other")],
                 ("'api-green'", "namespace shop", "PodDisruptionBudget"), {},
                 id="a budget in another namespace does not count"),
    pytest.param("k8s-pod-disruption-budget", [deployment(), pdb("api-pdb", {"app": "api", "tier": "web"})],
                 ("'api-green'",), {}, id="a budget needing a label the pods lack does not count"),
    pytest.param("k8s-pod-disruption-budget", [deployment(namespace=None), pdb("api-pdb", {"app": "api"}, namespace=None)],
                 None, {}, id="no namespace on either side means the default namespace"),
    pytest.param("k8s-pod-disruption-budget", [deployment()], ("'api-green'",), {},
                 id="a deployment without any budget is rejected"),
]


@pytest.mark.parametrize(("policy", "resources", "expected", "config"), CASES)
def test_workload_policy(policy: str, resources: list, expected: tuple[str, ...] | None, config: dict) -> None:
    assert_outcome(run(policy, resources, config), expected)


def test_pod_disruption_budget_violation_is_attached_to_the_deployment() -> None:
    (found,) = run("k8s-pod-disruption-budget", [deployment()])
    assert found.urn is not None and found.urn.endswith("::api-green")
