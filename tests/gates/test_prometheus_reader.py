"""The Prometheus reader against a real Prometheus server scraping a tiny local exporter."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.prometheus_reader import PrometheusEvidenceReader
from components.gates.reader import EvidenceRequest
from components.gates.verdict import Thresholds
from tests.servers import (
    PROMETHEUS_MISSING,
    ServerDidNotStart,
    closed_port_url,
    hanging_server,
    metrics_exporter,
    prometheus_binary,
    start_prometheus,
)

SELECTOR = 'service="{{service}}",version="{{version}}",color="{{color}}"'
# Plain sums of counters (not rate()) so the queries answer after a single scrape.
ERROR_RATE = f'sum(http_requests_total{{{SELECTOR},code=~"5.."}}) / sum(http_requests_total{{{SELECTOR}}})'
REQUESTS = f"sum(http_requests_total{{{SELECTOR}}})"
LATENCY = f"histogram_quantile(0.99, sum by (le) (http_request_duration_seconds_bucket{{{SELECTOR}}}))"
THRESHOLDS = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=100)

# version -> (2xx, 5xx, requests faster than 0.1 s, requests up to 1 s): the candidates the exporter reports.
VERSIONS = {"2": (995, 5, 1000, 1000), "3": (800, 200, 1000, 1000), "4": (1000, 0, 500, 1000), "5": (30, 0, 30, 30)}


def exposition() -> str:
    lines = ["# TYPE http_requests_total counter", "# TYPE http_request_duration_seconds histogram"]
    for version, (ok, failed, fast, total) in VERSIONS.items():
        labels = f'service="web",version="{version}",color="green"'
        lines += [f'http_requests_total{{{labels},code="200"}} {ok}', f'http_requests_total{{{labels},code="500"}} {failed}']
        for le, count in (("0.1", fast), ("1", total), ("+Inf", total)):
            lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {count}')
        lines += [f"http_request_duration_seconds_count{{{labels}}} {total}", f"http_request_duration_seconds_sum{{{labels}}} {total * 0.05}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus (Debian package `prometheus`) that has scraped the exporter at least once."""
    try:
        prometheus_binary()
    except ServerDidNotStart:
        pytest.fail(PROMETHEUS_MISSING, pytrace=False)
    with metrics_exporter(exposition) as exporter:
        url, stop = start_prometheus([exporter.removeprefix("http://")], Path(tmp_path_factory.mktemp("prometheus")))
        try:
            _wait_for_first_scrape(url)
            yield url
        finally:
            stop()


def _wait_for_first_scrape(url: str, timeout: float = 20.0) -> None:
    query = urllib.parse.urlencode({"query": 'http_requests_total{version="2"}'})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as answer:
            if json.load(answer)["data"]["result"]:
                return
        time.sleep(0.2)
    pytest.fail(f"prometheus at {url} did not scrape the exporter within {timeout:g} s")


def candidate(version: str) -> EvidenceRequest:
    until = datetime.now(timezone.utc)
    return EvidenceRequest("web", "kubernetes", "green", version, until - timedelta(minutes=5), until)


def reader(url: str, **changes: object) -> PrometheusEvidenceReader:
    options = {"error_rate_query": ERROR_RATE, "latency_query": LATENCY, "timeout_seconds": 2.0, "request_query": REQUESTS}
    return PrometheusEvidenceReader(url, **{**options, **changes})


def test_a_healthy_candidate_advances(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus), candidate("2"), THRESHOLDS)
    assert result.verdict is GateVerdict.ADVANCE, result.reason
    assert result.measurements["requests"] == 1000
    assert result.measurements["errorRate"] == pytest.approx(0.005)
    assert result.measurements["latencyMs"] == pytest.approx(99, abs=1)  # histogram_quantile interpolates in (0, 0.1]


def test_twenty_percent_errors_abort(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus), candidate("3"), THRESHOLDS)
    assert (result.verdict, result.reason) == (GateVerdict.ABORT, "error rate 20.0% > 5.0%")


def test_a_slow_p99_aborts(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus), candidate("4"), THRESHOLDS)
    assert result.verdict is GateVerdict.ABORT
    assert result.reason.startswith("latency ") and result.reason.endswith(" ms > 500 ms")


def test_too_few_requests_hold_inconclusive(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus), candidate("5"), THRESHOLDS)
    assert (result.verdict, result.inconclusive, result.reason) == (
        GateVerdict.HOLD,
        True,
        "not enough evidence: 30 requests < 100",
    )


def test_without_a_request_query_the_ratio_alone_decides(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus, request_query=None), candidate("5"), THRESHOLDS)
    assert result.verdict is GateVerdict.ADVANCE, result.reason
    assert result.measurements["requests"] is None


def test_a_version_with_no_data_holds_inconclusive(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus), candidate("9"), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.measurements["errorRate"] is None


def test_a_broken_query_holds_inconclusive_with_prometheus_explanation(prometheus: str) -> None:
    result = evaluate_gate(reader(prometheus, error_rate_query="sum(http_requests_total{"), candidate("2"), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "prometheus error-rate query: HTTP 400" in result.reason


def test_an_unreachable_prometheus_holds_inconclusive_quickly() -> None:
    started = time.monotonic()
    result = evaluate_gate(reader(closed_port_url()), candidate("2"), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "unreachable" in result.reason
    assert time.monotonic() - started < 3 * 2.0 + 1.0


def test_a_prometheus_that_never_answers_holds_inconclusive_within_the_bound() -> None:
    with hanging_server() as url:
        started = time.monotonic()
        result = evaluate_gate(reader(url, timeout_seconds=0.5), candidate("2"), THRESHOLDS)
        elapsed = time.monotonic() - started
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert elapsed < 3 * 0.5 + 1.0, f"read took {elapsed:.1f} s"
