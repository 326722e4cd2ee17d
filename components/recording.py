"""What a run writes down, from what its resources applied: the live record on the router and the
exported `rollouts.<service>`. Both platforms' entry components build these the same way.

The record on the router is an input of the router, computed from the applied outputs of the
workloads the router waits for; the exported record also waits for the router's applied weights.
Either is the plan only when the applied values match it (`components/rollout/applied.py`).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import pulumi

from components.app import ServiceDecision
from components.rollout.applied import AppliedState, recorded_state
from components.rollout.codec import to_output
from components.rollout.decision import decision_record
from components.rollout.model import InvalidWeights, Weights, WorkloadSpec


class Workload(Protocol):
    """One color's workload as applied (TwinService on AWS, TwinDeployment on Kubernetes)."""

    applied_version: pulumi.Output[str | None]
    """Image tag of the applied task definition / pod template."""
    applied_replicas: pulumi.Output[int]
    """Applied desired count."""
    applied_spec: pulumi.Output[WorkloadSpec | None]
    """Environment, secret references, cpu and memory of the applied task definition / pod template."""


def router_record(decision: ServiceDecision, ready_first: tuple[str, ...], workloads: Mapping[str, Workload],
                  prefix: str) -> pulumi.Input[dict[str, str]]:
    """Tags / annotations for the router: this run's record once the workloads it waits for applied what was planned."""
    waited = {color: workloads[color] for color in ready_first if color in workloads}
    if not waited:
        return decision_record(decision.name, decision.state, prefix)
    return _applied(waited).apply(
        lambda applied: decision_record(decision.name, recorded_state(decision.state, decision.previous, applied), prefix)
    )


def exported_record(decision: ServiceDecision, applied_weights: pulumi.Output[dict], workloads: Mapping[str, Workload]) -> pulumi.Output[dict]:
    """`rollouts.<service>`: waits on the router and every workload, and records only what they applied."""
    return pulumi.Output.all(applied_weights, _applied(workloads)).apply(
        lambda values: to_output(recorded_state(decision.state, decision.previous, _with_weights(values[1], values[0])))
    )


def _applied(workloads: Mapping[str, Workload]) -> pulumi.Output[AppliedState]:
    colors = sorted(workloads)
    outputs = [o for c in colors for o in (workloads[c].applied_version, workloads[c].applied_replicas, workloads[c].applied_spec)]
    return pulumi.Output.all(*outputs).apply(lambda values: AppliedState(
        versions={c: values[3 * i] for i, c in enumerate(colors) if values[3 * i] is not None},
        replicas={c: int(values[3 * i + 1]) for i, c in enumerate(colors) if values[3 * i + 1] is not None},
        specs={c: values[3 * i + 2] for i, c in enumerate(colors) if values[3 * i + 2] is not None},
    ))


def _with_weights(applied: AppliedState, weights: Mapping[str, Any]) -> AppliedState:
    try:
        live = Weights(int(weights.get("blue", 0)), int(weights.get("green", 0)))
    except InvalidWeights:
        live = None
    return AppliedState(weights=live, versions=applied.versions, replicas=applied.replicas, specs=applied.specs)
