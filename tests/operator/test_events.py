"""Phase changes between two consecutive outputs: which event each transition raises."""

from __future__ import annotations

import pytest

from cutover.events import EventKind, classify, detect_events
from tests.operator.records import T0, rollout

STABLE_1 = rollout("stable", stable="1")
AT_0 = rollout("progressing", step=0, blue=100, candidate="2")
AT_10 = rollout("progressing", step=1, blue=90, candidate="2")
AT_50 = rollout("progressing", step=2, blue=50, candidate="2")
PAUSED_2 = rollout("paused", step=0, blue=100, candidate="2", strategy="blue-green")
PAUSED_AT_10 = rollout("paused", step=1, blue=90, candidate="2", inconclusive=3)
ABORTED_2 = rollout("aborted", blue=100, candidate="2", aborted_by="gate")
PROMOTED_2 = rollout("stable", stable="2", stable_color="green", blue=0, rollback="1")
ROLLED_BACK_1 = rollout("stable", stable="1", blue=100, cause="rollback")


@pytest.mark.parametrize("case, before, after, kind", [
    ("a new version deployed at 0 % has started", STABLE_1, AT_0, EventKind.STARTED),
    ("its first traffic is an advance", AT_0, AT_10, EventKind.ADVANCED),
    ("each further step is an advance", AT_10, AT_50, EventKind.ADVANCED),
    ("a blue-green start that waits for approve is a pause", STABLE_1, PAUSED_2, EventKind.PAUSED),
    ("a canary paused by inconclusive gates is a pause", AT_10, PAUSED_AT_10, EventKind.PAUSED),
    ("approved and moving again is an advance", PAUSED_AT_10, AT_50, EventKind.ADVANCED),
    ("an abort", AT_50, ABORTED_2, EventKind.ABORTED),
    ("the last step promotes", AT_50, PROMOTED_2, EventKind.PROMOTED),
    ("a blue-green approval promotes in one run", PAUSED_2, PROMOTED_2, EventKind.PROMOTED),
    ("version set back mid-rollout is a rollback", AT_50, STABLE_1, EventKind.ROLLED_BACK),
    ("the one-run undo after a promotion is a rollback", PROMOTED_2, ROLLED_BACK_1, EventKind.ROLLED_BACK),
    ("aborted, then version set back to stable, is a rollback", ABORTED_2, STABLE_1, EventKind.ROLLED_BACK),
    ("removing abort deploys the candidate again: started", ABORTED_2, AT_0, EventKind.STARTED),
    ("a newer version superseding the one in flight starts again", AT_10, rollout("progressing", step=0, candidate="3"),
     EventKind.STARTED),
])
def test_each_phase_change_raises_one_event(case, before, after, kind):
    assert classify(before, after) is kind, case


@pytest.mark.parametrize("case, before, after", [
    ("a run inside the bake changes nothing", AT_10, AT_10),
    ("a stable service stays stable", STABLE_1, STABLE_1),
    ("a pause that goes on", PAUSED_2, PAUSED_2),
    ("an abort that stays aborted", ABORTED_2, ABORTED_2),
    ("a first deploy (no previous record)", None, STABLE_1),
])
def test_runs_that_change_no_phase_raise_nothing(case, before, after):
    assert classify(before, after) is None, case


def test_events_carry_what_a_webhook_needs():
    [event] = detect_events("dev", {"web": AT_50}, {"web": PROMOTED_2, "api": rollout("stable", "api")}, T0)
    body = event.as_json()
    assert body["stack"] == "dev" and body["service"] == "web" and body["event"] == "promoted"
    assert (body["fromPhase"], body["toPhase"]) == ("progressing", "stable")
    assert body["weightsBefore"] == {"blue": 50, "green": 50} and body["weights"] == {"blue": 0, "green": 100}
    assert body["stableVersion"] == "2" and body["versions"] == {"green": "2", "blue": "2"}
    assert body["time"] == "2026-01-05T09:00:00Z" and body["reason"] == "stable"
    assert event.headline() == "dev/web: promoted 2 (blue 0 / green 100)"
