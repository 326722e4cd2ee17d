"""Feed a run's registered resources to the policy pack, as `pulumi up --policy-pack policies` would, and
say what the CLI does with each violation.

When the engine evaluates a policy decides what a mandatory violation can still prevent:

- a resource policy (`ResourceValidationPolicy`) checks a resource's inputs before its step. `pulumi up`
  previews first and stops when the preview fails (pulumi/pulumi `pkg/backend/apply.go`,
  `PreviewThenPromptThenExecute`: an error from `PreviewThenPrompt` returns before the update), so a
  mandatory violation halts the update before anything is applied and the stack keeps its outputs
  ("mandatory halts an update before creating a resource that violates that policy": pulumi/docs
  `content/docs/iac/using-pulumi/crossguard/core-concepts.md`, "Enforcement Levels");
- a stack policy (`StackValidationPolicy`) checks every resource's outputs once, after the steps ran.
  Those policies "are run after all stack resources are registered and thus *do not* block an
  out-of-compliance resource from being created, but do fail the preview or update" (same page, "Stack
  Policies with IaC"; its table: checked "after all stack resources have been created/modified"), and
  "modifications to resources can't be prevented, but using mandatory enforcement results in a
  deployment failing (despite the modified resources)" (pulumi/docs#3597, the Python policy blog). The
  rehearsal evaluates them on the applied outputs, so it models that update phase: the run is applied,
  its outputs are saved, the violation is reported after the changes and a mandatory one fails the run.
  `pulumi up`'s own preview runs stack policies too, on the values known before the update (inputs stand
  in for outputs), so one already visible then stops the update there: play a `preview: true` step
  before the `up` to see what that preview reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pulumi_policy import Policy, StackValidationPolicy

from policies.offline import CONFIG_DIR, OfflineResource, Violation, evaluate, load_stack_config
from policies.rules import ALL_POLICIES
from rehearsal.engine import PROJECT, RunResult

MANDATORY = "mandatory"


@dataclass(frozen=True)
class PolicyReview:
    """One run's violations, split by when the engine evaluates them."""

    before: tuple[Violation, ...] = ()
    """Resource policies, on each resource's inputs before its step: a mandatory one stops `pulumi up`
    before anything is applied."""
    after: tuple[Violation, ...] = ()
    """Stack policies, on the resources' outputs once the steps ran: reported after the changes."""

    @property
    def blocks(self) -> bool:
        """`pulumi up` stops before changing anything: a mandatory resource-policy violation."""
        return any(v.enforcement_level == MANDATORY for v in self.before)

    @property
    def fails(self) -> bool:
        """The command exits non-zero: any mandatory violation, blocking or reported after the changes."""
        return any(v.enforcement_level == MANDATORY for v in (*self.before, *self.after))


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


def review(result: RunResult, stack: str, config: dict | None = None,
           policies: Sequence[Policy] = ALL_POLICIES) -> PolicyReview:
    """`check`, with each violation filed under when the engine reports it."""
    violations = evaluate(offline_resources(result, stack), policy_config(stack) if config is None else config, policies)
    stack_policies = {p.name for p in policies if isinstance(p, StackValidationPolicy)}
    return PolicyReview(
        before=tuple(v for v in violations if v.policy_name not in stack_policies),
        after=tuple(v for v in violations if v.policy_name in stack_policies),
    )
