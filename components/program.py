"""One run of the cutover program, as a story:

1. config, validated (errors name the key);
2. the previous run's outputs, through a StackReference to this stack (`cutover:stateStack`);
3. every service's live router and workloads, read back through the provider;
4. per service: which witness to trust, the gate, the next state (pure);
5. the platforms' resources, ordered so that any prefix of the run is safe;
6. the outputs, derived from what the resources applied.

Everything that can refuse the run (bad config, an unreadable state stack, a service whose
witnesses cannot be trusted) happens before the first resource is registered, and surfaces as a
`pulumi.RunError`: the CLI prints its message without a traceback and the update changes nothing.
"""

from __future__ import annotations

import gc
import os
from datetime import datetime, timezone
from typing import Any

import pulumi

from components.app import EvidenceSource, GateSource, ServiceDecision, SmokeSource, bake_only_gate, decide_service
from components.config import CONFIG_KEYS, CONFIG_NAMESPACE, CutoverConfig, CutoverConfigError, Platform, load_config
from components.rollout.codec import CorruptState, UnrecoverableState, parse_time

CLOCK_OVERRIDE = "CUTOVER_NOW"
"""ISO-8601 time the rehearsal and tests run at; unset in real runs (the wall clock)."""
MINIMUM_PULUMI = "3.112.0"
"""The first CLI that keeps the outputs of a failed update (pulumi/pulumi#15754); older ones dropped
them all, which would make every service of a live stack look new."""


def run() -> dict[str, dict[str, pulumi.Output[Any]]]:
    """The whole program; exports and returns the stack outputs (service -> its output, per export)."""
    _stop_the_cycle_collector()
    config = _load_config()
    _require_cli()
    now = _now()
    previous = _read_previous_outputs(config)
    live = _read_live(config, previous.get("endpoints"))
    previous = _with_migration_outcomes(previous, live)
    decisions = _decide(config, previous, live, now, _gate_source(config, previous, now), _evidence_source(config),
                        _first_shift_source(config, previous))
    _report_migrations(config, decisions, previous.get("endpoints"))
    _tell_the_operator(decisions)
    records, endpoints = _build(config, decisions, previous.get("endpoints"))
    # Plain dicts of per-service outputs: the SDK serializes them by awaiting each one. `Output.all` over them
    # would make it unwrap every record and endpoint again, one Output object per nested value.
    outputs = {"rollouts": records, "endpoints": endpoints}
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


def _stop_the_cycle_collector() -> None:
    """Switch Python's cyclic garbage collector off for the rest of the process.

    A run builds every resource before the engine registers any, and nearly everything it creates (resources,
    their outputs, futures and tasks: several hundred objects per resource) lives until the run ends. The
    collector walks that growing heap again and again and frees next to nothing: under the mock engine it was
    half of a 200-service run, and the cost per resource grew with the stack; with it off, the cost per
    resource is flat and the memory a run adds grows by less than a tenth (bench/RESULTS.md). The engine runs
    each `pulumi up` and `pulumi preview` in a process of its own that ends with the run, and reference
    counting still frees everything outside a cycle. The rehearsal harness restores the collector after each
    run, as the end of that process would.
    """
    gc.disable()


def _load_config() -> CutoverConfig:
    settings = pulumi.Config(CONFIG_NAMESPACE)
    raw = {key: settings.get(key) for key in (*CONFIG_KEYS, *_other_keys_in_namespace())}
    try:
        return load_config({key: value for key, value in raw.items() if value is not None})
    except CutoverConfigError as err:
        raise pulumi.RunError(str(err)) from None


def _other_keys_in_namespace() -> list[str]:
    """`cutover:*` keys besides ours (typos such as `cutover:servics`), so they are refused, not ignored."""
    from pulumi.runtime import config as runtime_config  # the SDK's view of every config key of the run

    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{CONFIG_NAMESPACE}:"
    return sorted(k.removeprefix(prefix) for k in present if k.startswith(prefix) and k.removeprefix(prefix) not in CONFIG_KEYS)


def _require_cli() -> None:
    try:
        pulumi.runtime.require_pulumi_version(f">={MINIMUM_PULUMI}")
    except Exception as err:  # noqa: BLE001 - the engine answers with a plain exception
        raise pulumi.RunError(
            f"cutover needs Pulumi CLI {MINIMUM_PULUMI} or newer: older CLIs drop every stack output when an update "
            f"fails, and the next run would take live services for new ones ({err})"
        ) from None


def _region() -> str:
    return pulumi.Config("aws").get("region") or "us-east-1"


def _now() -> datetime:
    override = os.environ.get(CLOCK_OVERRIDE)
    if not override:
        return datetime.now(timezone.utc)
    try:
        return parse_time(override, CLOCK_OVERRIDE)
    except CorruptState as err:
        raise pulumi.RunError(f"{CLOCK_OVERRIDE}: {err}") from None


def _stack_id() -> str:
    return f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"


def _read_previous_outputs(config: CutoverConfig) -> dict[str, Any]:
    """The state stack's last saved outputs (this stack unless `cutover:stateStack` names it); {} on a first run."""
    name = config.state_stack or _stack_id()
    try:
        previous = _read_outputs("cutover-previous-run", name, ("rollouts", "endpoints"))
    except Exception as err:  # noqa: BLE001 - any failure to read the state is fatal, never a first deploy
        message = (
            f"cutover: the state stack {name!r} could not be read ({err}); nothing was changed. Check the backend "
            f"login, or set {CONFIG_NAMESPACE}:stateStack to the name your backend uses for this stack "
            "(a self-managed backend in its legacy layout takes a plain stack name)."
        )
        # The engine also reports the failed read and may print it first: say ours as a diagnostic too.
        pulumi.log.error(message)
        raise pulumi.RunError(message) from None
    return previous


def _read_outputs(resource_name: str, stack_name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Plain values of some outputs of a stack (secrets decrypted), read at program time."""
    from pulumi.runtime.sync_await import _sync_await  # the documented sync bridge for plain values at run time

    reference = pulumi.StackReference(resource_name, stack_name=stack_name)
    found = {}
    for key in keys:
        details = _sync_await(reference.get_output_details(key))
        found[key] = details.value if details.value is not None else details.secret_value
    return found


def _read_live(config: CutoverConfig, endpoints: Any) -> dict:
    from components.live.aws_reader import AwsLiveReader
    from components.live.kubernetes_reader import ReadFailed
    from components.live.reader import read_live

    try:
        return read_live(config, endpoints, AwsLiveReader(_stack_id(), pulumi.get_project(), pulumi.get_stack()))
    except ReadFailed as err:
        raise pulumi.RunError(
            f"cutover: {err}; nothing was changed. If the object was removed by hand, set "
            f"{CONFIG_NAMESPACE}:services.<service>.recover to {{stableColor, stableVersion}} for one run."
        ) from None


def _with_migration_outcomes(previous: dict[str, Any], live: dict) -> dict[str, Any]:
    """The previous outputs with the migration outcomes this run read back (Kubernetes Jobs: their outcome is
    only known to the run after the one that created them), so the verdicts and the exported records use them."""
    from components.gates.migration_verdict import with_live_outcomes

    endpoints = previous.get("endpoints")
    if not isinstance(endpoints, dict) or not any(getattr(seen, "migrations", None) for seen in live.values()):
        return previous
    merged = dict(endpoints)
    for name, seen in live.items():
        found = endpoints.get(name)
        if seen.migrations and isinstance(found, dict):
            merged[name] = {**found, "migrations": with_live_outcomes(found.get("migrations"), seen.migrations)}
    return {**previous, "endpoints": merged}


def _gate_source(config: CutoverConfig, previous: dict[str, Any], now: datetime) -> GateSource:
    if not any(service.strategy.analysis for service in config.services.values()):
        return bake_only_gate
    from components.gates.aws_identity import AwsSettingsError
    from components.gates.wiring import bake_warnings, default_reader_factory, gate_source

    for warning in bake_warnings(config):
        pulumi.log.warn(warning)
    try:
        readers = default_reader_factory(_region(), _aws_identity_settings())
    except AwsSettingsError as err:
        raise pulumi.RunError(f"cutover: {err}; the gates read AWS as the provider does. Nothing was changed.") from None
    return gate_source(config, previous.get("endpoints"), now, readers)


def _first_shift_source(config: CutoverConfig, previous: dict[str, Any]) -> SmokeSource | None:
    """With hooks on any service: before a candidate's first shift, its expand migration's record and HTTP
    smoke checks at its previous run's `previewUrl`. `CUTOVER_SMOKE_RESOLVE` (host:port=address:port, like
    curl --resolve) points a preview host elsewhere while keeping its Host header: tests and rehearsals reach
    a local server through the real URL."""
    hooked = [service.hooks for service in config.services.values() if service.hooks is not None]
    if not any(h.smoke or h.migrations for h in hooked):
        return None
    from components.gates.smoke import RESOLVE_VARIABLE, UrllibSmokeRunner, parse_resolve
    from components.gates.smoke_verdict import first_shift_source

    try:
        resolve = parse_resolve(os.environ.get(RESOLVE_VARIABLE))
    except ValueError as err:
        raise pulumi.RunError(f"cutover: {err}; nothing was changed.") from None
    runner = UrllibSmokeRunner(resolve=resolve) if any(h.smoke for h in hooked) else None
    return first_shift_source(previous.get("endpoints"), runner)


def _report_migrations(config: CutoverConfig, decisions: dict[str, ServiceDecision], endpoints: Any) -> None:
    """The reason says when this run starts a migration, and a failed contract migration (the new version keeps
    serving) is warned about in every run until it is resolved."""
    from dataclasses import replace

    from components.gates.migration_verdict import contract_problem, migration_news

    endpoints = endpoints if isinstance(endpoints, dict) else {}
    for name, decision in decisions.items():
        hooks = config.services[name].hooks
        if hooks is None or hooks.migrations is None:
            continue
        found = endpoints.get(name) if isinstance(endpoints.get(name), dict) else {}
        state = decision.state
        news = migration_news(decision.previous, state, hooks.migrations.expand is not None,
                              hooks.migrations.contract is not None, found.get("migrations"))
        problem = contract_problem(found.get("migrations"), state.stable_version)
        notes = [n for n in (news, problem) if n and n not in state.reason]
        if notes:
            state = state.with_(reason="; ".join([state.reason, *notes]))
        if problem:
            state = state.with_(warning="; ".join(w for w in (state.warning, problem) if w))
        decisions[name] = replace(decision, state=state)


def _aws_identity_settings() -> dict[str, Any]:
    """The provider's identity settings, for the gates' boto3 reads: `aws:region`, `aws:profile`,
    `aws:assumeRoles` (pulumi-aws 6+) and the older `aws:assumeRole` (objects arrive as JSON)."""
    aws = pulumi.Config("aws")
    settings = {
        "region": aws.get("region"),
        "profile": aws.get("profile"),
        "assumeRoles": aws.get_object("assumeRoles"),
        "assumeRole": aws.get_object("assumeRole"),
    }
    return {key: value for key, value in settings.items() if value is not None}


def _evidence_source(config: CutoverConfig) -> EvidenceSource | None:
    """With `cutover:promotion`, the source stack's `rollouts` (or why it could not be read) decide which
    versions may start here. The source is read only when some service asks to start a version new to this
    stack, so a rollback never depends on it. An unreadable source holds every start; the engine also
    reports the failed StackReference read as an error of the update (it fails any update whose reference
    cannot be read), which is the signal a wrong `from` deserves — and nothing moves."""
    promotion = config.promotion
    if promotion is None:
        return None
    from components.rollout.promotion import evidence_for

    name = promotion.from_stack if "/" in promotion.from_stack else \
        f"{pulumi.get_organization()}/{pulumi.get_project()}/{promotion.from_stack}"
    read: dict[str, Any] = {}

    def source_rollouts() -> Any:
        if "rollouts" not in read:
            try:
                read["rollouts"] = _read_outputs("cutover-promotion-source", name, ("rollouts",))["rollouts"]
            except Exception as err:  # noqa: BLE001 - a source we cannot read is no evidence
                read["rollouts"] = str(err).splitlines()[0][:200] or type(err).__name__
            if read["rollouts"] is None:
                read["rollouts"] = "it has no rollouts output"
        return read["rollouts"]

    return lambda service, version: evidence_for(version, promotion.from_stack, source_rollouts(), service, promotion.require_analysis)


def _decide(config: CutoverConfig, previous: dict[str, Any], live: dict, now: datetime, gate: GateSource,
            evidence: EvidenceSource | None = None, smoke: SmokeSource | None = None) -> dict[str, ServiceDecision]:
    rollouts = previous.get("rollouts")
    if rollouts is not None and not isinstance(rollouts, dict):
        rollouts = {}  # not an object: every service's output is missing; the live records decide
    endpoints = previous.get("endpoints") if isinstance(previous.get("endpoints"), dict) else {}
    decisions = {}
    for name, service in config.services.items():
        try:
            decisions[name] = decide_service(
                name, service, (rollouts or {}).get(name), live[name], name in endpoints, now, gate, evidence, smoke
            )
        except UnrecoverableState as err:
            raise pulumi.RunError(f"cutover: {err}; nothing was changed.") from None
    return decisions


def _tell_the_operator(decisions: dict[str, ServiceDecision]) -> None:
    """One console line per service with this run's decision (preview shows it too), and a warning for
    a setting that names the wrong version or has no effect."""
    for name, decision in decisions.items():
        state = decision.state
        if state.warning:
            pulumi.log.warn(f"{name}: {state.warning}")
        moved = state.last_shift is not None and decision.previous is not None and state.weights != decision.previous.weights
        cause = f" [{state.last_shift.cause}]" if moved else ""
        pulumi.log.info(f"{name}: blue {state.weights.blue} / green {state.weights.green} {state.phase.value}{cause}: {state.reason}")


def _build(config: CutoverConfig, decisions: dict[str, ServiceDecision], previous_endpoints: Any = None
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    records: dict[str, Any] = {}
    endpoints: dict[str, Any] = {}
    by_platform = {p: {n: d for n, d in decisions.items() if config.services[n].platform is p} for p in Platform}
    if by_platform[Platform.AWS]:
        from components.aws.build import build_aws
        from components.live.aws_reader import decision_parameter_name

        build_aws(config, by_platform[Platform.AWS], records, endpoints, region=_region(), stack_id=_stack_id(),
                  previous_endpoints=previous_endpoints if isinstance(previous_endpoints, dict) else {},
                  aws_identity={k: v for k, v in _aws_identity_settings().items() if k != "region"},
                  decision_parameter=lambda name: decision_parameter_name(pulumi.get_project(), pulumi.get_stack(), name))
    if by_platform[Platform.KUBERNETES]:
        from components.kubernetes.build import build_kubernetes

        build_kubernetes(config, by_platform[Platform.KUBERNETES], records, endpoints,
                         previous_endpoints=previous_endpoints if isinstance(previous_endpoints, dict) else {})
    return records, endpoints
