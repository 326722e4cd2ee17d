"""When the next run may move a rollout, when a stack has settled, and how long the drive sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cutover.drive import DriveSettings, wait_seconds
from cutover.records import DEFAULT_BAKE_MINUTES, ServiceSettings, next_step, rollback_window, service_settings, settled
from tests.operator.records import T0, rollout

BAKE5 = ServiceSettings(version="2", bake_minutes=5)


@pytest.mark.parametrize("case, ro, settings, at, why", [
    ("a candidate at 0 % is due at once: nothing to bake",
     rollout("progressing", step=0, blue=100, candidate="2"), BAKE5, T0, "nothing to bake"),
    ("a candidate with traffic waits out the bake from its step's start",
     rollout("progressing", step=1, blue=90, candidate="2"), BAKE5, T0 + timedelta(minutes=5), "bake 5 min from 09:00 UTC"),
    ("a service without bakeMinutes waits the program's default",
     rollout("progressing", step=1, blue=90, candidate="2"), None, T0 + timedelta(minutes=DEFAULT_BAKE_MINUTES), "bake 5 min"),
    ("a paused rollout waits for a person, not for a time",
     rollout("paused", step=0, candidate="2", strategy="blue-green"), BAKE5, None, "waiting for approve: 2"),
    ("an aborted rollout is moved by no run",
     rollout("aborted", candidate="2", aborted_by="gate"), BAKE5, None, "aborted by gate"),
    ("a stable service whose configured version differs is started by the next run",
     rollout("stable"), ServiceSettings(version="2"), T0, "2 is configured"),
    ("a stable service at its configured version has nothing in flight",
     rollout("stable", stable="2"), ServiceSettings(version="2"), None, "nothing in flight"),
])
def test_next_step(case, ro, settings, at, why):
    nxt = next_step(ro, settings)
    assert nxt.at == at, case
    assert why in nxt.why, case


@pytest.mark.parametrize("case, ro, settings, expected", [
    ("stable at the configured version has settled", rollout("stable", stable="2"), ServiceSettings(version="2"), True),
    ("stable while another version is configured has not", rollout("stable"), ServiceSettings(version="2"), False),
    ("paused has settled (it needs a person)", rollout("paused", candidate="2"), BAKE5, True),
    ("aborted has settled", rollout("aborted", candidate="2"), BAKE5, True),
    ("progressing has not", rollout("progressing", step=1, blue=90, candidate="2"), BAKE5, False),
])
def test_settled(case, ro, settings, expected):
    assert settled(ro, settings) is expected, case


def test_the_drive_sleeps_until_the_earliest_bake_ends_plus_a_little_slack():
    rollouts = {
        "web": rollout("progressing", step=1, blue=90, candidate="2", started=T0),
        "api": rollout("progressing", "api", step=1, blue=90, candidate="2", started=T0 + timedelta(minutes=2)),
    }
    seconds, why = wait_seconds(rollouts, {"web": BAKE5, "api": BAKE5}, T0 + timedelta(minutes=1), DriveSettings(bake_slack_s=5))
    assert seconds == 4 * 60 + 5
    assert why.startswith("web's bake")


@pytest.mark.parametrize("case, minutes_since_start, bake, expected", [
    ("a step due now still waits the minimum interval", 10, 5, 30.0),
    ("a long bake is waited in bounded slices", 0, 120, 900.0),
])
def test_waits_are_bounded(case, minutes_since_start, bake, expected):
    ro = {"web": rollout("progressing", step=1, blue=90, candidate="2")}
    seconds, _ = wait_seconds(ro, {"web": ServiceSettings("2", bake)}, T0 + timedelta(minutes=minutes_since_start),
                              DriveSettings(min_interval_s=30, max_sleep_s=900))
    assert seconds == expected, case


def test_settled_services_do_not_keep_the_drive_awake():
    ro = {"web": rollout("paused", candidate="2"), "api": rollout("stable", "api", stable="2")}
    seconds, why = wait_seconds(ro, {"web": BAKE5, "api": ServiceSettings("2")}, T0, DriveSettings(max_sleep_s=600))
    assert (seconds, why) == (600, "no step time known")


@pytest.mark.parametrize("case, until, now, expected", [
    ("inside the window a rollback is one run", T0 + timedelta(minutes=30), T0 + timedelta(minutes=29), ("1", True)),
    ("after it, the version is still known but the window is closed", T0 + timedelta(minutes=30), T0 + timedelta(minutes=31), ("1", False)),
    ("a record without rollbackUntil has no window", None, T0, ("1", False)),
])
def test_rollback_window(case, until, now, expected):
    assert rollback_window(rollout("stable", stable="2", rollback="1", rollback_until=until), now) == expected, case


def test_service_settings_read_the_json_object_and_default_the_bake():
    settings = service_settings({"cutover:services": '{"web": {"version": "1.28", "strategy": {"kind": "canary"}},'
                                                     ' "admin": {"version": 2, "approve": "2", "strategy": {"bakeMinutes": 0}}}'})
    assert settings["web"] == ServiceSettings(version="1.28", bake_minutes=DEFAULT_BAKE_MINUTES)
    assert settings["admin"] == ServiceSettings(version="2", bake_minutes=0, approve="2"), "a number the CLI stored is compared as text"
