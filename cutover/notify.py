"""Post phase changes to the webhooks in `cutover:notifications` (Slack, Teams, or generic JSON).

Posting never fails a rollout or a command: every post has a short timeout, a failed or slow one
becomes a warning, and a webhook that failed is not tried again for the rest of that batch. Webhook
URLs carry their credentials (Slack's path, the Teams Workflows `sig` query), so messages name only
the kind and the host. Standard library only (urllib); no pulumi import.

Payload formats:
- Slack incoming webhook: a JSON body with `text` (the notification and fallback text) and optional
  `blocks` (https://api.slack.com/messaging/webhooks); `&`, `<`, `>` are escaped as Slack's
  formatting rules ask (https://api.slack.com/reference/surfaces/formatting#escaping).
- Microsoft Teams: Office 365 connector webhooks are retired; a Teams Workflows webhook ("When a Teams
  webhook request is received") accepts Adaptive Cards only, not the legacy MessageCard, as a
  `{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "content": <AdaptiveCard>}]}` body (learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/
  how-to/connectors-using: "Known issues" and "Send Adaptive Cards using an Incoming Webhook").
- generic: `PhaseEvent.as_json()` (stack, service, event, fromPhase, toPhase, weights, versions, reason, time, ...).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from components.config import NotificationKind, NotificationTarget
from cutover.events import EventKind, PhaseEvent

DEFAULT_TIMEOUT_S = 3.0
"""Per post: connect and each read. A webhook slower than this is reported, never waited for."""
ADAPTIVE_CARD_VERSION = "1.4"
USER_AGENT = "cutover-notify/1"
TARGETS = TypeAdapter(list[NotificationTarget])
CONFIG_KEY = "cutover:notifications"
EMOJI = {
    EventKind.STARTED: ":arrow_forward:", EventKind.ADVANCED: ":arrow_up:", EventKind.PAUSED: ":double_vertical_bar:",
    EventKind.RESUMED: ":arrow_forward:", EventKind.ABORTED: ":x:", EventKind.PROMOTED: ":white_check_mark:",
    EventKind.ROLLED_BACK: ":leftwards_arrow_with_hook:",
}


class NotificationFailed(Exception):
    """One post did not get a 2xx answer in time."""


def targets_from_config(config: Mapping[str, Any]) -> tuple[list[NotificationTarget], list[str]]:
    """The webhooks of `cutover:notifications` (value decrypted by the caller), and problems that disable them.

    A malformed value never stops a command: it is reported and no notification is sent.
    """
    raw = config.get(CONFIG_KEY)
    if raw in (None, "", []):
        return [], []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            return [], [f"{CONFIG_KEY}: not valid JSON ({err.msg}); no notifications sent"]
    try:
        return TARGETS.validate_python(raw), []
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(part) for part in e["loc"])
            problems.append(f"{CONFIG_KEY}{'.' + where if where else ''}: {e['msg']}")
        return [], [*problems, "no notifications sent"]


def describe(target: NotificationTarget) -> str:
    """`slack webhook hooks.slack.com`: never the path or query, which hold the webhook's secret."""
    return f"{target.kind.value} webhook {urlsplit(target.url).netloc or '?'}"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: PhaseEvent) -> dict[str, Any]:
    text = _slack_escape(event.text())
    facts = (f"*phase* {event.from_phase} -> {event.to_phase}   *weights* blue {event.weights.get('blue', 0)} / "
             f"green {event.weights.get('green', 0)}   *stable* {event.stable_version} on {event.stable_color}")
    section = f"{EMOJI[event.kind]} *{_slack_escape(event.headline())}*\n{_slack_escape(event.reason)}"
    return {
        "text": f"{EMOJI[event.kind]} {text}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(facts)}]},
        ],
    }


def teams_payload(event: PhaseEvent) -> dict[str, Any]:
    facts = [
        {"title": "Phase", "value": f"{event.from_phase} -> {event.to_phase}"},
        {"title": "Weights", "value": f"blue {event.weights.get('blue', 0)} / green {event.weights.get('green', 0)}"},
        {"title": "Stable", "value": f"{event.stable_version} on {event.stable_color}"},
        {"title": "Time", "value": event.time.strftime("%Y-%m-%d %H:%M:%S UTC")},
    ]
    if event.candidate_version:
        facts.insert(3, {"title": "Candidate", "value": f"{event.candidate_version} on {event.candidate_color}"})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": [
            {"type": "TextBlock", "text": event.headline(), "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": event.reason, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def payload_for(kind: NotificationKind, event: PhaseEvent) -> dict[str, Any]:
    if kind is NotificationKind.SLACK:
        return slack_payload(event)
    if kind is NotificationKind.TEAMS:
        return teams_payload(event)
    return event.as_json()


def post_json(url: str, body: Mapping[str, Any], timeout: float) -> None:
    """POST `body` as JSON; NotificationFailed unless a 2xx answer arrives within `timeout` per socket operation."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked by NotificationTarget
            response.read(4096)
            status = response.status
    except urllib.error.HTTPError as err:
        answer = err.read(200).decode(errors="replace").strip()
        raise NotificationFailed(f"HTTP {err.code}{f': {answer}' if answer else ''}") from None
    except TimeoutError:
        raise NotificationFailed(f"no answer within {timeout:g} s") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, TimeoutError):
            raise NotificationFailed(f"no answer within {timeout:g} s") from None
        raise NotificationFailed(f"cannot reach it ({reason})") from None
    except (OSError, ValueError) as err:
        raise NotificationFailed(f"cannot post ({err})") from None
    if not 200 <= status < 300:
        raise NotificationFailed(f"HTTP {status}")


@dataclass(frozen=True)
class Delivery:
    target: str
    """`describe(target)`: no secret in it."""
    event: str
    ok: bool
    detail: str = ""


class Notifier:
    """Posts a batch of events to every target: targets in parallel, each target's events in order.

    A batch takes at most about `timeout` x events per target (a webhook that fails once is skipped for
    the rest of the batch), after which whatever has not answered is reported and left behind.
    """

    def __init__(self, targets: Sequence[NotificationTarget], *, timeout: float = DEFAULT_TIMEOUT_S,
                 warn: Callable[[str], None] = lambda message: None,
                 post: Callable[[str, Mapping[str, Any], float], None] = post_json):
        self.targets = list(targets)
        self.timeout = timeout
        self.warn = warn
        self._post = post

    def send(self, events: Sequence[PhaseEvent]) -> list[Delivery]:
        if not events or not self.targets:
            return []
        results: list[list[Delivery]] = [[] for _ in self.targets]
        threads = []
        for index, target in enumerate(self.targets):
            # Daemon threads: a webhook that trickles bytes forever cannot keep the command (or CI) alive.
            thread = threading.Thread(target=self._send_to, args=(target, events, results[index]), daemon=True)
            thread.start()
            threads.append(thread)
        deadline = self.timeout * len(events) + 1.0
        for thread in threads:
            thread.join(deadline)
        deliveries = []
        for target, delivered in zip(self.targets, results):
            done = list(delivered)
            for event in events[len(done):]:
                done.append(Delivery(describe(target), event.kind.value, False, f"no answer within {self.timeout:g} s"))
            deliveries += done
        for d in deliveries:
            if not d.ok:
                self.warn(f"warning: notification ({d.event}) to {d.target} failed: {d.detail}; the rollout is not affected")
        return deliveries

    def _send_to(self, target: NotificationTarget, events: Sequence[PhaseEvent], out: list[Delivery]) -> None:
        failed = None
        for event in events:
            if failed is not None:
                out.append(Delivery(describe(target), event.kind.value, False, f"skipped after an earlier failure ({failed})"))
                continue
            try:
                self._post(target.url, payload_for(target.kind, event), self.timeout)
                out.append(Delivery(describe(target), event.kind.value, True))
            except NotificationFailed as err:
                failed = str(err)
                out.append(Delivery(describe(target), event.kind.value, False, failed))
            except Exception as err:  # noqa: BLE001 - a notification must never break a rollout
                failed = f"{type(err).__name__}: {err}"
                out.append(Delivery(describe(target), event.kind.value, False, failed))


def notifier_for(config: Mapping[str, Any], warn: Callable[[str], None], timeout: float = DEFAULT_TIMEOUT_S) -> Notifier:
    """A Notifier for the stack's `cutover:notifications`; problems with the value are warned about."""
    targets, problems = targets_from_config(config)
    for problem in problems:
        warn(f"warning: {problem}")
    return Notifier(targets, timeout=timeout, warn=warn)
