"""`python -m cutover`: the operator's command line.

    python -m cutover status [STACK] [--watch [SECONDS]] [--ascii] [--json]
    python -m cutover approve|abort|promote|undo SERVICE [--stack S] [--no-up] [--skip-preview] [--verbose]
    python -m cutover drive [STACK ...] [--timeout MIN] [--max-runs N] [--min-interval S] [--max-sleep S]
                            [--lock-timeout S] [--skip-preview] [--verbose]

Exit codes: 0 done / all stable; 1 a failed update or a problem to look at; 2 usage error or a refused
command (nothing written); 3 a rollout aborted; 4 a rollout paused (waiting for approve); 5 drive gave up.
The stack is opened through the Automation API (cutover/workspace.py); tests pass `open_workspace`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from typing import Callable, Sequence, TextIO

from cutover.commands import OperatorCommand, run_operator_command
from cutover.drive import DriveSettings, drive
from cutover.ports import CutoverToolError, StackWorkspace
from cutover.records import rollouts_of, service_settings
from cutover.status import render_status, status_document
from cutover.updates import Clock, LockPolicy, Sleep

OpenWorkspace = Callable[[str | None, argparse.Namespace], StackWorkspace]
CLEAR_SCREEN = "\x1b[2J\x1b[H"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _open_with_automation_api(stack: str | None, args: argparse.Namespace) -> StackWorkspace:
    from cutover.workspace import open_stack  # the only module that imports pulumi.automation

    return open_stack(stack, preview_first=not getattr(args, "skip_preview", False))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m cutover", description="Operate cutover rollouts: status, approve, "
                                  "abort, promote, undo, drive.")
    commands = top.add_subparsers(dest="command", required=True)

    status = commands.add_parser("status", help="each service's rollout: phase, step, weights, versions, gate, next step")
    status.add_argument("stack", nargs="?", help="stack name (default: the selected stack)")
    status.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS",
                        help="refresh every SECONDS (default 10) until interrupted")
    status.add_argument("--ascii", action="store_true", help="bars in ASCII")
    status.add_argument("--json", action="store_true",
                        help="print it once as JSON (for CI: `paused` lists the services waiting for approve)")

    for command in OperatorCommand:
        help_text = {
            OperatorCommand.APPROVE: "approve the version in flight (past a pause)",
            OperatorCommand.ABORT: "abort the version in flight (all traffic back to stable next run)",
            OperatorCommand.PROMOTE: "promote the version in flight to 100 %% in the next run",
            OperatorCommand.UNDO: "set version back to rollbackVersion (one run while the rollback window is open)",
        }[command]
        sub = commands.add_parser(command.value, help=help_text)
        sub.add_argument("service")
        sub.add_argument("--stack", help="stack name (default: the selected stack)")
        sub.add_argument("--no-up", action="store_true", help="only set the config key; do not run `up`")
        _update_options(sub)

    run = commands.add_parser("drive", help="run `up` until every rollout is stable, paused or aborted")
    run.add_argument("stacks", nargs="*", metavar="STACK", help="stacks, driven in this order (default: the selected stack)")
    run.add_argument("--timeout", type=float, default=360.0, metavar="MINUTES", help="per stack (default 360)")
    run.add_argument("--max-runs", type=int, default=200, help="per stack (default 200)")
    run.add_argument("--min-interval", type=float, default=30.0, metavar="SECONDS", help="shortest wait between runs (default 30)")
    run.add_argument("--max-sleep", type=float, default=900.0, metavar="SECONDS", help="longest single wait (default 900)")
    run.add_argument("--max-stalled-runs", type=int, default=5, help="runs in a row without a due move before giving up (default 5)")
    _update_options(run)
    return top


def _update_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--lock-timeout", type=float, default=900.0, metavar="SECONDS",
                     help="how long to wait for another update's lock (default 900); the tool never cancels it")
    sub.add_argument("--skip-preview", action="store_true",
                     help="update without the policy-checked preview first (as the Automation API's up does)")
    sub.add_argument("--verbose", action="store_true", help="stream pulumi's output")


def main(argv: Sequence[str] | None = None, *, open_workspace: OpenWorkspace = _open_with_automation_api,
         clock: Clock = _utc_now, sleep: Sleep = time.sleep, stdout: TextIO | None = None,
         stderr: TextIO | None = None, watch_limit: int | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    def warn(line: str) -> None:
        print(line, file=err, flush=True)

    top = parser()
    args = top.parse_args(argv)
    if getattr(args, "watch", None) is not None and args.watch <= 0:
        top.error("--watch takes a number of seconds above 0")
    if getattr(args, "json", False) and args.watch is not None:
        top.error("--json prints the status once; it does not combine with --watch")
    log = say if getattr(args, "verbose", False) else None
    lock = LockPolicy(give_up_after_s=getattr(args, "lock_timeout", 900.0))
    try:
        if args.command == "status":
            workspace = open_workspace(args.stack, args)
            if args.json:
                document = status_document(workspace.name, rollouts_of(workspace.outputs()),
                                           service_settings(workspace.config()), clock())
                print(json.dumps(document, indent=2), file=out, flush=True)
                return 0
            return _status(workspace, args, clock, sleep, out, watch_limit)
        if args.command == "drive":
            settings = DriveSettings(min_interval_s=args.min_interval, max_sleep_s=args.max_sleep, max_runs=args.max_runs,
                                     timeout_s=args.timeout * 60, max_stalled_runs=args.max_stalled_runs, lock=lock)
            names = args.stacks or [None]
            stacks = [(name or "(selected stack)", lambda name=name: open_workspace(name, args)) for name in names]
            return drive(stacks, clock=clock, sleep=sleep, settings=settings, say=say, warn=warn, log=log)
        workspace = open_workspace(args.stack, args)
        return run_operator_command(workspace, OperatorCommand(args.command), args.service, run_up=not args.no_up,
                                    clock=clock, sleep=sleep, lock=lock, say=say, warn=warn, log=log)
    except CutoverToolError as problem:
        warn(f"cutover {args.command}: {problem}")
        return 1
    except KeyboardInterrupt:
        # Ctrl-C reaches the pulumi child process too, which stops a running update gracefully.
        warn(f"cutover {args.command}: interrupted; a running `pulumi up` got the interrupt too. Check with "
             f"`python -m cutover status` before going on")
        return 130


def _status(workspace: StackWorkspace, args: argparse.Namespace, clock: Clock, sleep: Sleep, out: TextIO,
            watch_limit: int | None) -> int:
    ascii_only = args.ascii or not _can_encode(out, "█░")
    try:
        return _show(workspace, args, clock, sleep, out, watch_limit, ascii_only)
    except KeyboardInterrupt:  # how a --watch ends
        return 0


def _show(workspace: StackWorkspace, args: argparse.Namespace, clock: Clock, sleep: Sleep, out: TextIO,
          watch_limit: int | None, ascii_only: bool) -> int:
    shown = 0
    while True:
        text = render_status(workspace.name, rollouts_of(workspace.outputs()), service_settings(workspace.config()),
                             clock(), ascii_only=ascii_only)
        if args.watch is not None and out.isatty():
            out.write(CLEAR_SCREEN)
        print(text, file=out, flush=True)
        shown += 1
        if args.watch is None or (watch_limit is not None and shown >= watch_limit):
            return 0
        print(f"\n(refreshing every {args.watch:g} s; Ctrl-C to stop)", file=out, flush=True)
        sleep(args.watch)


def _can_encode(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False
