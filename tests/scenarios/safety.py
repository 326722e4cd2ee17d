"""What a user must always get, read from the live world (the applied router and workloads), not from
the program's own outputs — so these checks fail when the program's record and reality part ways."""

from __future__ import annotations

from typing import Mapping

from rehearsal.scenario import Stack
from rehearsal.world import Share

ListenerRule = "aws:lb/listenerRule:ListenerRule"
ECS = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"


def rule_of(service: str) -> str:
    return f"{ListenerRule}::{service}-route-rule"


def ecs_of(service: str, color: str) -> str:
    return f"{ECS}::{service}-{color}-svc"


def task_of(service: str, color: str) -> str:
    return f"{TASK}::{service}-{color}-task"


def weights(serving: Mapping[str, Share]) -> tuple[int, int]:
    return serving["blue"].weight, serving["green"].weight


def share_of(serving: Mapping[str, Share], version: str) -> int:
    """Percent of production traffic answered by `version`."""
    return sum(share.weight for share in serving.values() if share.version == version)


def capacity_where_traffic(serving: Mapping[str, Share]) -> list[str]:
    """Problems: a color that receives traffic with no tasks/pods, or with no workload at all."""
    return [f"{color} gets {s.weight}% with {s.capacity} tasks" for color, s in serving.items()
            if s.weight > 0 and (s.capacity <= 0 or s.version is None)]


def images_changed_under_traffic(before: Mapping[str, Share], after: Mapping[str, Share]) -> list[str]:
    """Problems: a color whose image changed in a run that began with it carrying traffic."""
    return [f"{color} went {before[color].version} -> {after[color].version} while carrying {before[color].weight}%"
            for color in before if before[color].weight > 0 and before[color].version != after[color].version]


def up_until(stack: Stack, service: str, wanted: tuple[int, int], max_runs: int = 6, minutes: float = 1) -> None:
    """Take `up` runs until the live router carries `wanted` (blue, green)."""
    for _ in range(max_runs):
        stack.advance(minutes)
        run = stack.up()
        assert run.result.error is None, run.result.error
        if weights(stack.serving(service)) == wanted:
            return
    raise AssertionError(f"{service} never reached {wanted}; serving {stack.serving(service)}")
