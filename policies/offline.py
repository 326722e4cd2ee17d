"""Run the policy pack without the Pulumi CLI: resources in, violations out.

    from policies.offline import OfflineResource, evaluate, load_stack_config
    violations = evaluate([OfflineResource("aws:lb/listenerRule:ListenerRule", "api-rule", props)],
                          load_stack_config("prod"))

`props` are what the mock engine records (type token, logical name, camelCase inputs). The evaluator
does what the CLI and the Python analyzer do with them, so results match `pulumi preview --policy-pack
policies --policy-pack-config policies/config/<stack>.json`:

- config: schema defaults, then "all", then per-policy entries (pulumi's ReconcilePolicyPackConfig);
  invalid levels or settings raise `PolicyConfigError` as the CLI refuses to run;
- props and settings travel through a protobuf Struct (numbers arrive as floats) and are wrapped with
  `unknown_checking_proxy`; `pulumi.output.Unknown` values (mocks under preview) become unknowns;
- every resource policy runs on every resource (`props` = inputs), every stack policy runs once over all
  resources (`outputs` if given, else `props`: the engine gives stack policies the resources' outputs);
- "disabled" skips a policy, "remediate" reports as "mandatory"; an `UnknownValueError` escaping a
  validator becomes an advisory note (`Violation.unknown` is True), exactly as the analyzer reports it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.output import Unknown
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError  # pinned pulumi-policy==1.21.0: raised by args.not_applicable()
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from .rules import ALL_POLICIES, PACK_NAME

CONFIG_DIR = Path(__file__).parent / "config"
PACK_VERSION = "0.1.0"  # keep in step with PulumiPolicy.yaml
LEVELS = {level.value: level for level in EnforcementLevel}


class PolicyConfigError(ValueError):
    """A policy config the Pulumi CLI would refuse (bad enforcement level or a setting that fails its schema)."""


@dataclass(frozen=True)
class OfflineResource:
    """One resource as the engine (or the mock engine) records it."""

    type: str
    """Full type token, e.g. "aws:lb/listenerRule:ListenerRule"."""
    name: str
    """Logical name."""
    props: Mapping[str, Any]
    """camelCase inputs (what resource policies see)."""
    urn: str | None = None
    """Defaults to urn:pulumi:offline::cutover::<type>::<name>."""
    protect: bool = False
    outputs: Mapping[str, Any] | None = None
    """What stack policies see (the engine passes outputs, e.g. a target group's `arn`); None: use `props`."""
    parent: str | None = None
    """Parent URN, if any."""
    ignore_changes: tuple[str, ...] = ()
    delete_before_replace: bool | None = None

    @property
    def resolved_urn(self) -> str:
        return self.urn or f"urn:pulumi:offline::cutover::{self.type}::{self.name}"


@dataclass(frozen=True)
class Violation:
    policy_name: str
    enforcement_level: str
    """"advisory" or "mandatory"."""
    urn: str | None
    """The resource in violation; None for a stack-wide finding."""
    message: str
    unknown: bool = False
    """True for the advisory note a policy leaves when a value is unknown during preview."""


@dataclass(frozen=True)
class ResolvedPolicyConfig:
    enforcement_level: EnforcementLevel
    properties: dict[str, Any] = field(default_factory=dict)


def load_config(path: str | Path) -> dict[str, Any]:
    """A `--policy-pack-config` JSON file as a dict ({} for an empty file, as the CLI allows)."""
    text = Path(path).read_text()
    return json.loads(text) if text.strip() else {}


def load_stack_config(stack: str) -> dict[str, Any]:
    """The checked-in config for a stack: policies/config/<stack>.json."""
    return load_config(CONFIG_DIR / f"{stack}.json")


def resolve_config(config: Mapping[str, Any] | None,
                   policies: Sequence[Policy] = ALL_POLICIES) -> dict[str, ResolvedPolicyConfig]:
    """Enforcement level and settings per policy, as the CLI computes them before calling the analyzer."""
    given = _parse_config(config or {})
    result: dict[str, ResolvedPolicyConfig] = {}
    for policy in policies:
        defaults = {k: v["default"] for k, v in (policy.config_schema.properties.items() if policy.config_schema
                                                 else ()) if "default" in v}
        result[policy.name] = ResolvedPolicyConfig(policy.enforcement_level or EnforcementLevel.ADVISORY, defaults)
    all_level = given.get("all", (None, {}))[0]
    if all_level is not None:
        result = {name: ResolvedPolicyConfig(all_level, c.properties) for name, c in result.items()}
    for name, (level, properties) in given.items():
        if name not in result:
            continue  # the CLI ignores config for policies the pack doesn't have
        current = result[name]
        result[name] = ResolvedPolicyConfig(level or current.enforcement_level, {**current.properties, **properties})
    errors = [f"{p.name}: {e}" for p in policies if p.config_schema
              for e in _schema_errors(p.config_schema.properties, p.config_schema.required or [],
                                      result[p.name].properties)]
    if errors:
        raise PolicyConfigError("policy pack configuration is invalid: " + "; ".join(errors))
    return result


def evaluate(resources: Sequence[OfflineResource], config: Mapping[str, Any] | None = None,
             policies: Sequence[Policy] = ALL_POLICIES) -> list[Violation]:
    """Every resource policy on every resource, then every stack policy once; violations in that order."""
    resolved = resolve_config(config, policies)
    violations: list[Violation] = []
    for resource in resources:
        for policy in policies:
            if isinstance(policy, ResourceValidationPolicy):
                violations += _run(policy, resolved[policy.name], resource.resolved_urn,
                                   lambda settings, r=resource: ResourceValidationArgs(
                                       r.type, _wire(r.props), r.resolved_urn, r.name, _options(r), None, settings))
    for policy in policies:
        if isinstance(policy, StackValidationPolicy):
            violations += _run(policy, resolved[policy.name], None,
                               lambda settings: StackValidationArgs(_stack_resources(resources), settings))
    return violations


def _run(policy: Policy, config: ResolvedPolicyConfig, default_urn: str | None, make_args: Any) -> list[Violation]:
    level = config.enforcement_level
    if level == EnforcementLevel.DISABLED:
        return []
    if level == EnforcementLevel.REMEDIATE:
        level = EnforcementLevel.MANDATORY
    found: list[Violation] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        target = default_urn if isinstance(policy, ResourceValidationPolicy) else urn
        found.append(Violation(policy.name, level.value, target or None, message))

    args = make_args(_wire_dict(config.properties))
    try:
        result = policy.validate(args, report_violation)
        if isawaitable(result):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(result)
            finally:
                loop.close()
    except UnknownValueError as error:
        found.append(Violation(
            policy.name, EnforcementLevel.ADVISORY.value, default_urn,
            f"can't run policy '{policy.name}' from policy pack '{PACK_NAME}@v{PACK_VERSION}' during preview: "
            f"{error.message}", unknown=True))
    except _NotApplicableError:
        pass
    return found


def _options(resource: OfflineResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(resource.protect, list(resource.ignore_changes), resource.delete_before_replace,
                                 [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent)


def _stack_resources(resources: Sequence[OfflineResource]) -> list[PolicyResource]:
    built = {r.resolved_urn: PolicyResource(r.type, _wire(r.outputs if r.outputs is not None else r.props),
                                            r.resolved_urn, r.name, _options(r), None, None, [], {})
             for r in resources}
    for r in resources:
        if r.parent in built:
            built[r.resolved_urn].parent = built[r.parent]
    return list(built.values())


def _plain(value: Any) -> Any:
    """Mock-engine values as JSON: Unknown -> the analyzer's unknown sentinel."""
    if isinstance(value, Unknown):
        return UNKNOWN_STRING_VALUE
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _wire_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """Through a protobuf Struct and back, as the engine sends it (ints become floats)."""
    struct = struct_pb2.Struct()
    struct.update(_plain(dict(values)))
    return json_format.MessageToDict(struct)


def _wire(props: Mapping[str, Any]) -> Any:
    return unknown_checking_proxy(deserialize_properties(_wire_dict(props)))


def _parse_config(config: Mapping[str, Any]) -> dict[str, tuple[EnforcementLevel | None, dict[str, Any]]]:
    parsed: dict[str, tuple[EnforcementLevel | None, dict[str, Any]]] = {}
    for name, value in config.items():
        if isinstance(value, str):
            parsed[name] = (_level(name, value), {})
        elif isinstance(value, Mapping):
            properties = dict(value)
            raw_level = properties.pop("enforcementLevel", None)
            parsed[name] = (None if raw_level is None else _level(name, raw_level), properties)
        else:
            raise PolicyConfigError(f"parsing {name!r}: {value!r} is not a valid value; must be a string or object")
    return parsed


def _level(name: str, value: Any) -> EnforcementLevel:
    if not isinstance(value, str) or value not in LEVELS:
        raise PolicyConfigError(f"parsing enforcement level for {name!r}: {value!r} is not a valid enforcement level")
    return LEVELS[value]


_JSON_TYPES = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, Mapping),
}
SUPPORTED_SCHEMA_KEYWORDS = {"type", "minimum", "maximum", "enum", "items", "default", "description"}


def _schema_errors(properties: Mapping[str, Any], required: Sequence[str], values: Mapping[str, Any]) -> list[str]:
    """The subset of JSON Schema this pack's config schemas use (tests pin that subset)."""
    errors = [f"{key} is required" for key in required if key not in values]
    for key, value in values.items():
        if key in properties:
            errors += _value_errors(key, properties[key], value)
    return errors


def _value_errors(path: str, spec: Mapping[str, Any], value: Any) -> list[str]:
    kind = spec.get("type")
    if kind is not None and not _JSON_TYPES[kind](value):
        return [f"{path}: invalid type, expected {kind}, given {value!r}"]
    errors = []
    if "enum" in spec and value not in spec["enum"]:
        errors.append(f"{path}: must be one of {spec['enum']}")
    if "minimum" in spec and value < spec["minimum"]:
        errors.append(f"{path}: must be greater than or equal to {spec['minimum']}")
    if "maximum" in spec and value > spec["maximum"]:
        errors.append(f"{path}: must be less than or equal to {spec['maximum']}")
    if "items" in spec and isinstance(value, list):
        for i, item in enumerate(value):
            errors += _value_errors(f"{path}.{i}", spec["items"], item)
    return errors
