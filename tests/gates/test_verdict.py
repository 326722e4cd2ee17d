"""The gate decision as a table of stories, plus the invariants hypothesis hunts for."""

from __future__ import annotations

import doctest
import importlib
import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import AnalysisConfig
from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.reader import EvidenceRequest
from components.gates.verdict import Evidence, Thresholds, decide

STRICT = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=100, required_healthy=2)
HEALTH_ONLY = Thresholds(required_healthy=2)
GOOD = Evidence(requests=1000, errors=10, latency_ms=120.0, healthy_targets=2)

ADVANCE, HOLD, ABORT = GateVerdict.ADVANCE, GateVerdict.HOLD, GateVerdict.ABORT


def with_(evidence: Evidence, **changes: object) -> Evidence:
    return Evidence(**{**evidence.__dict__, **changes})


@pytest.mark.parametrize(
    "evidence, thresholds, verdict, inconclusive, reason",
    [
        pytest.param(GOOD, STRICT, ADVANCE, False, "passed: error rate 1.0% <= 5.0%, latency 120 ms <= 500 ms, 1000 requests",
                     id="a healthy canary with enough traffic advances"),
        pytest.param(with_(GOOD, errors=0, latency_ms=9999.0, alarms_in_alarm=("web-5xx", "web-p99")), STRICT, ABORT, False,
                     "alarms in ALARM: web-5xx, web-p99", id="an alarm in ALARM aborts whatever the numbers"),
        pytest.param(with_(GOOD, alarms_in_alarm=("web-5xx",), problems=("metrics: throttled",)), STRICT, ABORT, False,
                     "alarms in ALARM: web-5xx", id="an alarm aborts even when other reads failed"),
        pytest.param(with_(GOOD, drift="live weights 70/30 differ from recorded 90/10 (changed outside Pulumi?)"), STRICT, HOLD, False,
                     "live weights 70/30 differ from recorded 90/10 (changed outside Pulumi?)",
                     id="drift holds without counting as inconclusive"),
        pytest.param(with_(GOOD, errors=900, drift="live weights 0/100 differ"), STRICT, HOLD, False, "live weights 0/100 differ",
                     id="drift holds even over bad numbers: a human is at the router"),
        pytest.param(with_(GOOD, problems=("health: ThrottlingException",)), STRICT, HOLD, True,
                     "evidence could not be read: health: ThrottlingException", id="a failed read holds inconclusive"),
        pytest.param(with_(GOOD, healthy_targets=1), STRICT, HOLD, True, "candidate not ready: 1 of 2 targets healthy",
                     id="a candidate short of healthy targets is not ready yet"),
        pytest.param(with_(GOOD, requests=37, errors=0), STRICT, HOLD, True, "not enough evidence: 37 requests < 100",
                     id="too few requests hold inconclusive"),
        pytest.param(with_(GOOD, requests=37, errors=30), STRICT, HOLD, True, "not enough evidence: 37 requests < 100",
                     id="too few requests hold even when most of them failed"),
        pytest.param(Evidence(healthy_targets=2), STRICT, HOLD, True, "no request data for the candidate in this step",
                     id="no datapoints at all is never a pass"),
        pytest.param(with_(GOOD, errors=200), STRICT, ABORT, False, "error rate 20.0% > 5.0% (200 of 1000 requests)",
                     id="twenty percent 5xx aborts"),
        pytest.param(with_(GOOD, errors=50), STRICT, ADVANCE, False, "passed: error rate 5.0% <= 5.0%, latency 120 ms <= 500 ms, 1000 requests",
                     id="an error rate exactly at the limit passes"),
        pytest.param(with_(GOOD, latency_ms=750.0), STRICT, ABORT, False, "latency 750 ms > 500 ms", id="slow responses abort"),
        pytest.param(with_(GOOD, latency_ms=None), STRICT, HOLD, True, "no latency data for the candidate in this step",
                     id="a missing latency holds inconclusive"),
        pytest.param(with_(GOOD, latency_ms=None, errors=300), STRICT, ABORT, False, "error rate 30.0% > 5.0% (300 of 1000 requests)",
                     id="a clear error breach aborts even when latency is missing"),
        pytest.param(with_(GOOD, latency_ms=float("nan")), STRICT, HOLD, True, "no latency data for the candidate in this step",
                     id="NaN latency is no data, not a pass"),
        pytest.param(Evidence(healthy_targets=2), HEALTH_ONLY, ADVANCE, False,
                     "candidate healthy and routed as recorded; no metrics judged",
                     id="an empty analysis block judges health only and ignores traffic"),
        pytest.param(Evidence(healthy_targets=0), HEALTH_ONLY, HOLD, True, "candidate not ready: 0 of 2 targets healthy",
                     id="an empty analysis block still waits for healthy targets"),
        pytest.param(Evidence(error_rate=0.01, latency_ms=80.0), STRICT, ADVANCE, False,
                     "passed: error rate 1.0% <= 5.0%, latency 80 ms <= 500 ms",
                     id="a ratio-only source without health or a request count is judged on its ratio"),
        pytest.param(Evidence(error_rate=0.2), Thresholds(max_error_rate=0.05), ABORT, False, "error rate 20.0% > 5.0%",
                     id="a ratio-only source over the limit aborts"),
        pytest.param(Evidence(error_rate=0.0, requests=12), Thresholds(max_error_rate=0.05), HOLD, True,
                     "not enough evidence: 12 requests < 100", id="a ratio source with a request count still needs min requests"),
        pytest.param(Evidence(requests=0, errors=0), Thresholds(max_error_rate=0.05, min_requests=0), HOLD, True,
                     "no error-rate data for the candidate in this step", id="zero requests with minRequests 0 is still no evidence"),
    ],
)
def test_decide(evidence: Evidence, thresholds: Thresholds, verdict: GateVerdict, inconclusive: bool, reason: str) -> None:
    result = decide(evidence, thresholds)
    assert (result.verdict, result.inconclusive, result.reason) == (verdict, inconclusive, reason)
    json.dumps(result.to_output(), allow_nan=False)


def test_measurements_hold_the_numbers_used() -> None:
    result = decide(with_(GOOD, alarms_in_alarm=()), STRICT)
    assert result.measurements == {
        "requests": 1000,
        "errors": 10,
        "errorRate": 0.01,
        "latencyMs": 120.0,
        "healthyTargets": 2,
        "alarms": [],
    }


@pytest.mark.parametrize(
    "analysis, thresholds",
    [
        pytest.param(None, Thresholds(required_healthy=3), id="no analysis block judges health only"),
        pytest.param(AnalysisConfig(), Thresholds(min_requests=100, required_healthy=3), id="an empty analysis block keeps the defaults"),
        pytest.param(
            AnalysisConfig.model_validate({"maxErrorRate": 0.01, "maxLatencyMs": 300, "minRequests": 50, "alarms": ["a"]}),
            Thresholds(max_error_rate=0.01, max_latency_ms=300, min_requests=50, required_healthy=3),
            id="the config keys users write become thresholds",
        ),
    ],
)
def test_thresholds_from_analysis(analysis: AnalysisConfig | None, thresholds: Thresholds) -> None:
    assert Thresholds.from_analysis(analysis, replicas=3) == thresholds


class ExplodingReader:
    def read(self, request: EvidenceRequest) -> Evidence:
        raise KeyError("MetricDataResults")


def test_a_reader_that_raises_holds_inconclusive_naming_the_exception() -> None:
    now = datetime.now(timezone.utc)
    request = EvidenceRequest("web", "aws", "green", "2", now, now)
    result = evaluate_gate(ExplodingReader(), request, STRICT)
    assert (result.verdict, result.inconclusive) == (HOLD, True)
    assert "ExplodingReader raised KeyError" in result.reason


# --- invariants -------------------------------------------------------------------------------

counts = st.none() | st.integers(min_value=0, max_value=10_000)
rates = st.none() | st.just(float("nan")) | st.floats(min_value=0, max_value=1)
latencies = st.none() | st.just(float("nan")) | st.floats(min_value=0, max_value=10_000)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)


@st.composite
def evidence(draw: st.DrawFn) -> Evidence:
    requests = draw(counts)
    errors = None if requests is None else draw(st.none() | st.integers(min_value=0, max_value=requests))
    return Evidence(
        requests=requests,
        errors=errors,
        latency_ms=draw(latencies),
        healthy_targets=draw(st.none() | st.integers(min_value=0, max_value=5)),
        alarms_in_alarm=tuple(draw(st.lists(names, max_size=2))),
        drift=draw(st.none() | st.just("live weights 70/30 differ from recorded 90/10")),
        problems=tuple(draw(st.lists(names, max_size=2))),
        error_rate=draw(rates),
    )


thresholds = st.builds(
    Thresholds,
    max_error_rate=st.none() | st.floats(min_value=0, max_value=1),
    max_latency_ms=st.none() | st.floats(min_value=1, max_value=5_000),
    min_requests=st.integers(min_value=0, max_value=1_000),
    required_healthy=st.integers(min_value=0, max_value=5),
)


@settings(max_examples=400, deadline=None)
@given(evidence(), thresholds)
def test_never_advance_on_fewer_than_min_requests_when_metrics_are_judged(e: Evidence, t: Thresholds) -> None:
    if t.judges_metrics and e.requests is not None and e.requests < t.min_requests:
        assert decide(e, t).verdict is not ADVANCE


@settings(max_examples=400, deadline=None)
@given(evidence(), thresholds)
def test_any_alarm_in_alarm_aborts(e: Evidence, t: Thresholds) -> None:
    if e.alarms_in_alarm:
        assert decide(e, t).verdict is ABORT


@settings(max_examples=400, deadline=None)
@given(evidence(), thresholds)
def test_read_problems_never_advance(e: Evidence, t: Thresholds) -> None:
    if e.problems:
        assert decide(e, t).verdict is not ADVANCE


@settings(max_examples=400, deadline=None)
@given(evidence(), thresholds)
def test_advance_implies_every_judged_number_within_its_limit(e: Evidence, t: Thresholds) -> None:
    result = decide(e, t)
    if result.verdict is ADVANCE:
        if t.max_error_rate is not None:
            assert e.observed_error_rate is not None and e.observed_error_rate <= t.max_error_rate
        if t.max_latency_ms is not None:
            assert e.latency_ms is not None and e.latency_ms <= t.max_latency_ms
        assert e.healthy_targets is None or e.healthy_targets >= t.required_healthy
        assert not e.drift and not e.problems


@settings(max_examples=200, deadline=None)
@given(evidence(), thresholds)
def test_results_are_json_serializable(e: Evidence, t: Thresholds) -> None:
    json.dumps(decide(e, t).to_output(), allow_nan=False)


@pytest.mark.parametrize(
    "module",
    [
        pytest.param("components.gates.verdict", id="the verdict's worked examples hold"),
        pytest.param("components.gates.cloudwatch_reader", id="the weight-drift and ARN examples hold"),
        pytest.param("components.gates.prometheus_reader", id="the query template example holds"),
    ],
)
def test_docstring_examples(module: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried and not failures
