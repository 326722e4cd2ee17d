"""What an ALB would publish to CloudWatch for a candidate while a step bakes: the rehearsal's and
the gate scenarios' stand-in for real users, written into moto."""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3

from components.gates.cloudwatch_reader import arn_suffix
from rehearsal.engine import RunResult

NAMESPACE = "AWS/ApplicationELB"


def put_candidate_traffic(
    saved: RunResult, service: str, *, at: datetime, requests: int, errors: int = 0, latency_ms: float = 100.0,
    region: str = "us-east-1", color: str | None = None,
) -> None:
    """One minute of traffic on the candidate color of `service` (or on `color`), as recorded by the last saved run."""
    record = saved.outputs["rollouts"][service]
    endpoints = saved.outputs["endpoints"][service]
    color = color or record["candidateColor"] or record["stableColor"]
    balancers = endpoints["loadBalancerArns"]
    dimensions = [
        {"Name": "TargetGroup", "Value": arn_suffix(endpoints["targetGroupArns"][color])},
        {"Name": "LoadBalancer", "Value": arn_suffix(balancers.get("shared") or balancers[color])},
    ]
    data = [
        {"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": at, "Value": requests, "Unit": "Count"},
        {
            "MetricName": "TargetResponseTime", "Dimensions": dimensions, "Timestamp": at, "Unit": "Seconds",
            "StatisticValues": {"SampleCount": max(requests, 1), "Sum": max(requests, 1) * latency_ms / 1000,
                                "Minimum": latency_ms / 2000, "Maximum": latency_ms / 500},
        },
    ]
    if errors:  # as an ALB does: no 5xx datapoint in a minute without 5xx
        data.append({"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dimensions, "Timestamp": at, "Value": errors, "Unit": "Count"})
    boto3.client("cloudwatch", region_name=region).put_metric_data(Namespace=NAMESPACE, MetricData=data)


def inside_first_counted_minute(step_started: datetime) -> datetime:
    """A moment in the first whole minute after `step_started`: the CloudWatch gate counts only whole minutes
    after the step began that are a few minutes old (cloudwatch_reader.metric_window), and that minute is
    the one sure to be counted by a run five minutes on, wherever in its minute the step started."""
    minute = step_started.replace(second=0, microsecond=0)
    first = minute if minute == step_started else minute + timedelta(minutes=1)
    return first + timedelta(seconds=30)


def set_alarm(name: str, state: str, region: str = "us-east-1") -> None:
    """An alarm on the candidate's 5xx, forced to `state` (moto never evaluates alarms from data)."""
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace=NAMESPACE, MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the rehearsal")
