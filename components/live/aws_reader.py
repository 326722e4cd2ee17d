"""Reading an AWS service's live router and workloads through pulumi-aws data sources.

Invokes run with the provider's own identity (the stack's `aws:*` config), cost a few API calls
per service and run, and raise catchable errors (a failed read never fails the update). Objects
are located by the previous `endpoints` output; without it, the ALB router is found from config
alone — the shared load balancer by its `cutover:stack` tag, its production listener by port, the
rule by the service's priority — and the Route53 router's record by its fixed parameter name.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any, Callable, Mapping

import pulumi_aws as aws

from components.applied import field_of
from components.aws.mirror_proxy_config import MIRROR_COLOR
from components.live.workloads import ecs_workload
from components.rollout.decision import TAG_PREFIX
from components.rollout.live import ColorWorkload, LiveRouter, LiveService
from components.rollout.model import InvalidWeights, Weights

NOT_FOUND = re.compile(r"not ?found|does not exist|no matches|couldn't find|0 load balancers", re.IGNORECASE)
COLORS = ("blue", "green")


class ReadFailed(Exception):
    """A provider read failed for another reason than "not found"."""


async def read(call: Callable[..., Any], **arguments: Any) -> Any:
    """One data-source invoke: its result, None when the object does not exist, ReadFailed otherwise.

    `call` names the pulumi-aws data source (`aws.lb.get_listener_rule`); its output form
    (`get_listener_rule_output`) runs it, so that the reads of every service are in flight together and the
    program waits for all of them once (`read_live`). The plain form waits for each read by pumping the event
    loop from inside the program, at a cost that grows with every read made before it in the run."""
    output_form = getattr(sys.modules[call.__module__], f"{call.__name__}_output")
    # `recover` turns a failed read into a value: a failed output left behind would fail the update at its end.
    result = await output_form(**arguments).recover(_Failed).future()
    if isinstance(result, _Failed):
        if NOT_FOUND.search(str(result.error)):
            return None
        raise ReadFailed(f"{getattr(call, '__name__', 'invoke')}: {result.error}")
    return result


class _Failed:
    """What a failed invoke resolves to inside `read`."""

    def __init__(self, error: Exception):
        self.error = error


class AwsLiveReader:
    """`observe(...)` per service; `stack_id` is "<org>/<project>/<stack>" (the shared ALB's tag)."""

    def __init__(self, stack_id: str, project: str, stack: str):
        self.stack_id = stack_id
        self.project = project
        self.stack = stack
        self._shared_listener: dict[int, asyncio.Future[str | None]] = {}

    async def observe(self, name: str, *, router: str, endpoints: Mapping[str, Any], priority: int, https: bool,
                      zone_id: str | None, record_name: str | None) -> LiveService:
        try:
            if router == "route53" or endpoints.get("decisionParameter"):
                found = await self._route53(name, endpoints, zone_id, record_name)
            else:
                found = await self._alb(name, endpoints, priority, https)
            colors = await self._colors(name, endpoints)
        except ReadFailed as err:
            return LiveService(LiveRouter(found=False, problem=str(err), where=f"{name}'s router"))
        return LiveService(found, colors)

    def decision_parameter(self, name: str) -> str:
        return decision_parameter_name(self.project, self.stack, name)

    # --- routers ------------------------------------------------------------------------------

    async def _alb(self, name: str, endpoints: Mapping[str, Any], priority: int, https: bool) -> LiveRouter:
        arn = endpoints.get("listenerRuleArn")
        if arn:
            rule = await read(aws.lb.get_listener_rule, arn=arn)
        else:
            listener = await self._listener(443 if https else 80)
            rule = await read(aws.lb.get_listener_rule, listener_arn=listener, priority=priority) if listener else None
        if rule is None:
            return LiveRouter(found=False, where=f"listener rule of {name}")
        where = f"listener rule {field_of(rule, 'arn')}"
        color_of = {arn: color for color, arn in (endpoints.get("targetGroupArns") or {}).items()}
        weights: dict[str, int] = {}
        for action in field_of(rule, "actions") or []:
            for forward in field_of(action, "forwards") or []:
                for group in field_of(forward, "target_groups", "targetGroups") or []:
                    arn = field_of(group, "arn")
                    color = color_of.get(arn) or await self._color_of_target_group(arn)
                    if color in (*COLORS, MIRROR_COLOR):
                        weights[color] = weights.get(color, 0) + int(field_of(group, "weight") or 0)
        tags = dict(field_of(rule, "tags") or {})
        mirrored = weights.pop(MIRROR_COLOR, 0)
        if mirrored:
            # A shadow phase: the mirroring proxy answers from the stable color the rule's record names; without a
            # readable record the weights are unknown (the run holds).
            stable = tags.get(f"{TAG_PREFIX}stable-color")
            weights = {**weights, stable: weights.get(stable, 0) + mirrored} if stable in COLORS else {}
        return LiveRouter(True, _weights(weights), tags, where=where)

    async def _listener(self, port: int) -> str | None:
        """The shared ALB's listener on `port`, looked up once per run for all the services that need it."""
        if port not in self._shared_listener:
            self._shared_listener[port] = asyncio.ensure_future(self._find_listener(port))
        return await self._shared_listener[port]

    async def _find_listener(self, port: int) -> str | None:
        balancer = await read(aws.lb.get_load_balancer, tags={"cutover:stack": self.stack_id, "cutover:shared": "true"})
        listener = await read(aws.lb.get_listener, load_balancer_arn=field_of(balancer, "arn"), port=port) if balancer else None
        return field_of(listener, "arn") if listener else None

    @staticmethod
    async def _color_of_target_group(arn: str | None) -> str | None:
        group = await read(aws.lb.get_target_group, arn=arn) if arn else None
        return (field_of(group, "tags") or {}).get("cutover:color") if group else None

    async def _route53(self, name: str, endpoints: Mapping[str, Any], zone_id: str | None, record_name: str | None) -> LiveRouter:
        parameter_name = endpoints.get("decisionParameter") or self.decision_parameter(name)
        parameter = await read(aws.ssm.get_parameter, name=parameter_name)
        weights = None
        if zone_id and record_name:
            pattern = f"^{re.escape(record_name.rstrip('.'))}\\.?$"
            records = await read(aws.route53.get_records, zone_id=zone_id, name_regex=pattern)
            by_color = {field_of(r, "set_identifier", "setIdentifier"): field_of(r, "weight")
                        for r in (field_of(records, "resource_record_sets", "resourceRecordSets") or [])} if records else {}
            weights = _weights({c: int(by_color[c] or 0) for c in COLORS if c in by_color})
        if parameter is None:
            return LiveRouter(found=weights is not None, weights=weights, where=f"parameter {parameter_name}")
        try:
            record = json.loads(field_of(parameter, "value") or "{}")
        except json.JSONDecodeError:
            record = {}
        return LiveRouter(True, weights, record if isinstance(record, dict) else {}, where=f"parameter {parameter_name}")

    # --- workloads ----------------------------------------------------------------------------

    async def _colors(self, name: str, endpoints: Mapping[str, Any]) -> dict[str, ColorWorkload]:
        cluster = endpoints.get("cluster")
        colors = {}
        for color, service_name in (endpoints.get("ecsServices") or {}).items():
            if not cluster or not service_name:
                continue
            description = await read(aws.ecs.get_service, cluster_arn=cluster, service_name=service_name)
            if description is None:
                colors[color] = ColorWorkload(False)
                continue
            task_definition = field_of(description, "task_definition", "taskDefinition")
            container = await read(aws.ecs.get_container_definition, task_definition=task_definition, container_name=name)
            colors[color] = ecs_workload(description, field_of(container, "image") if container else None)
        return colors


def decision_parameter_name(project: str, stack: str, service: str) -> str:
    """Fixed name of the SSM parameter holding a Route53 service's decision record."""
    return f"/cutover/{project}/{stack}/{service}"


def _weights(by_color: Mapping[str, int]) -> Weights | None:
    try:
        return Weights(int(by_color.get("blue", 0)), int(by_color.get("green", 0))) if by_color else None
    except InvalidWeights:
        return None
