"""A migration as a one-off ECS task: the candidate's task definition (its image, environment, secrets and
log group), the service's private subnets and task security group, the container's command overridden.

`MigrationRun` is a Pulumi dynamic resource. Its provider's `create` calls `ecs.run_task` and waits,
polling `describe_tasks`, until the task stopped; exit code 0 of the service's container is `succeeded`,
anything else `failed` (with the exit code and ECS's stopped reason). The wait is bounded
(`timeout_seconds`, 15 minutes by default): past it the task is stopped and the run is `failed`. The
provider never raises for a migration's outcome: the outcome is the resource's outputs, which the program
exports (`endpoints.<svc>.migrations`) and the next run judges before any traffic moves (a failed expand
aborts the rollout, a failed contract is reported). Dynamic providers run only in `pulumi up`, never in
`pulumi preview` (the engine previews creates without calling them).

Once created, a run is never repeated: `diff` reports no change for a `succeeded` run whatever its inputs
say, and asks for a replacement (a new run) only when a failed run's `attempt` changed (the rollout of that
version was restarted). The resource name includes the version, so each version has its own run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pulumi
import pulumi.dynamic

DEFAULT_TIMEOUT_SECONDS = 900
POLL_SECONDS = 6.0


@dataclass(frozen=True)
class MigrationOutcome:
    status: str
    """`succeeded` or `failed`."""
    task_arn: str | None = None
    exit_code: int | None = None
    reason: str = ""

    def as_outputs(self) -> dict[str, Any]:
        return {"status": self.status, "taskArn": self.task_arn, "exitCode": self.exit_code, "reason": self.reason}


def run_migration(
    ecs: Any,
    *,
    cluster: str,
    task_definition: str,
    container: str,
    command: Sequence[str],
    subnets: Sequence[str],
    security_groups: Sequence[str],
    started_by: str,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> MigrationOutcome:
    """Run one task and wait for it to stop (bounded). `ecs` is a boto3 ECS client. Never raises for AWS errors:
    they are a failed outcome naming the call."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = ecs.run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            count=1,
            startedBy=started_by[:128],
            networkConfiguration={"awsvpcConfiguration": {
                "subnets": list(subnets), "securityGroups": list(security_groups), "assignPublicIp": "DISABLED"}},
            overrides={"containerOverrides": [{"name": container, "command": list(command)}]},
        )
    except (ClientError, BotoCoreError) as err:
        return MigrationOutcome("failed", reason=f"RunTask failed: {err}")
    tasks = answer.get("tasks") or []
    if not tasks:
        failures = "; ".join(f"{f.get('reason')} {f.get('detail') or ''}".strip() for f in answer.get("failures") or [])
        return MigrationOutcome("failed", reason=f"RunTask started no task: {failures or 'no reason given'}")
    arn = tasks[0]["taskArn"]
    deadline = clock() + timeout_seconds
    while True:
        try:
            described = ecs.describe_tasks(cluster=cluster, tasks=[arn]).get("tasks") or []
        except (ClientError, BotoCoreError) as err:
            described, problem = [], f"DescribeTasks failed: {err}"
        else:
            problem = None
        task = described[0] if described else None
        if task is not None and task.get("lastStatus") == "STOPPED":
            return _stopped(arn, task, container)
        if clock() >= deadline:
            _stop(ecs, cluster, arn, f"cutover: migration did not finish within {timeout_seconds:g} s")
            return MigrationOutcome("failed", arn, reason=f"did not stop within {timeout_seconds:g} s; stopped"
                                    + (f" ({problem})" if problem else ""))
        sleep(min(poll_seconds, max(0.0, deadline - clock())))


def _stopped(arn: str, task: Mapping[str, Any], container: str) -> MigrationOutcome:
    ours = [c for c in task.get("containers") or [] if c.get("name") == container] or list(task.get("containers") or [])
    code = ours[0].get("exitCode") if ours else None
    why = task.get("stoppedReason") or ""
    detail = (ours[0].get("reason") if ours else None) or ""
    if code == 0:
        return MigrationOutcome("succeeded", arn, 0, why)
    text = f"exit code {code}" if code is not None else "the container never ran"
    return MigrationOutcome("failed", arn, code, "; ".join(p for p in (text, why, detail) if p))


def _stop(ecs: Any, cluster: str, arn: str, reason: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ecs.stop_task(cluster=cluster, task=arn, reason=reason[:255])
    except (ClientError, BotoCoreError):
        pass  # best effort: the outcome is already "failed"


class MigrationTaskProvider(pulumi.dynamic.ResourceProvider):
    """Runs the task in `create`; see the module docstring for why it never raises and never re-runs a success."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        from components.gates.aws_identity import build_session, gate_identity

        # As the provider does: the stack's aws:region, aws:profile and aws:assumeRoles (the gates' identity).
        ecs = build_session(gate_identity({**(props.get("identity") or {}), "region": props["region"]})).client("ecs")
        outcome = run_migration(
            ecs, cluster=props["cluster"], task_definition=props["taskDefinition"], container=props["container"],
            command=props["command"], subnets=props["subnets"], security_groups=props["securityGroups"],
            started_by=f"cutover-{props['phase']}-{props['version']}", timeout_seconds=float(props["timeoutSeconds"]),
            poll_seconds=POLL_SECONDS,
        )
        run_id = outcome.task_arn or f"{props['phase']}-{props['version']}-not-started-{int(time.time())}"
        return pulumi.dynamic.CreateResult(id_=run_id, outs={**props, **outcome.as_outputs()})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        if olds.get("status") == "succeeded" or olds.get("attempt") == news.get("attempt"):
            return pulumi.dynamic.DiffResult(changes=False)
        # A failed run of a rollout that was restarted (abort set and removed): run again.
        return pulumi.dynamic.DiffResult(changes=True, replaces=["attempt"], delete_before_replace=True)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """A finished task needs no cleanup; the record simply leaves the stack."""


@dataclass(frozen=True)
class MigrationRunArgs:
    phase: str
    """`expand` or `contract`."""
    version: str
    """The version whose migration this is (part of the resource name: one run per version)."""
    attempt: str
    """Changes when the rollout of `version` restarts: a failed run is then run again."""
    command: tuple[str, ...]
    """The container command."""
    region: str
    cluster: pulumi.Input[str]
    task_definition: pulumi.Input[str]
    """The task definition of the color running `version`: its image, environment, secrets, logs."""
    container: str
    """Name of the service's container in that task definition."""
    subnets: pulumi.Input[list[str]]
    security_groups: pulumi.Input[list[str]]
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    identity: Mapping[str, Any] | None = None
    """The stack's `aws:profile` / `aws:assumeRoles` / `aws:assumeRole` settings: the task is run as the provider runs."""


class MigrationRun(pulumi.dynamic.Resource):
    """One migration run and its outcome. Its outputs are its inputs plus `status` (`succeeded`/`failed`),
    `exitCode`, `taskArn` and `reason` (a dynamic resource's outputs are attributes named as its properties)."""

    def __init__(self, name: str, args: MigrationRunArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            MigrationTaskProvider(),
            name,
            {
                "phase": args.phase, "version": args.version, "attempt": args.attempt, "command": list(args.command),
                "region": args.region, "cluster": args.cluster, "taskDefinition": args.task_definition,
                "container": args.container, "subnets": args.subnets, "securityGroups": args.security_groups,
                "timeoutSeconds": args.timeout_seconds, "identity": dict(args.identity or {}),
                "status": None, "exitCode": None, "taskArn": None, "reason": None,
            },
            opts,
        )

    def record(self) -> pulumi.Output[dict]:
        """What the next run reads back (`endpoints.<svc>.migrations.<phase>`)."""
        return pulumi.Output.all(phase=self.phase, version=self.version, attempt=self.attempt, status=self.status,
                                 exitCode=self.exitCode, taskArn=self.taskArn, reason=self.reason)
