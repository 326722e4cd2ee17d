"""The bare-SDK baseline: a program that registers the resources a cutover run registered — same types,
same names, same inputs, same `depends_on` and `ignore_changes` — with the same pulumi_aws /
pulumi_kubernetes classes, and nothing else: no config, no state read, no live reads, no decisions,
no components, no exports.

How it is made fair:
- the registrations are captured from a real cutover run (`capture`), so the two programs cannot
  drift apart; `same_registrations` checks that the mock engine received the same custom resources
  with equal inputs;
- wiring is kept: an input value that is another resource's id / ARN / name / DNS name (what a
  hand-written program passes as `target_group.arn`) is passed as that resource's Output, exactly as
  cutover does, so the SDK resolves the same dependency graph;
- components are flattened: every custom resource is a child of the stack. Components, the stack
  exports, the StackReference and the provider reads that decide a step are cutover's own cost,
  which is what the ratio measures;
- nested inputs are passed as the engine-shaped dicts the SDK accepts (the `...ArgsDict` form)
  rather than `...Args` objects: the serialized result is identical.

`Ladder` adds cutover's structure back one piece at a time, to say where the gap goes: the same
component tree (types, names, parents, `depends_on`), then the same reads (the StackReference, the
invokes and `get`s, in flight together as cutover makes them).
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import pulumi
from pulumi import _types

from rehearsal.engine import DYNAMIC_RESOURCE, STACK_REFERENCE, RecordingMocks, RunResult

OUTPUT_FIELDS = ("id", "arn", "name", "dnsName", "arnSuffix", "zoneId")
"""Provider-computed outputs an input may be wired from (AWS)."""
KUBERNETES_HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"


@dataclass(frozen=True)
class Wire:
    """An input leaf that is another resource's output: `path` inside the inputs, the source and its property."""

    path: tuple[Any, ...]
    source: str
    field: str


@dataclass(frozen=True)
class Registration:
    """One resource or component of a captured run, ready to replay."""

    type: str
    name: str
    custom: bool
    inputs: Mapping[str, Any]
    wires: tuple[Wire, ...]
    depends_on: tuple[str, ...]
    """Keys of the resources and components it was registered to depend on."""
    ignore_changes: tuple[str, ...]
    parent: str | None
    """Key of its component in the captured run (None: the stack)."""

    @property
    def key(self) -> str:
        return f"{self.type}::{self.name}"


@dataclass(frozen=True)
class Read:
    """A provider read of the captured run: ("stack", resource name, stack name), ("invoke", token, args)
    or ("get", type, resource name, id)."""

    kind: str
    what: tuple[Any, ...]


@dataclass(frozen=True)
class Ladder:
    """How much of cutover's structure the baseline carries (all off: the bare baseline)."""

    components: bool = False
    reads: bool = False


class CapturingMocks(RecordingMocks):
    """The rehearsal's mocks, also keeping the arguments of every read (for `Ladder(reads=True)`)."""

    def __init__(self, previous_outputs, region):
        super().__init__(previous_outputs, region)
        self.read_log: list[Read] = []

    def new_resource(self, args):
        if args.typ == STACK_REFERENCE:
            self.read_log.append(Read("stack", (args.name, str(args.inputs.get("name") or args.resource_id))))
        elif args.resource_id:
            self.read_log.append(Read("get", (args.typ, args.name, args.resource_id)))
        return super().new_resource(args)

    def call(self, args):
        self.read_log.append(Read("invoke", (args.token, dict(args.args))))
        return super().call(args)


def capture(result: RunResult) -> list[Registration]:
    """What `result` registered, in registration order (a topological order: a resource registers once its
    parent and the resources it waits for have), with the inputs that came from earlier resources' outputs
    marked as wires."""
    sources: dict[str, tuple[str, str]] = {}
    spec = []
    for key in result.order:
        recorded = result.resources[key]
        if recorded.type == DYNAMIC_RESOURCE:
            raise ValueError(f"{key}: dynamic resources (migrations) are not part of the benchmark configs")
        deps = tuple(sorted(d for d in result.dependencies.get(key, ()) if d in result.resources))
        parent = result.parents.get(key)
        spec.append(Registration(recorded.type, recorded.name, recorded.custom, recorded.inputs,
                                 tuple(_wires(recorded.inputs, sources)) if recorded.custom else (), deps,
                                 tuple(sorted(result.ignore_changes.get(key, ()))),
                                 parent if parent in result.resources else None))
        if recorded.custom:
            for field_name, value in _computed_outputs(recorded.type, recorded.name, recorded.outputs):
                sources[value] = (key, field_name)
    return spec


def _computed_outputs(type_token: str, name: str, outputs: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    yield "id", f"{name}-id"  # what the mock engine answers as the resource's id
    if type_token.startswith("kubernetes:"):
        metadata_name = (outputs.get("metadata") or {}).get("name")
        if isinstance(metadata_name, str):
            yield "metadata.name", metadata_name
        return
    for field_name in OUTPUT_FIELDS[1:]:
        value = outputs.get(field_name)
        if isinstance(value, str) and value:
            yield field_name, value


def _wires(value: Any, sources: Mapping[str, tuple[str, str]], path: tuple[Any, ...] = ()) -> Iterator[Wire]:
    if isinstance(value, str) and value in sources:
        yield Wire(path, *sources[value])
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _wires(v, sources, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _wires(v, sources, (*path, i))


def resource_class(type_token: str) -> type[pulumi.CustomResource]:
    """`aws:lb/listenerRule:ListenerRule` -> pulumi_aws.lb.ListenerRule;
    `kubernetes:networking.k8s.io/v1:Ingress` -> pulumi_kubernetes.networking.v1.Ingress."""
    package, module, class_name = type_token.split(":")
    if type_token == KUBERNETES_HTTPROUTE:  # no typed class: cutover registers it as a CustomResource
        return importlib.import_module("pulumi_kubernetes.apiextensions").CustomResource
    if package == "aws":
        return getattr(importlib.import_module(f"pulumi_aws.{module.split('/')[0]}"), class_name)
    if package == "kubernetes":
        group, version = module.split("/")
        return getattr(importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0]}.{version}"), class_name)
    raise ValueError(f"no class for {type_token}")


@dataclass(frozen=True)
class Prepared:
    """A registration with its class and Python names looked up (a hand-written program names them in its source)."""

    registration: Registration
    cls: type | None
    """None: a component."""
    py_names: Mapping[str, str]
    """Engine property name -> keyword argument."""
    wires: tuple[tuple[tuple[Any, ...], str, str | None], ...]
    """(path, source key, source attribute; None: the source's metadata.name)."""


def prepare(spec: list[Registration]) -> list[Prepared]:
    def names(cls: type) -> Mapping[str, str]:
        return {} if cls.__name__ == "CustomResource" else _types.resource_pulumi_to_py_names(cls)

    classes = {reg.key: resource_class(reg.type) for reg in spec if reg.custom}
    return [
        Prepared(reg, classes.get(reg.key), names(classes[reg.key]) if reg.custom else {}, tuple(
            (w.path, w.source, None if w.field == "metadata.name" else names(classes[w.source]).get(w.field, w.field))
            for w in reg.wires))
        for reg in spec
    ]


def bare_program(prepared: list[Prepared], ladder: Ladder = Ladder(), reads: list[Read] = ()) -> dict[str, pulumi.Resource]:
    """The baseline program itself: one resource construction per captured registration (and, up the
    ladder, one component per captured component and the captured reads first)."""
    if ladder.reads:
        _replay_reads(reads)
    made: dict[str, pulumi.Resource] = {}
    for item in prepared:
        reg, cls = item.registration, item.cls
        if not reg.custom and not ladder.components:
            continue
        parent = made.get(reg.parent) if ladder.components and reg.parent else None
        depends_on = [made[d] for d in reg.depends_on if d in made]  # flattened: components are not in `made`
        opts = pulumi.ResourceOptions(parent=parent, depends_on=depends_on or None,
                                      ignore_changes=list(reg.ignore_changes) or None)
        if cls is None:
            component = pulumi.ComponentResource(reg.type, reg.name, None, opts)
            component.register_outputs({})
            made[reg.key] = component
            continue
        inputs = _wired(reg.inputs, item.wires, made)
        if cls.__name__ == "CustomResource":
            made[reg.key] = cls(reg.name, api_version=inputs["apiVersion"], kind=inputs["kind"],
                                metadata=inputs.get("metadata"), spec=inputs.get("spec"), opts=opts)
        else:
            made[reg.key] = cls(reg.name, opts=opts, **{item.py_names.get(k, k): v for k, v in inputs.items()})
    return made


def _replay_reads(reads: list[Read]) -> None:
    """The captured run's reads, as cutover makes them: the state stack's outputs first (two synchronous
    reads), then every invoke and `get` in flight together, waited for once."""
    from pulumi.runtime.sync_await import _sync_await

    for read in (r for r in reads if r.kind == "stack"):
        reference = pulumi.StackReference(read.what[0], stack_name=read.what[1])
        for key in ("rollouts", "endpoints"):
            _sync_await(reference.get_output_details(key))

    async def one(read: Read) -> Any:
        if read.kind == "invoke":
            return await pulumi.runtime.invoke_output(read.what[0], read.what[1]).recover(lambda err: err).future()
        type_token, name, object_id = read.what
        cls = resource_class(type_token)
        if cls.__name__ == "CustomResource":
            resource = pulumi.CustomResource(type_token, name, {"apiVersion": None, "kind": None, "metadata": None,
                                                                "spec": None, "status": None}, pulumi.ResourceOptions(id=object_id))
        else:
            resource = cls.get(name, object_id)
        return await asyncio.gather(*(getattr(resource, f).future() for f in ("metadata", "spec", "status") if hasattr(cls, f)),
                                    return_exceptions=True)

    async def all_reads() -> list[Any]:
        return await asyncio.gather(*(one(r) for r in reads if r.kind != "stack"), return_exceptions=True)

    _sync_await(all_reads())


def _wired(captured: Mapping[str, Any], wires, made: Mapping[str, pulumi.Resource]) -> dict[str, Any]:
    if not wires:
        return dict(captured)
    inputs = _copy_along(captured, [path for path, _, _ in wires])
    for path, source_key, attribute in wires:
        source = made[source_key]
        if attribute is None:
            output = source.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        else:
            output = getattr(source, attribute)
        target = inputs
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = output
    return inputs


def _copy_along(value: Any, paths: list[tuple[Any, ...]]) -> Any:
    """A copy of `value` in which the containers on `paths` are fresh (so the captured spec is never mutated)."""
    copied = dict(value) if isinstance(value, Mapping) else list(value)
    heads: dict[Any, list[tuple[Any, ...]]] = {}
    for path in paths:
        if len(path) > 1:
            heads.setdefault(path[0], []).append(path[1:])
    for head, rest in heads.items():
        copied[head] = _copy_along(copied[head], rest)
    return copied


def same_registrations(cutover: RunResult, bare: RunResult, components: bool = False) -> list[str]:
    """Differences between what two runs registered (empty: same keys, equal inputs); components too if asked."""
    mine = {k: r for k, r in cutover.resources.items() if r.custom or components}
    theirs = {k: r for k, r in bare.resources.items() if r.custom or components}
    problems = [f"only in cutover: {k}" for k in mine.keys() - theirs.keys()]
    problems += [f"only in bare: {k}" for k in theirs.keys() - mine.keys()]
    problems += [f"inputs differ: {k}" for k in mine.keys() & theirs.keys() if _plain(mine[k].inputs) != _plain(theirs[k].inputs)]
    return sorted(problems)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
