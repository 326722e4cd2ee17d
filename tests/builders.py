"""Stack configs for tests, in the shape of a Pulumi.<stack>.yaml `config:` block."""

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
