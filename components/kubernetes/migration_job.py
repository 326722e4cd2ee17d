"""A migration on Kubernetes: a `batch/v1` Job with the version's image, the service's env and secrets and the
configured command, in the service's namespace. The Kubernetes twin of `components/aws/migration_task.py`.

Like the AWS run, the Job's outcome is never allowed to fail the update: pulumi-kubernetes awaits a Job until
its `Complete` condition and fails the update on a `Failed` one (batch/v1 Job API docs), and a failed update
keeps every old stack export (one export call), so the next run could never decide the abort. So the Job
carries `pulumi.com/skipAwait: "true"` (the create returns once the object exists), and the NEXT run reads it
back with a resource `get` (components/live/kubernetes_reader.py) while its record has no outcome yet; the
outcome (`job_outcome`) goes into `endpoints.<svc>.migrations.<phase>` and feeds the same verdict as on AWS
(components/gates/migration_verdict.py).

Never repeated: one Job per version (and, for expand, per attempt: the logical name carries both), created
once, then never updated — `ignore_changes` on everything: a Job's pod template is immutable, so any change
(an env var edited mid-rollout) would make pulumi-kubernetes replace it, which would run it again. It stays
registered while its version is in flight (expand) or stable (contract), so Pulumi deletes it afterwards.

Worked example (service `api`, expand of 1.28, first attempt stamped 2025-03-01T09:01:00+00:00):
    job_resource_name("api", "expand", "1.28", "2025-03-01T09:01:00+00:00") -> "api-expand-1.28-dd1521"
    job_outcome({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
        -> {"status": "succeeded", "reason": "Job complete"}
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from components.applied import field_of

JOB_TYPE = "kubernetes:batch/v1:Job"
MIGRATION_LABEL = "cutover.dev/migration"
"""Label on the Job and its pod: `expand` or `contract`. The pod has no `color` label, so no Service or
PodDisruptionBudget of the service (they select app+color) ever selects a migration pod."""
ATTEMPT_ANNOTATION = "cutover.dev/attempt"
BACKOFF_LIMIT = 0
"""One pod, one try, as on AWS: a migration that failed is a person's decision, not something to run again
at once (a half-applied migration run twice can do harm). Pod disruptions (a node drain, preemption) do not
count: see POD_FAILURE_POLICY."""
POD_FAILURE_POLICY = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}
"""A pod evicted by a drain or preempted (condition DisruptionTarget) is replaced without counting against
`backoffLimit` (Job `podFailurePolicy`, needs `restartPolicy: Never`; on by default since Kubernetes 1.26)."""
ACTIVE_DEADLINE_SECONDS = 900
"""The same bound as an ECS migration task (15 minutes): past it the Job is Failed (DeadlineExceeded)."""
TTL_SECONDS_AFTER_FINISHED: int | None = None
"""Deliberately unset: the TTL controller must never delete a migration Job. The outcome is read by the next run
(whenever it comes: a day later is normal for a paused rollout), and while the Job is registered a `get` of a
deleted Job fails the whole update; worse, a `pulumi refresh` would drop it from the state and the next `up`
would create it again — a second run of the migration. Pulumi deletes the Job itself once it leaves the stack
(expand: after promotion or once its version is no longer in flight; contract: when the next version is
promoted), so it does not accumulate; until then `kubectl logs job/<name>` shows what happened."""
_DNS_PART = re.compile(r"[^a-z0-9.-]+")
MAX_LOGICAL_NAME = 54
"""A Job's name becomes the value of its pods' `job-name` label (at most 63 characters); Pulumi's autoname
adds a dash and 8 characters to the logical name."""


def job_resource_name(service: str, phase: str, version: str, attempt: str = "") -> str:
    """The Job's logical name: service, phase, version and (for expand) a digest of the attempt, so a new
    attempt of a failed expand is a new Job and the same attempt is always the same one.

    >>> job_resource_name("api", "contract", "1.28")
    'api-contract-1.28'
    >>> job_resource_name("api", "expand", "Build_7")
    'api-expand-build-7-329bfb9b'
    """
    clean = _DNS_PART.sub("-", version.lower()).strip("-.")
    if clean != version or not clean:
        clean = f"{clean}-{hashlib.sha1(version.encode()).hexdigest()[:8]}".strip("-")
    suffix = f"-{hashlib.sha1(attempt.encode()).hexdigest()[:6]}" if attempt else ""
    head = f"{service}-{phase}-"
    room = MAX_LOGICAL_NAME - len(head) - len(suffix)
    if len(clean) > room:
        clean = f"{clean[:max(room - 9, 1)].rstrip('-.')}-{hashlib.sha1(version.encode()).hexdigest()[:8]}".lstrip("-")
    return f"{head}{clean}{suffix}"


def job_outcome(status: Any) -> dict[str, Any] | None:
    """A finished Job's outcome from its `status` (batch/v1), or None while it has not finished.

    Complete (or SuccessCriteriaMet, or a succeeded pod) -> succeeded; Failed (or FailureTarget, Kubernetes
    1.31+ sets it first) -> failed with the condition's reason and message. The exit code is not on the Job
    (it is on its pod): `exitCode` stays None; `kubectl logs job/<name>` shows it.
    >>> job_outcome({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
    ...     "message": "Job has reached the specified backoff limit"}]})["reason"]
    'BackoffLimitExceeded: Job has reached the specified backoff limit'
    >>> job_outcome({"active": 1}) is None
    True
    """
    conditions = {field_of(c, "type"): c for c in field_of(status, "conditions") or []
                  if str(field_of(c, "status")) == "True"}
    for kind in ("Failed", "FailureTarget"):
        if kind in conditions:
            condition = conditions[kind]
            why = ": ".join(str(v) for v in (field_of(condition, "reason"), field_of(condition, "message")) if v)
            return {"status": "failed", "reason": why or f"the Job reports {kind}"}
    if "Complete" in conditions or "SuccessCriteriaMet" in conditions or int(field_of(status, "succeeded") or 0) >= 1:
        return {"status": "succeeded", "reason": "Job complete"}
    return None


@dataclass(frozen=True)
class MigrationJobArgs:
    service: str
    """Service name: the `app` label and the container name."""
    namespace: str
    """The service's namespace."""
    phase: str
    """`expand` or `contract`."""
    version: str
    """The version whose migration this is: its image tag."""
    attempt: str
    """Changes when the rollout of `version` restarts after a failed expand (part of the logical name)."""
    image: str
    """Image without tag."""
    command: Sequence[str]
    """The container command."""
    cpu: int = 256
    """AWS-style CPU units, as the Deployments."""
    memory: int = 512
    """MiB."""
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Env var -> "secret-name:key", as the Deployments."""


def migration_job(name: str, args: MigrationJobArgs, depends_on: list, parent):
    """Register the Job (see the module docstring for every setting)."""
    import pulumi
    import pulumi_kubernetes as k8s

    from components.kubernetes.manifest import SKIP_AWAIT, compute_resources, label_value
    from components.kubernetes.twin_deployment import env_vars, restricted_container_security, restricted_pod_security

    labels = {"app": args.service, MIGRATION_LABEL: args.phase, "version": label_value(args.version)}
    return k8s.batch.v1.Job(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            namespace=args.namespace,
            labels=labels,
            # The create returns once the Job exists: its outcome is read by the next run, never fails this one.
            annotations={**SKIP_AWAIT, ATTEMPT_ANNOTATION: args.attempt},
        ),
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=BACKOFF_LIMIT,
            pod_failure_policy=POD_FAILURE_POLICY,
            active_deadline_seconds=ACTIVE_DEADLINE_SECONDS,
            ttl_seconds_after_finished=TTL_SECONDS_AFTER_FINISHED,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    restart_policy="Never",
                    # The Pod Security "restricted" profile, as the Deployments.
                    security_context=restricted_pod_security(),
                    automount_service_account_token=False,
                    containers=[
                        k8s.core.v1.ContainerArgs(
                            name=args.service,
                            image=f"{args.image}:{args.version}",
                            command=list(args.command),
                            env=env_vars(args.environment, args.secrets),
                            resources=k8s.core.v1.ResourceRequirementsArgs(**compute_resources(args.cpu, args.memory)),
                            security_context=restricted_container_security(),
                        )
                    ],
                ),
            ),
        ),
        # Created once, never updated nor replaced by a later edit of the service (a replacement would run it again);
        # a new attempt is a new logical name.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on, ignore_changes=["metadata", "spec"]),
    )


def job_record(job, namespace: str, phase: str, version: str, attempt: str, known: Mapping[str, Any] | None):
    """`endpoints.<svc>.migrations.<phase>`: the Job's physical name from its applied outputs, and the outcome
    a run has read back for this version and attempt (None until then)."""
    import pulumi

    known = known or {}
    return job.metadata.apply(lambda m: {
        "phase": phase, "version": version, "attempt": attempt,
        "status": known.get("status"), "exitCode": None, "reason": known.get("reason") or "",
        "job": f"{namespace}/{field_of(m, 'name')}" if m is not None and field_of(m, "name") else None,
    }) if job is not None else pulumi.Output.from_input(None)
