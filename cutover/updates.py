"""One `pulumi up` the way the operator tool runs it: wait out another update's lock, never cancel it.

Pure control flow over the `StackWorkspace` port, a clock and a sleep function; no pulumi import.

A stack whose state still holds operations a killed run left pending is reported with the commands
that clear them. Since pulumi/pulumi#9293 (CLI 3.28) `pulumi up` only warns about pending operations
and goes on; `pulumi refresh` clears pending updates and deletes, but pending CREATEs only when told
what to do with them: interactively, or with `--clear-pending-creates` (drop them from the state) or
`--import-pending-creates <urn> <id>` (adopt the created resource). A non-interactive refresh skips them
(https://www.pulumi.com/docs/iac/troubleshooting/common-issues/interrupted-updates/ ,
https://www.pulumi.com/blog/repairing-state-with-pulumi-refresh/ , the `pulumi refresh` flags in
https://www.pulumi.com/docs/iac/cli/commands/pulumi_refresh/). The same page says to run `pulumi cancel`
first when the interrupted update still shows as running (that is what holds the lock afterwards).
`pulumi stack export` / edit `pending_operations` / `pulumi stack import` remains the manual way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from cutover.ports import CutoverToolError, PendingOperation, StackLocked, StackWorkspace
from cutover.status import duration

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class LockPolicy:
    """How long to wait for another update's lock: waits double from `first_wait_s` up to `max_wait_s`."""

    first_wait_s: float = 15.0
    max_wait_s: float = 60.0
    give_up_after_s: float = 900.0


class LockNotReleased(CutoverToolError):
    """The stack stayed locked longer than the policy allows."""


class PendingOperationsFound(CutoverToolError):
    """The stack's state holds operations an interrupted update left pending."""

    def __init__(self, stack: str, operations: Sequence[PendingOperation]):
        super().__init__(pending_operations_advice(stack, operations))
        self.operations = list(operations)


def pending_operations_advice(stack: str, operations: Sequence[PendingOperation]) -> str:
    """What a killed run left, and the commands that clear it (see the module doc for the sources)."""
    creates = [op for op in operations if op.kind == "creating"]
    lines = [f"stack {stack} has {len(operations)} pending operation(s) left by an interrupted update "
             "(their resources are in an unknown state):"]
    lines += [f"  - {op.kind} {op.urn}" for op in operations]
    lines += [
        "check those resources in the cloud, then clear the state:",
        f"  pulumi cancel --stack {stack} --yes      # only if that update still shows as running; never while one really runs",
        f"  pulumi refresh --stack {stack} --yes     # clears pending updates, deletes and reads",
    ]
    if creates:
        lines += [
            f"  pulumi refresh --stack {stack} --yes --clear-pending-creates   # drops pending creates from the state "
            "(a resource that was in fact created is then unmanaged: delete it, or instead adopt it with",
            f"      pulumi refresh --stack {stack} --yes --import-pending-creates <urn> <id>)",
        ]
    lines.append(f"  (or: pulumi stack export --stack {stack} > state.json, remove `pending_operations`, "
                 f"pulumi stack import --stack {stack} --file state.json)")
    return "\n".join(lines)


def lock_advice(stack: str, waited_s: float, detail: str) -> str:
    return (f"stack {stack} stayed locked by another update for {duration(waited_s)}; cutover never cancels an update.\n"
            f"  wait for that update to finish and run the command again. If no update is running (a killed "
            f"`pulumi up` leaves its lock), release it with\n"
            f"  pulumi cancel --stack {stack} --yes\n"
            f"  then `pulumi refresh --stack {stack}` (the interrupted run may have left pending operations).\n"
            f"  the backend said: {detail}")


def check_pending(workspace: StackWorkspace) -> None:
    """PendingOperationsFound when the stack's state holds interrupted operations."""
    operations = list(workspace.pending_operations())
    if operations:
        raise PendingOperationsFound(workspace.name, operations)


def up_with_lock_wait(workspace: StackWorkspace, *, clock: Clock, sleep: Sleep, lock: LockPolicy,
                      say: Callable[[str], None], log: Callable[[str], None] | None = None) -> None:
    """`workspace.up()`, retried while another update holds the lock, for at most `lock.give_up_after_s`."""
    started = clock()
    wait = lock.first_wait_s
    while True:
        try:
            workspace.up(log)
            return
        except StackLocked as err:
            waited = (clock() - started).total_seconds()
            if waited + wait > lock.give_up_after_s:
                raise LockNotReleased(lock_advice(workspace.name, waited, err.detail)) from err
            say(f"  stack {workspace.name} is locked by another update; waiting {duration(wait)} and trying again "
                f"(gives up after {duration(lock.give_up_after_s)})")
            sleep(wait)
            wait = min(wait * 2, lock.max_wait_s)
