"""`python -m cutover ...` end to end: the CLI, the commands and the drive loop, the Automation API adapter,
and the real program under the mock engine behind a stand-in `pulumi.automation.Stack` (tests/operator/standin.py).

Each test is one operator story (canary [10, 50, 100] on router alb unless stated; time passes only on the
rehearsal's clock, which the tool's sleeps advance).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from rehearsal.__main__ import PreviewSafeMotoMocks
from rehearsal.scenario import Stack
from rehearsal.traffic import set_alarm
from tests.builders import aws_config, service
from tests.operator.standin import Operator
from tests.operator.webhooks import receiver, slow_receiver
from tests.scenarios.gated import ANALYSIS
from tests.scenarios.safety import up_until, weights


def deployed(name: str = "dev", **spec) -> Stack:
    stack = Stack(aws_config({"web": service(**spec)}), stack=name)
    assert stack.up().result.error is None
    return stack


def at_ten_percent() -> Stack:
    stack = deployed(bakeMinutes=5)
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (90, 10))
    return stack


def promoted() -> tuple[Stack, Operator]:
    stack = deployed(bakeMinutes=5)
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack)
    assert op("drive").code == 0
    return stack, op


# --- drive ------------------------------------------------------------------------------------------

def test_drive_takes_a_canary_to_promotion_through_the_policy_pack_and_exits_0():
    stack = deployed(bakeMinutes=5)
    stack.set("cutover:services.web.version", "2")
    with receiver() as (url, received), receiver(status=500) as (broken, _):
        stack.set("cutover:notifications", [{"url": f"{url}/hook", "kind": "generic"}, {"url": f"{broken}/x", "kind": "slack"}])
        op = Operator(stack, secret_keys=("cutover:notifications",))
        started = stack.now
        result = op("drive", "dev")
    assert result.code == 0, result.err
    record = op.record()
    assert (record["phase"], record["stableVersion"], record["weights"]) == ("stable", "2", {"blue": 0, "green": 100})
    assert op.ups() == 4, "deploy at 0 %, 10 %, 50 %, promote: no run wasted"
    assert stack.now - started >= timedelta(minutes=10), "two bakes of 5 minutes were waited out"
    assert "run 3 (09:05:35 UTC)" in result.out and "  waiting 5m 05s: web's bake 5 min from 09:00 UTC ends at 09:05 UTC" in result.out
    assert result.out.rstrip().endswith("result: stable (exit 0)")
    assert [post["body"]["event"] for post in received] == ["started", "advanced", "advanced", "promoted"]
    assert "warning: notification (started) to slack webhook 127.0.0.1" in result.err, "the failing webhook only warns"
    for options in op.auto.ran("preview") + op.auto.ran("up"):
        assert options["policy_packs"] and options["policy_pack_configs"][0].endswith("policies/config/dev.json")
    assert len(op.auto.ran("preview")) == 4, "every update was previewed with the pack first"


def test_an_abort_command_mid_rollout_returns_traffic_and_the_drive_goes_red():
    stack = at_ten_percent()
    op = Operator(stack)
    result = op("abort", "web")
    assert result.code == 0, result.err
    assert "set cutover:services.web.abort = 2: aborts 2: the next run returns all traffic to 1 on blue" in result.out
    assert op.record()["phase"] == "aborted" and weights(stack.serving("web")) == (100, 0)
    assert op.ups() == 1
    drive = op("drive")
    assert drive.code == 3
    assert "result: aborted (exit 3)" in drive.out


def test_a_gate_abort_turns_the_drive_red(aws):
    config = aws_config({"web": service("canary", analysis=ANALYSIS)})
    config["cutover:dns"]["zoneId"] = aws.create_zone("example.com")
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    # Preview-safe: a preview must not write the emulator's weights (rehearsal/__main__.py).
    stack = Stack(config, start=start, mocks_factory=lambda previous, region: PreviewSafeMotoMocks(previous, region, aws))
    assert stack.up().result.error is None
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (90, 10))
    set_alarm("web-5xx", "ALARM")
    result = Operator(stack)("drive")
    assert result.code == 3
    assert "web        aborted     2 aborted, 1 on blue (100 %): gate aborted: alarms in ALARM: web-5xx" in result.out
    assert weights(stack.serving("web")) == (100, 0)


def test_a_blue_green_waiting_for_approval_is_red_until_approved_then_green():
    stack = deployed(kind="blue-green")
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack)
    paused = op("drive")
    assert paused.code == 4
    assert "`python -m cutover approve web --stack dev`" in paused.out
    approved = op("approve", "web")
    assert approved.code == 0, approved.err
    assert stack.config["cutover:services"]["web"]["approve"] == "2", "stored as a string, not the number the CLI would make of it"
    assert op.record()["phase"] == "stable" and weights(stack.serving("web")) == (0, 100)
    assert op("drive").code == 0


def test_promote_moves_the_version_in_flight_to_100_percent_in_one_run():
    stack = at_ten_percent()
    op = Operator(stack)
    result = op("promote", "web")
    assert result.code == 0, result.err
    record = op.record()
    assert (record["phase"], record["stableVersion"], record["lastShift"]["cause"]) == ("stable", "2", "promote")
    assert weights(stack.serving("web")) == (0, 100) and op.ups() == 1


def test_abort_removes_a_promote_of_the_same_version_so_the_config_stays_valid():
    stack = at_ten_percent()
    stack.set("cutover:services.web.promote", "2")
    op = Operator(stack)
    result = op("abort", "web")
    assert result.code == 0, result.err
    assert "removed cutover:services.web.promote" in result.out
    assert "promote" not in stack.config["cutover:services"]["web"]
    assert op.record()["phase"] == "aborted"


def test_no_up_only_writes_the_key():
    stack = deployed(kind="blue-green")
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack)
    op("drive")
    ups = op.ups()
    result = op("approve", "web", "--no-up")
    assert result.code == 0 and op.ups() == ups
    assert "applies at the next `pulumi up` of stack dev" in result.out
    assert op.record()["phase"] == "paused"


# --- undo -------------------------------------------------------------------------------------------

def test_undo_inside_the_rollback_window_goes_back_in_one_run():
    stack, op = promoted()
    stack.advance(5)
    ups = op.ups()
    result = op("undo", "web")
    assert result.code == 0, result.err
    assert "the rollback window is open until 09:40 UTC (25m 00s left), so the next run moves all traffic back to 1" in result.out
    assert op.ups() == ups + 1
    record = op.record()
    assert record["stableVersion"] == "1" and record["lastShift"]["cause"] == "rollback"
    assert weights(stack.serving("web")) == (100, 0) and stack.serving("web")["blue"].version == "1"
    assert stack.config["cutover:services"]["web"]["version"] == "1"


def test_undo_after_the_window_says_it_becomes_an_ordinary_rollout():
    stack, op = promoted()
    stack.advance(31)
    stack.up()  # the scale-down run
    result = op("undo", "web", "--no-up")
    assert result.code == 0
    assert "the rollback window closed, so 1 rolls out as an ordinary rollout, step by step" in result.out


def test_commands_that_cannot_act_refuse_and_write_nothing():
    stack = deployed()
    op = Operator(stack)
    for command in ("approve", "abort", "promote"):
        result = op(command, "web")
        assert result.code == 2 and "nothing in flight" in result.err
    result = op("undo", "web")
    assert result.code == 2 and "nothing to undo" in result.err
    assert op.auto.ran("config set") == [] and op.ups() == 0


# --- locks, interrupted runs, policies -----------------------------------------------------------------

def test_a_lock_held_by_another_update_is_waited_for_and_the_command_then_succeeds():
    stack = deployed(kind="blue-green")
    stack.set("cutover:services.web.version", "2")
    stack.up()
    op = Operator(stack, lock_conflicts=2)
    result = op("approve", "web")
    assert result.code == 0, result.err
    assert result.out.count("is locked by another update; waiting") == 2
    assert op.slept == [15, 30] and op.ups() == 3
    assert op.record()["phase"] == "stable"


def test_a_lock_that_never_clears_ends_the_drive_within_its_bound_with_the_command_that_releases_it():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack, lock_conflicts=float("inf"))
    result = op("drive", "--lock-timeout", "100")
    assert result.code == 1
    assert sum(op.slept) <= 100 and op.ups() == 3
    assert "cutover never cancels an update" in result.err and "pulumi cancel --stack dev --yes" in result.err
    assert "Another update is currently in progress" in result.err
    assert op.record()["phase"] == "stable" and op.record()["stableVersion"] == "1", "nothing ran"


def test_a_command_whose_lock_never_clears_says_the_key_stays_set():
    stack = deployed(kind="blue-green")
    stack.set("cutover:services.web.version", "2")
    stack.up()
    op = Operator(stack, lock_conflicts=float("inf"))
    result = op("approve", "web", "--lock-timeout", "60")
    assert result.code == 1 and op.slept == [15, 30]
    assert "pulumi cancel --stack dev --yes" in result.err
    assert "cutover:services.web.approve = 2 stays set: the next `up` tries again" in result.err


PENDING = [{"type": "creating", "resource": {"urn": "urn:pulumi:dev::cutover::aws:lb/targetGroup:TargetGroup::web-green-tg",
                                             "type": "aws:lb/targetGroup:TargetGroup"}}]


def test_pending_operations_stop_the_drive_with_the_refresh_that_clears_them():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack, pending=PENDING)
    result = op("drive")
    assert result.code == 1 and op.ups() == 0
    assert "creating urn:pulumi:dev::cutover::aws:lb/targetGroup:TargetGroup::web-green-tg" in result.err
    assert "pulumi refresh --stack dev --yes --clear-pending-creates" in result.err


def test_an_abort_goes_ahead_despite_pending_operations_with_a_warning():
    stack = at_ten_percent()
    op = Operator(stack, pending=PENDING)
    result = op("abort", "web")
    assert result.code == 0 and op.record()["phase"] == "aborted"
    assert "warning: stack dev has 1 pending operation(s)" in result.err


def test_the_stacks_policy_config_reaches_the_pack_a_mandatory_violation_applies_nothing():
    stack = deployed("prod", kind="blue-green")
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack, "prod")
    assert op("drive", "prod").code == 4
    result = op("approve", "web", "--stack", "prod")
    assert result.code == 1
    assert "preview of stack prod failed" in result.err and "[rollout-step-discipline]" in result.err
    assert "more than maxStepPercent 50 allows in production" in result.err, "policies/config/prod.json was used"
    assert "(nothing was applied)" in result.err and "approve = 2 stays set" in result.err
    assert op.record()["phase"] == "paused" and weights(stack.serving("web")) == (100, 0)
    assert len(op.auto.ran("preview")) == 2 and len(op.auto.ran("up")) == 1, "the approve's preview failed: no update ran"


# --- status, notifications from a command -------------------------------------------------------------

def test_status_shows_the_table_and_watch_refreshes_it():
    stack = at_ten_percent()
    op = Operator(stack)
    result = op("status", "--ascii")
    assert result.code == 0
    assert "web — canary, progressing, step 1 of 3" in result.out
    assert "  weights    blue  90 ##################..  10 green" in result.out
    assert "  next step  in 5m 00s" in result.out
    watched = op("status", "--watch", "7", watch_limit=2)
    assert watched.out.count("web — canary") == 2 and op.slept == [7]


def test_a_command_notifies_slack_and_teams_and_a_webhook_that_never_answers_only_delays_it_by_the_timeout():
    stack = at_ten_percent()
    with receiver() as (slack, to_slack), receiver(status=202) as (teams, to_teams), slow_receiver() as hanging:
        stack.set("cutover:notifications", [{"url": f"{slack}/services/T/B/s3cr3t", "kind": "slack"},
                                            {"url": f"{teams}/workflows/x?sig=s3cr3t", "kind": "teams"},
                                            {"url": hanging, "kind": "generic"}])
        op = Operator(stack)
        started = time.monotonic()
        result = op("abort", "web")
        elapsed = time.monotonic() - started
    assert result.code == 0
    # "no answer within 3 s" below says the timeout fired; this bound only has to fail when it is ignored (the
    # webhook holds its answer for 30 s), not measure the command: a loaded machine stretches any tight bound.
    assert elapsed < 20, f"one 3 s timeout, not a hang ({elapsed:.1f} s)"
    assert to_slack[0]["body"]["text"].startswith(":x: dev/web: aborted 2 (blue 100 / green 0)")
    assert to_teams[0]["body"]["attachments"][0]["content"]["body"][0]["text"] == "dev/web: aborted 2 (blue 100 / green 0)"
    assert "warning: notification (aborted) to generic webhook 127.0.0.1" in result.err and "no answer within 3 s" in result.err
    assert "s3cr3t" not in result.err + result.out
