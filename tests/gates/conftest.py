"""Fixtures for the gate tests: dummy AWS credentials, moto in-process and as a real server, an ALB world."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, TypeVar

import boto3
import pytest
from moto import mock_aws

from components.gates.reader import EvidenceRequest, Route53Target
from tests.servers import reset_moto, start_moto_server

REGION = "us-east-1"
T = TypeVar("T")


def returns_within(seconds: float, call: Callable[[], T]) -> T:
    """`call()`'s result, failing the test if it has not returned after `seconds` (instead of hanging with it).

    For tests of a timeout being honoured: `seconds` is far above the timeout under test, so a loaded machine
    does not fail them, and far below what ignoring the timeout costs (the servers they use never answer, or
    trickle for a minute), so a timeout that is not honoured does. The call is left running in a daemon thread.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = err

    worker = threading.Thread(target=run, daemon=True, name="returns-within")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"did not return within {seconds:g} s: a timeout is not honoured", pytrace=False)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials only; no profile, no IMDS, no endpoint unless a test sets one."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """One real moto_server process for the session, stopped by its PID."""
    url, stop = start_moto_server()
    try:
        yield url
    finally:
        stop()


@pytest.fixture(params=["in-process moto", "moto_server"])
def moto(request: pytest.FixtureRequest, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """AWS emulated either inside this process (mock_aws) or by a real moto_server over HTTP."""
    if request.param == "moto_server":
        url = request.getfixturevalue("moto_server_url")
        reset_moto(url)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield request.param
    else:
        with mock_aws():
            yield request.param


@dataclass(frozen=True)
class AlbWorld:
    """A service `web` on an ALB: blue and green target groups, a rule splitting 90/10."""

    load_balancer_arn: str
    listener_arn: str
    rule_arn: str
    target_group_arns: dict[str, str]

    def request(self, **changes: object) -> EvidenceRequest:
        until = datetime.now(timezone.utc)
        values = dict(
            service="web",
            platform="aws",
            candidate_color="green",
            candidate_version="2",
            since=until - timedelta(minutes=10),
            until=until,
            candidate_target_group_arn=self.target_group_arns["green"],
            load_balancer_arn=self.load_balancer_arn,
            listener_rule_arn=self.rule_arn,
            expected_weights={"blue": 90, "green": 10},
            target_group_arns=self.target_group_arns,
        )
        values.update(changes)
        return EvidenceRequest(**values)


def build_alb_world(replicas: int = 2) -> AlbWorld:
    """Create the ALB, target groups (ip targets, as Fargate), listener and weighted rule."""
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(Name="web", Subnets=subnets, Type="application", Scheme="internet-facing")
    lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    tgs = {}
    for color in ("blue", "green"):
        tg = elbv2.create_target_group(Name=f"web-{color}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
        tgs[color] = tg["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(
            TargetGroupArn=tgs[color],
            Targets=[{"Id": f"10.0.{0 if color == 'blue' else 1}.{10 + i}", "Port": 8080} for i in range(replicas)],
        )
    listener = elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[forward(tgs, {"blue": 90, "green": 10})],
    )["Rules"][0]["RuleArn"]
    return AlbWorld(lb_arn, listener, rule, tgs)


def forward(tgs: dict[str, str], weights: dict[str, int]) -> dict:
    return {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tgs[c], "Weight": w} for c, w in weights.items()]},
    }


def route53_pair(weights: dict[str, int]) -> Route53Target:
    """A hosted zone with the weighted CNAME pair web.example.com blue/green."""
    route53 = boto3.client("route53", region_name=REGION)
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="gates-test")["HostedZone"]["Id"]
    change = route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "web.example.com",
                        "Type": "CNAME",
                        "SetIdentifier": color,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": f"{color}.elb.example.com"}],
                    },
                }
                for color, weight in weights.items()
            ]
        },
    )
    return Route53Target(zone, "web.example.com", record_type="CNAME", change_id=change["ChangeInfo"]["Id"])
