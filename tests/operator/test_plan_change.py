"""Which config key each operator command sets, read from the outputs — and when it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cutover.commands import OperatorCommand, Refused, plan_change
from cutover.records import ServiceSettings
from tests.operator.records import T0, rollout

APPROVE, ABORT, PROMOTE, UNDO = OperatorCommand
IN_FLIGHT = rollout("progressing", step=1, blue=90, candidate="1.28", stable="1.27")
PAUSED = rollout("paused", step=0, candidate="1.28", stable="1.27", strategy="blue-green")
WANTS = ServiceSettings(version="1.28")
PROMOTED = rollout("stable", stable="1.28", stable_color="green", blue=0, rollback="1.27",
                   rollback_until=T0 + timedelta(minutes=30))


@pytest.mark.parametrize("case, command, ro, settings, key, value, remove", [
    ("approve names the candidate from the outputs", APPROVE, PAUSED, WANTS, "approve", "1.28", ()),
    ("abort names the candidate", ABORT, IN_FLIGHT, WANTS, "abort", "1.28", ()),
    ("promote names the candidate", PROMOTE, IN_FLIGHT, WANTS, "promote", "1.28", ()),
    ("abort removes a promote of the same version first (both would be a config error)",
     ABORT, IN_FLIGHT, ServiceSettings(version="1.28", promote="1.28"), "abort", "1.28", ("promote",)),
    ("approve on a canary that is progressing is allowed (it counts if it pauses)", APPROVE, IN_FLIGHT, WANTS, "approve", "1.28", ()),
    ("undo sets version back to rollbackVersion", UNDO, PROMOTED, WANTS, "version", "1.27", ()),
])
def test_the_command_sets_one_key_to_the_version_the_outputs_name(case, command, ro, settings, key, value, remove):
    change = plan_change(command, "web", ro, settings, T0)
    assert (change.key, change.value, change.remove) == (key, value, remove), case
    assert change.config_key == f"cutover:services.web.{key}"


@pytest.mark.parametrize("case, command, ro, settings, says", [
    ("nothing in flight: nothing to approve", APPROVE, rollout("stable"), WANTS, "nothing in flight"),
    ("nothing in flight: nothing to abort", ABORT, rollout("stable"), WANTS, "nothing in flight"),
    ("an aborted rollout cannot be approved back to life", APPROVE, rollout("aborted", candidate="1.28", aborted_by="gate"),
     WANTS, "was aborted by the gate"),
    ("a second abort says it is already aborted", ABORT, rollout("aborted", candidate="1.28"), WANTS, "was aborted"),
    ("a newer configured version supersedes the one in flight", APPROVE, PAUSED, ServiceSettings(version="1.29"),
     "version 1.29 is configured but 1.28 is in flight"),
    ("promote never passes an abort", PROMOTE, IN_FLIGHT, ServiceSettings(version="1.28", abort="1.28"), "never passes an abort"),
    ("a service without a record", APPROVE, None, WANTS, "no record"),
    ("undo without an earlier version", UNDO, rollout("stable"), WANTS, "nothing to undo"),
    ("undo mid-rollout points at abort", UNDO, IN_FLIGHT, WANTS, "use: abort web"),
    ("undo after an abort: traffic is already back", UNDO, rollout("aborted", candidate="1.28", stable="1.27"), WANTS,
     "set version: 1.27"),
    ("undo would discard a configured, undeployed version", UNDO, PROMOTED, ServiceSettings(version="1.29"),
     "1.29 is configured and not deployed yet"),
])
def test_refusals_say_why(case, command, ro, settings, says):
    with pytest.raises(Refused) as refused:
        plan_change(command, "web", ro, settings, T0)
    assert says in str(refused.value), case


def test_undo_inside_the_window_promises_one_run_and_after_it_an_ordinary_rollout():
    inside = plan_change(UNDO, "web", PROMOTED, WANTS, T0 + timedelta(minutes=10))
    assert "window is open until 09:30 UTC (20m 00s left)" in inside.explanation
    assert "in one run" in inside.explanation
    after = plan_change(UNDO, "web", PROMOTED, WANTS, T0 + timedelta(minutes=31))
    assert "window closed at 09:30 UTC" in after.explanation and "ordinary rollout" in after.explanation


def test_a_key_that_already_names_the_candidate_is_not_written_again():
    change = plan_change(APPROVE, "web", PAUSED, ServiceSettings(version="1.28", approve="1.28"), T0)
    assert change.already_set
