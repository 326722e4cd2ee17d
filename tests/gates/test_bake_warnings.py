"""`bake_warnings`: a bake too short for a CloudWatch gate to have one complete minute of evidence."""

from __future__ import annotations

import json

import pytest

from components.config import load_config
from components.gates.cloudwatch_reader import minimum_bake_minutes
from components.gates.wiring import bake_warnings
from tests.builders import service

THRESHOLD = {"maxErrorRate": 0.05}
PROMETHEUS = {"url": "http://prometheus:9090", "errorRateQuery": "sum(rate(x[{{window}}]))"}


def config_of(services: dict, kubernetes: bool = False):
    raw = {"services": json.dumps(services)}
    if kubernetes:
        raw["kubernetes"] = json.dumps({"namespace": "apps", "gateway": {"name": "gw", "namespace": "infra"}})
    return load_config(raw)


@pytest.mark.parametrize(
    "services, warned",
    [
        pytest.param({"web": service(bakeMinutes=2, analysis=THRESHOLD)}, ["web"], id="an error-rate gate with a 2-minute bake is warned"),
        pytest.param({"web": service(bakeMinutes=4, analysis={"maxLatencyMs": 800})}, ["web"], id="a latency gate one minute short is warned"),
        pytest.param({"web": service(bakeMinutes=5, analysis=THRESHOLD)}, [], id="the minimum bake is not warned"),
        pytest.param({"web": service(bakeMinutes=0, analysis={"alarms": ["web-5xx"]})}, [], id="alarms and health alone need no minutes of metrics"),
        pytest.param({"web": service(bakeMinutes=0)}, [], id="no analysis means bake time alone"),
        pytest.param({"web": service(bakeMinutes=1, analysis={**THRESHOLD, "prometheus": PROMETHEUS})}, [], id="a Prometheus gate is not CloudWatch's"),
        pytest.param(
            {"web": service(bakeMinutes=1, analysis=THRESHOLD), "api": service(bakeMinutes=10, analysis=THRESHOLD),
             "jobs": service(bakeMinutes=3, analysis=THRESHOLD)},
            ["jobs", "web"],
            id="each short service gets its own warning",
        ),
    ],
)
def test_short_bakes_under_cloudwatch_gates_are_warned(services: dict, warned: list[str]) -> None:
    warnings = bake_warnings(config_of(services))
    assert [w.split(".")[1] for w in warnings] == warned


def test_a_kubernetes_service_without_prometheus_is_not_judged_by_cloudwatch() -> None:
    web = {**service(bakeMinutes=1, router="gateway", analysis=THRESHOLD), "platform": "kubernetes"}
    assert bake_warnings(config_of({"web": web}, kubernetes=True)) == []


def test_the_warning_names_the_key_the_minimum_and_why() -> None:
    [warning] = bake_warnings(config_of({"web": service(bakeMinutes=2, analysis=THRESHOLD)}))
    assert warning.startswith(f"cutover:services.web.strategy.bakeMinutes is 2, below {minimum_bake_minutes()}: ")
    assert "whole minutes after the step started" in warning and "inconclusive" in warning
