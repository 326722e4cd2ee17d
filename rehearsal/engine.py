"""Run the real program (`__main__.py`) under Pulumi's mock engine, one `pulumi up`/`preview` at a time.

Each run gets its config exactly as the CLI passes it (JSON strings), the
previous run's stack outputs through the program's self StackReference, and a
clock. It records every registered resource with its inputs, so successive
runs can be compared the way the engine's diff would: created, updated,
replaced, deleted. Uses two SDK internals (pinned pulumi): `settings.ROOT`
reset between runs and `_sync_await` to drive a run to completion.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import runpy
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

import grpc
import pulumi
from pulumi.output import contains_unknowns
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from rehearsal.world import JOB, LiveWorld, NotFound, _job_label

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_ROOT / "__main__.py"
PROJECT = "cutover"
ORGANIZATION = "organization"
ACCOUNT = "123456789012"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
DYNAMIC_RESOURCE = "pulumi-python:dynamic:Resource"
"""A Pulumi dynamic resource (the migration runs): its provider's outcome comes from `LiveWorld.migration_outcome`."""
SELF_REFERENCE = "cutover-previous-run"
"""Resource name of the program's reference to its own previous outputs; other references read `other_stacks`."""

# Properties whose change makes the provider replace the resource (from the
# pulumi-aws / Kubernetes schemas' force-new fields). "*" = immutable resource.
REPLACE_ON: dict[str, tuple[str, ...]] = {
    "aws:lb/targetGroup:TargetGroup": ("name", "namePrefix", "port", "protocol", "vpcId", "targetType", "protocolVersion"),
    "aws:lb/loadBalancer:LoadBalancer": ("name", "namePrefix", "internal", "loadBalancerType"),
    "aws:lb/listener:Listener": ("loadBalancerArn",),
    "aws:lb/listenerRule:ListenerRule": ("listenerArn",),
    "aws:ecs/service:Service": ("name", "cluster", "launchType", "schedulingStrategy"),
    "aws:ecs/cluster:Cluster": ("name",),
    "aws:ecs/taskDefinition:TaskDefinition": ("*",),
    "aws:route53/record:Record": ("name", "type", "zoneId", "setIdentifier"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "vpcId", "description"),
    "aws:ssm/parameter:Parameter": ("name",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix"),
    "aws:appautoscaling/target:Target": ("resourceId", "scalableDimension", "serviceNamespace"),
    "aws:appautoscaling/policy:Policy": ("name", "resourceId", "scalableDimension", "serviceNamespace"),
    "kubernetes:apps/v1:Deployment": ("metadata.name", "metadata.namespace", "spec.selector"),
    "kubernetes:core/v1:Service": ("metadata.name", "metadata.namespace", "spec.clusterIP"),
    "kubernetes:policy/v1:PodDisruptionBudget": ("metadata.name", "metadata.namespace", "spec.selector"),
    "kubernetes:networking.k8s.io/v1:Ingress": ("metadata.name", "metadata.namespace"),
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": ("metadata.name", "metadata.namespace"),
    "kubernetes:batch/v1:Job": ("metadata.name", "metadata.namespace", "spec.selector", "spec.template"),
}
# Resource types that carry production traffic: the zero-downtime invariant forbids replacing them mid-rollout.
TRAFFIC_CARRIERS = (
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
    "aws:ecs/service:Service",
    "aws:route53/record:Record",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Service",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
)


class UnexpectedInvoke(RuntimeError):
    """The program called a provider function this harness does not know: add it deliberately."""


class DuplicateResource(RuntimeError):
    """Two resources with the same type and name: the real engine rejects this."""


class InjectedFailure(RuntimeError):
    """The provider rejected this resource's create/update (planted by a test)."""


class UnreadableStack(RuntimeError):
    """The self StackReference could not be read (planted by a test)."""


MINIMUM_CLI = "3.112.0"
"""The CLI version the harness reports to `require_pulumi_version` unless a test says otherwise."""


@dataclass(frozen=True)
class RecordedResource:
    type: str
    name: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    custom: bool

    @property
    def key(self) -> str:
        return f"{self.type}::{self.name}"


@dataclass(frozen=True)
class Faults:
    """What goes wrong in one run, the way the real engine experiences it."""

    fail: frozenset[str] = frozenset()
    """Resource keys (`type::name`) whose create/update the provider rejects: each keeps its previous state,
    and the engine touches nothing that depends on it."""
    stop_on_failure: bool = False
    """The engine stops launching steps after the first failure (its default without --continue-on-error):
    resources registered after it are not applied either. Without it, independent resources still are."""
    state_unreadable: bool = False
    """The self StackReference cannot be read (backend error, wrong name)."""
    cli_version: str = MINIMUM_CLI
    """Version of the CLI the program believes it runs under."""
    other_stacks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Fully qualified stack name -> its outputs, for references to other stacks (promotion sources)."""
    not_taken: frozenset[str] = frozenset()
    """Resource keys whose update the provider reports as done while the cloud keeps the previous state:
    their applied outputs are the previous ones (what a run must not record as applied)."""


@dataclass
class RunResult:
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, RecordedResource] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    error: str | None = None
    applied: list[str] = field(default_factory=list)
    """Keys the engine applied (registered and neither failed nor skipped after a failure)."""
    failed: list[str] = field(default_factory=list)
    """Keys whose update the provider rejected in this run."""
    exports_resolved: bool = True
    """Every stack export resolved: the engine saves them (since pulumi/pulumi#15754, even when the run failed)."""
    dependencies: dict[str, set[str]] = field(default_factory=dict)
    ignore_changes: dict[str, frozenset[str]] = field(default_factory=dict)
    """Resource key -> properties registered with `ignore_changes` (the engine does not send their changes)."""
    """Key -> keys of the resources and components it was registered to depend on."""
    parents: dict[str, str | None] = field(default_factory=dict)
    """Key -> key of the component it was registered under (None: the stack itself)."""
    reads: list[str] = field(default_factory=list)
    """Provider reads the program made before deciding: invoke tokens and `get`s (`type id`)."""
    logs: list[str] = field(default_factory=list)
    """What the program logged to the engine (`pulumi.log`), as the CLI would print it."""

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources.values() if r.type == type_token]

    def named(self, type_token: str, name: str) -> RecordedResource:
        return self.resources[f"{type_token}::{name}"]

    @property
    def refused(self) -> bool:
        """The program stopped before registering anything (a config or state error)."""
        return self.error is not None and not self.failed


@dataclass(frozen=True)
class Changes:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    replaced: tuple[str, ...]
    deleted: tuple[str, ...]


class RecordingMocks(pulumi.runtime.Mocks):
    """Strict mocks: echo inputs as outputs plus the computed fields the program reads; answer
    provider reads from the live world; fail the resources a test names."""

    def __init__(self, previous_outputs: Mapping[str, Any] | None, region: str):
        self.previous_outputs = previous_outputs
        self.region = region
        self.world = LiveWorld(region)
        self.faults = Faults()
        self.preview = False
        self.resources: dict[str, RecordedResource] = {}
        self.order: list[str] = []
        self.failed: list[str] = []
        self.skipped: set[str] = set()
        self.reads: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == STACK_REFERENCE:
            self.reads.append(f"{STACK_REFERENCE} {args.resource_id or args.inputs.get('name')}")
            if self.faults.state_unreadable:
                raise UnreadableStack(f"failed to read stack {args.name!r}: the backend answered 403 Forbidden")
            if args.name != SELF_REFERENCE:
                wanted = str(args.inputs.get("name") or args.resource_id or "")
                other = self.faults.other_stacks.get(wanted)
                if other is None:
                    raise UnreadableStack(f"failed to read stack {wanted!r}: no stack by that name in this backend")
                return args.name, {"name": wanted, "outputs": dict(other), "secretOutputNames": []}
            outputs = dict(self.previous_outputs or {})
            return args.name, {"name": args.name, "outputs": outputs, "secretOutputNames": []}
        if args.resource_id:  # a resource `get`: the provider reads the object from the cloud
            self.reads.append(f"{args.typ} {args.resource_id}")
            try:
                return args.resource_id, dict(self.world.read(args.typ, args.resource_id))
            except NotFound as err:
                raise NotFoundError(str(err)) from None
        key = f"{args.typ}::{args.name}"
        if key in self.resources:
            raise DuplicateResource(f"duplicate resource {key}")
        if key in self.faults.fail:
            self.failed.append(key)
            raise InjectedFailure(f"{key}: the provider rejected the update (planted failure)")
        if self.failed and self.faults.stop_on_failure:
            self.skipped.add(key)
        if args.typ == JOB and not self.preview and key not in self.world.resources and not _skips_await(args.inputs) \
                and self.world.job_outcomes.get(_job_label(args.inputs)) == "failed":
            # pulumi-kubernetes awaits a Job until Complete and fails the update on Failed (batch/v1 Job API docs).
            self.failed.append(key)
            raise InjectedFailure(f"{key}: Job failed: BackoffLimitExceeded (the provider's await)")
        if args.typ == DYNAMIC_RESOURCE:
            outputs = self.world.migration_outcome(key, args.name, args.inputs, self.preview)
        else:
            outputs = {**args.inputs, **self._computed(args.typ, args.name, args.inputs)}
        if key in self.faults.not_taken and key in self.world.resources:
            outputs = dict(self.world.resources[key].outputs)
        self.resources[key] = RecordedResource(args.typ, args.name, dict(args.inputs), outputs, args.custom)
        self.order.append(key)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.reads.append(args.token)
        try:
            return self.world.invoke(args.token, args.args)
        except KeyError:
            raise UnexpectedInvoke(f"unexpected invoke {args.token}") from None
        except NotFound as err:
            raise NotFoundError(str(err)) from None

    def _computed(self, type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        out = _computed(type_token, name, inputs, self.region)
        if type_token == "aws:ecs/taskDefinition:TaskDefinition":
            # Task definitions are immutable: a new revision (a new ARN) whenever the containers change.
            out["arn"] = self.world.task_definition_arn(str(inputs.get("family", name)), inputs.get("containerDefinitions"))
        return out


class NotFoundError(grpc.RpcError):
    """A provider read of an object that does not exist, delivered as the engine delivers a data source's
    error (a gRPC status the SDK turns into an exception the program can catch)."""

    def __init__(self, message: str):
        super().__init__(message)
        self._message = message

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._message


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping what each registration declared it depends on."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self.dependencies: dict[str, set[str]] = {}
        self.ignore_changes: dict[str, frozenset[str]] = {}
        self.parents: dict[str, str | None] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        key = _key_of_urn(self.make_urn(request.parent, request.type, request.name))
        self.dependencies[key] = {_key_of_urn(urn) for urn in request.dependencies}
        self.parents[key] = _key_of_urn(request.parent) if request.parent else None
        if request.ignoreChanges:
            self.ignore_changes[key] = frozenset(request.ignoreChanges)
        return response


def _skips_await(inputs: Mapping[str, Any]) -> bool:
    return ((inputs.get("metadata") or {}).get("annotations") or {}).get("pulumi.com/skipAwait") == "true"


def _key_of_urn(urn: str) -> str:
    qualified_type, name = urn.split("::")[2:4]
    return f"{qualified_type.split('$')[-1]}::{name}"


def stack_config(stack_file: Path) -> dict[str, Any]:
    """The `config:` block of a Pulumi.<stack>.yaml, as plain values."""
    import yaml

    return dict((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})


def run_program(
    config: Mapping[str, Any],
    previous_outputs: Mapping[str, Any] | None,
    *,
    now: datetime,
    stack: str = "dev",
    preview: bool = False,
    environment: Mapping[str, str] | None = None,
    mocks_factory: Callable[[Mapping[str, Any] | None, str], RecordingMocks] | None = None,
    world: LiveWorld | None = None,
    faults: Faults | None = None,
    program: Callable[[], object] | None = None,
) -> RunResult:
    """One `pulumi up` (or `preview`) of `__main__.py` under the mock engine.

    `config` maps full keys (`cutover:services`, `aws:region`) to plain values;
    objects are passed as JSON strings, as the CLI does. Provider reads are answered
    from `world` (the cloud before this run); the caller commits what the run applied.
    `program` replaces `__main__.py` (the benchmark's bare-SDK baseline runs under the same mocks).
    """
    region = str(config.get("aws:region", "us-east-1"))
    mocks = (mocks_factory or RecordingMocks)(previous_outputs, region)
    mocks.world = world if world is not None else LiveWorld(region)
    mocks.faults = faults or Faults()
    mocks.preview = preview
    for key in [k for k in os.environ if k.startswith("PULUMI_CONFIG")]:
        del os.environ[key]
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, [])
    _drop_leftovers()
    _quiet_planted_failures()
    monitor = RecordingMonitor(mocks)
    logs = _EngineLog()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, organization=ORGANIZATION, monitor=monitor,
                             logger=logs.logger)
    settings.SETTINGS.engine.RequirePulumiVersion = _cli_version_check(mocks.faults.cli_version)
    # set_mocks registers a root stack of its own; the run creates the real one, as the engine does.
    settings.ROOT.set(None)
    saved_env = {k: os.environ.get(k) for k in ["CUTOVER_NOW", *(environment or {})]}
    collector_was_on = gc.isenabled()  # the program switches it off for its process (components/program.py)
    os.environ["CUTOVER_NOW"] = now.isoformat()
    os.environ.update(environment or {})
    result = RunResult()
    stacks = []
    try:

        def body() -> None:
            stacks.append(settings.get_root_resource())  # the run's Stack lives in the run's own context
            if program is not None:
                program()
            else:
                runpy.run_path(str(PROGRAM), run_name="__main__")

        _sync_await(run_in_stack(body))
    except pulumi.RunError as err:
        result.error = str(err)
    except Exception as err:  # noqa: BLE001 - a failed resource fails the run, as `pulumi up` reports it
        result.error = f"{type(err).__name__}: {err}"
        if not mocks.faults.stop_on_failure:
            _finish_independent_registrations()
    finally:
        if collector_was_on:
            gc.enable()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    raw = dict(stacks[0].outputs) if stacks and stacks[0] is not None and stacks[0].outputs else {}
    result.outputs, result.exports_resolved = _resolve_exports(raw)
    settings.ROOT.set(None)
    result.resources = dict(mocks.resources)
    result.order = list(mocks.order)
    result.failed = list(mocks.failed)
    result.applied = [k for k in mocks.order if k not in mocks.skipped]
    result.dependencies = dict(monitor.dependencies)
    result.ignore_changes = dict(monitor.ignore_changes)
    result.parents = dict(monitor.parents)
    result.reads = list(mocks.reads)
    result.logs = list(logs.lines)
    return result


class _EngineLog(logging.Handler):
    """The engine's diagnostics for one run (what `pulumi.log.*` sends, the CLI prints)."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self.logger = logging.getLogger(f"cutover.rehearsal.engine.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")


def _finish_independent_registrations() -> None:
    """The SDK stops waiting at the first failed registration; the engine, with --continue-on-error (or
    for steps already in flight), still applies what does not depend on it. Let those finish, so a test
    sees the widest partial application deterministically (stop_on_failure gives the narrowest)."""
    import asyncio

    for _ in range(100):
        pending = [t for t in list(settings.SETTINGS.outputs) + list(settings._get_rpc_manager().rpcs) if not t.done()]
        if not pending:
            return
        _sync_await(asyncio.gather(*pending, return_exceptions=True))


def _quiet_planted_failures() -> None:
    """Futures rejected by a planted failure are never awaited once the run has failed; asyncio would
    report each one when it is collected. Those reports are noise, anything else is still reported."""
    import asyncio

    loop = asyncio.get_event_loop()

    def handler(loop, context):
        if isinstance(context.get("exception"), (InjectedFailure, UnreadableStack, NotFoundError)):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _drop_leftovers() -> None:
    """A failed run stops waiting at its first error and leaves tasks behind (outputs of resources that
    never registered); they would surface in the next run. The engine starts each run in a fresh process."""
    try:
        leftover = list(settings.SETTINGS.outputs)
    except LookupError:  # no run yet in this process
        return
    settings.SETTINGS.outputs.clear()
    for task in leftover:
        task.cancel()


def _resolve_exports(raw: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Python registers every export in one call: if one of them depends on a failed resource, none is saved."""
    outputs = {}
    for key, value in raw.items():
        try:
            outputs[key] = _sync_await(_plain_export(value))
        except Exception:  # noqa: BLE001 - an export that waits on a failed resource never resolves
            return {}, False
    return outputs, True


class _Unknown(Exception):
    """Some part of an export is unknown (a preview)."""


async def _plain_export(value: Any) -> Any:
    """What `Output.from_input(value).future()` gives — the export deeply resolved, None when any part of it is
    unknown — without the Output per nested value that `from_input` creates (the engine serializes an export
    by awaiting its outputs, as this does)."""
    try:
        return await _awaited(value)
    except _Unknown:
        return None


async def _awaited(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        if not await value.is_known():
            raise _Unknown
        inner = await value.future(with_unknowns=True)
        if contains_unknowns(inner):
            raise _Unknown
        return await _awaited(inner)
    if isinstance(value, dict):
        return {k: await _awaited(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [await _awaited(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def _cli_version_check(cli_version: str) -> Callable[[Any], None]:
    """The engine's RequirePulumiVersion for ">=X.Y.Z" ranges, against the version a test chose."""
    def check(request) -> None:
        wanted = request.pulumi_version_range
        if not wanted.startswith(">="):
            raise ValueError(f"the harness only checks '>=' ranges, got {wanted!r}")
        if _version(cli_version) < _version(wanted[2:]):
            raise pulumi.RunError(f"Pulumi CLI version {cli_version} does not satisfy the version range {wanted!r}")
    return check


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip().split("."))


def diff(before: RunResult | None, after: RunResult) -> Changes:
    """What the engine would do going from `before`'s resources to `after`'s."""
    old = before.resources if before else {}
    new = after.resources
    created = tuple(k for k in new if k not in old)
    deleted = tuple(k for k in old if k not in new)
    updated, replaced = [], []
    for key in new:
        ignored = after.ignore_changes.get(key, frozenset())  # the engine sends no change of these
        before_inputs = {k: v for k, v in old[key].inputs.items() if k not in ignored} if key in old else None
        after_inputs = {k: v for k, v in new[key].inputs.items() if k not in ignored}
        if key not in old or _comparable(before_inputs) == _comparable(after_inputs):
            continue
        if _forces_replacement(new[key].type, before_inputs, after_inputs):
            replaced.append(key)
        else:
            updated.append(key)
    return Changes(created, tuple(updated), tuple(replaced), deleted)


def _forces_replacement(type_token: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    keys = REPLACE_ON.get(type_token, ())
    if "*" in keys:
        return True
    return any(_dig(old, key) != _dig(new, key) for key in keys)


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return _comparable(value)


def _comparable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _computed(type_token: str, name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Fields the provider computes: ARNs, DNS names, autonames (stable per logical name)."""
    suffix = hashlib.sha1(name.encode()).hexdigest()[:7]
    physical = inputs.get("name") or f"{name}-{suffix}"
    module = type_token.split(":")[1].split("/")[0] if type_token.startswith("aws:") else ""
    out: dict[str, Any] = {"name": physical, "arn": f"arn:aws:{module}:{region}:{ACCOUNT}:{name}/{suffix}"}
    if type_token == "aws:lb/loadBalancer:LoadBalancer":
        out["arn"] = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/app/{physical[:32]}/{suffix}"
        out["dnsName"] = f"{physical[:32]}-{suffix}.{region}.elb.amazonaws.com"
        out["arnSuffix"] = f"app/{physical[:32]}/{suffix}"
        out["zoneId"] = "Z35SXDOTRQ7X7K"
    elif type_token == "aws:lb/targetGroup:TargetGroup":
        out["arn"] = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:targetgroup/{physical[:32]}/{suffix}"
        out["arnSuffix"] = f"targetgroup/{physical[:32]}/{suffix}"
    elif type_token == "aws:lb/listener:Listener":
        out["arn"] = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:listener/app/{name}/{suffix}"
    elif type_token == "aws:lb/listenerRule:ListenerRule":
        out["arn"] = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:listener-rule/app/{name}/{suffix}"
    elif type_token == "aws:ecs/taskDefinition:TaskDefinition":
        out["arn"] = f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{inputs.get('family', name)}:1"
    elif type_token.startswith("kubernetes:"):
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", f"{name}-{suffix}")
        out = {"metadata": metadata}
    return out
