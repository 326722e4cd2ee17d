"""Stack configs for tests (AWS and Kubernetes), in the shape of a Pulumi.<stack>.yaml `config:` block."""

from __future__ import annotations

import copy
from typing import Any

NETWORK = {
    "vpcId": "vpc-0abc",
    "publicSubnetIds": ["subnet-a", "subnet-b"],
    "privateSubnetIds": ["subnet-c", "subnet-d"],
}
DNS = {"zoneId": "Z0123", "domain": "example.com"}


def service(kind: str = "canary", *, router: str = "alb", version: str = "1", **strategy: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": kind, "bakeMinutes": 0, "scaleDownDelayMinutes": 30}
    if kind == "canary":
        spec["steps"] = [10, 50, 100]
    spec.update(strategy)
    return {
        "image": "public.ecr.aws/nginx/nginx",
        "version": version,
        "port": 80,
        "replicas": 2,
        "healthCheckPath": "/healthz",
        "router": router,
        "strategy": spec,
    }


def aws_config(services: dict[str, dict[str, Any]] | None = None, *, network: bool = True, dns: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {"aws:region": "us-east-1", "cutover:services": copy.deepcopy(services or {"web": service()})}
    if network:
        config["cutover:network"] = copy.deepcopy(NETWORK)
    if dns:
        config["cutover:dns"] = copy.deepcopy(DNS)
    return config


def completed_elsewhere(services, version: str, at: str = "2026-01-01T00:00:00Z", stack: str = "staging") -> dict[str, dict[str, Any]]:
    """`other_stacks` entry for a promotion source that completed `version` of each service (gates passed)."""
    rollouts = {name: {"completed": [{"version": version, "completedAt": at, "strategy": "canary", "verdicts": ["advance"]}]}
                for name in services}
    return {f"organization/cutover/{stack}": {"rollouts": rollouts}}


# --- Kubernetes -------------------------------------------------------------------------------------

KUBERNETES_VERSION = "1.32"
CANARY = {"kind": "canary", "steps": [10, 50, 100]}
BLUE_GREEN = {"kind": "blue-green"}
RED_BLACK = {"kind": "red-black"}
ROLLING = {"kind": "rolling", "maxSurge": "1"}
AUTOSCALING = {"minReplicas": 2, "maxReplicas": 6, "targetCpuPercent": 70}
"""`autoscaling` of the tests: with `replicas: 3`, a running color's HPA floor is 3 (its planned count), not 2."""


def kubernetes_service(router: str, strategy: dict[str, Any], **overrides: Any) -> dict[str, Any]:
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


def kubernetes_config(services: dict[str, dict[str, Any]], version: str = KUBERNETES_VERSION) -> dict[str, Any]:
    """The `config:` block of a Kubernetes stack file."""
    return {
        "cutover:kubernetes": {
            "namespace": "shop",
            "version": version,
            "gateway": {"name": "public", "namespace": "gateway-system"},
            "ingressClass": "nginx",
        },
        "cutover:services": services,
    }
