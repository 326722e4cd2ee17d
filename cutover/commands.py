"""`approve`, `abort`, `promote` and `undo`: which config key to set, to what, and then one `up`.

`plan_change` is pure: it reads the version in flight from the stack's own outputs (so a typo cannot
name the wrong version) and refuses, with a reason, when the command cannot act. `run_operator_command`
applies the change through the `StackWorkspace` port. No pulumi import.

    approve/abort/promote -> cutover:services.<svc>.approve|abort|promote = <candidateVersion>
    undo                  -> cutover:services.<svc>.version = <rollbackVersion>
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Callable

from cutover.events import detect_events
from cutover.notify import notifier_for
from cutover.ports import CutoverToolError, StackWorkspace, UpdateFailed
from cutover.records import (ABORTED, PAUSED, PROGRESSING, STABLE, Rollout, ServiceSettings, rollback_window, rollouts_of,
                             service_settings)
from cutover.status import duration, run_line
from cutover.updates import (Clock, LockNotReleased, LockPolicy, PendingOperationsFound, Sleep, check_pending,
                             up_with_lock_wait)


class OperatorCommand(str, Enum):
    APPROVE = "approve"
    ABORT = "abort"
    PROMOTE = "promote"
    UNDO = "undo"


class Refused(CutoverToolError):
    """The command cannot act on this service now; the message says why and what would."""


@dataclass(frozen=True)
class ConfigChange:
    """One key of `cutover:services.<service>` to set (after removing `remove`), and what it will do."""

    service: str
    key: str
    value: str
    explanation: str
    remove: tuple[str, ...] = ()
    already_set: bool = False

    @property
    def config_key(self) -> str:
        return f"cutover:services.{self.service}.{self.key}"


def plan_change(command: OperatorCommand, service: str, rollout: Rollout | None, settings: ServiceSettings | None,
                now: datetime) -> ConfigChange:
    """The config change `command` makes for `service`, or Refused (see the tests' table for every case)."""
    if rollout is None:
        raise Refused(f"{service}: the stack's `rollouts` output has no record of it (not deployed yet, or a typo)")
    if command is OperatorCommand.UNDO:
        return _undo(rollout, settings, now)
    candidate = rollout.candidate_version
    if rollout.phase == STABLE or candidate is None:
        raise Refused(f"{service}: nothing in flight (stable, {rollout.stable_version} on {rollout.stable_color}): "
                      f"there is no version to {command.value}")
    if rollout.phase == ABORTED:
        by = f" by the {rollout.aborted_by}" if rollout.aborted_by else ""
        raise Refused(f"{service}: {candidate} was aborted{by} and all traffic is on {rollout.stable_version}; "
                      f"{command.value} cannot resume it. To retry {candidate}, set abort: {candidate}, run, then remove it; "
                      "or set a new version")
    if settings is not None and settings.version is not None and settings.version != candidate:
        raise Refused(f"{service}: version {settings.version} is configured but {candidate} is in flight: the next run "
                      f"replaces {candidate} with {settings.version}. Run `up` first, or set version back to {candidate}")
    key = command.value
    current = getattr(settings, key, None) if settings is not None else None
    remove: tuple[str, ...] = ()
    if command is OperatorCommand.PROMOTE and settings is not None and settings.abort == candidate:
        raise Refused(f"{service}: abort: {candidate} is set; a promotion never passes an abort. Remove abort first")
    if command is OperatorCommand.ABORT and settings is not None and settings.promote == candidate:
        remove = ("promote",)  # promote and abort naming one version is a config error: abort wins
    explanation = {
        OperatorCommand.APPROVE: (f"approves {candidate}" + (": the next run moves past the pause" if rollout.phase == PAUSED
                                  else " (not paused now: the approval counts if it pauses)")),
        OperatorCommand.ABORT: (f"aborts {candidate}: the next run returns all traffic to {rollout.stable_version} "
                                f"on {rollout.stable_color}"),
        OperatorCommand.PROMOTE: (f"promotes {candidate} to 100 % in the next run, past the remaining steps and bake "
                                  "(never past an abort, a gate abort or a firing alarm)"),
    }[command]
    return ConfigChange(service, key, candidate, explanation, remove, already_set=current == candidate and not remove)


def _undo(rollout: Rollout, settings: ServiceSettings | None, now: datetime) -> ConfigChange:
    service = rollout.service
    if rollout.phase in (PROGRESSING, PAUSED):
        raise Refused(f"{service}: {rollout.candidate_version} is in flight; undo reverts a finished promotion. "
                      f"To return all traffic to {rollout.stable_version}, use: abort {service}")
    if rollout.phase == ABORTED:
        raise Refused(f"{service}: {rollout.candidate_version} was aborted: traffic is already all on {rollout.stable_version}. "
                      f"To leave {rollout.candidate_version} for good, set version: {rollout.stable_version}")
    version, window_open = rollback_window(rollout, now)
    if version is None:
        raise Refused(f"{service}: no earlier version recorded (rollbackVersion is empty): nothing to undo")
    if settings is not None and settings.version not in (None, rollout.stable_version, version):
        raise Refused(f"{service}: version {settings.version} is configured and not deployed yet; undo would discard it. "
                      f"Set version yourself")
    if window_open:
        left = duration((rollout.rollback_until - now).total_seconds())
        explanation = (f"sets version back to {version}: the rollback window is open until {rollout.rollback_until:%H:%M} UTC "
                       f"({left} left), so the next run moves all traffic back to {version} in one run")
    else:
        closed = f" at {rollout.rollback_until:%H:%M} UTC" if rollout.rollback_until else ""
        explanation = (f"sets version back to {version}: the rollback window closed{closed}, so {version} rolls out as an "
                       "ordinary rollout, step by step (alarms are not consulted)")
    return ConfigChange(service, "version", version, explanation,
                        already_set=settings is not None and settings.version == version)


def run_operator_command(workspace: StackWorkspace, command: OperatorCommand, service: str, *, run_up: bool,
                         clock: Clock, sleep: Sleep, lock: LockPolicy, say: Callable[[str], None],
                         warn: Callable[[str], None], log: Callable[[str], None] | None = None) -> int:
    """Set the key, then (unless `run_up` is False) one `up`; notifications for the phase changes it made.

    Exit codes: 0 done, 1 the update failed, 2 refused (nothing written).
    """
    before_outputs = workspace.outputs()
    before = rollouts_of(before_outputs)
    config = workspace.config()
    settings = service_settings(config).get(service)
    try:
        change = plan_change(command, service, before.get(service), settings, clock())
    except Refused as refusal:
        warn(f"cutover {command.value}: refused: {refusal}")
        return 2
    for key in change.remove:
        workspace.remove_service_key(service, key)
        say(f"removed cutover:services.{service}.{key} (it named the version being aborted)")
    if change.already_set:
        say(f"{change.config_key} is already {change.value}; it {change.explanation}")
    else:
        workspace.set_service_key(service, change.key, change.value)
        say(f"set {change.config_key} = {change.value}: {change.explanation}")
    if not run_up:
        say(f"not running `up` (--no-up): the change applies at the next `pulumi up` of stack {workspace.name}")
        return 0
    try:
        check_pending(workspace)
    except PendingOperationsFound as found:
        # An operator at the keyboard, possibly aborting: say it, and go on as `pulumi up` itself does.
        warn(f"warning: {found}")
    notifier = notifier_for(config, warn)
    code = 0
    try:
        up_with_lock_wait(workspace, clock=clock, sleep=sleep, lock=lock, say=say, log=log)
    except (UpdateFailed, LockNotReleased) as failed:
        kept = "" if change.already_set else f"\n  {change.config_key} = {change.value} stays set: the next `up` tries again"
        warn(f"cutover {command.value}: {failed}{kept}")
        code = 1
    after = rollouts_of(workspace.outputs())
    notifier.send(detect_events(workspace.name, before, after, clock()))
    if service in after:
        say(run_line(after[service]))
    return code
