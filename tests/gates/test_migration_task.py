"""The migration provider's run/wait logic: ECS RunTask, then DescribeTasks until the task stopped.

Against moto (`mock_aws`) for the path it can play — a task that starts and stops with exit code 0 (moto
always reports exit code 0 and offers no way to set another; and its RunTask breaks on `awsvpc` task
definitions in 5.2.5, so the moto test registers one without network mode) — and against botocore's Stubber
for what moto cannot: a non-zero exit code, a container that never ran, RunTask failures, a task that
never stops (bounded wait, then StopTask)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from components.aws.migration_task import MigrationTaskProvider, run_migration

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/cutover"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/cutover/abc"
COMMAND = ["./manage.py", "migrate", "--expand"]


@pytest.fixture
def credentials(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def run(ecs, **overrides):
    arguments = dict(cluster=CLUSTER, task_definition="web:7", container="web", command=COMMAND, subnets=["subnet-c"],
                     security_groups=["sg-1"], started_by="cutover-expand-2", poll_seconds=0, sleep=lambda s: None)
    return run_migration(ecs, **{**arguments, **overrides})


def test_a_task_that_stops_with_exit_code_zero_succeeds_in_moto(credentials):
    with mock_aws():
        ecs = boto3.client("ecs")
        ecs.create_cluster(clusterName="cutover")
        definition = ecs.register_task_definition(family="web", containerDefinitions=[
            {"name": "web", "image": "public.ecr.aws/nginx/nginx:2", "cpu": 256, "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
        outcome = run(ecs, cluster="cutover", task_definition=definition)
        assert outcome.status == "succeeded" and outcome.exit_code == 0
        task = ecs.describe_tasks(cluster="cutover", tasks=[outcome.task_arn])["tasks"][0]
        assert task["lastStatus"] == "STOPPED" and task["startedBy"] == "cutover-expand-2"
        assert task["overrides"]["containerOverrides"] == [{"name": "web", "command": COMMAND}]


def stubbed(credentials_unused=None):
    ecs = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return ecs, Stubber(ecs)


RUN_TASK_PARAMS = {
    "cluster": CLUSTER, "taskDefinition": "web:7", "launchType": "FARGATE", "count": 1, "startedBy": "cutover-expand-2",
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-c"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
    "overrides": {"containerOverrides": [{"name": "web", "command": COMMAND}]},
}


def described(status: str, exit_code: int | None = None, reason: str = "", container_reason: str | None = None) -> dict:
    container = {"name": "web", "lastStatus": status}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if container_reason:
        container["reason"] = container_reason
    return {"tasks": [{"taskArn": TASK, "lastStatus": status, "stoppedReason": reason, "containers": [container]}]}


def test_a_non_zero_exit_code_fails_with_the_code_and_the_stopped_reason():
    ecs, stub = stubbed()
    stub.add_response("run_task", {"tasks": [{"taskArn": TASK}]}, RUN_TASK_PARAMS)
    stub.add_response("describe_tasks", described("RUNNING"), {"cluster": CLUSTER, "tasks": [TASK]})
    stub.add_response("describe_tasks", described("STOPPED", 3, "Essential container in task exited"), {"cluster": CLUSTER, "tasks": [TASK]})
    with stub:
        outcome = run(ecs)
    stub.assert_no_pending_responses()
    assert (outcome.status, outcome.exit_code, outcome.task_arn) == ("failed", 3, TASK)
    assert outcome.reason == "exit code 3; Essential container in task exited"


def test_a_container_that_never_ran_fails_with_ecs_reason():
    ecs, stub = stubbed()
    stub.add_response("run_task", {"tasks": [{"taskArn": TASK}]}, RUN_TASK_PARAMS)
    stub.add_response("describe_tasks", described("STOPPED", None, "Task failed to start", "CannotPullContainerError: not found"),
                      {"cluster": CLUSTER, "tasks": [TASK]})
    with stub:
        outcome = run(ecs)
    assert outcome.status == "failed" and outcome.exit_code is None
    assert outcome.reason == "the container never ran; Task failed to start; CannotPullContainerError: not found"


def test_run_task_failures_fail_without_waiting():
    ecs, stub = stubbed()
    stub.add_response("run_task", {"tasks": [], "failures": [{"reason": "RESOURCE:ENI", "detail": "no free addresses"}]}, RUN_TASK_PARAMS)
    with stub:
        outcome = run(ecs)
    assert outcome.status == "failed" and outcome.reason == "RunTask started no task: RESOURCE:ENI no free addresses"


def test_an_api_error_is_a_failed_outcome_not_an_exception():
    ecs, stub = stubbed()
    stub.add_client_error("run_task", "AccessDeniedException", "not authorized to perform ecs:RunTask")
    with stub:
        outcome = run(ecs)
    assert outcome.status == "failed" and "RunTask failed" in outcome.reason and "AccessDenied" in outcome.reason


def test_a_task_that_never_stops_is_stopped_after_the_bound():
    ecs, stub = stubbed()
    now = [0.0]  # a clock that moves only while the provider sleeps between polls

    def sleep(seconds: float) -> None:
        now[0] += seconds

    stub.add_response("run_task", {"tasks": [{"taskArn": TASK}]}, RUN_TASK_PARAMS)
    for _ in range(4):  # polls at 0, 100, 200 and 250 s
        stub.add_response("describe_tasks", described("RUNNING"), {"cluster": CLUSTER, "tasks": [TASK]})
    stub.add_response("stop_task", {"task": {"taskArn": TASK}}, {"cluster": CLUSTER, "task": TASK, "reason": ANY})
    with stub:
        outcome = run(ecs, timeout_seconds=250, poll_seconds=100, sleep=sleep, clock=lambda: now[0])
    stub.assert_no_pending_responses()
    assert outcome.status == "failed" and outcome.reason == "did not stop within 250 s; stopped"


@pytest.mark.parametrize("olds, news, changes", [
    pytest.param({"status": "succeeded", "attempt": "a"}, {"attempt": "b"}, False, id="a succeeded run is never repeated"),
    pytest.param({"status": "failed", "attempt": "a"}, {"attempt": "a"}, False, id="a failed run of the same attempt is not repeated"),
    pytest.param({"status": "failed", "attempt": "a"}, {"attempt": "b"}, True, id="a failed run runs again when its rollout restarted"),
])
def test_the_provider_diff(olds, news, changes):
    result = MigrationTaskProvider().diff("id", olds, news)
    assert result.changes is changes


def test_the_provider_create_runs_the_task_in_moto_and_records_its_outcome(credentials, monkeypatch):
    import components.aws.migration_task as migration_task

    monkeypatch.setattr(migration_task, "POLL_SECONDS", 0)
    with mock_aws():
        ecs = boto3.client("ecs")
        ecs.create_cluster(clusterName="cutover")
        definition = ecs.register_task_definition(family="web", containerDefinitions=[
            {"name": "web", "image": "public.ecr.aws/nginx/nginx:2", "cpu": 256, "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
        props = {"phase": "expand", "version": "2", "attempt": "t0", "command": COMMAND, "region": "us-east-1",
                 "cluster": "cutover", "taskDefinition": definition, "container": "web", "subnets": ["subnet-c"],
                 "securityGroups": ["sg-1"], "timeoutSeconds": 60, "identity": {}}
        result = MigrationTaskProvider().create(props)
    assert result.outs["status"] == "succeeded" and result.outs["exitCode"] == 0
    assert result.id == result.outs["taskArn"] and result.outs["command"] == COMMAND
