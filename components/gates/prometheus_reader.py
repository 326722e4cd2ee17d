"""Evidence from Prometheus' HTTP API: instant queries the user writes, standard library only.

Queries are templates: `{{service}}`, `{{version}}`, `{{color}}` become the
candidate's values (in a shadow phase the error-rate and latency queries run a second time with the
stable color's and version's values, over the same window) and `{{window}}` the step's age as a PromQL duration
(e.g. `300s`), so a query can cover exactly the step:

    sum(rate(http_requests_total{service="{{service}}",version="{{version}}",code=~"5.."}[{{window}}]))
      / sum(rate(http_requests_total{service="{{service}}",version="{{version}}"}[{{window}}]))

Units and choices:
- the error-rate query returns a ratio 0..1; it goes to `Evidence.error_rate` as is;
- the latency query returns **seconds** (Prometheus' base unit, what
  `histogram_quantile` over `*_seconds_bucket` gives); the reader converts to ms;
- the optional request query returns a request count (e.g. `sum(increase(...[{{window}}]))`).
  Without it the reader cannot count requests: `min_requests` is then not applied
  and the ratio is judged as it is (documented in `decide`).
- an empty result, or NaN (0/0: no traffic), is no data -> inconclusive, never a pass;
- an answer the gate cannot trust (an error status, not JSON, several series, a range vector, +-Inf, a
  negative number, an error rate above 1) is a problem naming the query -> inconclusive, never a pass.
Prometheus knows nothing of target health, alarms or router weights: those stay
None/empty here (health is then not judged by `decide`).
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace

from components.gates.reader import EvidenceRequest, color_key
from components.gates.verdict import Evidence


class PrometheusQueryError(RuntimeError):
    """A query that did not give a usable number; its message becomes an `Evidence.problems` entry."""


class PrometheusEvidenceReader:
    """Runs up to three instant queries at `until` (five in a shadow phase: stable's error rate and latency
    too). Each query ends within `timeout_seconds` (whatever the server does), so a read takes at most
    5 x timeout_seconds; failures become problems, never raises."""

    def __init__(
        self,
        url: str,
        error_rate_query: str | None,
        latency_query: str | None,
        timeout_seconds: float = 5.0,
        request_query: str | None = None,
    ):
        self.url = url.rstrip("/")
        self.error_rate_query = error_rate_query
        self.latency_query = latency_query
        self.request_query = request_query
        self.timeout_seconds = timeout_seconds

    def read(self, request: EvidenceRequest) -> Evidence:
        problems: list[str] = []
        if not request.metrics:
            return Evidence()

        def run(name: str, template: str | None, about: EvidenceRequest = request, ratio: bool = False) -> float | None:
            if not template:
                return None
            try:
                value = self.query(render(template, about), about)
                if ratio and value is not None and value > 1:
                    raise PrometheusQueryError(f"{value:g} is not a ratio 0..1 (a percentage? divide by 100)")
                return value
            except PrometheusQueryError as err:
                problems.append(f"prometheus {name} query: {err}")
                return None

        error_rate = run("error-rate", self.error_rate_query, ratio=True)
        latency_s = run("latency", self.latency_query)
        requests = run("request", self.request_query)
        stable_rate = stable_latency_s = None
        if request.stable_color is not None and request.stable_version is not None:
            # A shadow phase: the same queries over the same window, for the stable color and version.
            stable = replace(request, candidate_color=request.stable_color, candidate_version=request.stable_version)
            stable_rate = run("stable error-rate", self.error_rate_query, stable, ratio=True)
            stable_latency_s = run("stable latency", self.latency_query, stable)
        return Evidence(
            requests=None if requests is None else int(round(requests)),
            latency_ms=None if latency_s is None else latency_s * 1000,
            error_rate=error_rate,
            problems=tuple(problems),
            stable_error_rate=stable_rate,
            stable_latency_ms=None if stable_latency_s is None else stable_latency_s * 1000,
        )

    def query(self, promql: str, request: EvidenceRequest) -> float | None:
        """The one number of an instant query at `request.until` (see `single_value`); None when there is no data."""
        params = urllib.parse.urlencode({"query": promql, "time": f"{request.until.timestamp():.3f}"})
        try:
            text = self._get(f"{self.url}/api/v1/query?{params}")
        except urllib.error.HTTPError as err:
            raise PrometheusQueryError(f"HTTP {err.code}: {_error_text(err)}") from None
        except TimeoutError:  # connect or a socket read (urlopen may wrap it in a URLError)
            raise PrometheusQueryError(f"no answer from {self.url} within {self.timeout_seconds:g} s") from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise PrometheusQueryError(f"no answer from {self.url} within {self.timeout_seconds:g} s") from None
            raise PrometheusQueryError(f"{self.url} unreachable: {err.reason}") from None
        except OSError as err:  # refused, reset
            raise PrometheusQueryError(f"{self.url} unreachable: {err}") from None
        except http.client.HTTPException as err:  # not HTTP, or a body cut short
            raise PrometheusQueryError(f"{self.url} sent a broken HTTP answer ({type(err).__name__})") from None
        try:
            body = json.loads(text)
        except ValueError as err:
            raise PrometheusQueryError(f"answer is not JSON: {err}") from None
        return single_value(body)

    def _get(self, url: str) -> bytes:
        """The body at `url`, all of it within `timeout_seconds`: the socket timeout bounds each read only, so a
        server trickling its answer could stretch it; the worker thread left behind ends at its next timeout."""
        outcome: dict[str, object] = {}

        def fetch() -> None:
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_seconds) as answer:
                    outcome["body"] = answer.read()
            except Exception as err:  # noqa: BLE001 - handed over to the caller's thread
                outcome["error"] = err

        worker = threading.Thread(target=fetch, daemon=True, name="prometheus-query")
        worker.start()
        worker.join(self.timeout_seconds)
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        if "body" not in outcome:
            raise TimeoutError
        return outcome["body"]  # type: ignore[return-value]


def single_value(body: object) -> float | None:
    """The one number of an instant query's answer (Prometheus HTTP API); None when there is no data: an empty
    vector (nothing matched) or NaN (0/0: no traffic in the window). Anything else that is not one finite,
    non-negative number (the gate's rates, latencies and counts all are) raises `PrometheusQueryError` naming
    what came back: a gate must never pass on a number it cannot trust.

    >>> single_value({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.02"]}]}})
    0.02
    >>> single_value({"status": "success", "data": {"resultType": "vector", "result": []}}) is None
    True
    >>> single_value({"status": "success", "data": {"resultType": "scalar", "result": [1, "NaN"]}}) is None
    True
    >>> single_value({"status": "error", "errorType": "bad_data", "error": "parse error"})
    Traceback (most recent call last):
    ...
    components.gates.prometheus_reader.PrometheusQueryError: bad_data: parse error
    """
    if not isinstance(body, dict):
        raise PrometheusQueryError(f"answer is not a Prometheus API response: {_excerpt(body)}")
    if body.get("status") != "success":
        raise PrometheusQueryError(f"{body.get('errorType', 'error')}: {body.get('error', 'no detail')}")
    data = body.get("data")
    if not isinstance(data, dict) or "result" not in data:
        raise PrometheusQueryError(f"answer has no data.result: {_excerpt(body)}")
    kind, result = data.get("resultType"), data["result"]
    if kind == "scalar":
        pair = result
    elif kind == "vector":
        if not isinstance(result, list):
            raise PrometheusQueryError(f"unexpected result shape: {_excerpt(result)}")
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusQueryError(
                f"{len(result)} series, but a gate judges one number: aggregate them (sum, max, ...); "
                f"the first two: {_excerpt([s.get('metric') if isinstance(s, dict) else s for s in result[:2]])}"
            )
        pair = result[0].get("value") if isinstance(result[0], dict) else None
    elif kind == "matrix":
        raise PrometheusQueryError("a range vector (matrix), but a gate judges one number: "
                                   "wrap the range selector in rate(), increase() or *_over_time()")
    else:
        raise PrometheusQueryError(f"result type {kind!r}, but a gate judges an instant vector or a scalar")
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], (str, int, float)) and not isinstance(pair[1], bool)):
        raise PrometheusQueryError(f"unexpected result shape: {_excerpt(result)}")
    try:
        value = float(pair[1])
    except ValueError:
        raise PrometheusQueryError(f"value {pair[1]!r} is not a number") from None
    if math.isnan(value):
        return None
    if math.isinf(value) or value < 0:
        raise PrometheusQueryError(f"value {pair[1]} is not a rate, latency or count (a quantile outside 0..1, "
                                   "a division by zero, a negative rate?)")
    return value


def _excerpt(value: object) -> str:
    return str(value)[:200]


def render(template: str, request: EvidenceRequest) -> str:
    """Fill the placeholders; values are escaped for PromQL double-quoted strings.

    >>> from datetime import datetime, timezone
    >>> r = EvidenceRequest("web", "kubernetes", "green", "2", datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...                     datetime(2024, 1, 1, 0, 5, tzinfo=timezone.utc))
    >>> render('x{service="{{service}}",color="{{color}}"}[{{window}}]', r)
    'x{service="web",color="green"}[300s]'
    """
    window = max(1, int((request.until - request.since).total_seconds()))
    values = {
        "service": request.service,
        "version": request.candidate_version,
        "color": color_key(request.candidate_color),
    }
    text = template
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value.replace("\\", "\\\\").replace('"', '\\"'))
    return text.replace("{{window}}", f"{window}s")


def _error_text(err: urllib.error.HTTPError) -> str:
    """Prometheus explains a 400/422/503 in its JSON body (e.g. a PromQL parse error); a proxy may not."""
    try:
        body = json.loads(err.read() or b"{}")
    except (ValueError, OSError, http.client.HTTPException):
        return str(err.reason)
    return str(body.get("error") or err.reason) if isinstance(body, dict) else str(err.reason)
