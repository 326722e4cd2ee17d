"""The smoke hook's pure decisions: when the checks are due, and how their verdict folds into the gate's."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from components.config import ServiceConfig
from components.gates.model import GateResult, GateVerdict
from components.gates.smoke import CheckOutcome, SmokeCheck
from components.gates.smoke_verdict import first_shift_hooks_due, smoke_checks, smoke_verdict, with_smoke
from components.rollout.model import Color, Phase, RolloutState, Weights

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def service(kind: str = "canary", version: str = "2", smoke: bool = True, **extra) -> ServiceConfig:
    strategy = {"kind": kind, **({"steps": [10, 50, 100]} if kind == "canary" else {})}
    hooks = {"hooks": {"smoke": [{"path": "/healthz"}]}} if smoke else {}
    return ServiceConfig.model_validate({"image": "nginx", "version": version, "port": 80, "replicas": 2,
                                         "strategy": strategy, **hooks, **extra})


def state(phase: Phase = Phase.PROGRESSING, candidate: str | None = "2", green: int = 0) -> RolloutState:
    return RolloutState(phase=phase, stable_color=Color.BLUE, stable_version="1", candidate_version=candidate,
                        step=0 if candidate else None, weights=Weights(100 - green, green), step_started_at=T0,
                        versions={Color.BLUE: "1", Color.GREEN: candidate or "1"}, replicas={Color.BLUE: 2, Color.GREEN: 2})


@pytest.mark.parametrize("previous, config, due", [
    pytest.param(state(), service(), True, id="a canary deployed at 0 percent is checked before its first shift"),
    pytest.param(state(), service("red-black"), True, id="a red-black candidate is checked before its switch"),
    pytest.param(state(Phase.PAUSED), service("blue-green"), False, id="a blue-green preview waiting for approval is not checked yet"),
    pytest.param(state(Phase.PAUSED), service("blue-green", approve="2"), True, id="an approved blue-green preview is checked before the switch"),
    pytest.param(state(Phase.PAUSED), service("blue-green", promote="2"), True, id="a promoted preview is checked too"),
    pytest.param(state(green=10), service(), False, id="a candidate already serving is not checked again"),
    pytest.param(state(candidate=None, phase=Phase.STABLE), service(), False, id="a start is not checked: nothing is deployed yet"),
    pytest.param(state(), service(version="3"), False, id="a superseded candidate is not checked"),
    pytest.param(state(), service(abort="2"), False, id="an aborted candidate is not checked"),
    pytest.param(state(Phase.ABORTED), service(), False, id="a candidate after an abort is not checked"),
    pytest.param(state(), service(smoke=False), False, id="a service without smoke checks is never checked"),
])
def test_smoke_due(previous, config, due):
    assert first_shift_hooks_due(previous, config) is due


def test_an_expand_migration_alone_makes_the_first_shift_hooks_due():
    config = service(smoke=False, hooks={"migrations": {"expand": {"command": ["migrate"]}}})
    assert first_shift_hooks_due(state(), config) is True


def test_the_version_placeholder_is_replaced_in_path_and_body():
    config = ServiceConfig.model_validate({"image": "nginx", "version": "2", "port": 80, "replicas": 1,
                                           "strategy": {"kind": "red-black"}, "hooks": {"smoke": [
                                               {"path": "/v/{{version}}", "expectStatus": 204, "expectBodyContains": "v{{version}}"}]}})
    assert smoke_checks(config.hooks.smoke, "2.1") == [SmokeCheck("/v/2.1", 204, "v2.1")]


PASSED = smoke_verdict("http://preview", [CheckOutcome(SmokeCheck("/healthz"), "http://preview/healthz", 200)])
FAILED = smoke_verdict("http://preview", [CheckOutcome(SmokeCheck("/healthz"), "http://preview/healthz", 503)])
SILENT = smoke_verdict("http://preview", [CheckOutcome(SmokeCheck("/healthz"), "http://preview/healthz", problem="timed out")])
METRICS = GateResult(GateVerdict.ADVANCE, "error rate 0.1% <= 1%", measurements={"requests": 500})
DRIFT = GateResult(GateVerdict.HOLD, "live weights differ", inconclusive=False)


@pytest.mark.parametrize("gate, smoke, verdict, source, reason", [
    pytest.param(GateResult.bake_only(), PASSED, GateVerdict.ADVANCE, "none", "smoke passed: GET /healthz 200",
                 id="a passed smoke check under bake only advances and says so"),
    pytest.param(METRICS, PASSED, GateVerdict.ADVANCE, "gate", "error rate 0.1% <= 1%; smoke passed: GET /healthz 200",
                 id="a passed smoke check keeps the gate's verdict and adds its reason"),
    pytest.param(METRICS, FAILED, GateVerdict.ABORT, "workload", "smoke check failed: GET /healthz answered 503, expected 200 (http://preview)",
                 id="a failed smoke check aborts whatever the metrics say"),
    pytest.param(METRICS, SILENT, GateVerdict.HOLD, "workload", "smoke checks could not reach the candidate: GET /healthz: timed out (http://preview)",
                 id="an unreachable candidate holds a passing gate"),
    pytest.param(DRIFT, PASSED, GateVerdict.HOLD, "gate", "live weights differ; smoke passed: GET /healthz 200",
                 id="a passed smoke check does not lift a drift hold"),
])
def test_with_smoke(gate, smoke, verdict, source, reason):
    result = with_smoke(gate, smoke)
    assert (result.verdict, result.source, result.reason) == (verdict, source, reason)
