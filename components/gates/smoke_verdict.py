"""The smoke hook's decisions, pure: when the checks are due, what they ask, and what their outcomes mean.

    no candidate at 0 % about to gain traffic          -> not due (nothing is checked)
    a check answered, but not what it expects           -> ABORT, naming the check (traffic stays on stable)
    a check got no answer (refused, timed out, no URL)  -> HOLD, inconclusive (retried next run)
    every check answered what it expects                -> passes: the gate's own verdict stands

Results carry source "workload": `promote` may skip an inconclusive *gate*, never an unchecked candidate.

Worked example (checks `/healthz` -> 200 and `/api/version` containing `{{version}}`, candidate 1.28):
    /healthz 200, /api/version 200 "1.28"   -> passed: "smoke passed: GET /healthz 200, GET /api/version 200 with '1.28'"
    /healthz 503                            -> ABORT "smoke check failed: GET /healthz answered 503, expected 200 (...)"
    /healthz connection refused             -> HOLD  "smoke checks could not reach the candidate: GET /healthz: connection refused (...)"
"""

from __future__ import annotations

from typing import Sequence

from components.config import ServiceConfig, SmokeCheckConfig
from components.gates.model import GateResult, GateVerdict
from components.gates.smoke import CheckOutcome, SmokeCheck, SmokeRunner
from components.rollout.model import Phase, RolloutState

VERSION_PLACEHOLDER = "{{version}}"


def first_shift_hooks_due(previous: RolloutState, service: ServiceConfig) -> bool:
    """True in the run that may move the first weight onto a candidate deployed at 0 % (the canary's or
    red-black's step 0, progressing; a blue-green preview once `approve` or `promote` names it) of a service
    with smoke checks or an expand migration: they must pass first."""
    hooks = service.hooks
    if hooks is None or not (hooks.smoke or (hooks.migrations is not None and hooks.migrations.expand is not None)):
        return False
    candidate = previous.candidate_version
    if candidate is None or candidate != service.version or service.abort == candidate:
        return False
    if previous.candidate_percent != 0:
        return False
    if previous.phase is Phase.PROGRESSING:
        return True
    return previous.phase is Phase.PAUSED and candidate in (service.approve, service.promote)


def smoke_checks(checks: Sequence[SmokeCheckConfig], version: str) -> list[SmokeCheck]:
    """The configured checks with `{{version}}` replaced by the candidate's version."""
    return [
        SmokeCheck(check.path.replace(VERSION_PLACEHOLDER, version), check.expect_status,
                   check.expect_body_contains.replace(VERSION_PLACEHOLDER, version) if check.expect_body_contains else None)
        for check in checks
    ]


def failure(outcome: CheckOutcome) -> str | None:
    """Why an answered check fails, or None (also None when it got no answer: that is not a failure)."""
    check = outcome.check
    if not outcome.reached:
        return None
    if outcome.status != check.expect_status:
        return f"GET {check.path} answered {outcome.status}, expected {check.expect_status}"
    if check.expect_body_contains is not None and check.expect_body_contains not in outcome.body:
        return f"GET {check.path} answered {outcome.status} without {check.expect_body_contains!r} in its body"
    return None


def smoke_verdict(base_url: str | None, outcomes: Sequence[CheckOutcome]) -> GateResult:
    """ABORT on the first answered check that fails; else HOLD (inconclusive) when any got no answer; else passed."""
    if not base_url:
        return _workload(GateVerdict.HOLD, "smoke checks wait: the candidate has no preview URL yet "
                         "(endpoints.<service>.previewUrl of the previous run)", inconclusive=True)
    measurements = {"smoke": [_measure(o) for o in outcomes]}
    failed = [f for f in (failure(o) for o in outcomes) if f]
    if failed:
        return _workload(GateVerdict.ABORT, f"smoke check failed: {failed[0]} ({base_url})", measurements=measurements)
    silent = [o for o in outcomes if not o.reached]
    if silent:
        first = silent[0]
        return _workload(GateVerdict.HOLD, f"smoke checks could not reach the candidate: GET {first.check.path}: "
                         f"{first.problem} ({base_url})", inconclusive=True, measurements=measurements)
    passed = ", ".join(f"GET {o.check.path} {o.status}" + (f" with {o.check.expect_body_contains!r}"
                                                             if o.check.expect_body_contains else "") for o in outcomes)
    return _workload(GateVerdict.ADVANCE, f"smoke passed: {passed}", measurements=measurements)


def with_smoke(gate: GateResult, smoke: GateResult) -> GateResult:
    """The gate's verdict with the smoke result folded in. A failed or unreachable smoke check overrides a
    milder gate (the stricter wins, as `verify.combine` does); a passed one leaves the gate's verdict and
    source as they are and adds its reason and measurements, so the run's reason shows the checks."""
    order = {GateVerdict.ADVANCE: 0, GateVerdict.HOLD: 1, GateVerdict.ABORT: 2}
    if smoke.verdict is not GateVerdict.ADVANCE:
        return smoke if order[smoke.verdict] >= order[gate.verdict] else gate
    reason = smoke.reason if gate.source == "none" else f"{gate.reason}; {smoke.reason}"
    return GateResult(gate.verdict, reason, gate.inconclusive, {**gate.measurements, **smoke.measurements}, gate.source)


def _measure(outcome: CheckOutcome) -> dict:
    return {"path": outcome.check.path, "status": outcome.status, "problem": outcome.problem or failure(outcome),
            "seconds": outcome.seconds}


def _workload(verdict: GateVerdict, reason: str, inconclusive: bool = False, measurements: dict | None = None) -> GateResult:
    return GateResult(verdict, reason, inconclusive, measurements or {}, source="workload")


def first_shift_source(previous_endpoints: object, runner: SmokeRunner | None):
    """The program's first-shift hooks: (service name, its config, its previous state) -> verdict. The expand
    migration's record first (`endpoints.<service>.migrations` of the previous run), then the smoke checks
    against `endpoints.<service>.previewUrl` (the preview that run built). `runner` None: no smoke checks."""
    from components.gates.migration_verdict import expand_verdict

    endpoints = previous_endpoints if isinstance(previous_endpoints, dict) else {}

    def hooks(name: str, service: ServiceConfig, previous: RolloutState) -> GateResult:
        found = endpoints.get(name) if isinstance(endpoints.get(name), dict) else {}
        version = previous.candidate_version or service.version
        migrations = service.hooks.migrations
        result = None
        if migrations is not None and migrations.expand is not None:
            result = expand_verdict(found.get("migrations"), version)
            if result.verdict is not GateVerdict.ADVANCE:
                return result
        if service.hooks.smoke and runner is not None:
            base_url = found.get("previewUrl")
            smoke = smoke_verdict(base_url, runner.run(base_url, smoke_checks(service.hooks.smoke, version)) if base_url else [])
            result = smoke if result is None or smoke.verdict is not GateVerdict.ADVANCE else GateResult(
                GateVerdict.ADVANCE, f"{result.reason}; {smoke.reason}", measurements={**result.measurements, **smoke.measurements},
                source="workload")
        return result

    return hooks
