"""Text the operator reads: the `status` table, one progress line per service per run, durations, bars.

Pure formatting of `Rollout` records; no I/O, no pulumi import.

    >>> weight_bar(90, width=10)
    '█████████░'
    >>> duration(245)
    '4m 05s'
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from cutover.records import PAUSED, Rollout, ServiceSettings, next_step, rollback_window

TOOL = "python -m cutover"
BAR_WIDTH = 20
UNICODE_BAR = ("█", "░")
ASCII_BAR = ("#", ".")


def duration(seconds: float) -> str:
    """A short human duration: `now`, `45s`, `4m 05s`, `1h 05m`, `2d 03h`."""
    s = int(round(seconds))
    if s <= 0:
        return "now"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def weight_bar(blue: int, width: int = BAR_WIDTH, ascii_only: bool = False) -> str:
    """Blue's share from the left, green's to the right; each cell is 100/width percent."""
    full, empty = ASCII_BAR if ascii_only else UNICODE_BAR
    cells = max(0, min(width, round(blue * width / 100)))
    return full * cells + empty * (width - cells)


def stack_ref(stack: str) -> str:
    return f" --stack {stack}"


def step_label(rollout: Rollout) -> str:
    if rollout.step is None:
        return "no rollout in flight"
    if rollout.step == 0:
        return f"step 0 of {rollout.steps} (deployed at 0 %)"
    return f"step {rollout.step} of {rollout.steps}"


def _color_line(rollout: Rollout) -> str:
    parts = []
    for color in ("blue", "green"):
        role = ("stable" if color == rollout.stable_color else
                "candidate" if color == rollout.candidate_color and rollout.candidate_version else "idle")
        replicas = rollout.replicas.get(color)
        count = f", {replicas} replica{'s' if replicas != 1 else ''}" if replicas is not None else ""
        parts.append(f"{color} {rollout.versions.get(color) or '-'} ({role}{count})")
    return " · ".join(parts)


def _gate_line(rollout: Rollout) -> str:
    gate = rollout.gate or {}
    if not gate:
        return "-"
    line = f"{gate.get('verdict', '?')}: {gate.get('reason', '')}".rstrip(": ")
    if rollout.inconclusive_runs:
        line += f" (inconclusive {rollout.inconclusive_runs} run{'s' if rollout.inconclusive_runs != 1 else ''} in a row)"
    return line


def _next_step_line(stack: str, rollout: Rollout, settings: ServiceSettings | None, now: datetime) -> str:
    nxt = next_step(rollout, settings)
    if nxt.at is None:
        hint = (f" -> {TOOL} approve {rollout.service}{stack_ref(stack)}" if rollout.phase == PAUSED else "")
        return f"{nxt.why}{hint}"
    wait = (nxt.at - now).total_seconds()
    if wait <= 0:
        return f"now: the next run may move it ({nxt.why})"
    return f"in {duration(wait)}, at {nxt.at:%H:%M} UTC ({nxt.why})"


def _rollback_line(stack: str, rollout: Rollout, now: datetime) -> str:
    version, open_ = rollback_window(rollout, now)
    if version is None:
        return "-"
    if open_:
        left = (rollout.rollback_until - now).total_seconds()
        return (f"{version} until {rollout.rollback_until:%H:%M} UTC ({duration(left)} left): "
                f"{TOOL} undo {rollout.service}{stack_ref(stack)} switches back in one run")
    closed = f" at {rollout.rollback_until:%H:%M} UTC" if rollout.rollback_until else ""
    return f"{version}: the one-run window closed{closed}; an undo now rolls it out step by step"


def render_status(stack: str, rollouts: Mapping[str, Rollout], settings: Mapping[str, ServiceSettings],
                  now: datetime, *, ascii_only: bool = False) -> str:
    """The `status` table: one block per service."""
    lines = [f"stack {stack} at {now:%Y-%m-%d %H:%M:%S} UTC"]
    if not rollouts:
        lines.append("no `rollouts` output yet: the first `pulumi up` deploys every service on blue")
        return "\n".join(lines)
    for name, rollout in rollouts.items():
        configured = settings.get(name)
        blue, green = rollout.weights.get("blue", 0), rollout.weights.get("green", 0)
        lines += [
            "",
            f"{name} — {rollout.strategy or 'strategy ?'}, {rollout.phase}, {step_label(rollout)}",
            f"  weights    blue {blue:>3} {weight_bar(blue, ascii_only=ascii_only)} {green:>3} green",
            f"  versions   {_color_line(rollout)}",
            f"  gate       {_gate_line(rollout)}",
            f"  next step  {_next_step_line(stack, rollout, configured, now)}",
            f"  rollback   {_rollback_line(stack, rollout, now)}",
            f"  reason     {rollout.reason}",
        ]
        if configured and configured.version and configured.version not in (rollout.stable_version, rollout.candidate_version):
            lines.append(f"  configured version {configured.version} (not deployed yet)")
    return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_document(stack: str, rollouts: Mapping[str, Rollout], settings: Mapping[str, ServiceSettings],
                    now: datetime) -> dict[str, Any]:
    """`status --json`: the table's facts as plain values, for CI (a Jenkins `input` asks to approve `paused`).

    >>> from cutover.records import Rollout
    >>> doc = status_document("staging", {"admin": Rollout("admin", "paused", 0, {"blue": 100, "green": 0},
    ...     candidate_version="2", stable_version="1")}, {}, datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc))
    >>> doc["paused"], doc["services"]["admin"]["approve"]
    (['admin'], 'python -m cutover approve admin --stack staging')
    """
    services: dict[str, Any] = {}
    for name, rollout in rollouts.items():
        nxt = next_step(rollout, settings.get(name))
        version, window_open = rollback_window(rollout, now)
        services[name] = {
            "phase": rollout.phase,
            "strategy": rollout.strategy or None,
            "step": rollout.step,
            "steps": rollout.steps,
            "weights": dict(rollout.weights),
            "stableColor": rollout.stable_color,
            "stableVersion": rollout.stable_version,
            "candidateColor": rollout.candidate_color,
            "candidateVersion": rollout.candidate_version,
            "gate": (rollout.gate or {}).get("verdict"),
            "reason": rollout.reason,
            "nextStepAt": _iso(nxt.at),
            "nextStep": nxt.why,
            "approve": f"{TOOL} approve {name}{stack_ref(stack)}" if rollout.phase == PAUSED else None,
            "rollbackVersion": version,
            "rollbackUntil": _iso(rollout.rollback_until),
            "rollbackWindowOpen": window_open,
        }
    return {"stack": stack, "at": _iso(now), "services": services,
            "paused": [name for name, rollout in rollouts.items() if rollout.phase == PAUSED]}


def run_line(rollout: Rollout) -> str:
    """One service after one run, as the drive prints it (the rehearsal's columns)."""
    step = "-" if rollout.step is None else rollout.step
    gate = rollout.gate or {}
    verdict = f"  [gate {gate['verdict']}]" if gate.get("verdict") and rollout.phase != "stable" else ""
    return (f"  {rollout.service:<10} {rollout.phase:<11} step {step!s:<2} {rollout.weights_label()}"
            f"  {rollout.versions_label():<11} {rollout.reason}{verdict}")
