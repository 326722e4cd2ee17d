"""Helpers for the Kubernetes tests: configs shaped like Pulumi.<stack>.yaml, successive runs, manifests."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import pytest
import yaml

from rehearsal.engine import RecordedResource, RunResult
from rehearsal.scenario import Stack
from rehearsal.world import LiveWorld
from tests.builders import (
    AUTOSCALING,
    BLUE_GREEN,
    CANARY,
    KUBERNETES_VERSION,
    RED_BLACK,
    ROLLING,
    kubernetes_config,
    kubernetes_service,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR_VARIABLE = "CUTOVER_GATEWAY_SCHEMA_DIR"
"""A directory holding HTTPROUTE_CRD_FILE; without it, `../shared/schemas` beside the project's clone."""
HTTPROUTE_CRD_FILE = "gateway-api-v1.6.1-httproutes-crd.yaml"
START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SERVICE = "kubernetes:core/v1:Service"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
PATCH_FORCE = "pulumi.com/patchForce"
SKIP_AWAIT = "pulumi.com/skipAwait"
WAIT_FOR = "pulumi.com/waitFor"


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
"""Every router with every strategy it can run."""


# --- what a Gateway controller writes in an HTTPRoute's status (Gateway API v1 RouteParentStatus) ----------

GATEWAY_REF = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gateway-system"}
"""The parentRef every route of `stack_config` names."""


def condition(kind: str, status: str = "True", reason: str | None = None, message: str = "", generation: int = 1) -> dict:
    return {"type": kind, "status": status, "reason": reason or kind, "message": message, "observedGeneration": generation,
            "lastTransitionTime": "2025-03-01T09:00:00Z"}


def parent(*conditions: dict, ref: dict = GATEWAY_REF) -> dict:
    """One `status.parents[]` entry."""
    return {"parentRef": ref, "controllerName": "example.net/gateway-controller", "conditions": list(conditions)}


ACCEPTED = parent(condition("Accepted"), condition("ResolvedRefs"))
NOT_ALLOWED = parent(condition("Accepted", "False", "NotAllowedByListeners", "no listener allows routes from namespace shop"),
                     condition("ResolvedRefs"))
BACKEND_MISSING = parent(condition("Accepted"), condition("ResolvedRefs", "False", "BackendNotFound", "service shop/api-green not found"))


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


def whole_rollout(router: str, strategy: dict, version: str = KUBERNETES_VERSION, **overrides: Any) -> Rollout:
    """First deploy, a new version taken to the end (approved where needed), then the scale-down."""
    rollout = Rollout(kubernetes_config({"api": kubernetes_service(router, strategy, **overrides)}, version))
    rollout.up()
    runs = rollout.stack.roll_out("1.28", [1, 1, 1, 1, 31], approve_from=1)
    assert [run.result.error for run in runs] == [None] * len(runs)
    return rollout


@lru_cache(maxsize=None)
def whole_rollout_runs(router: str, kind: str, autoscaled: bool) -> tuple[RunResult, ...]:
    """The runs of `whole_rollout` for a combination of COMBINATIONS, with or without AUTOSCALING, made once
    per test session (several tests read the same manifests; none changes them)."""
    strategy = next(s for r, s in COMBINATIONS if r == router and s["kind"] == kind)
    extra = {"replicas": 3, "autoscaling": AUTOSCALING} if autoscaled else {}
    return tuple(whole_rollout(router, strategy, **extra).runs)


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


class SchemaMissing(Exception):
    """The Gateway API HTTPRoute CRD is not where the tests look for it; the message says where to put it."""


def locate_httproute_crd(environ: Mapping[str, str], repo_root: Path) -> Path:
    """Where the HTTPRoute CRD is: `$CUTOVER_GATEWAY_SCHEMA_DIR/<file>` when the variable is set (a clone
    standing alone, a CI cache), else `../shared/schemas/<file>` beside the project's clone. It is not copied
    into the project: one pinned copy (v1.6.1, Apache-2.0 licence beside it) serves every clone."""
    configured = environ.get(SCHEMA_DIR_VARIABLE)
    if configured:
        path = Path(configured) / HTTPROUTE_CRD_FILE
        if not path.is_file():
            raise SchemaMissing(f"{SCHEMA_DIR_VARIABLE}={configured} holds no {HTTPROUTE_CRD_FILE}")
        return path
    path = (repo_root / ".." / "shared" / "schemas" / HTTPROUTE_CRD_FILE).resolve()
    if not path.is_file():
        raise SchemaMissing(
            f"no {HTTPROUTE_CRD_FILE} in {path.parent}: set {SCHEMA_DIR_VARIABLE} to a directory holding the Gateway "
            "API v1.6.1 HTTPRoute CRD (kubernetes-sigs/gateway-api, config/crd/standard/"
            "gateway.networking.k8s.io_httproutes.yaml)"
        )
    return path


def require_httproute_crd(environ: Mapping[str, str] | None = None, repo_root: Path = REPO_ROOT) -> Path:
    """The CRD's path; without it the calling test skips, naming the variable, except in CI (`CI=true`), where
    a missing schema fails: an HTTPRoute check that silently never runs would pass every broken route."""
    environ = os.environ if environ is None else environ
    try:
        return locate_httproute_crd(environ, repo_root)
    except SchemaMissing as err:
        if environ.get("CI", "").lower() == "true" or environ.get(SCHEMA_DIR_VARIABLE):
            pytest.fail(f"HTTPRoute schema missing: {err}")
        pytest.skip(f"HTTPRoute schema missing: {err}")


def httproute_schema() -> dict[str, Any]:
    """The CRD's v1 openAPIV3Schema, made strict like `kubernetes_validate(strict=True)`: the API
    server silently prunes unknown fields of a CRD, so an unknown field would be a silent no-op.
    Skips (fails in CI) the calling test when the CRD cannot be found: see `require_httproute_crd`."""
    return _httproute_schema(require_httproute_crd())


@lru_cache(maxsize=2)
def _httproute_schema(crd_path: Path) -> dict[str, Any]:
    crd = yaml.safe_load(crd_path.read_text())
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


def replicas(result: RunResult) -> dict[str, int | None]:
    """Color -> replicas of each Deployment (None: not declared, an HPA owns them)."""
    return {r.inputs["metadata"]["labels"]["color"]: normalized(r.inputs["spec"].get("replicas")) for r in result.of_type(DEPLOYMENT)}


def autoscalers(result: RunResult) -> dict[str, tuple[int, int]]:
    """Color -> (minReplicas, maxReplicas) of its HorizontalPodAutoscaler, for the colors that have one."""
    return {r.inputs["metadata"]["labels"]["color"]: (int(r.inputs["spec"]["minReplicas"]), int(r.inputs["spec"]["maxReplicas"]))
            for r in result.of_type(HPA)}
