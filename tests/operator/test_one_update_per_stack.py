"""Two drivers on one stack at once (two CI jobs, or a CI job and a person): the backend's per-stack lock lets one
update run at a time, and `drive` waits for the other's lock instead of failing or cancelling it.

The single-driver side is covered elsewhere: tests/operator/test_drive_loop.py
(`test_another_updates_lock_is_waited_for_and_never_cancelled`, `test_a_lock_that_never_clears_is_given_up_on_...`)
with a scripted stack, and tests/operator/test_operator_end_to_end.py (`test_a_lock_held_by_another_update_...`) with
conflicts the stand-in plays. Here two real drives run in threads against one stand-in stack whose `up` takes a
lock as a backend does: an update that finds it held fails with the Pulumi Cloud conflict message, which the SDK
classifies as `ConcurrentUpdateError` (Pulumi Cloud does not lock for a preview; the stand-in does not either).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pulumi.automation import CommandResult
from pulumi.automation.errors import ConcurrentUpdateError, create_command_error

from cutover.cli import main
from cutover.workspace import AutomationWorkspace, policy_config_for
from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.operator.standin import CONFLICT, StandInAutoStack

FIRST_COLLISION_WAIT_S = 10.0
"""How long the first update holds the lock waiting for the other driver to run into it (it does within ms)."""


@dataclass
class Backend:
    """One stack as a backend keeps it: an update lock, and what happened under it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: threading.Lock = field(default_factory=threading.Lock)
    """The mock engine keeps global runtime state: one program run at a time in this process (not part of the model)."""
    clock: threading.Lock = field(default_factory=threading.Lock)
    updates: list[tuple[str, float, float]] = field(default_factory=list)
    """(driver, start, end) of each update that held the lock, in real time."""
    refused: list[str] = field(default_factory=list)
    running: int = 0
    most_running: int = 0
    collided: threading.Event = field(default_factory=threading.Event)


class LockingStack(StandInAutoStack):
    """The stand-in stack, with a backend's lock around each update."""

    def __init__(self, rehearsal: Stack, backend: Backend, driver: str):
        super().__init__(rehearsal, "dev")
        self.backend = backend
        self.driver = driver

    def preview(self, **options: Any) -> None:
        with self.backend.engine:
            super().preview(**options)

    def up(self, **options: Any) -> None:
        backend = self.backend
        if not backend.lock.acquire(blocking=False):
            self.calls.append(("up", options))
            backend.refused.append(self.driver)
            backend.collided.set()
            error = create_command_error(CommandResult(stdout="", stderr=CONFLICT, code=255))
            assert isinstance(error, ConcurrentUpdateError), "the SDK classifies the conflict as a lock"
            raise error
        started = time.monotonic()
        backend.running += 1
        backend.most_running = max(backend.most_running, backend.running)
        try:
            # The first update keeps the lock until the other driver has run into it: a collision every time.
            backend.collided.wait(timeout=FIRST_COLLISION_WAIT_S)
            with backend.engine:
                super().up(**options)
        finally:
            backend.running -= 1
            backend.updates.append((self.driver, started, time.monotonic()))
            backend.lock.release()


def run_driver(rehearsal: Stack, backend: Backend, driver: str, results: dict[str, tuple[int, str, str]]) -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())  # the SDK's mock run needs a loop on this thread
    stack = LockingStack(rehearsal, backend, driver)

    def sleep(seconds: float) -> None:
        time.sleep(0.01)  # let the other driver run
        with backend.clock:
            rehearsal.advance(seconds / 60)

    out, err = io.StringIO(), io.StringIO()
    code = main(["drive", "dev"],
                open_workspace=lambda name, args: AutomationWorkspace(stack, policy_config=policy_config_for("dev")),
                clock=lambda: rehearsal.now, sleep=sleep, stdout=out, stderr=err)
    results[driver] = (code, out.getvalue(), err.getvalue())


def test_two_drivers_on_one_stack_never_overlap_their_updates_and_both_end_stable():
    rehearsal = Stack(aws_config({"web": service(bakeMinutes=5)}), stack="dev")
    assert rehearsal.up().result.error is None
    rehearsal.set("cutover:services.web.version", "2")
    backend = Backend()
    results: dict[str, tuple[int, str, str]] = {}
    drivers = [threading.Thread(target=run_driver, args=(rehearsal, backend, name, results), name=f"drive-{name}")
               for name in ("ci-job-1", "ci-job-2")]

    with contextlib.redirect_stdout(io.StringIO()):  # the mock engine's own chatter
        for thread in drivers:
            thread.start()
        for thread in drivers:
            thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in drivers), "both drives end"

    spans = sorted((start, end) for _, start, end in backend.updates)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), "updates never overlap"
    assert backend.most_running == 1
    assert backend.refused, "the drivers did collide on the lock"
    for name, (code, out, err) in results.items():
        assert code == 0, f"{name}: {err}\n{out}"
        assert out.rstrip().endswith("result: stable (exit 0)"), name
    waited = [name for name, (_, out, _) in results.items() if "is locked by another update; waiting" in out]
    assert sorted(set(backend.refused)) == sorted(waited), "each refused update was waited for and retried"
    record = rehearsal.saved_outputs["rollouts"]["web"]
    assert (record["phase"], record["stableVersion"], record["weights"]) == ("stable", "2", {"blue": 0, "green": 100})
