"""Which minutes a CloudWatch gate counts: whole minutes after the step started, old enough to be complete.

The pure window with exact values; the shortest bake that is sure to give evidence, checked against the
window itself; and the reader against moto, once with moto made as strict as AWS about StartTime
(AWS rounds it down to the minute, moto does not).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from components.gates.cloudwatch_reader import CloudWatchEvidenceReader, metric_window, minimum_bake_minutes
from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.verdict import Thresholds
from tests.gates.conftest import REGION, build_alb_world
from tests.gates.test_cloudwatch_reader import put_traffic

THRESHOLDS = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=100, required_healthy=2)


def at(hhmmss: str) -> datetime:
    return datetime.fromisoformat(f"2025-03-01T{hhmmss}+00:00")


@pytest.mark.parametrize(
    "since, until, expected",
    [
        pytest.param("12:00:20", "12:05:20", ("12:01:00", "12:02:00"), id="a step started mid-minute counts from the next minute"),
        pytest.param("12:00:00", "12:05:00", ("12:00:00", "12:02:00"), id="a step started on the minute counts that minute"),
        pytest.param("12:00:20", "12:10:59", ("12:01:00", "12:07:00"), id="the three newest minutes and the current one are left out"),
        pytest.param("12:00:20", "12:05:19", ("12:01:00", "12:02:00"), id="now is rounded down to its minute"),
        pytest.param("12:00:20", "12:04:59", None, id="four minutes after a mid-minute start there is no complete minute yet"),
        pytest.param("12:00:00", "12:03:59", None, id="under four minutes after an on-the-minute start there is none either"),
        pytest.param("12:00:20", "12:00:20", None, id="a step that just started has nothing"),
    ],
)
def test_the_window_holds_only_complete_minutes_after_the_step_started(since: str, until: str, expected) -> None:
    window = metric_window(at(since), at(until))
    assert window == (None if expected is None else (at(expected[0]), at(expected[1])))


def test_the_minimum_bake_gives_evidence_wherever_in_its_minute_a_step_starts() -> None:
    bake = timedelta(minutes=minimum_bake_minutes())
    starts = [at("12:00:00") + timedelta(seconds=s, microseconds=us) for s in range(60) for us in (0, 1, 999_999)]
    assert all(metric_window(start, start + bake) is not None for start in starts)
    # ... and it is the shortest such bake: one minute less leaves some starts without evidence.
    assert any(metric_window(start, start + bake - timedelta(minutes=1)) is None for start in starts)


def test_a_step_younger_than_the_minimum_bake_holds_inconclusive_despite_traffic(moto: str) -> None:
    """Traffic in the newest minutes is no evidence yet: they are still filling on AWS."""
    world = build_alb_world()
    now = datetime.now(timezone.utc)
    since = now.replace(second=0, microsecond=0) - timedelta(minutes=4) + timedelta(seconds=20)
    put_traffic(world, requests=1000, errors=0, mean_latency_s=0.1, minutes_ago=1)
    result = evaluate_gate(reader(), world.request(since=since, until=now), THRESHOLDS)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "no complete minute of metrics since the step started yet" in result.reason


def test_the_newest_minutes_still_filling_are_not_counted(moto: str) -> None:
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=3, mean_latency_s=0.1, minutes_ago=6)
    put_traffic(world, requests=10, errors=10, mean_latency_s=0.1, minutes_ago=1)  # a partial minute, all errors so far
    result = evaluate_gate(reader(), world.request(), THRESHOLDS)
    assert result.verdict is GateVerdict.ADVANCE, result.reason
    assert (result.measurements["requests"], result.measurements["errors"]) == (1000, 3)


def test_traffic_from_before_the_step_in_the_minute_it_started_does_not_count(moto: str) -> None:
    """ALB stamps a minute's datapoint with the minute's start, and AWS rounds StartTime down to the minute:
    asking from the step's exact start would count the whole minute it started in, old weights included."""
    world = build_alb_world()
    now = datetime.now(timezone.utc)
    since = now.replace(second=0, microsecond=0) - timedelta(minutes=9) + timedelta(seconds=40)
    put_minute(world, since.replace(second=0), requests=1000, errors=500)  # the minute the step began in
    put_minute(world, since.replace(second=0) + timedelta(minutes=2), requests=1000, errors=0)
    result = evaluate_gate(reader(rounding_like_aws()), world.request(since=since, until=now), THRESHOLDS)
    assert result.verdict is GateVerdict.ADVANCE, result.reason
    assert result.measurements["requests"] == 1000


def reader(session: boto3.Session | None = None) -> CloudWatchEvidenceReader:
    return CloudWatchEvidenceReader(session or boto3.Session(), region=REGION, timeout_seconds=5.0, max_attempts=1)


def rounding_like_aws() -> boto3.Session:
    """A session whose GetMetricData StartTime is rounded down to the minute before it is sent, as AWS
    does server-side for data under 15 days old (GetMetricData API reference); moto keeps it exact."""
    session = boto3.Session()

    def round_start_down(params: dict, **_: object) -> None:
        start = params["StartTime"]
        params["StartTime"] = start.replace(second=0, microsecond=0)

    session.events.register("provide-client-params.cloudwatch.GetMetricData", round_start_down)
    return session


def put_minute(world, minute: datetime, requests: int, errors: int) -> None:
    """One ALB datapoint per metric, stamped with the minute's start as ALB does."""
    from components.gates.cloudwatch_reader import arn_suffix

    dims = [
        {"Name": "TargetGroup", "Value": arn_suffix(world.target_group_arns["green"])},
        {"Name": "LoadBalancer", "Value": arn_suffix(world.load_balancer_arn)},
    ]
    data = [
        {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": minute, "Value": requests, "Unit": "Count"},
        {"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": minute, "Unit": "Seconds",
         "StatisticValues": {"SampleCount": requests, "Sum": requests * 0.1, "Minimum": 0.05, "Maximum": 0.2}},
    ]
    if errors:
        data.append({"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Timestamp": minute, "Value": errors, "Unit": "Count"})
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
