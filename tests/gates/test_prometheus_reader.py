"""The Prometheus reader against a real Prometheus server scraping a tiny local exporter, and against a
stand-in on 127.0.0.1 answering what a real one should not (errors, malformed results, silence)."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.prometheus_reader import PrometheusEvidenceReader
from components.gates.reader import EvidenceRequest
from components.gates.verdict import Thresholds
from tests.gates.conftest import returns_within
from tests.servers import _QuietHandler, closed_port_url, hanging_server, http_server, scraped_prometheus

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
    with scraped_prometheus(exposition, Path(tmp_path_factory.mktemp("prometheus")), 'http_requests_total{version="2"}') as url:
        yield url


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


def test_an_unreachable_prometheus_holds_inconclusive() -> None:
    result = evaluate_gate(reader(closed_port_url()), candidate("2"), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "prometheus error-rate query: " in result.reason and "unreachable" in result.reason


# --- timeouts: honoured whatever the server does ----------------------------------------------------------
# No tight wall-clock bounds (a loaded machine stretches them): the reason must say the timeout fired, and the
# read must return within BOUND_S, far above the timeouts used (0.5-1 s per query) and far below what ignoring
# them costs (a server that never answers: forever; a trickle: TRICKLE_S).

BOUND_S = 15.0
TRICKLE_S = 60.0


def test_a_prometheus_that_never_answers_holds_inconclusive_and_says_so() -> None:
    with hanging_server() as url:
        result = returns_within(BOUND_S, lambda: evaluate_gate(reader(url, timeout_seconds=0.5), candidate("2"), THRESHOLDS))
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert f"prometheus error-rate query: no answer from {url} within 0.5 s" in result.reason


def test_an_answer_trickling_past_the_timeout_is_cut_off() -> None:
    """Each byte comes before the socket timeout, so only a bound on the whole answer stops it."""
    with trickling_prometheus() as url:
        slow = reader(url, timeout_seconds=1.0, latency_query=None, request_query=None)
        result = returns_within(BOUND_S, lambda: evaluate_gate(slow, candidate("2"), Thresholds(max_error_rate=0.05)))
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.reason == f"evidence could not be read: prometheus error-rate query: no answer from {url} within 1 s"


@contextlib.contextmanager
def trickling_prometheus() -> Iterator[str]:
    """Sends a valid answer one byte at a time, for TRICKLE_S in all (stopped when the test ends)."""
    done = threading.Event()
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "0.01"]}]}})
    pause = TRICKLE_S / len(body)

    class Trickle(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body.encode():
                if done.wait(pause):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

    with http_server(Trickle) as url:
        try:
            yield url
        finally:
            done.set()


# --- answers a real Prometheus should not give: never a pass, always a reason naming the query --------------

QUERIES = {"error_rate_query": "error_rate", "latency_query": "latency", "request_query": "requests"}
GOOD = {"error_rate": "0.01", "latency": "0.12", "requests": "1000"}
CUT_SHORT = "application/x-cut-short"
"""Content type that makes the stand-in promise 100 bytes more than it sends, then close."""


def vector(*values: str) -> dict:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": {"pod": f"web-{i}"}, "value": [1767600000, v]} for i, v in enumerate(values)]}}


def answer(body: object, status: int = 200, content_type: str = "application/json") -> tuple[int, str, bytes]:
    return status, content_type, body if isinstance(body, bytes) else json.dumps(body).encode()


class StandIn:
    """A Prometheus stand-in on 127.0.0.1 (one per module): answers the error-rate query with `error_rate`,
    the latency and request queries well. (status, content type, body); status 0: raw bytes, not HTTP;
    status -1: the connection is closed without an answer."""

    def __init__(self) -> None:
        self.error_rate: tuple[int, str, bytes] = answer(vector(GOOD["error_rate"]))
        self.url = ""


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    crafted = StandIn()

    class Crafted(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["query"][0]
            status, content_type, body = crafted.error_rate if query == "error_rate" else answer(vector(GOOD[query]))
            if status == -1:
                self.close_connection = True
                return
            if status == 0:
                self.wfile.write(body)
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) + (100 if content_type == CUT_SHORT else 0)))
            self.end_headers()
            self.wfile.write(body)

    with http_server(Crafted) as url:
        crafted.url = url
        yield crafted


def judged(stand_in: StandIn, error_rate: tuple[int, str, bytes]):
    """(evidence, gate result) of candidate 2 when the error-rate query is answered with `error_rate`."""
    stand_in.error_rate = error_rate
    gate_reader = PrometheusEvidenceReader(stand_in.url, timeout_seconds=5.0, **QUERIES)
    return gate_reader.read(candidate("2")), evaluate_gate(gate_reader, candidate("2"), THRESHOLDS)


@pytest.mark.parametrize("error_rate, words", [
    pytest.param(answer({"status": "error", "errorType": "execution", "error": "query processing would load too many samples"}),
                 "execution: query processing would load too many samples", id="an error status with its type and message"),
    pytest.param(answer({"status": "error"}), "error: no detail", id="an error status without details"),
    pytest.param(answer({"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected end of input"}, 400),
                 "HTTP 400: 1:5: parse error: unexpected end of input", id="HTTP 400 with Prometheus' explanation"),
    pytest.param(answer({"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}, 503),
                 "HTTP 503: query timed out in expression evaluation", id="HTTP 503 when the query timed out server-side"),
    pytest.param(answer(b"<html>Bad Gateway</html>", 502, "text/html"), "HTTP 502: Bad Gateway", id="HTTP 502 from a proxy, in HTML"),
    pytest.param(answer(["not", "an", "object"], 500), "HTTP 500: Internal Server Error", id="HTTP 500 with a JSON body that is no object"),
    pytest.param(answer(b"<html>login</html>", 200, "text/html"), "answer is not JSON", id="a login page instead of JSON"),
    pytest.param(answer([1, "0.01"]), "answer is not a Prometheus API response", id="JSON that is not an object"),
    pytest.param(answer({"status": "success"}), "answer has no data.result", id="success without data"),
    pytest.param(answer({"status": "success", "data": None}), "answer has no data.result", id="success with null data"),
    pytest.param(answer({"status": "success", "data": {"resultType": "vector"}}), "answer has no data.result", id="data without result"),
    pytest.param(answer({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "0.01"]]}]}}),
                 "a range vector (matrix), but a gate judges one number", id="a range vector from a selector without rate()"),
    pytest.param(answer({"status": "success", "data": {"resultType": "string", "result": [1, "0.01"]}}),
                 "result type 'string'", id="a string result"),
    pytest.param(answer({"status": "success", "data": {"resultType": "vector", "result": {"value": [1, "0.01"]}}}),
                 "unexpected result shape", id="a vector result that is not a list"),
    pytest.param(answer({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}),
                 "unexpected result shape", id="a sample without a value"),
    pytest.param(answer({"status": "success", "data": {"resultType": "scalar", "result": "0.01"}}),
                 "unexpected result shape", id="a scalar that is not a [time, value] pair"),
    pytest.param(answer(vector("abc")), "value 'abc' is not a number", id="a value that is not a number"),
    pytest.param(answer(vector("+Inf")), "value +Inf is not a rate, latency or count", id="+Inf, e.g. a division by zero"),
    pytest.param(answer(vector("-Inf")), "value -Inf is not a rate, latency or count", id="-Inf, e.g. a quantile below 0"),
    pytest.param(answer(vector("-0.2")), "value -0.2 is not a rate, latency or count", id="a negative ratio"),
    pytest.param(answer(vector("2.5")), "2.5 is not a ratio 0..1 (a percentage? divide by 100)", id="a percentage instead of a ratio"),
    pytest.param(answer(vector("0.01", "0.5")), "2 series, but a gate judges one number: aggregate them (sum, max, ...)",
                 id="one series per pod instead of one number"),
    pytest.param(answer(b'{"status": "success", "da', 200, CUT_SHORT), "broken HTTP answer (IncompleteRead)", id="a body cut short"),
    pytest.param((0, "", b"garbage\r\n\r\n"), "broken HTTP answer (BadStatusLine)", id="an answer that is not HTTP"),
    pytest.param((-1, "", b""), "unreachable: Remote end closed connection without response", id="a connection closed without an answer"),
])
def test_an_answer_the_gate_cannot_trust_holds_inconclusive_naming_the_query(stand_in, error_rate, words) -> None:
    evidence, result = judged(stand_in, error_rate)
    assert evidence.error_rate is None and evidence.latency_ms == 120 and evidence.requests == 1000, evidence
    assert len(evidence.problems) == 1 and evidence.problems[0].startswith("prometheus error-rate query: ")
    assert words in evidence.problems[0], evidence.problems[0]
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert result.reason == f"evidence could not be read: {evidence.problems[0]}"


@pytest.mark.parametrize("error_rate, reason", [
    pytest.param(answer(vector()), "no error-rate data for the candidate in this step", id="an empty vector: nothing matched"),
    pytest.param(answer(vector("NaN")), "no error-rate data for the candidate in this step", id="NaN: 0/0, no requests"),
])
def test_no_data_holds_inconclusive_and_names_the_missing_number(stand_in, error_rate, reason) -> None:
    evidence, result = judged(stand_in, error_rate)
    assert evidence.problems == () and evidence.error_rate is None
    assert (result.verdict, result.inconclusive, result.reason) == (GateVerdict.HOLD, True, reason)


def test_a_scalar_answer_is_one_number_and_judged(stand_in) -> None:
    _, result = judged(stand_in, answer({"status": "success", "data": {"resultType": "scalar", "result": [1767600000, "0.2"]}}))
    assert (result.verdict, result.reason) == (GateVerdict.ABORT, "error rate 20.0% > 5.0%")


def test_a_request_without_metrics_asks_prometheus_nothing() -> None:
    evidence = PrometheusEvidenceReader(closed_port_url(), **QUERIES).read(replace(candidate("2"), metrics=False))
    assert evidence.problems == () and evidence.error_rate is None
