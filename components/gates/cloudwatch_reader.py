"""Evidence from AWS: ALB metrics in CloudWatch, alarms, target health and the live router weights.

The one boto3 class of the gates (STYLE: I/O behind a Protocol). Every failure
(endpoint unreachable, throttling, timeout, missing alarm) becomes a sentence in
`Evidence.problems`; nothing raises, nothing hangs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from components.gates.aws_identity import GateIdentity, build_session
from components.gates.reader import EvidenceRequest, Route53Target, color_key
from components.gates.verdict import Evidence

NAMESPACE = "AWS/ApplicationELB"
# describe_alarms takes at most 100 names per call.
MAX_ALARM_NAMES = 100

METRIC_PERIOD = timedelta(minutes=1)
"""ALB metrics are per minute: "If there are requests flowing through the load balancer, Elastic Load
Balancing measures and sends its metrics in 60-second intervals" (ELB user guide, CloudWatch metrics
for your Application Load Balancer,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html)."""
SETTLE_DELAY = timedelta(minutes=3)
"""How old a minute must be before its datapoints count as complete.

A minute's ALB datapoint is measured over that minute and sent at its end (60-second intervals,
above); CloudWatch then keeps adding samples to recent timestamps after they first show up ("after
the alarm evaluation, CloudWatch can publish new samples", AWS Knowledge Center,
https://repost.aws/knowledge-center/cloudwatch-trigger-metric), so the newest minutes read low.
AWS documents no number for that lag; 1-minute CloudWatch metrics are commonly available about
2 minutes late (Datadog, https://docs.datadoghq.com/integrations/guide/cloud-metric-delay/). Three
minutes = the minute that just closed + 2 minutes of availability lag; a longer delay only makes
evidence later, never wrong."""


class CloudWatchEvidenceReader:
    """Reads one candidate's evidence with bounded time.

    Identity: `identity` (what the program passes: the stack's `aws:region`,
    `aws:profile`, `aws:assumeRoles`, see `aws_identity`) makes the reads run as
    the provider does; otherwise `session_or_clients` is a `boto3.Session`, a
    mapping {"cloudwatch": ..., "elbv2": ..., "route53": ...} of ready clients, or
    None for the standard AWS chain. The endpoint comes from the environment
    either way (`AWS_ENDPOINT_URL` points every client, STS included, at moto in tests).
    A profile that does not exist makes every read a problem, not a crash.

    Window: see `metric_window` (whole minutes after the step started, old enough to be complete).

    Time bound. The independent reads (metrics, alarms, health, weights) run in
    parallel, each one API call; `max_attempts` counts every try of a call
    (2 = one retry, botocore standard mode). Each attempt has connect and read timeouts of
    `timeout_seconds / (2 * max_attempts)`, so with botocore's backoff an
    ordinary failure ends well inside `timeout_seconds`; on top of that `read`
    stops waiting at `timeout_seconds` whatever happens (a slow trickle, a
    server's `x-amz-retry-after`) and records the unfinished reads as problems.
    Worst case of one `read`: `timeout_seconds` plus thread scheduling slack
    (default 10 s). A call abandoned at the deadline still ends on its own,
    within max_attempts * (connect + read timeout) + (max_attempts - 1) * 6 s of
    backoff (1 s jitter + at most 5 s retry-after).
    """

    def __init__(
        self,
        session_or_clients: "boto3.Session | Mapping[str, Any] | None" = None,
        *,
        region: str | None = None,
        identity: GateIdentity | None = None,
        timeout_seconds: float = 10.0,
        max_attempts: int = 2,
    ):
        if timeout_seconds <= 0 or max_attempts < 1:
            raise ValueError("timeout_seconds must be > 0 and max_attempts >= 1")
        if identity is not None and session_or_clients is not None:
            raise ValueError("pass an identity or a session/clients, not both")
        self.timeout_seconds = timeout_seconds
        self._setup_problem: str | None = None
        per_attempt = timeout_seconds / (2 * max_attempts)
        config = Config(
            region_name=region or (identity.region if identity else None),
            # total_max_attempts counts the first try too (botocore's "max_attempts" counts retries only).
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=per_attempt,
            read_timeout=per_attempt,
        )
        if isinstance(session_or_clients, Mapping):
            self._clients = dict(session_or_clients)
            return
        try:
            session = session_or_clients or (build_session(identity, client_config=config) if identity else boto3.Session())
            # Clients are made here, on one thread: sessions are not thread-safe, clients are.
            self._clients = {name: session.client(name, config=config) for name in ("cloudwatch", "elbv2", "route53")}
        except BotoCoreError as err:  # a profile that does not exist, an unreadable config file
            who = f" (reading as {identity.describe()})" if identity else ""
            self._setup_problem = f"credentials: {type(err).__name__}: {err}{who}"
            self._clients = {}

    def read(self, request: EvidenceRequest) -> Evidence:
        """Metrics, alarms, health and drift of the candidate; problems instead of raises."""
        if self._setup_problem:
            return Evidence(problems=(self._setup_problem,))
        reads: dict[str, Callable[[EvidenceRequest], dict[str, Any]]] = {"health": self._health}
        if request.metrics:
            reads["metrics"] = self._metrics
        if request.alarms:
            reads["alarms"] = self._alarms
        if request.listener_rule_arn:
            reads["weights"] = self._alb_drift
        elif request.route53 is not None:
            reads["weights"] = self._route53_drift
        pool = ThreadPoolExecutor(max_workers=len(reads), thread_name_prefix=f"gate-{request.service}")
        futures = {pool.submit(_guarded, fn, request, name): name for name, fn in reads.items()}
        done, not_done = wait(futures, timeout=self.timeout_seconds)
        # Never wait for a stuck call: its thread ends by botocore's own timeouts.
        pool.shutdown(wait=False, cancel_futures=True)
        found: dict[str, Any] = {}
        problems: list[str] = []
        for future in done:
            part = future.result()
            problems.extend(part.pop("problems", ()))
            found.update(part)
        for future in not_done:
            problems.append(f"{futures[future]}: no answer within {self.timeout_seconds:g} s")
        return Evidence(
            requests=found.get("requests"),
            errors=found.get("errors"),
            latency_ms=found.get("latency_ms"),
            healthy_targets=found.get("healthy_targets"),
            alarms_in_alarm=tuple(found.get("alarms_in_alarm", ())),
            drift=found.get("drift"),
            problems=tuple(sorted(problems)),
            stable_error_rate=found.get("stable_error_rate"),
            stable_latency_ms=found.get("stable_latency_ms"),
        )

    def _metrics(self, request: EvidenceRequest) -> dict[str, Any]:
        """Sums over `metric_window`; no RequestCount datapoint at all = no evidence (None), never 0-as-pass.
        A window without one complete minute yet is a problem (inconclusive), not an empty pass."""
        if not (request.candidate_target_group_arn and request.load_balancer_arn):
            return {"problems": ["metrics: the request names no candidate target group or load balancer"]}
        window = metric_window(request.since, request.until)
        if window is None:
            return {"problems": [f"metrics: {no_complete_minute(request.since)}"]}
        found = self._group_metrics(request.candidate_target_group_arn, request.load_balancer_arn, window)
        stable_group = request.target_group_arns.get(request.stable_color) if request.stable_color else None
        if stable_group:
            # Shadow phase: stable answered the same requests over the same minutes (through the mirror proxy).
            stable = self._group_metrics(stable_group, request.load_balancer_arn, window)
            if stable["requests"]:
                found["stable_error_rate"] = stable["errors"] / stable["requests"]
                found["stable_latency_ms"] = stable["latency_ms"]
        return found

    def _group_metrics(self, target_group_arn: str, load_balancer_arn: str, window: tuple[datetime, datetime]) -> dict[str, Any]:
        """Requests, 5xx and mean latency of one target group over `window` (None: no datapoint at all)."""
        start, end = window
        dimensions = [
            {"Name": "TargetGroup", "Value": arn_suffix(target_group_arn)},
            {"Name": "LoadBalancer", "Value": arn_suffix(load_balancer_arn)},
        ]
        # Latency statistic: the request-weighted mean, Sum / SampleCount of TargetResponseTime
        # over the whole window. Percentiles (ExtendedStatistics p99) would be the better
        # judge on real AWS, but moto returns nothing for them, so that path could never be
        # tested here; Maximum would let one slow request abort a rollout. Mean of all
        # requests (not the mean of per-minute averages) weights busy minutes properly.
        queries = {
            "requests": ("RequestCount", "Sum"),
            "errors": ("HTTPCode_Target_5XX_Count", "Sum"),
            "latency_sum": ("TargetResponseTime", "Sum"),
            "latency_count": ("TargetResponseTime", "SampleCount"),
        }
        answer = self._clients["cloudwatch"].get_metric_data(
            MetricDataQueries=[
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                        "Period": 60,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
                for query_id, (metric, stat) in queries.items()
            ],
            StartTime=start,
            EndTime=end,
        )
        values: dict[str, list[float]] = {r["Id"]: list(r.get("Values", [])) for r in answer.get("MetricDataResults", [])}
        if not values.get("requests"):
            return {"requests": None, "errors": None, "latency_ms": None}
        requests = int(round(sum(values["requests"])))
        # ALB publishes HTTPCode_Target_5XX_Count only for minutes that had a 5xx:
        # no datapoint next to a RequestCount datapoint means zero errors.
        errors = int(round(sum(values.get("errors", []))))
        count = sum(values.get("latency_count", []))
        latency_ms = 1000 * sum(values.get("latency_sum", [])) / count if count else None
        return {"requests": requests, "errors": errors, "latency_ms": latency_ms}

    def _alarms(self, request: EvidenceRequest) -> dict[str, Any]:
        """Alarms in ALARM by name. A name that does not exist is a problem: a typo must not silently disarm a gate."""
        names = list(dict.fromkeys(request.alarms))
        states: dict[str, str] = {}
        for start in range(0, len(names), MAX_ALARM_NAMES):
            answer = self._clients["cloudwatch"].describe_alarms(
                AlarmNames=names[start : start + MAX_ALARM_NAMES], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            for alarm in [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]:
                states[alarm["AlarmName"]] = alarm.get("StateValue", "")
        missing = [name for name in names if name not in states]
        return {
            "alarms_in_alarm": [name for name in names if states.get(name) == "ALARM"],
            "problems": [f"alarms: {name!r} does not exist (check analysis.alarms)" for name in missing],
        }

    def _health(self, request: EvidenceRequest) -> dict[str, Any]:
        if not request.candidate_target_group_arn:
            return {"problems": ["health: the request names no candidate target group"]}
        answer = self._clients["elbv2"].describe_target_health(TargetGroupArn=request.candidate_target_group_arn)
        healthy = sum(1 for t in answer.get("TargetHealthDescriptions", []) if t.get("TargetHealth", {}).get("State") == "healthy")
        return {"healthy_targets": healthy}

    def _alb_drift(self, request: EvidenceRequest) -> dict[str, Any]:
        """Compare the rule's forward weights per target group with the recorded weights."""
        answer = self._clients["elbv2"].describe_rules(RuleArns=[request.listener_rule_arn])
        rules = answer.get("Rules", [])
        if not rules:
            return {"problems": [f"weights: listener rule {request.listener_rule_arn} not found"]}
        color_of = {arn: color_key(color) for color, arn in request.target_group_arns.items()}
        if request.mirror_target_group_arn and request.mirror_color:
            color_of[request.mirror_target_group_arn] = request.mirror_color  # the proxy answers from stable
        live: dict[str, int] = {}
        for action in rules[0].get("Actions", []):
            if action.get("Type") != "forward":
                continue
            groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
                {"TargetGroupArn": action.get("TargetGroupArn"), "Weight": 1}
            ]
            for group in groups:
                color = color_of.get(group.get("TargetGroupArn"))
                if color is None:
                    return {"drift": f"listener rule forwards to {group.get('TargetGroupArn')}, not a target group of {request.service} (changed outside Pulumi?)"}
                live[color] = live.get(color, 0) + int(group.get("Weight", 1))
        return {"drift": weight_drift(live, request.expected_weights)}

    def _route53_drift(self, request: EvidenceRequest) -> dict[str, Any]:
        """Compare the weighted records' weights with the recorded weights.

        Checks: the record pair's weights (by SetIdentifier) as shares of their sum,
        Route53's "all zero = equal split" included; and, when the request carries
        the last change id, that the change is INSYNC (otherwise resolvers may still
        serve the old weights and the window's numbers describe the old split).
        """
        target: Route53Target = request.route53
        name = target.record_name if target.record_name.endswith(".") else target.record_name + "."
        answer = self._clients["route53"].list_resource_record_sets(
            HostedZoneId=target.zone_id, StartRecordName=name, StartRecordType=target.record_type, MaxItems="20"
        )
        by_identifier = {
            r.get("SetIdentifier"): int(r.get("Weight", 0))
            for r in answer.get("ResourceRecordSets", [])
            if r.get("Name", "").lower() == name.lower() and r.get("Type") == target.record_type
        }
        live: dict[str, int] = {}
        for color, identifier in target.set_identifiers.items():
            if identifier not in by_identifier:
                return {"drift": f"weighted record {name} {identifier!r} is missing (deleted outside Pulumi?)"}
            live[color_key(color)] = by_identifier[identifier]
        result: dict[str, Any] = {"drift": weight_drift(live, request.expected_weights, all_zero_is_equal_split=True)}
        if target.change_id:
            status = self._clients["route53"].get_change(Id=target.change_id)["ChangeInfo"]["Status"]
            if status != "INSYNC":
                result["problems"] = [f"weights: Route53 change {target.change_id} is {status}, not yet INSYNC"]
        return result


def metric_window(since: datetime, until: datetime) -> tuple[datetime, datetime] | None:
    """The [start, end) whose per-minute metrics a gate counts, or None while there is none yet.

    start = `since` (the step's start) rounded UP to the minute: only minutes that lie entirely
    after the step started. GetMetricData would round a StartTime down ("Start time less than 15
    days ago - Round down to the nearest whole minute", GetMetricData API reference,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html), which
    would mix in traffic from before the step (the old weights, or the previous version).
    end = `until` (now) rounded DOWN to the minute, minus `SETTLE_DELAY`: only minutes old enough
    to be complete; EndTime is exclusive, so the minute starting at `end` is not counted.

    >>> at = lambda hhmmss: datetime.fromisoformat(f"2025-01-01T{hhmmss}+00:00")
    >>> [t.strftime("%H:%M") for t in metric_window(at("12:00:20"), at("12:05:20"))]
    ['12:01', '12:02']
    >>> metric_window(at("12:00:20"), at("12:04:59")) is None
    True
    >>> [t.strftime("%H:%M") for t in metric_window(at("12:00:00"), at("12:10:00"))]
    ['12:00', '12:07']
    """
    start = _ceil_minute(since)
    end = _floor_minute(until) - SETTLE_DELAY
    return (start, end) if end > start else None


def minimum_bake_minutes() -> int:
    """The shortest bake (whole minutes) after which a CloudWatch gate is sure to have evidence.

    Wherever in its minute a step starts, its first whole minute begins up to a minute later
    (rounding up), must itself pass (one minute) and must then be `SETTLE_DELAY` old:
    1 + 1 + 3 = 5 minutes (now is rounded down, but a whole-minute bake loses nothing to that).
    Example: a step starts at 12:00:20; with 5 minutes the gate at 12:05:20 counts 12:01-12:02;
    with 4, at 12:04:20 there is no complete minute yet and the first gate holds as inconclusive.

    >>> minimum_bake_minutes()
    5
    """
    return int((SETTLE_DELAY + 2 * METRIC_PERIOD) / METRIC_PERIOD)


def no_complete_minute(since: datetime) -> str:
    """Why an empty window holds, and from when the gate will have evidence.

    >>> from datetime import timezone
    >>> no_complete_minute(datetime(2025, 1, 1, 12, 0, 20, tzinfo=timezone.utc))
    'no complete minute of metrics since the step started yet (only whole minutes after 12:00:20 count, once 3 min old: evidence from 12:05 on)'
    """
    ready = _ceil_minute(since) + METRIC_PERIOD + SETTLE_DELAY
    settle = int(SETTLE_DELAY / METRIC_PERIOD)
    return (
        f"no complete minute of metrics since the step started yet (only whole minutes after {since:%H:%M:%S} "
        f"count, once {settle} min old: evidence from {ready:%H:%M} on)"
    )


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _ceil_minute(moment: datetime) -> datetime:
    floor = _floor_minute(moment)
    return floor if floor == moment else floor + METRIC_PERIOD


def _guarded(read: Callable[[EvidenceRequest], dict[str, Any]], request: EvidenceRequest, what: str) -> dict[str, Any]:
    """Run one read; any AWS or endpoint failure becomes a problem sentence starting with `what` (the read's
    name, as in its other problems: "weights", not the function's name)."""
    try:
        return read(request)
    except ClientError as err:
        error = err.response.get("Error", {})
        return {"problems": [f"{what}: {err.operation_name} failed: {error.get('Code', '?')} ({error.get('Message', '')})"]}
    except BotoCoreError as err:  # endpoint refused, timeouts, parse failures
        return {"problems": [f"{what}: {type(err).__name__}: {err}"]}
    except Exception as err:  # noqa: BLE001 - a malformed answer must not break the run either
        return {"problems": [f"{what}: unexpected {type(err).__name__}: {err}"]}


def arn_suffix(arn: str) -> str:
    """The CloudWatch dimension value of an ELB ARN.

    >>> arn_suffix("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-green/73e2d6bc24d8a067")
    'targetgroup/web-green/73e2d6bc24d8a067'
    >>> arn_suffix("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188")
    'app/web/50dc6c495c0c9188'
    """
    resource = arn.split(":", 5)[-1]
    return resource.removeprefix("loadbalancer/")


def weight_drift(live: Mapping[str, int], expected: Mapping[object, int], *, all_zero_is_equal_split: bool = False) -> str | None:
    """A sentence when live weights route traffic differently from the recorded ones, else None.

    Compared as shares, so 9/1 on the router equals a recorded 90/10 (ALB weights
    go to 999, Route53 to 255). With `all_zero_is_equal_split` (Route53: when every record of a weighted
    group has weight 0, it answers with each of them with equal probability), live weights that are all
    zero count as an equal split, and the sentence shows them as they are.

    >>> weight_drift({"blue": 70, "green": 30}, {"blue": 90, "green": 10})
    'live weights 70/30 differ from recorded 90/10 (changed outside Pulumi?)'
    >>> weight_drift({"blue": 9, "green": 1}, {"blue": 90, "green": 10}) is None
    True
    >>> weight_drift({"blue": 70, "green": 30}, {}) is None  # nothing recorded yet (a first run)
    True
    >>> weight_drift({"blue": 0, "green": 0}, {"blue": 90, "green": 10}, all_zero_is_equal_split=True)
    'live weights 0/0 (all zero: an equal split) differ from recorded 90/10 (changed outside Pulumi?)'
    >>> weight_drift({"blue": 0, "green": 0}, {"blue": 50, "green": 50}, all_zero_is_equal_split=True) is None
    True
    """
    recorded = {color_key(c): w for c, w in expected.items()}
    if not recorded:
        return None  # nothing recorded yet (first run): nothing to drift from
    equal_split = all_zero_is_equal_split and bool(live) and not any(live.values())
    shares = {color: 1 for color in live} if equal_split else live
    colors = sorted(set(live) | set(recorded))  # "blue" before "green", as Weights.label()
    live_total, recorded_total = sum(shares.values()), sum(recorded.values())
    same = live_total > 0 and recorded_total > 0 and all(
        shares.get(c, 0) * recorded_total == recorded.get(c, 0) * live_total for c in colors
    )
    if same:
        return None

    def label(weights: Mapping[str, int]) -> str:
        return "/".join(str(weights.get(c, 0)) for c in colors)

    note = " (all zero: an equal split)" if equal_split else ""
    return f"live weights {label(live)}{note} differ from recorded {label(recorded)} (changed outside Pulumi?)"

