"""Stacks whose gates read real evidence run after run: the AWS side also exists in moto, so the boto3 readers
answer from an AWS API emulator (alarms, target health, CloudWatch metrics); or a real Prometheus scrapes a
local exporter of per-version request counters, so the Prometheus reader answers with PromQL results."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from moto import mock_aws

from rehearsal.moto_backend import MotoAws, MotoBackedMocks
from rehearsal.scenario import Stack
from rehearsal.traffic import inside_first_counted_minute, put_candidate_traffic, set_alarm
from tests.builders import aws_config, kubernetes_config, kubernetes_service, service
from tests.servers import scraped_prometheus

ANALYSIS = {"maxErrorRate": 0.05, "maxLatencyMs": 800, "minRequests": 100, "alarms": ["web-5xx"], "maxInconclusiveRuns": 3}


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        moto = MotoAws()
        set_alarm("web-5xx", "OK")
        yield moto


def gated_stack(moto: MotoAws, kind: str = "canary", router: str = "alb", **analysis) -> Stack:
    config = aws_config({"web": service(kind, router=router, analysis={**ANALYSIS, **analysis})})
    config["cutover:dns"]["zoneId"] = moto.create_zone("example.com")
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    stack = Stack(config, start=start, mocks_factory=lambda previous, region: MotoBackedMocks(previous, region, moto))
    assert stack.up().result.error is None
    stack.set("cutover:services.web.version", "2")
    for _ in range(2):  # deployed at 0 %, then (the candidate verified and healthy) its first step
        stack.advance(1)
        started = stack.up()
        assert started.result.error is None, started.result.error
    return stack


def step_with_traffic(stack: Stack, requests: int, errors: int = 0, latency_ms: float = 120):
    """Five minutes of the step go by with one minute of candidate traffic in its first counted minute, then a run."""
    at = inside_first_counted_minute(stack.now)  # the last run started this step
    stack.advance(5)
    put_candidate_traffic(stack.saved, "web", at=at, requests=requests, errors=errors, latency_ms=latency_ms)
    return stack.up()


# --- the Prometheus gate ---------------------------------------------------------------------------------

SELECTOR = 'service="{{service}}",version="{{version}}"'
# Counter totals (not rate() over {{window}}): runs here are seconds apart, so the window is a few seconds,
# shorter than two scrapes; a total answers after one scrape and reads the same in every run.
PROMETHEUS_QUERIES = {
    "errorRateQuery": f'sum(http_requests_total{{{SELECTOR},code=~"5.."}}) / sum(http_requests_total{{{SELECTOR}}})',
    "latencyQuery": f"histogram_quantile(0.99, sum by (le) (http_request_duration_seconds_bucket{{{SELECTOR}}}))",
    "requestQuery": f"sum(http_requests_total{{{SELECTOR}}})",
}
PROMETHEUS_ANALYSIS = {"maxErrorRate": 0.05, "maxLatencyMs": 500, "minRequests": 100, "maxInconclusiveRuns": 2}
SERVED = {"2": (995, 5), "3": (800, 200)}
"""Version of service `api` -> (2xx, 5xx) it served, all under 0.1 s: 2 is healthy, 3 fails 20 % of requests."""


def exposition() -> str:
    lines = ["# TYPE http_requests_total counter", "# TYPE http_request_duration_seconds histogram"]
    for version, (ok, failed) in SERVED.items():
        labels = f'service="api",version="{version}"'
        lines += [f'http_requests_total{{{labels},code="200"}} {ok}', f'http_requests_total{{{labels},code="500"}} {failed}']
        lines += [f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {ok + failed}' for le in ("0.1", "1", "+Inf")]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus (Debian package `prometheus`) that has scraped the exporter of `SERVED` once."""
    with scraped_prometheus(exposition, Path(tmp_path_factory.mktemp("prometheus")), 'http_requests_total{service="api"}') as url:
        yield url


def prometheus_stack(url: str) -> Stack:
    """Service `api` on Kubernetes (Gateway API canary 10/50/100, no bake) gated by the Prometheus at `url`,
    first deployed at 1.27. Its runs happen now (`up_now`): Prometheus answers for the present only."""
    analysis = {**PROMETHEUS_ANALYSIS, "prometheus": {"url": url, **PROMETHEUS_QUERIES}}
    config = kubernetes_config({"api": kubernetes_service("gateway", {"kind": "canary", "steps": [10, 50, 100], "analysis": analysis})})
    stack = Stack(config, start=datetime.now(timezone.utc) - timedelta(hours=1))
    assert up_now(stack).result.error is None
    return stack


def up_now(stack: Stack):
    """One run at the present moment (the gate's instant queries ask Prometheus at the run's `now`)."""
    stack.now = max(stack.now, datetime.now(timezone.utc))
    run = stack.up()
    assert run.result.error is None, run.result.error
    return run


def served(stack: Stack, service: str = "api") -> dict[str, tuple[int, str | None]]:
    """Color -> (percent of requests, version) that users get now, read from the applied HTTPRoute and Deployments."""
    return {color: (share.weight, share.version) for color, share in stack.serving(service).items()}


def runs_now(stack: Stack, count: int) -> tuple[list, list[tuple[str, tuple[int, int], dict[str, tuple[int, str | None]]]]]:
    """`count` runs at the present moment: (the runs, per run (phase, recorded weights, what users get))."""
    runs, seen = [], []
    for _ in range(count):
        run = up_now(stack)
        runs.append(run)
        seen.append((run.rollout("api")["phase"], run.weights("api"), served(stack)))
    return runs, seen
