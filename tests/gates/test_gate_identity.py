"""The gate reads AWS as the provider does: the stack's `aws:region`, `aws:profile` and `aws:assumeRoles`.

Pure parsing with tables; the sessions against moto (STS AssumeRole and GetCallerIdentity work there,
in-process and as a server reached through AWS_ENDPOINT_URL); and the whole gate with moto's IAM
enforcement on, where the environment's user may only assume the role and the role may read.
"""

from __future__ import annotations

import doctest
import importlib
import json
import re
from pathlib import Path

import boto3
import pulumi
import pytest
from moto import mock_aws
from moto.core import enable_iam_authentication

from components.gates.aws_identity import AwsSettingsError, GateIdentity, RoleToAssume, build_session, gate_identity
from components.gates.gate import evaluate_gate
from components.gates.model import GateVerdict
from components.gates.verdict import Thresholds
from components.gates.wiring import default_reader_factory
from tests.builders import service
from tests.gates.conftest import REGION, build_alb_world
from tests.gates.test_cloudwatch_reader import put_traffic

ACCOUNT = "123456789012"  # moto's default account
THRESHOLDS = Thresholds(max_error_rate=0.05, max_latency_ms=500, min_requests=100, required_healthy=2)
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ONLY_ASSUME_ROLE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def trusting(principal: str) -> str:
    """A role trust policy letting `principal` assume the role (moto matches the principal's ARN literally)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


TRUST_ANYONE_IN_ACCOUNT = trusting(f"arn:aws:iam::{ACCOUNT}:root")


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@pytest.mark.parametrize(
    "settings, expected",
    [
        pytest.param({}, GateIdentity(), id="no settings use the default chain"),
        pytest.param({"region": "eu-west-1", "profile": "ops"}, GateIdentity("eu-west-1", "ops"), id="region and profile are kept"),
        pytest.param({"profile": ""}, GateIdentity(), id="an empty profile is no profile"),
        pytest.param(
            {"assumeRoles": [{"roleArn": role_arn("deployer"), "sessionName": "ci", "externalId": "x-1", "duration": "1h"}]},
            GateIdentity(roles=(RoleToAssume(role_arn("deployer"), "ci", "x-1", 3600),)),
            id="an assumeRoles entry gives the role, session name, external id and duration",
        ),
        pytest.param(
            {"assumeRoles": [{"roleArn": role_arn("hub")}, {"roleArn": role_arn("spoke")}]},
            GateIdentity(roles=(RoleToAssume(role_arn("hub")), RoleToAssume(role_arn("spoke")))),
            id="several assumeRoles entries are assumed in order as the provider chains them",
        ),
        pytest.param(
            {"assumeRoles": [{"roleArn": ""}, {"roleArn": role_arn("deployer")}]},
            GateIdentity(roles=(RoleToAssume(role_arn("deployer")),)),
            id="an entry without a role is skipped as the provider does",
        ),
        pytest.param(
            {"assumeRole": {"roleArn": role_arn("legacy"), "durationSeconds": 900}},
            GateIdentity(roles=(RoleToAssume(role_arn("legacy"), duration_seconds=900),)),
            id="the older single assumeRole object with durationSeconds is read",
        ),
        pytest.param(
            {"assumeRoles": [{"roleArn": role_arn("new")}], "assumeRole": {"roleArn": role_arn("legacy")}},
            GateIdentity(roles=(RoleToAssume(role_arn("new")),)),
            id="assumeRoles wins over the older assumeRole",
        ),
        pytest.param(
            {"assumeRoles": [{"roleArn": role_arn("r"), "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                              "tags": {"team": "web"}, "transitiveTagKeys": ["team"], "sourceIdentity": "alice"}]},
            GateIdentity(roles=(RoleToAssume(role_arn("r"), policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
                                             source_identity="alice", tags=(("team", "web"),), transitive_tag_keys=("team",)),)),
            id="session policies and tags are passed on as the provider passes them",
        ),
    ],
)
def test_settings_become_the_gate_identity(settings: dict, expected: GateIdentity) -> None:
    assert gate_identity(settings) == expected


@pytest.mark.parametrize(
    "settings, key",
    [
        pytest.param({"assumeRoles": {"roleArn": "arn"}}, "aws:assumeRoles", id="assumeRoles given as an object names the key"),
        pytest.param({"assumeRoles": ["arn:aws:iam::1:role/r"]}, "aws:assumeRoles[0]", id="a bare ARN in assumeRoles names the entry"),
        pytest.param({"assumeRoles": [{"roleArn": "arn", "duration": "an hour"}]}, "aws:assumeRoles[0].duration",
                     id="an unreadable duration names its key"),
        pytest.param({"assumeRole": {"roleArn": "arn", "durationSeconds": "900"}}, "aws:assumeRole.durationSeconds",
                     id="durationSeconds as text names its key"),
        pytest.param({"profile": 7}, "aws:profile", id="a profile that is not text names the key"),
    ],
)
def test_malformed_settings_are_refused_naming_the_key(settings: dict, key: str) -> None:
    with pytest.raises(AwsSettingsError, match=f"^{re.escape(key)}: "):
        gate_identity(settings)


def test_the_worked_examples_hold() -> None:
    failures, tried = doctest.testmod(importlib.import_module("components.gates.aws_identity"))
    assert tried and not failures


def test_reads_run_as_the_assumed_role(moto: str) -> None:
    boto3.client("iam", region_name=REGION).create_role(RoleName="gate-reader", AssumeRolePolicyDocument=TRUST_ANYONE_IN_ACCOUNT)
    identity = gate_identity({"region": REGION, "assumeRoles": [{"roleArn": role_arn("gate-reader"), "sessionName": "cutover"}]})
    caller = build_session(identity).client("sts").get_caller_identity()
    assert caller["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/gate-reader/cutover"


def test_chained_roles_end_as_the_last_role(moto: str) -> None:
    iam = boto3.client("iam", region_name=REGION)
    for name in ("hub", "spoke"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ANYONE_IN_ACCOUNT)
    identity = gate_identity({"region": REGION, "assumeRoles": [{"roleArn": role_arn("hub")}, {"roleArn": role_arn("spoke")}]})
    assert build_session(identity).client("sts").get_caller_identity()["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/spoke/"
    )


def test_the_profile_named_in_the_stack_is_honoured(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="deployer")
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    use_profile_files(tmp_path, monkeypatch, "deployer", key)
    session = build_session(gate_identity({"region": REGION, "profile": "deployer"}))
    # The environment's keys ("testing") are still set: the profile wins, as it does for the provider.
    assert session.client("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/deployer"


def test_the_gate_reads_through_the_stack_role_when_the_environment_may_only_assume_it(aws_env: None, monkeypatch) -> None:
    """The story of issue 10: CI's own user may do nothing but assume the deploy role. The provider
    deploys through `aws:assumeRoles`; the gate must read through it too, or every read is AccessDenied."""
    with mock_aws():
        world, settings = _world_with_a_reader_role(monkeypatch)
        with enable_iam_authentication():
            through_role = _gate(default_reader_factory(REGION, settings), world)
            environment_only = _gate(default_reader_factory(REGION), world)
    assert through_role.verdict is GateVerdict.ADVANCE, through_role.reason
    assert (environment_only.verdict, environment_only.inconclusive) == (GateVerdict.HOLD, True)
    assert "AccessDenied" in environment_only.reason


def test_a_refused_assume_role_holds_inconclusive_instead_of_failing_the_run(aws_env: None, monkeypatch) -> None:
    with mock_aws():
        world, _ = _world_with_a_reader_role(monkeypatch)
        boto3.client("iam", region_name=REGION).create_role(
            RoleName="admin", AssumeRolePolicyDocument=trusting(f"arn:aws:iam::{ACCOUNT}:user/someone-else")
        )
        with enable_iam_authentication():
            result = _gate(default_reader_factory(REGION, {"assumeRoles": [{"roleArn": role_arn("admin")}]}), world)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "AssumeRole failed: AccessDenied" in result.reason


def test_a_profile_that_does_not_exist_holds_inconclusive_naming_it(aws_env: None) -> None:
    reader_for = default_reader_factory(REGION, {"profile": "no-such-profile"})
    with mock_aws():
        world = build_alb_world()
        result = _gate(reader_for, world)
    assert (result.verdict, result.inconclusive) == (GateVerdict.HOLD, True)
    assert "no-such-profile" in result.reason


def test_the_program_hands_the_stack_aws_settings_to_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    from components import program
    from components.config import load_config
    from components.gates import wiring

    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    handed: list[tuple] = []
    monkeypatch.setattr(wiring, "default_reader_factory", lambda *args: handed.append(args) or (lambda service: None))
    config = load_config({"services": json.dumps({"web": service(analysis={"maxErrorRate": 0.05})})})
    roles = [{"roleArn": role_arn("deployer"), "externalId": "x-1"}]
    pulumi.runtime.set_all_config({"aws:region": "eu-west-1", "aws:profile": "ops", "aws:assumeRoles": json.dumps(roles)})
    try:
        program._gate_source(config, {}, None)
    finally:
        pulumi.runtime.set_all_config({})
    [(region, *settings)] = handed
    assert region == "eu-west-1"
    assert gate_identity({**(settings[0] if settings else {}), "region": region}) == GateIdentity(
        "eu-west-1", "ops", (RoleToAssume(role_arn("deployer"), external_id="x-1"),)
    )


def test_a_malformed_role_setting_stops_the_run_before_anything_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from components import program
    from components.config import load_config

    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    config = load_config({"services": json.dumps({"web": service(analysis={"maxErrorRate": 0.05})})})
    pulumi.runtime.set_all_config({"aws:assumeRoles": json.dumps([{"roleArn": "arn:aws:iam::1:role/r", "duration": "soon"}])})
    try:
        with pytest.raises(pulumi.RunError, match=r"aws:assumeRoles\[0\]\.duration"):
            program._gate_source(config, {}, None)
    finally:
        pulumi.runtime.set_all_config({})


def use_profile_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str, key: dict) -> None:
    """Shared config and credentials files with one profile, as `aws configure --profile` writes them."""
    (tmp_path / "config").write_text(f"[profile {profile}]\nregion = {REGION}\n")
    (tmp_path / "credentials").write_text(
        f"[{profile}]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def _world_with_a_reader_role(monkeypatch: pytest.MonkeyPatch):
    """An ALB world with traffic; a CI user allowed only sts:AssumeRole (its keys in the environment);
    a role `gate-reader` allowed everything. Returns the world and the stack's aws settings."""
    world = build_alb_world()
    put_traffic(world, requests=1000, errors=3, mean_latency_s=0.12)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="ci")
    iam.put_user_policy(UserName="ci", PolicyName="assume-only", PolicyDocument=json.dumps(ONLY_ASSUME_ROLE))
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    iam.create_role(RoleName="gate-reader", AssumeRolePolicyDocument=trusting(f"arn:aws:iam::{ACCOUNT}:user/ci"))
    iam.put_role_policy(RoleName="gate-reader", PolicyName="read", PolicyDocument=json.dumps(ALLOW_ALL))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return world, {"assumeRoles": [{"roleArn": role_arn("gate-reader"), "sessionName": "cutover"}]}


def _gate(reader_for, world):
    reader = reader_for(_aws_service())
    return evaluate_gate(reader, world.request(), THRESHOLDS)


def _aws_service():
    from components.config import ServiceConfig

    return ServiceConfig.model_validate(service(analysis={"maxErrorRate": 0.05}))
