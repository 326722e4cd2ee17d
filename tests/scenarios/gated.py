"""A stack whose AWS side also exists in moto, so the gates' boto3 readers answer from an AWS API
emulator run after run (alarms, target health, CloudWatch metrics)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from moto import mock_aws

from rehearsal.moto_backend import MotoAws, MotoBackedMocks
from rehearsal.scenario import Stack
from rehearsal.traffic import inside_first_counted_minute, put_candidate_traffic, set_alarm
from tests.builders import aws_config, service

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
