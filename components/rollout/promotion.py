"""Promotion between stacks: a stack that promotes `from` another starts a version only after that stack
completed the same version. Pure: no pulumi.

    staging completed 2 (gates passed)      prod version 2  -> may start; evidence "staging 2026-01-05T10:00:00Z"
    staging completed 2, no analysis        prod version 2, requireAnalysis -> holds: not carried by passing gates
    staging's last completion is 1          prod version 3  -> holds: staging has not completed 3
    staging unreadable                      prod version 3  -> holds: never a start without evidence
"""

from __future__ import annotations

from typing import Any, Mapping

from components.rollout.codec import completions, iso


def evidence_for(version: str, source: str, source_rollouts: Any, service: str, require_analysis: bool) -> tuple[str | None, str]:
    """(why `version` may not start yet or None, the evidence to record when it does).

    `source_rollouts` is the source stack's `rollouts` output, or a string saying why it could not be read."""
    if isinstance(source_rollouts, str):
        return f"{source} could not be read ({source_rollouts}): {version} starts only once {source} shows it completed", "none"
    record = source_rollouts.get(service) if isinstance(source_rollouts, Mapping) else None
    history = completions(record.get("completed")) if isinstance(record, Mapping) else ()
    done = next((c for c in reversed(history) if c.version == version), None)
    if done is None:
        last = f"its last completed version is {history[-1].version}" if history else "it has completed no version"
        return f"{source} has not completed {version} ({last}); promote it there first", "none"
    if require_analysis and not done.analysed:
        steps = ", ".join(done.verdicts) or "none"
        return (f"{source} completed {version} but not on passing gates (steps carried by: {steps}) and "
                "promotion.requireAnalysis is set"), "none"
    return None, f"{source} {iso(done.at)}"
