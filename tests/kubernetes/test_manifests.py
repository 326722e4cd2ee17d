"""Every manifest the program produces is valid for the configured Kubernetes version
(kubernetes-validate, strict) or, for HTTPRoutes, against the Gateway API v1 CRD schema."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from tests.builders import CANARY, KUBERNETES_VERSION, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import (
    COMBINATIONS,
    DEPLOYMENT,
    HPA,
    HTTPROUTE,
    PDB,
    Rollout,
    httproute_schema,
    kubernetes_objects,
    manifest,
    whole_rollout_runs,
)

def assert_valid(obj: dict, version: str) -> None:
    if obj["kind"] == "HTTPRoute":
        jsonschema.validate(obj, httproute_schema())
    else:
        kubernetes_validate.validate(obj, version, strict=True)


def assert_valid_except_httproutes(obj: dict, version: str, routes: list) -> None:
    """Like assert_valid, but HTTPRoutes are collected for later: the other kinds are checked even where the
    Gateway API schema is missing (the HTTPRoute check then skips, or fails in CI)."""
    if obj["kind"] == "HTTPRoute":
        routes.append(obj)
    else:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("autoscaled", [False, True], ids=["fixed replicas", "with autoscaling"])
@pytest.mark.parametrize("router, strategy", COMBINATIONS, ids=[f"{r} router, {s['kind']}" for r, s in COMBINATIONS])
def test_every_manifest_of_a_whole_rollout_is_valid(router, strategy, autoscaled):
    runs = whole_rollout_runs(router, strategy["kind"], autoscaled)
    checked, routes = 0, []
    for run in runs:
        for resource in kubernetes_objects(run):
            obj = manifest(resource)
            try:
                assert_valid_except_httproutes(obj, KUBERNETES_VERSION, routes)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{resource.key} is not a valid {obj['kind']} for Kubernetes {KUBERNETES_VERSION}: {err}")
            checked += 1
    assert checked >= 3 * len(runs)  # a Deployment, its PDB and a Service at least
    if autoscaled:
        assert any(run.of_type(HPA) for run in runs), "the autoscaled rollout must have produced HPAs to validate"
    if routes:
        schema = httproute_schema()
        for route in routes:
            try:
                jsonschema.validate(route, schema)
            except jsonschema.ValidationError as err:
                pytest.fail(f"HTTPRoute {route['metadata']['name']} is not valid against the Gateway API v1 schema: {err}")


@pytest.mark.parametrize("version", ["1.27", "1.29", "1.37"], ids=["before preStop sleep existed", "the last without it", "newest schema"])
def test_manifests_fit_other_kubernetes_versions(version):
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("nginx", CANARY)}, version))
    run = rollout.up()
    for resource in kubernetes_objects(run):
        assert_valid(manifest(resource), version)


@pytest.mark.parametrize(
    "path, value",
    [(("percent",), 10), (("weight",), 1_000_001), (("weight",), -1)],
    ids=["an unknown field", "a weight above the Gateway API maximum", "a negative weight"],
)
def test_the_httproute_schema_rejects_a_broken_backend_ref(path, value):
    """The schema check has teeth, so the validation above means something."""
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", CANARY)}))
    route = manifest(rollout.up().of_type(HTTPROUTE)[0])
    route["spec"]["rules"][0]["backendRefs"][0][path[0]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(route, httproute_schema())


def test_deployments_are_hardened_probed_and_roll_with_zero_unavailable():
    run = Rollout(kubernetes_config({"api": kubernetes_service("gateway", CANARY)})).up()
    for deployment in run.of_type(DEPLOYMENT):
        spec = deployment.inputs["spec"]
        pod = spec["template"]["spec"]
        container = pod["containers"][0]
        assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}, deployment.key
        assert spec["selector"]["matchLabels"] == {"app": "api", "color": deployment.inputs["metadata"]["labels"]["color"]}
        assert "name" not in deployment.inputs["metadata"], f"{deployment.key} must be autonamed"
        assert "pulumi.com/skipAwait" not in (deployment.inputs["metadata"].get("annotations") or {})
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["privileged"] is False
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
        assert {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}} in container["env"]
        assert {"name": "LOG_LEVEL", "value": "info"} in container["env"]
        assert spec["minReadySeconds"] > 0 and spec["progressDeadlineSeconds"] > 0


def test_every_color_has_a_disruption_budget_selecting_its_pods():
    run = Rollout(kubernetes_config({"api": kubernetes_service("gateway", CANARY)})).up()
    budgets = {b.inputs["spec"]["selector"]["matchLabels"]["color"]: b.inputs["spec"] for b in run.of_type(PDB)}
    assert set(budgets) == {"blue", "green"}
    for color, spec in budgets.items():
        assert spec["selector"]["matchLabels"] == {"app": "api", "color": color}
        assert int(spec["maxUnavailable"]) == 1


MIGRATIONS = {"migrations": {"expand": {"command": ["./manage.py", "migrate", "--expand"]},
                             "contract": {"command": ["./manage.py", "migrate", "--contract"]}}}
JOB = "kubernetes:batch/v1:Job"


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, "1.27", "1.37"])
def test_migration_jobs_are_valid_hardened_and_never_retried_or_collected(version):
    """Every manifest of a migrating rollout (expand and contract Jobs included) is valid; the Jobs run once
    (backoffLimit 0, restartPolicy Never), bounded, hardened like the Deployments, and are not deleted by the
    TTL controller before the next run reads their outcome (components/kubernetes/migration_job.py)."""
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("nginx", {**CANARY, "scaleDownDelayMinutes": 0}, hooks=MIGRATIONS)}, version))
    rollout.up()
    rollout.up(version="1.28")
    for _ in range(4):
        rollout.up()
    jobs = {}
    for run in rollout.runs:
        for resource in kubernetes_objects(run):
            assert_valid(manifest(resource), version)
        jobs.update({job.inputs["metadata"]["labels"]["cutover.dev/migration"]: job for job in run.of_type(JOB)})
    assert set(jobs) == {"expand", "contract"}
    for job in jobs.values():
        spec = job.inputs["spec"]
        pod = spec["template"]["spec"]
        container = pod["containers"][0]
        assert "name" not in job.inputs["metadata"], "autonamed"
        assert int(spec["backoffLimit"]) == 0 and pod["restartPolicy"] == "Never"
        assert int(spec["activeDeadlineSeconds"]) == 900
        assert "ttlSecondsAfterFinished" not in spec
        assert spec["podFailurePolicy"]["rules"][0]["action"] == "Ignore"
        assert job.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
        assert pod["securityContext"]["runAsNonRoot"] is True and container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
        assert "readinessProbe" not in container and "color" not in spec["template"]["metadata"]["labels"]
