"""Config validation: the shipped stacks are valid; errors name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import CONFIG_NAMESPACE, CutoverConfigError, load_config
from rehearsal.engine import PROJECT_ROOT, stack_config


def short_keys(stack_file: Path) -> dict:
    config = stack_config(stack_file)
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{CONFIG_NAMESPACE}:")}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stack_configs_are_valid(stack):
    config = load_config(short_keys(PROJECT_ROOT / f"Pulumi.{stack}.yaml"))
    assert config.services


def test_priorities_are_stable_when_a_service_is_added():
    base = {"services": {"web": _svc()}}
    more = {"services": {"web": _svc(), "api": _svc(), "zz": _svc()}}
    assert load_config(base).rule_priority("web") == load_config(more).rule_priority("web")


def test_colliding_priorities_name_the_service():
    with pytest.raises(CutoverConfigError, match=r"cutover:services\.b\.priority: listener rule priority 7 is also a's"):
        load_config({"services": {"a": _svc(priority=7), "b": _svc(priority=7)}})


def _svc(kind: str = "canary", steps=(10, 100), **extra):
    strategy = {"kind": kind}
    if steps is not None:
        strategy["steps"] = list(steps)
    return {"image": "nginx", "version": "1", "port": 80, "replicas": 1, "strategy": strategy} | extra


CROSS_FIELD = [
    pytest.param({"Web": _svc()}, r"cutover:services\.Web: service names are", id="upper-case service names are rejected"),
    pytest.param({"web": _svc(kind="blue-green", steps=[10, 100])}, r"cutover:services\.web\.strategy\.steps: only canary takes steps",
                 id="steps on a blue-green are rejected"),
    pytest.param({"web": _svc(steps=None)}, r"cutover:services\.web\.strategy\.steps: a canary needs steps", id="a canary without steps is rejected"),
    pytest.param({"web": _svc(host="a.example.com", pathPrefix="/a")}, r"cutover:services\.web\.pathPrefix: route by host or by pathPrefix",
                 id="host and path prefix together are rejected"),
    pytest.param({"web": _svc(environment={"A": "1"}, secrets={"A": "arn:aws:ssm:x"})}, r"cutover:services\.web\.secrets",
                 id="a variable both plain and secret is rejected"),
    pytest.param({"web": _svc(platform="kubernetes", router="gateway")}, r"cutover:services\.web\.platform: kubernetes needs cutover:kubernetes",
                 id="a kubernetes service needs the kubernetes settings"),
    pytest.param({"web": _svc(router="route53", kind="rolling", steps=None)}, r"cutover:services\.web\.router: route53 cannot run a rolling rollout",
                 id="rolling behind weighted records is rejected"),
]


@pytest.mark.parametrize("services, message", CROSS_FIELD)
def test_cross_field_errors_name_the_key(services, message):
    with pytest.raises(CutoverConfigError, match=message):
        load_config({"services": services})


def test_missing_services_is_an_error():
    with pytest.raises(CutoverConfigError, match="cutover:services: required"):
        load_config({})


def test_a_prometheus_threshold_without_its_query_is_rejected():
    analysis = {"maxErrorRate": 0.01, "prometheus": {"url": "http://prometheus:9090"}}
    with pytest.raises(CutoverConfigError, match=r"cutover:services\.web\.strategy\.analysis\.prometheus\.errorRateQuery: maxErrorRate is set"):
        load_config({"services": {"web": _svc(strategy={"kind": "canary", "steps": [10, 100], "analysis": analysis})}})
