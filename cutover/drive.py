"""`drive`: run `up` again and again until every rollout of each stack has settled.

Pure control flow over the `StackWorkspace` port, a clock and a sleep function (no pulumi import):

    loop: [stop if the state holds pending operations] -> up (waiting out another update's lock)
          -> read outputs -> one line per service, notifications for phase changes
          -> stop when every service is stable at its configured version, paused or aborted
          -> stop when a service that could move did not, `max_stalled_runs` runs in a row (a hold
             that needs a person: a setting naming another version, a held start)
          -> sleep until the earliest next possible step (bake ends), within [min_interval, max_sleep]

Stacks are driven one after another, in the order given; a stack that does not end all stable stops
the drive (a red staging never moves on to prod). Exit codes: 0 all stable; 3 an abort; 4 a pause
(waiting for approve); 5 gave up (deadline, run limit, stalled); 1 a failed update, a lock that was not
released, pending operations, or another error the operator must look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Callable, Mapping, Sequence

from cutover.events import detect_events
from cutover.notify import notifier_for
from cutover.ports import CutoverToolError, StackWorkspace, UpdateFailed
from cutover.records import (ABORTED, PAUSED, STABLE, Rollout, ServiceSettings, next_step, rollback_window, rollouts_of,
                             service_settings, settled)
from cutover.status import TOOL, duration, run_line
from cutover.updates import Clock, LockPolicy, Sleep, check_pending, up_with_lock_wait


class Outcome(IntEnum):
    """Exit codes; a drive's code is its worst stack's (SEVERITY orders them)."""

    STABLE = 0
    FAILED = 1
    ABORTED = 3
    PAUSED = 4
    GAVE_UP = 5


SEVERITY = {Outcome.STABLE: 0, Outcome.PAUSED: 1, Outcome.GAVE_UP: 2, Outcome.ABORTED: 3, Outcome.FAILED: 4}


@dataclass(frozen=True)
class DriveSettings:
    min_interval_s: float = 30.0
    """Shortest wait between two runs of a stack (a step that is due now still waits this long)."""
    max_sleep_s: float = 900.0
    """Longest single wait: a run comes at least this often, whatever the bake time says."""
    bake_slack_s: float = 5.0
    """Added to a bake's end, so the run lands after it on the program's clock too."""
    max_runs: int = 200
    """Runs per stack."""
    timeout_s: float = 6 * 3600.0
    """Wall time per stack."""
    max_stalled_runs: int = 5
    """Runs in a row in which a service that could move did not."""
    lock: LockPolicy = field(default_factory=LockPolicy)


@dataclass(frozen=True)
class StackOutcome:
    stack: str
    outcome: Outcome
    runs: int
    started: datetime
    finished: datetime
    rollouts: Mapping[str, Rollout]
    settings: Mapping[str, ServiceSettings]
    note: str = ""


def wait_seconds(rollouts: Mapping[str, Rollout], settings: Mapping[str, ServiceSettings], now: datetime,
                 drive: DriveSettings) -> tuple[float, str]:
    """How long to sleep before the next run, and why: until the earliest next possible step, within bounds.

    >>> from datetime import timezone
    >>> r = Rollout("web", "progressing", 1, {"blue": 90, "green": 10}, candidate_color="green", candidate_version="2",
    ...             step_started_at=datetime(2026, 1, 5, 9, 2, tzinfo=timezone.utc))
    >>> wait_seconds({"web": r}, {"web": ServiceSettings("2", 5)}, datetime(2026, 1, 5, 9, 3, tzinfo=timezone.utc), DriveSettings())
    (245.0, "web's bake 5 min from 09:02 UTC ends at 09:07 UTC")
    """
    due: list[tuple[datetime, str]] = []
    for name, rollout in rollouts.items():
        if settled(rollout, settings.get(name)):
            continue
        nxt = next_step(rollout, settings.get(name))
        if nxt.at is not None:
            due.append((nxt.at, f"{name}'s {nxt.why} ends at {nxt.at:%H:%M} UTC" if nxt.at > now else f"{name}: {nxt.why}"))
    if not due:
        return drive.max_sleep_s, "no step time known"
    at, why = min(due, key=lambda d: d[0])
    seconds = (at - now).total_seconds() + drive.bake_slack_s
    return max(drive.min_interval_s, min(drive.max_sleep_s, seconds)), why


def _outcome_of(rollouts: Mapping[str, Rollout]) -> Outcome:
    phases = {r.phase for r in rollouts.values()}
    if ABORTED in phases:
        return Outcome.ABORTED
    if PAUSED in phases:
        return Outcome.PAUSED
    return Outcome.STABLE


def drive_stack(workspace: StackWorkspace, *, clock: Clock, sleep: Sleep, settings: DriveSettings,
                say: Callable[[str], None], warn: Callable[[str], None],
                log: Callable[[str], None] | None = None) -> StackOutcome:
    """Drive one stack until it settles, stalls, fails or runs out of time."""
    started = clock()
    deadline = started + timedelta(seconds=settings.timeout_s)
    config = workspace.config()
    notifier = notifier_for(config, warn)
    configured = service_settings(config)
    before = rollouts_of(workspace.outputs())
    stalled: dict[str, int] = {}
    say(f"drive {workspace.name}: {len(configured)} service(s), started {started:%H:%M:%S} UTC")
    for number in range(1, settings.max_runs + 1):
        run_at = clock()
        due = {name: r for name, r in before.items()
               if not settled(r, configured.get(name)) and (at := next_step(r, configured.get(name)).at) is not None and at <= run_at}
        try:
            check_pending(workspace)
            up_with_lock_wait(workspace, clock=clock, sleep=sleep, lock=settings.lock, say=say, log=log)
            failure = None
        except UpdateFailed as failed:
            failure = failed
        except CutoverToolError as problem:
            warn(f"drive {workspace.name}: {problem}")
            return StackOutcome(workspace.name, Outcome.FAILED, number - 1, started, clock(), before, configured, str(problem))
        after = rollouts_of(workspace.outputs())
        configured = service_settings(workspace.config())  # an operator may change a version or a bake mid-drive
        notifier.send(detect_events(workspace.name, before, after, clock()))
        say(f"run {number} ({run_at:%H:%M:%S} UTC)" + (" — the update failed" if failure else ""))
        for rollout in after.values():
            say(run_line(rollout))
        if failure is not None:
            warn(f"drive {workspace.name}: {failure}")
            return StackOutcome(workspace.name, Outcome.FAILED, number, started, clock(), after, configured, str(failure))
        for name, rollout in after.items():
            unchanged = name in due and before[name].fingerprint() == rollout.fingerprint()
            stalled[name] = stalled.get(name, 0) + 1 if unchanged else 0
        before = after
        if all(settled(r, configured.get(n)) for n, r in after.items()):
            return StackOutcome(workspace.name, _outcome_of(after), number, started, clock(), after, configured)
        stuck = sorted(n for n, count in stalled.items() if count >= settings.max_stalled_runs)
        if stuck:
            note = "; ".join(f"{n} did not move in {stalled[n]} runs although nothing waits: {after[n].reason}" for n in stuck)
            return StackOutcome(workspace.name, Outcome.GAVE_UP, number, started, clock(), after, configured, note)
        wait, why = wait_seconds(after, configured, clock(), settings)
        if clock() + timedelta(seconds=wait) > deadline:
            return StackOutcome(workspace.name, Outcome.GAVE_UP, number, started, clock(), after, configured,
                                f"the next run ({why}) would come after the {duration(settings.timeout_s)} limit")
        say(f"  waiting {duration(wait)}: {why}")
        sleep(wait)
    return StackOutcome(workspace.name, Outcome.GAVE_UP, settings.max_runs, started, clock(), before, configured,
                        f"{settings.max_runs} runs and rollouts are still in flight")


def summary(outcomes: Sequence[StackOutcome], now: datetime) -> list[str]:
    """The end-of-drive report: per stack and service where it ended, and what to do next."""
    lines = ["", "summary"]
    for result in outcomes:
        lines.append(f"  {result.stack}: {result.outcome.name.lower().replace('_', ' ')} after {result.runs} run(s), "
                     f"{result.started:%H:%M} -> {result.finished:%H:%M} UTC")
        for name, rollout in result.rollouts.items():
            lines.append(f"    {name:<10} {rollout.phase:<11} {_where(result.stack, rollout, now)}")
        if result.note:
            lines.append(f"    note: {result.note.splitlines()[0]}")
    worst = worst_outcome(outcomes)
    lines.append(f"result: {worst.name.lower().replace('_', ' ')} (exit {int(worst)})")
    return lines


def _where(stack: str, rollout: Rollout, now: datetime) -> str:
    color_share = f"{rollout.weights.get(rollout.stable_color or 'blue', 0)} %"
    if rollout.phase == STABLE:
        version, open_ = rollback_window(rollout, now)
        undo = (f"; until {rollout.rollback_until:%H:%M} UTC `{TOOL} undo {rollout.service} --stack {stack}` "
                f"switches back to {version} in one run" if open_ else "")
        return f"{rollout.stable_version} on {rollout.stable_color} ({color_share}){undo}"
    if rollout.phase == PAUSED:
        return (f"{rollout.candidate_version} waits on {rollout.candidate_color} ({rollout.candidate_share} %): "
                f"`{TOOL} approve {rollout.service} --stack {stack}` (or abort)")
    if rollout.phase == ABORTED:
        return f"{rollout.candidate_version} aborted, {rollout.stable_version} on {rollout.stable_color} ({color_share}): {rollout.reason}"
    return f"{rollout.versions_label()} at {rollout.weights_label()}: {rollout.reason}"


def drive(stacks: Sequence[tuple[str, Callable[[], StackWorkspace]]], *, clock: Clock, sleep: Sleep,
          settings: DriveSettings, say: Callable[[str], None], warn: Callable[[str], None],
          log: Callable[[str], None] | None = None) -> int:
    """Drive each stack in order (opened only when its turn comes); stop at the first that does not end all
    stable. Returns the exit code."""
    outcomes: list[StackOutcome] = []
    for name, open_stack in stacks:
        try:
            result = drive_stack(open_stack(), clock=clock, sleep=sleep, settings=settings, say=say, warn=warn, log=log)
        except CutoverToolError as problem:  # the stack could not be opened or read
            warn(f"drive {name}: {problem}")
            now = clock()
            outcomes.append(StackOutcome(name, Outcome.FAILED, 0, now, now, {}, {}, str(problem)))
            break
        outcomes.append(result)
        if result.outcome is not Outcome.STABLE:
            break
    for line in summary(outcomes, clock()):
        say(line)
    return int(worst_outcome(outcomes))


def worst_outcome(outcomes: Sequence[StackOutcome]) -> Outcome:
    return max((r.outcome for r in outcomes), key=lambda o: SEVERITY[o], default=Outcome.STABLE)
