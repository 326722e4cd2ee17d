"""The gate verdict at its edges: exactly at each limit, one past it, numbers that are not numbers, and the
shadow phase's comparison with stable. Every case states the verdict, whether it counts as inconclusive,
the reason the operator reads and the numbers recorded with it."""

from __future__ import annotations

import math

import pytest

from components.gates.model import GateVerdict
from components.gates.verdict import Evidence, Thresholds, decide

ADVANCE, HOLD, ABORT = GateVerdict.ADVANCE, GateVerdict.HOLD, GateVerdict.ABORT
ERRORS_ONLY = Thresholds(max_error_rate=0.05, min_requests=100, required_healthy=2)
LATENCY_ONLY = Thresholds(max_latency_ms=500, min_requests=100, required_healthy=2)
SHADOW = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=0, against_stable=True)


@pytest.mark.parametrize("evidence, thresholds, verdict, inconclusive, reason", [
    pytest.param(Evidence(requests=100, errors=1, healthy_targets=2), ERRORS_ONLY, ADVANCE, False,
                 "passed: error rate 1.0% <= 5.0%, 100 requests", id="exactly minRequests requests are enough to judge"),
    pytest.param(Evidence(requests=99, errors=0, healthy_targets=2), ERRORS_ONLY, HOLD, True,
                 "not enough evidence: 99 requests < 100", id="one request short of minRequests holds"),
    pytest.param(Evidence(requests=1000, errors=51, healthy_targets=2), ERRORS_ONLY, ABORT, False,
                 "error rate 5.1% > 5.0% (51 of 1000 requests)", id="one error past the limit aborts"),
    pytest.param(Evidence(requests=1000, errors=0, healthy_targets=2), ERRORS_ONLY, ADVANCE, False,
                 "passed: error rate 0.0% <= 5.0%, 1000 requests", id="no errors at all passes"),
    pytest.param(Evidence(requests=500, latency_ms=500.0, healthy_targets=2), LATENCY_ONLY, ADVANCE, False,
                 "passed: latency 500 ms <= 500 ms, 500 requests", id="a latency exactly at the limit passes"),
    pytest.param(Evidence(requests=500, latency_ms=500.5, healthy_targets=2), LATENCY_ONLY, ABORT, False,
                 "latency 500 ms > 500 ms", id="a latency just past the limit aborts"),
    pytest.param(Evidence(requests=500, errors=400, healthy_targets=2), LATENCY_ONLY, HOLD, True,
                 "no latency data for the candidate in this step", id="a latency limit is not judged on errors"),
    pytest.param(Evidence(requests=500, latency_ms=9000.0, healthy_targets=2), ERRORS_ONLY, HOLD, True,
                 "no error-rate data for the candidate in this step", id="an error limit is not judged on latency"),
    pytest.param(Evidence(requests=500, errors=0, healthy_targets=2, alarms_in_alarm=("web-5xx", "web-p99", "db-cpu")), ERRORS_ONLY,
                 ABORT, False, "alarms in ALARM: web-5xx, web-p99, db-cpu", id="every alarm in ALARM is named"),
    pytest.param(Evidence(problems=("metrics: throttled", "health: AccessDenied")), ERRORS_ONLY, HOLD, True,
                 "evidence could not be read: metrics: throttled; health: AccessDenied", id="every failed read is named"),
    pytest.param(Evidence(requests=500, errors=0, healthy_targets=2), Thresholds(max_error_rate=0.05, required_healthy=2),
                 ADVANCE, False, "passed: error rate 0.0% <= 5.0%, 500 requests", id="exactly the required healthy targets are ready"),
    pytest.param(Evidence(healthy_targets=0), Thresholds(required_healthy=0), ADVANCE, False,
                 "candidate healthy and routed as recorded; no metrics judged", id="a service scaled to zero needs no healthy target"),
    pytest.param(Evidence(latency_ms=120.0), LATENCY_ONLY, ADVANCE, False, "passed: latency 120 ms <= 500 ms",
                 id="a latency-only source without a request count is judged on its latency"),
    pytest.param(Evidence(error_rate=0.2, requests=1000, errors=3), ERRORS_ONLY, ABORT, False, "error rate 20.0% > 5.0%",
                 id="a reader's own ratio wins over counts and the reason shows no counts"),
    pytest.param(Evidence(error_rate=0.2, requests=1000), ERRORS_ONLY, ABORT, False, "error rate 20.0% > 5.0%",
                 id="a ratio with a request count but no error count shows no counts"),
    pytest.param(Evidence(error_rate=math.nan, requests=1000, errors=900), ERRORS_ONLY, HOLD, True,
                 "no error-rate data for the candidate in this step", id="a NaN ratio is no data even when the counts are bad"),
    pytest.param(Evidence(requests=1000, errors=0, latency_ms=math.inf), LATENCY_ONLY, ABORT, False, "latency inf ms > 500 ms",
                 id="an infinite latency aborts"),
])
def test_decide_at_the_edges(evidence, thresholds, verdict, inconclusive, reason):
    result = decide(evidence, thresholds)
    assert (result.verdict, result.inconclusive, result.reason) == (verdict, inconclusive, reason)


@pytest.mark.parametrize("evidence, verdict, inconclusive, reason", [
    pytest.param(Evidence(error_rate=0.2, stable_error_rate=0.05), ABORT, False,
                 "error rate 20.0% > 5.0% (stable 5.0% over the same window)", id="stable exactly at the limit counts as within"),
    pytest.param(Evidence(error_rate=0.2, stable_error_rate=0.051), HOLD, True,
                 "error rate 20.0% > 5.0%, but stable breaches too (5.1% over the same window): the requests or a shared "
                 "dependency fail, not only the candidate", id="stable just past the limit shares the breach"),
    pytest.param(Evidence(error_rate=0.2, stable_error_rate=math.nan), HOLD, True,
                 "error rate 20.0% > 5.0%, but stable's number over the same window is missing: cannot compare",
                 id="a NaN for stable is a missing number"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=900.0, stable_latency_ms=500.0), ABORT, False,
                 "latency 900 ms > 500 ms (stable 500 ms over the same window)", id="stable latency exactly at the limit is within"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=900.0, stable_latency_ms=800.0), HOLD, True,
                 "latency 900 ms > 500 ms, but stable breaches too (800 ms over the same window): the requests or a shared "
                 "dependency fail, not only the candidate", id="a slow stable shares a slow candidate's breach"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=900.0), HOLD, True,
                 "latency 900 ms > 500 ms, but stable's number over the same window is missing: cannot compare",
                 id="a slow candidate without stable's latency holds"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=120.0), ADVANCE, False,
                 "passed against stable (mirrored requests): error rate 1.0% <= 5.0%, latency 120 ms <= 500 ms; "
                 "stable over the same window: no data", id="a pass without stable's numbers says so"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=120.0, stable_latency_ms=100.0), ADVANCE, False,
                 "passed against stable (mirrored requests): error rate 1.0% <= 5.0%, latency 120 ms <= 500 ms; "
                 "stable over the same window: latency 100 ms", id="a pass shows only the stable numbers that were read"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=120.0, stable_error_rate=0.02, stable_latency_ms=math.nan), ADVANCE, False,
                 "passed against stable (mirrored requests): error rate 1.0% <= 5.0%, latency 120 ms <= 500 ms; "
                 "stable over the same window: error rate 2.0%", id="a pass leaves out stable's NaN"),
])
def test_a_shadow_candidate_is_judged_against_stable(evidence, verdict, inconclusive, reason):
    result = decide(evidence, SHADOW)
    assert (result.verdict, result.inconclusive, result.reason) == (verdict, inconclusive, reason)


@pytest.mark.parametrize("evidence", [
    pytest.param(Evidence(error_rate=0.2, stable_error_rate=0.01, stable_latency_ms=90.0), id="when the candidate alone breaches"),
    pytest.param(Evidence(error_rate=0.2, stable_error_rate=0.3, stable_latency_ms=90.0), id="when stable breaches too"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=900.0, stable_error_rate=0.01, stable_latency_ms=math.inf),
                 id="when stable's latency is infinite"),
])
def test_a_shadow_verdict_records_stable_numbers_next_to_the_candidates(evidence):
    measurements = decide(evidence, SHADOW).measurements
    assert measurements["errorRate"] == evidence.error_rate
    assert measurements["stableErrorRate"] == evidence.stable_error_rate
    expected_latency = evidence.stable_latency_ms if math.isfinite(evidence.stable_latency_ms) else None
    assert measurements["stableLatencyMs"] == expected_latency


def test_a_shadow_verdict_with_a_missing_stable_number_still_records_the_candidates():
    measurements = decide(Evidence(error_rate=0.2, requests=40), SHADOW).measurements
    assert measurements == {"requests": 40, "errors": None, "errorRate": 0.2, "latencyMs": None, "healthyTargets": None, "alarms": []}


@pytest.mark.parametrize("evidence, recorded", [
    pytest.param(Evidence(requests=0, errors=0), None, id="no requests is no error rate"),
    pytest.param(Evidence(requests=200, errors=None), None, id="requests without an error count is no error rate"),
    pytest.param(Evidence(requests=200, errors=10), 0.05, id="errors over requests"),
    pytest.param(Evidence(requests=200, errors=10, error_rate=0.5), 0.5, id="a reader's ratio wins"),
    pytest.param(Evidence(error_rate=math.inf), None, id="an infinite ratio is not recorded"),
])
def test_the_recorded_error_rate(evidence, recorded):
    assert decide(evidence, ERRORS_ONLY).measurements["errorRate"] == recorded


@pytest.mark.parametrize("evidence, thresholds, verdict", [
    pytest.param(Evidence(requests=1000, errors=10, latency_ms=120.0, healthy_targets=2, alarms_in_alarm=("web-5xx",)), ERRORS_ONLY,
                 ABORT, id="an alarm abort"),
    pytest.param(Evidence(requests=1000, errors=10, latency_ms=120.0, healthy_targets=2, drift="live weights 70/30 differ"), ERRORS_ONLY,
                 HOLD, id="a drift hold"),
    pytest.param(Evidence(requests=1000, errors=10, latency_ms=120.0, healthy_targets=2), Thresholds(required_healthy=2), ADVANCE,
                 id="a health-only pass"),
    pytest.param(Evidence(requests=1000, errors=10, latency_ms=900.0, healthy_targets=2), LATENCY_ONLY, ABORT, id="a latency abort"),
    pytest.param(Evidence(requests=1000, errors=10, latency_ms=120.0, healthy_targets=2), ERRORS_ONLY, ADVANCE, id="a pass on numbers"),
    pytest.param(Evidence(requests=1000, errors=10, latency_ms=120.0, healthy_targets=1), ERRORS_ONLY, HOLD, id="a not-ready hold"),
])
def test_every_verdict_records_the_numbers_it_saw(evidence, thresholds, verdict):
    result = decide(evidence, thresholds)
    assert result.verdict is verdict
    assert result.measurements == {"requests": 1000, "errors": 10, "errorRate": 0.01, "latencyMs": evidence.latency_ms,
                                   "healthyTargets": evidence.healthy_targets, "alarms": list(evidence.alarms_in_alarm)}


@pytest.mark.parametrize("evidence, recorded", [
    pytest.param(Evidence(error_rate=0.2, stable_error_rate=0.01), {"stableErrorRate": 0.01, "stableLatencyMs": None},
                 id="stable's error rate alone"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=900.0, stable_latency_ms=90.0), {"stableErrorRate": None, "stableLatencyMs": 90.0},
                 id="stable's latency alone"),
])
def test_one_stable_number_is_recorded_with_the_other_as_unknown(evidence, recorded):
    measurements = decide(evidence, SHADOW).measurements
    assert {k: measurements[k] for k in recorded} == recorded
