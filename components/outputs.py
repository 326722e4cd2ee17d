"""Combining outputs without the SDK's deep unwrap.

`pulumi.Output.from_input(value)` and `pulumi.Output.all(...)` unwrap every value they are given, key by key
and item by item, with an Output object (and an asyncio task) for each: an Output whose value is a 20-key
record costs some 60 of them each time it passes through `all`. For the outputs a run builds per service
that is most of the Output objects cutover adds to what its resources create (bench/RESULTS.md).
"""

from __future__ import annotations

from typing import Any

import pulumi


def resolved(tree: dict[str, Any]) -> pulumi.Output[dict[str, Any]]:
    """`tree` (nested dicts whose leaves may be Outputs) as one Output of plain values: the Output leaves are
    waited for through one `Output.all` and the dicts rebuilt around their values. The value is the one
    `Output.from_input(tree)` gives.

    >>> resolved({"url": dns.apply(lambda d: f"http://{d}"), "arns": {"blue": blue.arn}, "port": 80})  # doctest: +SKIP
    """
    leaves: list[pulumi.Output[Any]] = []

    def collect(node: dict[str, Any]) -> None:
        for value in node.values():
            if isinstance(value, pulumi.Output):
                leaves.append(value)
            elif isinstance(value, dict):
                collect(value)

    def rebuild(values: list[Any]) -> dict[str, Any]:
        resolved_leaves = iter(values)

        def fill(node: dict[str, Any]) -> dict[str, Any]:
            return {key: next(resolved_leaves) if isinstance(value, pulumi.Output) else fill(value) if isinstance(value, dict)
                    else value for key, value in node.items()}

        return fill(tree)

    collect(tree)
    return pulumi.Output.all(*leaves).apply(rebuild)
