"""Posting phase changes to webhooks: the formats Slack, Teams and a generic receiver get, and failures
that stay warnings (a server answering 500, one that never answers, a bad config value)."""

from __future__ import annotations

import time

from components.config import NotificationKind, NotificationTarget
from cutover.events import detect_events
from cutover.notify import Notifier, notifier_for, targets_from_config
from tests.operator.records import T0, rollout
from tests.operator.webhooks import receiver, slow_receiver

STARTED, PROMOTED = (detect_events("dev", {"web": before}, {"web": after}, T0)[0] for before, after in [
    (rollout("stable"), rollout("progressing", step=0, candidate="2", reason="2 deployed on green at 0%; first shift next run")),
    (rollout("progressing", step=2, blue=50, candidate="2"),
     rollout("stable", stable="2", stable_color="green", blue=0, reason="promoted 2 on green; until 09:30 UTC <b>&</b>")),
])


def target(url: str, kind: str = "generic") -> NotificationTarget:
    return NotificationTarget(url=url, kind=NotificationKind(kind))


def test_slack_gets_text_and_blocks_with_markup_characters_escaped():
    with receiver() as (url, received):
        deliveries = Notifier([target(f"{url}/services/T0/B0/secret", "slack")]).send([PROMOTED])
    assert [d.ok for d in deliveries] == [True]
    [post] = received
    assert post["path"] == "/services/T0/B0/secret" and post["content_type"] == "application/json"
    body = post["body"]
    assert body["text"].startswith(":white_check_mark: dev/web: promoted 2 (blue 0 / green 100)")
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in body["text"], "Slack reads & < > as markup"
    assert [block["type"] for block in body["blocks"]] == ["section", "context"]


def test_teams_gets_an_adaptive_card_message_as_workflows_accept():
    with receiver(status=202) as (url, received):
        deliveries = Notifier([target(url, "teams")]).send([STARTED])
    assert deliveries[0].ok, "Workflows answer 202 Accepted"
    body = received[0]["body"]
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"] == "dev/web: started 2 (blue 100 / green 0)"
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["Phase"] == "stable -> progressing" and facts["Candidate"] == "2 on green"


def test_a_generic_receiver_gets_the_event_as_json():
    with receiver() as (url, received):
        Notifier([target(url)]).send([STARTED, PROMOTED])
    assert [post["body"]["event"] for post in received] == ["started", "promoted"], "one target's events arrive in order"
    body = received[1]["body"]
    assert {key: body[key] for key in ("stack", "service", "fromPhase", "toPhase", "stableVersion", "time")} == {
        "stack": "dev", "service": "web", "fromPhase": "progressing", "toPhase": "stable", "stableVersion": "2",
        "time": "2026-01-05T09:00:00Z"}
    assert body["weights"] == {"blue": 0, "green": 100} and body["weightsBefore"] == {"blue": 50, "green": 50}


def test_a_server_answering_500_is_a_warning_and_the_other_webhooks_still_get_their_message():
    warnings: list[str] = []
    with receiver(status=500, answer=b"internal error") as (broken, _), receiver() as (url, received):
        deliveries = Notifier([target(f"{broken}/hook/s3cr3t", "slack"), target(url)], warn=warnings.append).send([STARTED, PROMOTED])
    assert [(d.ok, d.detail) for d in deliveries[:2]] == [(False, "HTTP 500: internal error"),
                                                        (False, "skipped after an earlier failure (HTTP 500: internal error)")]
    assert len(received) == 2, "the healthy webhook got both events"
    assert warnings[0].startswith("warning: notification (started) to slack webhook 127.0.0.1:")
    assert "s3cr3t" not in "\n".join(warnings) and "/hook" not in "\n".join(warnings), "a webhook URL is a secret"


def test_a_server_that_never_answers_costs_one_timeout_and_a_warning():
    warnings: list[str] = []
    with slow_receiver() as hanging, receiver() as (url, received):
        started = time.monotonic()
        deliveries = Notifier([target(hanging, "teams"), target(url)], timeout=0.5, warn=warnings.append).send([STARTED, PROMOTED])
        elapsed = time.monotonic() - started
    # The details below say the 0.5 s timeout fired; this bound only has to fail when it is ignored (the
    # receiver holds its answer for 30 s), not measure it: a loaded machine stretches any tight bound.
    assert elapsed < 10.0, f"bounded by the timeout, not by the server ({elapsed:.1f} s)"
    hung = [d for d in deliveries if d.target.startswith("teams")]
    assert [d.detail for d in hung] == ["no answer within 0.5 s", "skipped after an earlier failure (no answer within 0.5 s)"]
    assert len(received) == 2
    assert any("no answer within 0.5 s; the rollout is not affected" in w for w in warnings)


def test_an_unreachable_webhook_is_a_warning():
    warnings: list[str] = []
    from tests.servers import closed_port_url

    [delivery] = Notifier([target(closed_port_url())], timeout=0.5, warn=warnings.append).send([STARTED])
    assert not delivery.ok and delivery.detail.startswith("cannot reach it")


def test_the_config_value_is_validated_by_the_programs_model_and_a_bad_one_only_warns():
    targets, problems = targets_from_config({"cutover:notifications": '[{"url": "https://hooks.slack.com/x", "kind": "slack"}]'})
    assert [(t.kind, problems) for t in targets] == [(NotificationKind.SLACK, [])]
    targets, problems = targets_from_config({"cutover:notifications": [{"url": "ftp://x", "kind": "pager"}]})
    assert targets == [] and any(p.startswith("cutover:notifications.0.url") for p in problems)
    assert any(p.startswith("cutover:notifications.0.kind") for p in problems)
    warnings: list[str] = []
    assert notifier_for({"cutover:notifications": "not json"}, warnings.append).targets == []
    assert warnings == ["warning: cutover:notifications: not valid JSON (Expecting value); no notifications sent"]


def test_no_targets_or_no_events_post_nothing():
    assert Notifier([]).send([STARTED]) == [] and Notifier([target("http://127.0.0.1:9")]).send([]) == []
