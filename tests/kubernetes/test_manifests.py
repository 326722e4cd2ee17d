"""Every manifest the program produces is valid for the configured Kubernetes version
(kubernetes-validate, strict) or, for HTTPRoutes, against the Gateway API v1 CRD schema."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from tests.kubernetes.harness import (
    BLUE_GREEN,
    CANARY,
    DEPLOYMENT,
    HTTPROUTE,
    KUBERNETES_VERSION,
    PDB,
    RED_BLACK,
    ROLLING,
    Rollout,
    httproute_schema,
    kubernetes_objects,
    manifest,
    service_config,
    stack_config,
)

COMBINATIONS = [
    ("gateway", CANARY),
    ("gateway", BLUE_GREEN),
    ("gateway", RED_BLACK),
    ("gateway", ROLLING),
    ("nginx", CANARY),
    ("nginx", BLUE_GREEN),
    ("nginx", ROLLING),
    ("service", BLUE_GREEN),
    ("service", RED_BLACK),
    ("service", ROLLING),
]


def whole_rollout(router: str, strategy: dict, version: str = KUBERNETES_VERSION) -> Rollout:
    """First deploy, a new version taken to the end (approved where needed), then the scale-down."""
    rollout = Rollout(stack_config({"api": service_config(router, strategy)}, version))
    rollout.up()
    rollout.up(version="1.28")
    for _ in range(3):
        rollout.up(approve="1.28")
    rollout.up(minutes=31)
    return rollout


def assert_valid(obj: dict, version: str) -> None:
    if obj["kind"] == "HTTPRoute":
        jsonschema.validate(obj, httproute_schema())
    else:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("router, strategy", COMBINATIONS, ids=[f"{r} router, {s['kind']}" for r, s in COMBINATIONS])
def test_every_manifest_of_a_whole_rollout_is_valid(router, strategy):
    rollout = whole_rollout(router, strategy)
    checked = 0
    for run in rollout.runs:
        for resource in kubernetes_objects(run):
            obj = manifest(resource)
            try:
                assert_valid(obj, KUBERNETES_VERSION)
            except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as err:
                pytest.fail(f"{resource.key} is not a valid {obj['kind']} for Kubernetes {KUBERNETES_VERSION}: {err}")
            checked += 1
    assert checked >= 3 * len(rollout.runs)  # a Deployment, its PDB and a Service at least


@pytest.mark.parametrize("version", ["1.27", "1.29", "1.37"], ids=["before preStop sleep existed", "the last without it", "newest schema"])
def test_manifests_fit_other_kubernetes_versions(version):
    rollout = Rollout(stack_config({"api": service_config("nginx", CANARY)}, version))
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
    rollout = Rollout(stack_config({"api": service_config("gateway", CANARY)}))
    route = manifest(rollout.up().of_type(HTTPROUTE)[0])
    route["spec"]["rules"][0]["backendRefs"][0][path[0]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(route, httproute_schema())


def test_deployments_are_hardened_probed_and_roll_with_zero_unavailable():
    run = Rollout(stack_config({"api": service_config("gateway", CANARY)})).up()
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
    run = Rollout(stack_config({"api": service_config("gateway", CANARY)})).up()
    budgets = {b.inputs["spec"]["selector"]["matchLabels"]["color"]: b.inputs["spec"] for b in run.of_type(PDB)}
    assert set(budgets) == {"blue", "green"}
    for color, spec in budgets.items():
        assert spec["selector"]["matchLabels"] == {"app": "api", "color": color}
        assert int(spec["maxUnavailable"]) == 1
