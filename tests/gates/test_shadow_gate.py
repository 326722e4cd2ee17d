"""The shadow phase's gate: the candidate, fed mirrored copies of stable's requests, judged against stable over
the same window (decide stays pure; the Prometheus reader asks the same queries for both colors)."""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest

from components.gates.model import GateVerdict
from components.gates.prometheus_reader import PrometheusEvidenceReader
from components.gates.reader import EvidenceRequest
from components.gates.verdict import Evidence, Thresholds, decide
from tests.servers import _QuietHandler, http_server

SHADOW = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=0, against_stable=True)


@pytest.mark.parametrize("evidence, verdict, inconclusive, words", [
    pytest.param(Evidence(error_rate=0.01, latency_ms=120, stable_error_rate=0.01, stable_latency_ms=100), GateVerdict.ADVANCE,
                 False, "stable over the same window: error rate 1.0%, latency 100 ms", id="within the limits passes and shows stable"),
    pytest.param(Evidence(error_rate=0.2, latency_ms=120, stable_error_rate=0.01, stable_latency_ms=100), GateVerdict.ABORT,
                 False, "error rate 20.0% > 5.0% (stable 1.0% over the same window)", id="a breach stable does not share aborts"),
    pytest.param(Evidence(error_rate=0.01, latency_ms=900, stable_error_rate=0.01, stable_latency_ms=100), GateVerdict.ABORT,
                 False, "latency 900 ms > 500 ms (stable 100 ms", id="slow against a fast stable aborts"),
    pytest.param(Evidence(error_rate=0.2, latency_ms=120, stable_error_rate=0.3, stable_latency_ms=100), GateVerdict.HOLD,
                 True, "stable breaches too", id="a breach stable shares holds"),
    pytest.param(Evidence(error_rate=0.2, latency_ms=120), GateVerdict.HOLD, True, "stable's number over the same window is missing",
                 id="a breach without stable's number holds"),
    pytest.param(Evidence(stable_error_rate=0.01, stable_latency_ms=100), GateVerdict.HOLD, True, "no request data",
                 id="no mirrored traffic is never a pass"),
])
def test_decide_judges_the_candidate_against_stable(evidence, verdict, inconclusive, words):
    result = decide(evidence, SHADOW)
    assert (result.verdict, result.inconclusive) == (verdict, inconclusive) and words in result.reason


def test_outside_a_shadow_phase_a_breach_aborts_whatever_stable_does():
    assert decide(Evidence(error_rate=0.2, stable_error_rate=0.3), Thresholds(max_error_rate=0.05, min_requests=0)).verdict is GateVerdict.ABORT


def test_the_reader_runs_the_same_queries_for_stable_over_the_same_window():
    asked = []

    class Answer(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            asked.append((params["query"][0], params["time"][0]))
            value = "0.2" if 'color="green"' in params["query"][0] else "0.01"
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [{"value": [0, value]}]}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    until = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    request = EvidenceRequest("web", "kubernetes", "green", "2", until - timedelta(minutes=30), until,
                              stable_color="blue", stable_version="1")
    with http_server(Answer) as url:
        evidence = PrometheusEvidenceReader(url, 'rate(e{color="{{color}}",version="{{version}}"}[{{window}}])',
                                            'l{color="{{color}}"}[{{window}}]').read(request)
    assert evidence.error_rate == 0.2 and evidence.stable_error_rate == 0.01
    assert evidence.latency_ms == 200 and evidence.stable_latency_ms == 10
    queries = [q for q, _ in asked]
    assert 'rate(e{color="blue",version="1"}[1800s])' in queries and 'l{color="blue"}[1800s]' in queries
    assert len({t for _, t in asked}) == 1, "one instant for both colors: the same window"
