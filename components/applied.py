"""Reading applied outputs: the engine hands nested values back as typed objects or as plain
dicts (camelCase) depending on the provider and SDK path, so read either."""

from __future__ import annotations

from typing import Any, Mapping


def field_of(value: Any, snake: str, camel: str | None = None) -> Any:
    """`field_of(rule_action, "target_groups", "targetGroups")` on either shape; None when absent."""
    if value is None:
        return None
    if isinstance(getattr(type(value), snake, None), property):  # a typed output (a dict subclass that warns on camelCase keys)
        return getattr(value, snake)
    if isinstance(value, Mapping):
        return value.get(camel or snake, value.get(snake))
    return getattr(value, snake, None)
