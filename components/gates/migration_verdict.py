"""Expand/contract migrations, pure: which runs a stack holds this run, and what a finished run means.

A run's record (`endpoints.<svc>.migrations.<phase>`: phase, version, attempt, status, exitCode, taskArn,
reason) is exported by the run that holds it and read back by the next one:

    expand of the candidate    registered from the run that deploys it at 0 % while it is in flight
                               (aborted included, so a success is never repeated); the first shift waits
                               for it: succeeded -> passes, failed -> ABORT, not recorded yet -> HOLD
    contract of the stable     registered once that version was promoted here (last shift `advance` or
                               `promote`) and the old color runs no tasks, after the run that scaled it to
                               zero; kept registered while that version is stable (a success never repeats);
                               failed -> the new version keeps serving, the reason and a warning say so

Worked example (canary 1 -> 2, expand and contract configured):
    run 2  deploy 2 at 0 %            -> web-expand-2 runs (after green's ECS service is steady)
    run 3  expand succeeded           -> 90/10, the rule waited on web-expand-2 (unchanged, not re-run)
    run 5  promoted 2                 -> blue stays warm; no contract yet
    run 6  after the scale-down delay -> blue set to 0 tasks, then web-contract-2 runs
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from components.gates.model import GateResult, GateVerdict
from components.rollout.model import Phase, RolloutState

PROMOTED_BY = ("advance", "promote")


@dataclass(frozen=True)
class MigrationPlan:
    """Which migration runs a service's resources hold this run (plain values)."""

    expand_version: str | None = None
    """Version whose expand run is registered (the candidate's), or None."""
    expand_attempt: str = ""
    """Changes when the candidate's rollout restarts: a failed expand is then run again."""
    contract_version: str | None = None
    """Version whose contract run is registered (the stable one, promoted, old color at zero), or None."""


def migration_plan(previous: RolloutState | None, state: RolloutState, has_expand: bool, has_contract: bool,
                   records: Any) -> MigrationPlan:
    """`records`: the previous run's `endpoints.<svc>.migrations` ({expand: record, contract: record})."""
    records = records if isinstance(records, Mapping) else {}
    expand = records.get("expand") if isinstance(records.get("expand"), Mapping) else {}
    contract = records.get("contract") if isinstance(records.get("contract"), Mapping) else {}
    expand_version = state.candidate_version if has_expand and state.candidate_version is not None else None
    attempt = ""
    if expand_version is not None:
        # Lifting an abort redeploys the same version: a new attempt (a failed expand runs again, a success never).
        restarted = (previous is not None and previous.phase is Phase.ABORTED and state.phase is not Phase.ABORTED
                     and previous.candidate_version == expand_version)
        known = expand.get("version") == expand_version and expand.get("attempt")
        attempt = str(expand["attempt"]) if known and not restarted else _stamp(state.step_started_at)
    contract_version = None
    if has_contract:
        stable = state.stable_version
        if contract.get("version") == stable:
            contract_version = stable  # already ran for this version: keep its record, never re-run it
        elif _promoted_and_old_color_idle(state):
            contract_version = stable
    return MigrationPlan(expand_version, attempt, contract_version)


def _promoted_and_old_color_idle(state: RolloutState) -> bool:
    shift = state.last_shift
    return (state.phase is Phase.STABLE and state.candidate_version is None and shift is not None
            and shift.cause in PROMOTED_BY and state.replicas.get(state.candidate_color, 0) == 0
            and any(c.version == state.stable_version for c in state.completed))


def migration_news(previous: RolloutState | None, state: RolloutState, has_expand: bool, has_contract: bool,
                   records: Any) -> str | None:
    """A sentence for the run's reason when this run starts a migration (its record is not in `records` yet)."""
    plan = migration_plan(previous, state, has_expand, has_contract, records)
    records = records if isinstance(records, Mapping) else {}
    said = []
    expand = records.get("expand") if isinstance(records.get("expand"), Mapping) else {}
    if plan.expand_version and (expand.get("version"), expand.get("attempt")) != (plan.expand_version, plan.expand_attempt) \
            and expand.get("status") != "succeeded":
        said.append(f"expand migration of {plan.expand_version} runs now, before any traffic reaches it")
    contract = records.get("contract") if isinstance(records.get("contract"), Mapping) else {}
    if plan.contract_version and contract.get("version") != plan.contract_version:
        said.append(f"contract migration of {plan.contract_version} runs now, after {state.candidate_color.value} reached zero")
    return "; ".join(said) or None


def expand_verdict(records: Any, version: str) -> GateResult:
    """Before the first shift to `version`: its expand run's record decides (source "workload": `promote` never skips it)."""
    record = records.get("expand") if isinstance(records, Mapping) else None
    if not isinstance(record, Mapping) or record.get("version") != version or record.get("status") is None:
        return GateResult(GateVerdict.HOLD, f"the expand migration of {version} has not finished yet", True, source="workload")
    where = _where(record)
    if record.get("status") == "succeeded":
        return GateResult(GateVerdict.ADVANCE, f"expand migration of {version} succeeded", source="workload",
                          measurements={"expand": dict(record)})
    return GateResult(GateVerdict.ABORT, f"the expand migration of {version} failed: {record.get('reason') or 'no reason'}{where}",
                      source="workload", measurements={"expand": dict(record)})


def contract_problem(records: Any, stable_version: str) -> str | None:
    """A sentence when the stable version's contract run failed (it keeps serving; a person decides)."""
    record = records.get("contract") if isinstance(records, Mapping) else None
    if not isinstance(record, Mapping) or record.get("version") != stable_version or record.get("status") != "failed":
        return None
    where = _where(record)
    return (f"the contract migration of {stable_version} failed: {record.get('reason') or 'no reason'}{where}; "
            f"{stable_version} keeps serving — run the contract by hand once the cause is fixed")


def with_live_outcomes(records: Any, outcomes: Mapping[str, Mapping[str, Any]] | None) -> Any:
    """The previous run's records with the outcomes this run read back from the platform (Kubernetes: the
    Jobs whose record had no outcome yet), so every later step — the expand verdict, the contract warning,
    the exported record — judges what the Job did. A record that already holds an outcome is never changed.
    >>> with_live_outcomes({"expand": {"version": "2", "status": None}}, {"expand": {"status": "failed", "reason": "x"}})
    {'expand': {'version': '2', 'status': 'failed', 'reason': 'x'}}
    """
    if not isinstance(records, Mapping) or not outcomes:
        return records
    merged = dict(records)
    for phase, outcome in outcomes.items():
        record = records.get(phase)
        if isinstance(record, Mapping) and record.get("status") is None and outcome:
            merged[phase] = {**record, **outcome}
    return merged


def recorded_outcome(records: Any, phase: str, version: str, attempt: str) -> Mapping[str, Any] | None:
    """The outcome (`status`, `reason`) a record holds for this phase, version and attempt, or None."""
    record = records.get(phase) if isinstance(records, Mapping) else None
    if not isinstance(record, Mapping) or record.get("status") is None:
        return None
    if record.get("version") != version or str(record.get("attempt") or "") != attempt:
        return None
    return {"status": record["status"], "reason": record.get("reason") or ""}


def _where(record: Mapping[str, Any]) -> str:
    """Which run it was: the ECS task's ARN, or the Kubernetes Job's namespace/name."""
    ref = record.get("taskArn") or (f"Job {record['job']}" if record.get("job") else None)
    return f" ({ref})" if ref else ""


def _stamp(moment: datetime) -> str:
    return moment.isoformat()
