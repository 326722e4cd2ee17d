"""Feed a run's registered resources to the policy pack, as `pulumi preview --policy-pack policies` would."""

from __future__ import annotations

from pathlib import Path

from policies.offline import CONFIG_DIR, OfflineResource, Violation, evaluate, load_stack_config
from rehearsal.engine import PROJECT, RunResult


def offline_resources(result: RunResult, stack: str) -> list[OfflineResource]:
    """Custom resources only: component properties never reach policies (pulumi/pulumi#10533)."""
    return [
        OfflineResource(
            type=r.type,
            name=r.name,
            props=dict(r.inputs),
            urn=f"urn:pulumi:{stack}::{PROJECT}::{r.type}::{r.name}",
            # Stack policies see outputs (ARNs, DNS names) as the engine hands them over after the step.
            outputs={**r.inputs, **r.outputs},
        )
        for r in result.resources.values()
        if r.custom
    ]


def policy_config(stack: str) -> dict:
    """The stack's checked-in policy config, or the pack's defaults for a stack without one."""
    return load_stack_config(stack) if Path(CONFIG_DIR / f"{stack}.json").exists() else {}


def check(result: RunResult, stack: str, config: dict | None = None) -> list[Violation]:
    return evaluate(offline_resources(result, stack), policy_config(stack) if config is None else config)
