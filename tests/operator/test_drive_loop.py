"""The drive loop on its own: a scripted workspace and a fake clock (no program, no SDK)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from cutover.drive import DriveSettings, Outcome, drive
from cutover.ports import PendingOperation, StackLocked, UpdateFailed
from cutover.updates import LockPolicy, pending_operations_advice
from tests.operator.records import T0, record


class Clock:
    def __init__(self, start: datetime = T0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


class ScriptedStack:
    """Each `up` takes one step of `script`: an outputs dict (records built at the clock's time), or an exception."""

    def __init__(self, name: str, clock: Clock, before: dict, script: Sequence[Any], *, config: dict | None = None,
                 pending: Sequence[PendingOperation] = ()):
        self.name = name
        self.clock = clock
        self._outputs = {"rollouts": before}
        self.script = list(script)
        self._config = config or {"cutover:services": {"web": {"version": "2", "strategy": {"bakeMinutes": 5}}}}
        self.pending = list(pending)
        self.ups = 0

    def outputs(self):
        return self._outputs

    def config(self):
        return self._config

    def set_service_key(self, service, key, value):
        raise AssertionError("the drive never writes config")

    def remove_service_key(self, service, key):
        raise AssertionError("the drive never writes config")

    def up(self, log=None):
        self.ups += 1
        step = self.script.pop(0)
        if callable(step):
            step = step(self.clock.now)
        if isinstance(step, tuple):  # (exception, outputs the failed run still saved)
            error, outputs = step
            self._outputs = {"rollouts": outputs}
            raise error
        if isinstance(step, Exception):
            raise step
        self._outputs = {"rollouts": step}

    def pending_operations(self):
        return self.pending


def at(**fields: Any) -> Callable[[datetime], dict]:
    """A run's `web` record whose step starts when the run happens."""
    return lambda now: {"web": record(started=now, **fields)}


def run(stacks: Sequence[ScriptedStack], clock: Clock, **settings: Any) -> tuple[int, list[str], list[str]]:
    said, warned = [], []
    options = {"min_interval_s": 30, "max_sleep_s": 900, "bake_slack_s": 5, **settings}
    code = drive([(s.name, lambda s=s: s) for s in stacks], clock=clock, sleep=clock.sleep, settings=DriveSettings(**options),
                 say=said.append, warn=warned.append)
    return code, said, warned


CANARY = [at(phase="progressing", step=0, candidate="2"),
          at(phase="progressing", step=1, blue=90, candidate="2"),
          at(phase="progressing", step=2, blue=50, candidate="2"),
          at(phase="stable", stable="2", stable_color="green", blue=0, rollback="1")]


def test_a_canary_is_driven_to_promotion_sleeping_exactly_through_each_bake():
    clock = Clock()
    stack = ScriptedStack("dev", clock, {"web": record()}, CANARY)
    code, said, _ = run([stack], clock)
    assert code == Outcome.STABLE == 0
    assert stack.ups == 4
    assert clock.sleeps == [30, 5 * 60 + 5, 5 * 60 + 5], "at 0 %: the minimum interval; with traffic: the bake plus slack"
    assert said[-1] == "result: stable (exit 0)"
    assert any(line.startswith("  waiting 5m 05s: web's bake 5 min") for line in said)


def test_another_updates_lock_is_waited_for_and_never_cancelled():
    clock = Clock()
    locked = StackLocked("dev", "[409] Conflict: Another update is currently in progress.")
    stack = ScriptedStack("dev", clock, {"web": record()}, [locked, locked, *CANARY])
    code, said, _ = run([stack], clock, lock=LockPolicy(first_wait_s=15, max_wait_s=60, give_up_after_s=300))
    assert code == 0
    assert clock.sleeps[:2] == [15, 30], "waits double between attempts"
    assert sum("locked by another update; waiting" in line for line in said) == 2


def test_a_lock_that_never_clears_is_given_up_on_within_the_bound_with_the_command_that_releases_it():
    clock = Clock()
    locked = StackLocked("dev", "the stack is currently locked by 1 lock(s)")
    stack = ScriptedStack("dev", clock, {"web": record()}, [locked] * 20)
    code, said, warned = run([stack], clock, lock=LockPolicy(first_wait_s=15, max_wait_s=60, give_up_after_s=200))
    assert code == Outcome.FAILED == 1
    assert clock.sleeps == [15, 30, 60, 60] and stack.ups == 5, "waits double up to 60 s; none would end past 200 s"
    problem = "\n".join(warned)
    assert "cutover never cancels an update" in problem and "pulumi cancel --stack dev --yes" in problem
    assert "the stack is currently locked by 1 lock(s)" in problem


def test_pending_operations_stop_the_drive_before_any_update_and_say_how_to_clear_them():
    clock = Clock()
    pending = [PendingOperation("creating", "urn:pulumi:dev::cutover::aws:lb/targetGroup:TargetGroup::web-green-tg"),
               PendingOperation("updating", "urn:pulumi:dev::cutover::aws:lb/listenerRule:ListenerRule::web-rule")]
    stack = ScriptedStack("dev", clock, {"web": record()}, CANARY, pending=pending)
    code, _, warned = run([stack], clock)
    assert code == 1 and stack.ups == 0
    advice = "\n".join(warned)
    assert "2 pending operation(s)" in advice and "web-green-tg" in advice
    assert "pulumi refresh --stack dev --yes --clear-pending-creates" in advice
    assert "--import-pending-creates <urn> <id>" in advice


def test_clearing_pending_creates_is_offered_only_when_a_create_is_pending():
    advice = pending_operations_advice("dev", [PendingOperation("updating", "urn:x")])
    assert "pulumi refresh --stack dev --yes" in advice and "--clear-pending-creates" not in advice


def test_an_abort_ends_the_drive_red():
    clock = Clock()
    stack = ScriptedStack("dev", clock, {"web": record()}, [
        at(phase="progressing", step=0, candidate="2"),
        at(phase="aborted", candidate="2", aborted_by="gate", reason="gate aborted: alarms in ALARM: web-5xx")])
    code, said, _ = run([stack], clock)
    assert code == Outcome.ABORTED == 3
    assert any("2 aborted, 1 on blue (100 %): gate aborted: alarms in ALARM: web-5xx" in line for line in said)


def test_a_pause_ends_the_drive_red_and_names_the_approve_command():
    clock = Clock()
    stack = ScriptedStack("staging", clock, {"web": record()}, [at(phase="paused", step=0, candidate="2", strategy="blue-green")])
    code, said, _ = run([stack], clock)
    assert code == Outcome.PAUSED == 4
    assert any("`python -m cutover approve web --stack staging`" in line for line in said)


def test_a_rollout_that_could_move_but_does_not_is_given_up_on():
    clock = Clock()
    holding = at(phase="progressing", step=1, blue=90, candidate="2", reason="holding at 90/10: approve names 1, but the "
                 "version in flight is 2: write approve: 2")
    first = holding(clock.now)
    stack = ScriptedStack("dev", clock, {"web": first["web"]}, [lambda now: first] * 10)
    code, said, _ = run([stack], clock, max_stalled_runs=3)
    assert code == Outcome.GAVE_UP == 5
    assert stack.ups == 4, "the first run came inside the bake (nothing was due); three due runs then held"
    assert any("web did not move in 3 runs although nothing waits: holding at 90/10" in line for line in said)


def test_a_bake_longer_than_the_time_limit_is_waited_in_slices_then_given_up_on():
    clock = Clock()
    at_ten = record("progressing", step=1, blue=90, candidate="2", started=T0)
    stack = ScriptedStack("dev", clock, {"web": record()}, [{"web": at_ten}] * 10,
                          config={"cutover:services": {"web": {"version": "2", "strategy": {"bakeMinutes": 600}}}})
    code, said, _ = run([stack], clock, timeout_s=3600, max_sleep_s=900)
    assert code == Outcome.GAVE_UP
    assert clock.sleeps == [900] * 4, "a run every 15 minutes inside the bake, the last one at the hour; no wait past it"
    assert any("would come after the 1h 00m limit" in line for line in said)


def test_a_failed_update_stops_the_drive_and_still_reports_what_it_applied():
    clock = Clock()
    failed = UpdateFailed("dev", "update", "  error: aws:lb/listenerRule:ListenerRule web-rule: throttled")
    stack = ScriptedStack("dev", clock, {"web": record()}, [
        at(phase="progressing", step=0, candidate="2"),
        lambda now: (failed, {"web": record("progressing", step=0, candidate="2")})])
    code, said, warned = run([stack], clock)
    assert code == 1
    assert "run 2 (09:00:30 UTC) — the update failed" in said
    assert any("throttled" in line for line in warned)


def test_stacks_are_driven_in_order_and_a_red_one_stops_the_next():
    clock = Clock()
    staging = ScriptedStack("staging", clock, {"web": record()}, [
        at(phase="progressing", step=0, candidate="2"), at(phase="aborted", candidate="2", aborted_by="config")])
    opened = []

    def prod():
        opened.append("prod")
        raise AssertionError("prod must not be touched after a red staging")

    said: list[str] = []
    code = drive([("staging", lambda: staging), ("prod", prod)], clock=clock, sleep=clock.sleep,
                 settings=DriveSettings(), say=said.append, warn=said.append)
    assert code == 3 and opened == []
