"""Settings Kubernetes cannot run are refused before anything is registered, naming the key."""

from __future__ import annotations

import pytest

from rehearsal.engine import run_program
from tests.builders import AUTOSCALING, CANARY, ROLLING, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import START


@pytest.mark.parametrize(
    "overrides, key, words",
    [
        ({"router": "alb"}, "cutover:services.api.router", "alb is not a kubernetes router"),
        ({"router": "route53"}, "cutover:services.api.router", "route53 is not a kubernetes router"),
        ({"router": "service"}, "cutover:services.api.router", "service cannot run a canary rollout"),
        ({"router": "mesh"}, "cutover:services.api.router", "mesh"),
        ({"secrets": {"DB_PASSWORD": "arn:aws:ssm:us-east-1:1:parameter/db"}}, "cutover:services.api.secrets.DB_PASSWORD", "secret-name:key"),
        ({"strategy": {**ROLLING, "maxSurge": "0"}}, "cutover:services.api.strategy.maxSurge", "above 0"),
        ({"replicas": 3, "autoscaling": {**AUTOSCALING, "targetRequestsPerTarget": 1000}},
         "cutover:services.api.autoscaling.targetRequestsPerTarget", "ALBRequestCountPerTarget"),
    ],
    ids=[
        "an AWS router on kubernetes",
        "route53 on kubernetes",
        "the service router cannot split traffic for a canary",
        "a router nobody knows",
        "a secret that is not secret-name:key",
        "zero surge with zero unavailable could never roll",
        "an ALB request-count target has no Kubernetes HPA metric",
    ],
)
def test_bad_settings_name_the_key_and_register_nothing(overrides, key, words):
    service = kubernetes_service("gateway", CANARY)
    service.update(overrides)
    result = run_program(kubernetes_config({"api": service}), None, now=START)
    assert result.error is not None and f"{key}:" in result.error, result.error
    assert words in result.error
    assert result.resources == {}


def test_the_gateway_router_needs_a_gateway():
    config = kubernetes_config({"api": kubernetes_service("gateway", CANARY)})
    del config["cutover:kubernetes"]["gateway"]
    result = run_program(config, None, now=START)
    assert "cutover:services.api.router:" in (result.error or "")
    assert result.resources == {}


def test_kubernetes_services_need_the_kubernetes_block():
    config = kubernetes_config({"api": kubernetes_service("nginx", CANARY)})
    del config["cutover:kubernetes"]
    result = run_program(config, None, now=START)
    assert "cutover:services.api.platform:" in (result.error or "")
    assert result.resources == {}
