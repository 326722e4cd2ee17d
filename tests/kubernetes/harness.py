"""Helpers for the Kubernetes tests: configs shaped like Pulumi.<stack>.yaml, successive runs, manifests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from rehearsal.engine import RecordedResource, RunResult
from rehearsal.scenario import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
HTTPROUTE_CRD = REPO_ROOT / ".." / "shared" / "schemas" / "gateway-api-v1.6.1-httproutes-crd.yaml"
KUBERNETES_VERSION = "1.32"
START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"


def service_config(router: str, strategy: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """One `cutover:services.<name>` entry on Kubernetes."""
    return {
        "image": "nginxinc/nginx-unprivileged",
        "version": "1.27",
        "port": 8080,
        "replicas": 2,
        "healthCheckPath": "/healthz",
        "platform": "kubernetes",
        "router": router,
        "host": "api.shop.example.com",
        "environment": {"LOG_LEVEL": "info"},
        "secrets": {"DB_PASSWORD": "api-db:password"},
        "strategy": {"bakeMinutes": 0, "scaleDownDelayMinutes": 30, **strategy},
        **overrides,
    }


CANARY = {"kind": "canary", "steps": [10, 50, 100]}
BLUE_GREEN = {"kind": "blue-green"}
RED_BLACK = {"kind": "red-black"}
ROLLING = {"kind": "rolling", "maxSurge": "1"}


def stack_config(services: dict[str, dict[str, Any]], version: str = KUBERNETES_VERSION) -> dict[str, Any]:
    """The `config:` block of a stack file, as the tests pass it to `run_program`."""
    return {
        "cutover:kubernetes": {
            "namespace": "shop",
            "version": version,
            "gateway": {"name": "public", "namespace": "gateway-system"},
            "ingressClass": "nginx",
        },
        "cutover:services": services,
    }


class Rollout:
    """Successive `pulumi up`s of one stack, through the rehearsal's Stack (one harness for every test)."""

    def __init__(self, config: dict[str, Any], now: datetime = START):
        self.stack = Stack(config, start=now)

    @property
    def config(self) -> dict[str, Any]:
        return self.stack.config

    @property
    def now(self) -> datetime:
        return self.stack.now

    @property
    def runs(self) -> list[RunResult]:
        return [run.result for run in self.stack.runs]

    def up(self, minutes: float = 1, **service_changes: Any) -> RunResult:
        """Advance the clock, apply `service_changes` to service `api`, run once; fails loudly on an error."""
        self.stack.advance(minutes)
        for key, value in service_changes.items():
            self.stack.set(f"cutover:services.api.{key}", value)
        result = self.stack.up().result
        assert result.error is None, result.error
        return result

    @property
    def last(self) -> RunResult:
        return self.runs[-1]

    def changes(self):
        """What the last run changed compared to the one before."""
        return self.stack.runs[-1].changes

    def record(self) -> dict[str, Any]:
        return self.last.outputs["rollouts"]["api"]


def normalized(value: Any) -> Any:
    """Recorded inputs carry numbers as floats (protobuf); Kubernetes wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def manifest(resource: RecordedResource) -> dict[str, Any]:
    """The object the provider would send: apiVersion/kind from the type token, metadata with the autoname."""
    _, group_version, kind = resource.type.split(":")
    api_version = group_version.removeprefix("core/")
    obj = {"apiVersion": api_version, "kind": kind, "metadata": dict(resource.outputs["metadata"])}
    obj.update({k: v for k, v in resource.inputs.items() if k not in ("apiVersion", "kind", "metadata")})
    return normalized(obj)


def kubernetes_objects(result: RunResult) -> list[RecordedResource]:
    return [r for r in result.resources.values() if r.type.startswith("kubernetes:")]


@lru_cache(maxsize=1)
def httproute_schema() -> dict[str, Any]:
    """The CRD's v1 openAPIV3Schema, made strict like `kubernetes_validate(strict=True)`: the API
    server silently prunes unknown fields of a CRD, so an unknown field would be a silent no-op."""
    if not HTTPROUTE_CRD.exists():
        raise FileNotFoundError(
            f"{HTTPROUTE_CRD.resolve()} is missing: the Gateway API schema is read from shared/schemas beside "
            "the project's clone (CI lays a copy there); it is deliberately not copied into the project"
        )
    crd = yaml.safe_load(HTTPROUTE_CRD.read_text())
    return _strict(next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"])


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: (_strict(v) if k != "properties" else {name: _strict(sub) for name, sub in v.items()}) for k, v in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        strict["additionalProperties"] = False
    return strict


def only(result: RunResult, type_token: str, suffix: str) -> RecordedResource:
    """The one resource of `type_token` whose logical name ends with `suffix`."""
    matches = [r for r in result.of_type(type_token) if r.name.endswith(suffix)]
    assert len(matches) == 1, f"expected one {type_token} named *{suffix}, got {[r.name for r in matches]}"
    return matches[0]


def route_weights(result: RunResult) -> dict[str, int]:
    """Color -> weight of the HTTPRoute's backendRefs, read from the recorded inputs."""
    route = only(result, HTTPROUTE, "-route")
    names = {r.outputs["metadata"]["name"]: r.name.rsplit("-", 1)[1] for r in result.of_type(SERVICE)}
    return {names[ref["name"]]: int(ref["weight"]) for ref in route.inputs["spec"]["rules"][0]["backendRefs"]}


def selector_color(result: RunResult, suffix: str) -> str:
    return only(result, SERVICE, suffix).inputs["spec"]["selector"]["color"]


def replicas(result: RunResult) -> dict[str, int]:
    """Color -> replicas of each Deployment."""
    return {r.inputs["metadata"]["labels"]["color"]: int(r.inputs["spec"]["replicas"]) for r in result.of_type(DEPLOYMENT)}
