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
- an empty result, or NaN (0/0: no traffic), is no data -> inconclusive, never a pass.
Prometheus knows nothing of target health, alarms or router weights: those stay
None/empty here (health is then not judged by `decide`).
"""

from __future__ import annotations

import json
import math
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
    too). Each HTTP call is bounded by `timeout_seconds` (connect and each socket read), so a read takes at
    most 5 x timeout_seconds; failures become problems, never raises."""

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

        def run(name: str, template: str | None, about: EvidenceRequest = request) -> float | None:
            if not template:
                return None
            try:
                return self.query(render(template, about), about)
            except PrometheusQueryError as err:
                problems.append(f"prometheus {name} query: {err}")
                return None

        error_rate = run("error-rate", self.error_rate_query)
        latency_s = run("latency", self.latency_query)
        requests = run("request", self.request_query)
        stable_rate = stable_latency_s = None
        if request.stable_color is not None and request.stable_version is not None:
            # A shadow phase: the same queries over the same window, for the stable color and version.
            stable = replace(request, candidate_color=request.stable_color, candidate_version=request.stable_version)
            stable_rate = run("stable error-rate", self.error_rate_query, stable)
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
        """`data.result[0].value[1]` of an instant query at `request.until`; None when there is no data."""
        params = urllib.parse.urlencode({"query": promql, "time": f"{request.until.timestamp():.3f}"})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{params}", timeout=self.timeout_seconds) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as err:
            raise PrometheusQueryError(f"HTTP {err.code}: {_error_text(err)}") from None
        except (urllib.error.URLError, OSError) as err:  # refused, DNS, timeout
            raise PrometheusQueryError(f"{self.url} unreachable: {getattr(err, 'reason', err)}") from None
        except ValueError as err:
            raise PrometheusQueryError(f"answer is not JSON: {err}") from None
        if body.get("status") != "success":
            raise PrometheusQueryError(f"{body.get('errorType', 'error')}: {body.get('error', 'no detail')}")
        data = body.get("data", {})
        result = data.get("result")
        if data.get("resultType") == "scalar":
            pair = result
        elif not result:
            return None
        else:
            pair = result[0].get("value")
        try:
            value = float(pair[1])
        except (TypeError, IndexError, ValueError):
            raise PrometheusQueryError(f"unexpected result shape: {str(result)[:200]}") from None
        return value if math.isfinite(value) or value == math.inf else None


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
    """Prometheus explains a 400/422 in its JSON body (e.g. a PromQL parse error)."""
    try:
        body = json.loads(err.read() or b"{}")
        return str(body.get("error") or err.reason)
    except (ValueError, OSError):
        return str(err.reason)
