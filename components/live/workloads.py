"""One color's workload from what the platform reports: pure functions over plain values.

Used by the live readers (before a run decides) and by the workload components (what a run applied).
Pure: no pulumi, no boto3; values may be typed results or camelCase dicts (`field_of` reads either).
"""

from __future__ import annotations

from typing import Any

from components.applied import field_of
from components.rollout.live import ColorWorkload, image_tag


def ecs_workload(description: Any, image: str | None) -> ColorWorkload:
    """A color from an ECS service description (the `ecs.get_service` result or boto3's `describe_services`).

    Settled: one deployment, the PRIMARY one, on the service's task definition, with its desired tasks
    running (and, where the API reports it, rolloutState COMPLETED).
    """
    deployments = list(field_of(description, "deployments") or [])
    task_definition = field_of(description, "task_definition", "taskDefinition")
    desired = int(field_of(description, "desired_count", "desiredCount") or 0)
    running = int(field_of(description, "running_count", "runningCount") or 0)
    primary = [d for d in deployments if field_of(d, "status") == "PRIMARY"]
    state = field_of(primary[0], "rollout_state", "rolloutState") if primary else None
    settled = (
        len(deployments) == 1 and len(primary) == 1
        and field_of(primary[0], "task_definition", "taskDefinition") == task_definition
        and running >= desired and state in (None, "COMPLETED")
    )
    detail = f"{len(deployments)} deployments, {running}/{desired} running" + (f", rollout {state}" if state else "")
    return ColorWorkload(True, image_tag(image), desired, settled, detail)


def deployment_workload(spec: Any, status: Any, metadata: Any = None) -> ColorWorkload:
    """A color from a Deployment: the image of its pod template, and whether its rollout finished."""
    template = field_of(spec, "template")
    containers = field_of(field_of(template, "spec"), "containers") or []
    desired = int(field_of(spec, "replicas") or 0)
    updated = int(field_of(status, "updated_replicas", "updatedReplicas") or 0)
    available = int(field_of(status, "available_replicas", "availableReplicas") or 0)
    observed = field_of(status, "observed_generation", "observedGeneration")
    generation = field_of(metadata, "generation")
    settled = updated >= desired and available >= desired and (generation is None or observed is None or observed >= generation)
    image = field_of(containers[0], "image") if containers else None
    return ColorWorkload(True, image_tag(image), desired, settled, f"{available}/{desired} available, {updated} updated")
