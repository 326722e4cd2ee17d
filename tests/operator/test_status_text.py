"""The `status` table and the per-run lines: what an operator reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cutover.records import ServiceSettings
from cutover.status import duration, render_status, run_line, weight_bar
from tests.operator.records import T0, rollout


@pytest.mark.parametrize("seconds, text", [(-3, "now"), (0, "now"), (45, "45s"), (245, "4m 05s"), (3900, "1h 05m"),
                                           (183600, "2d 03h")])
def test_durations_read_like_a_person_writes_them(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize("blue, bar", [(100, "#" * 10), (90, "#" * 9 + "."), (50, "#" * 5 + "." * 5), (0, "." * 10)])
def test_the_bar_gives_blue_the_left_and_green_the_right(blue, bar):
    assert weight_bar(blue, width=10, ascii_only=True) == bar


def test_a_canary_mid_rollout_shows_weights_versions_gate_next_step_and_no_rollback_yet():
    web = rollout("progressing", step=1, blue=90, candidate="1.28", stable="1.27", started=T0, reason="advanced to step 1")
    text = render_status("dev", {"web": web}, {"web": ServiceSettings("1.28", bake_minutes=5)}, T0 + timedelta(minutes=1),
                         ascii_only=True)
    assert text.splitlines() == [
        "stack dev at 2026-01-05 09:01:00 UTC",
        "",
        "web — canary, progressing, step 1 of 3",
        "  weights    blue  90 ##################..  10 green",
        "  versions   blue 1.27 (stable, 2 replicas) · green 1.28 (candidate, 2 replicas)",
        "  gate       advance: passed",
        "  next step  in 4m 00s, at 09:05 UTC (bake 5 min from 09:00 UTC)",
        "  rollback   -",
        "  reason     advanced to step 1",
    ]


def test_a_paused_rollout_says_how_to_approve_it():
    admin = rollout("paused", "admin", step=0, candidate="2", strategy="blue-green")
    text = render_status("staging", {"admin": admin}, {}, T0)
    assert "next step  waiting for approve: 2 -> python -m cutover approve admin --stack staging" in text


def test_the_rollback_window_counts_down_then_says_it_closed():
    web = rollout("stable", stable="2", stable_color="green", blue=0, rollback="1", rollback_until=T0 + timedelta(minutes=30))
    inside = render_status("dev", {"web": web}, {}, T0 + timedelta(minutes=20))
    assert "rollback   1 until 09:30 UTC (10m 00s left): python -m cutover undo web --stack dev switches back in one run" in inside
    after = render_status("dev", {"web": web}, {}, T0 + timedelta(minutes=40))
    assert "rollback   1: the one-run window closed at 09:30 UTC; an undo now rolls it out step by step" in after


def test_a_configured_version_not_deployed_yet_is_pointed_out():
    text = render_status("dev", {"web": rollout("stable")}, {"web": ServiceSettings("2")}, T0)
    assert "next step  now: the next run may move it (2 is configured: the next run starts it)" in text
    assert "configured version 2 (not deployed yet)" in text


def test_a_stack_without_outputs_says_so():
    assert "no `rollouts` output yet" in render_status("dev", {}, {}, T0)


def test_the_run_line_has_the_rehearsals_columns():
    line = run_line(rollout("progressing", step=1, blue=90, candidate="2", reason="advanced to step 1"))
    assert line == "  web        progressing step 1  blue  90 / green  10  1->2        advanced to step 1  [gate advance]"
