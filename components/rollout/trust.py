"""Which previous state a run may start from: the stack output, checked against the live router.

Two witnesses describe where a service's rollout stands: the stack output `rollouts.<service>`
(the engine keeps the old one when any export of a failed update did not resolve, so one service's
failure stales every service's output) and the decision record on the service's router, written in
the same update as its weights. The rules, in order:

1. nothing shows the service was deployed (no output, no router, no endpoints) -> a first deploy;
2. both witnesses readable, consistent and in agreement -> the output (it also carries gate history);
   live weights other than recorded -> hold this run (changed outside Pulumi);
3. the output missing, damaged or different, the live record consistent and matching the live
   weights -> continue from the live record, this run only returns traffic toward stable if asked;
4. the live record unreadable or damaged, the output consistent and matching the live weights ->
   continue from the output, holding this run;
5. neither -> stop before registering anything (UnrecoverableState) with what to inspect and set.

Pure: no pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.rollout.codec import CorruptState, UnrecoverableState, from_output, problems
from components.rollout.decision import read_decision_record, same_state
from components.rollout.live import LiveRouter
from components.rollout.model import RolloutState


@dataclass(frozen=True)
class Assessment:
    previous: RolloutState | None
    """The state the run starts from; None for a first deploy."""
    first_deploy: bool
    hold: str | None = None
    """Why this run may not move traffic forward (None: it may)."""
    source: str = "output"
    """Which witness `previous` came from: output, live or none."""


def assess(service: str, output: Any, live: LiveRouter, deployed_before: bool, now: datetime, prefix: str) -> Assessment:
    """Decide where `service` stands. Raises UnrecoverableState (rule 5)."""
    if output is None and not live.found and not deployed_before and live.problem is None:
        return Assessment(None, first_deploy=True, source="none")
    from_o, o_problem = _parsed(lambda: from_output(output), now) if output is not None else (None, "is missing")
    from_l, l_problem = _live_state(live, now, prefix)
    if from_o and from_l and same_state(from_o, from_l):
        if live.weights is not None and live.weights != from_o.weights:
            return Assessment(from_o, False, hold=f"{live.where} carries {live.weights.label()} but {from_o.weights.label()} is "
                              "recorded (changed outside Pulumi?); restore it or run `pulumi up --refresh`")
        if live.weights is None:
            # Read, but not a split of 100 between the colors (router weights are relative: 70:50 by hand).
            return Assessment(from_o, False, hold=f"the router of {service} ({live.where}) carries weights that are not the "
                              f"recorded {from_o.weights.label()} (changed outside Pulumi?); restore them or run `pulumi up --refresh`")
        return Assessment(from_o, False)
    if from_l and _matches(live, from_l):
        why = "differs from the live record" if from_o else o_problem
        return Assessment(from_l, False, source="live",
                          hold=f"the stack output rollouts.{service} {why}; continuing from the live record on {live.where}, traffic unchanged")
    if from_o and _matches(live, from_o):
        if from_l is not None:
            l_problem = f"describes {from_l.weights.label()} but the router carries {live.weights.label()} (a write that did not complete)"
        return Assessment(from_o, False, hold=f"the live record on {live.where or 'the router'} {l_problem}; continuing from the "
                          "stack output, traffic unchanged")
    seen = f"{live.where} carries {live.weights.label()}" if live.weights is not None else f"the router: {l_problem}"
    raise UnrecoverableState(
        f"where {service} stands cannot be trusted: the stack output rollouts.{service} {o_problem or 'disagrees with the router'}, "
        f"and {seen}. Inspect `pulumi stack output rollouts --json` and the router's {prefix}* record; then set "
        f"cutover:services.{service}.recover to {{stableColor, stableVersion}} for one run to put all traffic on that color"
    )


def _live_state(live: LiveRouter, now: datetime, prefix: str) -> tuple[RolloutState | None, str]:
    if live.problem:
        return None, f"could not be read ({live.problem})"
    if not live.found:
        return None, "was not found"
    if not live.record:
        return None, "is missing"
    return _parsed(lambda: read_decision_record(live.record, prefix), now)


def _parsed(read, now: datetime) -> tuple[RolloutState | None, str]:
    try:
        state = read()
    except CorruptState as err:
        return None, f"is unreadable ({err})"
    found = problems(state, now)
    if found:
        return None, f"is inconsistent ({'; '.join(found)})"
    return state, ""


def _matches(live: LiveRouter, state: RolloutState) -> bool:
    """The live weights are the ones the state describes (or could not be read, which the caller allows)."""
    return live.weights is None or live.weights == state.weights
