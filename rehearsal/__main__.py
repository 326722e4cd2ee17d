"""`python -m rehearsal`: play a stack's scenario under the mock engine, one line per service per run.

    python -m rehearsal                       # the dev stack and rehearsal/scenarios/dev.yaml
    python -m rehearsal --stack prod          # Pulumi.prod.yaml and rehearsal/scenarios/prod.yaml
    python -m rehearsal --stack staging --scenario my-scenario.yaml
    python -m rehearsal --markdown plan.md --chart plan.svg   # also the plan as a Markdown report and an SVG chart

Every run is reviewed by the policy pack with the stack's policies/config/<stack>.json, as
`pulumi up --policy-pack policies` would (see rehearsal/policy_check.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.config import MAX_COUNT, MAX_MINUTES, problem_in_words
from rehearsal import plan
from rehearsal.engine import PROJECT_ROOT, RecordingMocks, stack_config
from rehearsal.moto_backend import MotoAws, MotoBackedMocks
from rehearsal.policy_check import PolicyReview, review
from rehearsal.scenario import Run, Stack
from rehearsal.traffic import inside_first_counted_minute, put_candidate_traffic, set_alarm

SCENARIOS = PROJECT_ROOT / "rehearsal" / "scenarios"
CONFIG_KEY = re.compile(r"^[a-z][a-z0-9-]*:[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


# --- scenario files ---------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that cannot be played; one line per problem, each naming the run and the key."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class _ScenarioModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Traffic(_ScenarioModel):
    """One minute of traffic on a service's candidate color, written to CloudWatch (moto) before the run."""

    # strict: YAML's `on` is no count of 1, nor "10" a number; bounds keep the emulator's arithmetic finite.
    requests: int = Field(ge=0, le=MAX_COUNT, strict=True, description="requests in that minute")
    errors: int = Field(default=0, ge=0, le=MAX_COUNT, strict=True, description="5xx among them")
    latency_ms: float = Field(default=100, gt=0, strict=True, allow_inf_nan=False, alias="latencyMs",
                              description="mean response time")

    @model_validator(mode="after")
    def _errors_are_requests(self) -> "Traffic":
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) cannot exceed requests ({self.requests})")
        return self


class ScenarioRun(_ScenarioModel):
    """One `pulumi up` (or `pulumi preview`) of the scenario, and what changes before it."""

    # Fields in the order an unknown key lists them (the README's `known: after, …`): what happens before the run first.
    after: float = Field(default=0, ge=0, le=MAX_MINUTES, strict=True, allow_inf_nan=False,
                         description="minutes since the previous run (at most 30 days: the clock stays a date)")
    set: dict[str, Any] = Field(default_factory=dict, description="config keys (dotted paths) to change; null removes")
    alarms: dict[str, Literal["OK", "ALARM", "INSUFFICIENT_DATA"]] = Field(
        default_factory=dict, description="CloudWatch alarm states to force (moto)")
    traffic: dict[str, Traffic] = Field(default_factory=dict, description="candidate traffic per service (moto)")
    preview: bool = Field(default=False, description="a `pulumi preview`: evaluated and shown, nothing applied or saved")
    note: str | None = Field(default=None, description="printed after the run's header")

    @field_validator("set")
    @classmethod
    def _config_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not CONFIG_KEY.match(key):
                raise ValueError(f"{key!r} is not a config key: write <namespace>:<key>[.<path>], "
                                 "e.g. cutover:services.web.version")
        return value


class Scenario(_ScenarioModel):
    """A scenario file: successive runs of one stack."""

    backend: Literal["moto"] | None = Field(default=None, description="moto: gates read an in-process AWS emulator")
    runs: list[ScenarioRun] = Field(min_length=1)


FIRST_DEPLOY = Scenario(runs=[ScenarioRun(note="first deploy")])
"""What a stack without a scenario file plays."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_scenario(path: Path) -> Scenario:
    """A scenario file, validated; ScenarioError lists what is wrong, by run and key."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ScenarioError([f"cannot read: {err.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ScenarioError([f"{where}not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(["expected a mapping with `runs:` (a list of runs), e.g. runs: [{note: first deploy}]"])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError([_problem(e) for e in err.errors()]) from None
    needs_moto = [f"run {i}: {key}: needs `backend: moto` (alarms and metrics live in the AWS emulator)"
                  for i, run in enumerate(scenario.runs, 1) for key in ("alarms", "traffic")
                  if getattr(run, key) and scenario.backend != "moto"]
    if needs_moto:
        raise ScenarioError(needs_moto)
    return scenario


def _problem(error: dict[str, Any]) -> str:
    """One pydantic error as `run 2: traffic.web.requests: <what is wrong>`, in the words of a config error."""
    loc = tuple(error["loc"])
    if len(loc) >= 2 and loc[0] == "runs" and isinstance(loc[1], int):
        return problem_in_words({**error, "loc": loc[2:]}, f"run {loc[1] + 1}: ", schema=ScenarioRun, file="scenario file")
    return problem_in_words(error, "", schema=Scenario, file="scenario file")


# --- playing a scenario -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    parser.add_argument("--scenario", type=Path, help="scenario file (default: rehearsal/scenarios/<stack>.yaml)")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="also write the plan as Markdown: per service a table with a row per run")
    parser.add_argument("--chart", type=Path, metavar="FILE",
                        help="also write the plan as an SVG chart: each color's weight over the runs, per service")
    args = parser.parse_args(argv)
    stack_file = PROJECT_ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        print(f"rehearsal: no {stack_file.name}", file=sys.stderr)
        return 2
    scenario_file = args.scenario or SCENARIOS / f"{args.stack}.yaml"
    if args.scenario is not None and not args.scenario.is_file():
        print(f"rehearsal: {args.scenario}: no such scenario file", file=sys.stderr)
        return 2
    for output in (args.markdown, args.chart):
        if output is not None and not output.resolve().parent.is_dir():
            print(f"rehearsal: {output}: no such directory {_shown(output.resolve().parent)}", file=sys.stderr)
            return 2
    try:
        scenario = load_scenario(scenario_file) if scenario_file.exists() else FIRST_DEPLOY
    except ScenarioError as err:
        for problem in err.problems:
            print(f"rehearsal: {_shown(scenario_file)}: {problem}", file=sys.stderr)
        return 2
    source = scenario_file.name if scenario_file.exists() else f"no {_shown(scenario_file)}: a first deploy"
    config = stack_config(stack_file)
    with backend(scenario.backend, config) as (mocks_factory, start):
        stack = Stack(config, stack=args.stack, mocks_factory=mocks_factory,
                      policies=lambda result: review(result, args.stack), **({"start": start} if start else {}))
        where = " and moto" if mocks_factory else ""
        title = f"rehearsal of stack {args.stack}: {len(scenario.runs)} runs of __main__.py under the mock engine{where} ({source})"
        print(title)
        promoted_from = _play_promotion_source(stack, config)
        if promoted_from:
            print(promoted_from)
        played = Played()
        code = play(stack, scenario.runs, played)
    chart_title = f"stack {args.stack}: traffic per color over the runs ({source})"
    return max(code, write_plan(played, title=title, chart_title=chart_title, markdown=args.markdown, chart=args.chart))


def _play_promotion_source(stack: Stack, config: dict) -> str:
    """A stack that promotes from another (`cutover:promotion.from`) reads that stack's outputs: play the source
    stack's own scenario first, quietly, and let this stack's references read its saved outputs."""
    source = str((config.get("cutover:promotion") or {}).get("from") or "")
    source_file = PROJECT_ROOT / f"Pulumi.{source}.yaml"
    if not source or "/" in source or not source_file.exists():
        return ""
    scenario_file = SCENARIOS / f"{source}.yaml"
    runs = load_scenario(scenario_file).runs if scenario_file.exists() else FIRST_DEPLOY.runs
    upstream = Stack(stack_config(source_file), stack=source)
    with contextlib.redirect_stdout(io.StringIO()):
        play(upstream, runs, Played())
    stack.other_stacks[f"organization/cutover/{source}"] = upstream
    finished = {name: [c["version"] for c in (record or {}).get("completed") or []]
                for name, record in ((upstream.saved_outputs or {}).get("rollouts") or {}).items()}
    listed = ", ".join(f"{name} {' '.join(versions)}" for name, versions in sorted(finished.items()))
    return f"(promotes from {source}: its scenario was played first, {len(runs)} runs; completed there: {listed})"


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    return str(path)


@contextlib.contextmanager
def backend(kind: str | None, config: dict):
    """`moto`: resources the gates read also exist in an in-process AWS emulator.

    Moto is written as the program registers, before the policy pack has seen the run: an `up` the pack
    blocks keeps the live world and the outputs as they were, but its writes have reached moto (not modelled).
    """
    if kind is None:
        yield None, None
        return
    from moto import mock_aws  # heavy: only for scenarios that ask for it

    os.environ.update({"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        moto = MotoAws(str(config.get("aws:region", "us-east-1")))
        if "cutover:dns" in config:
            config["cutover:dns"]["zoneId"] = moto.create_zone(config["cutover:dns"]["domain"])
        # Metrics carry real timestamps: play the scenario in the recent past.
        start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=6)
        yield (lambda previous, region: PreviewSafeMotoMocks(previous, region, moto)), start


class PreviewSafeMotoMocks(MotoBackedMocks):
    """MotoBackedMocks whose previews write nothing to moto.

    MotoBackedMocks creates and modifies load balancers, rules, targets and records in moto as the program
    registers them. A preview must not: it would move the emulator's weights, and the `up` after it would
    find them "changed outside Pulumi". In a preview the gates still read moto, and a resource moto already
    has keeps the provider-computed outputs (ARN, DNS name) of its last applied state, so the inputs that name
    it match the live ones; a resource new in this run keeps the mock's, as a preview cannot know the real ones.
    """

    def new_resource(self, args):
        if not self.preview or args.resource_id or args.typ not in self.moto.handlers:
            return super().new_resource(args)
        resource_id, outputs = RecordingMocks.new_resource(self, args)
        key = f"{args.typ}::{args.name}"
        applied = self.world.resources.get(key)
        if applied is not None:
            computed = {k: applied.outputs[k] for k in outputs if k not in args.inputs and k in applied.outputs}
            outputs = {**outputs, **computed}
            self.resources[key] = dataclasses.replace(self.resources[key], outputs=outputs)
        return resource_id, outputs


@dataclasses.dataclass
class Played:
    """What a rehearsal printed, as rows: the data behind `--markdown` and `--chart`."""

    headers: list[plan.RunHeader] = dataclasses.field(default_factory=list)
    rows: list[plan.ServiceRow] = dataclasses.field(default_factory=list)


def play(stack: Stack, runs: Sequence[ScenarioRun], played: Played | None = None) -> int:
    failed = False
    for number, step in enumerate(runs, 1):
        traffic_at = inside_first_counted_minute(stack.now)  # this step's traffic lies where the gate counts it
        stack.advance(step.after)
        for key, value in step.set.items():
            stack.set(key, value)
        for name, state in step.alarms.items():
            set_alarm(name, state)
        for service, traffic in step.traffic.items():
            if stack.saved is None or service not in stack.saved.outputs.get("rollouts", {}):
                print(f"rehearsal: run {number}: traffic.{service}: no applied run has a service {service!r} "
                      "(traffic goes to its candidate color as the last applied run recorded it)", file=sys.stderr)
                return 2
            put_candidate_traffic(stack.saved, service, at=traffic_at, requests=traffic.requests,
                                  errors=traffic.errors, latency_ms=traffic.latency_ms)
        run = stack.preview() if step.preview else stack.up()
        print(describe(run, stack, step.note))
        if played is not None:
            played.headers.append(run_header(run, stack, step.note))
            played.rows += service_rows(run, stack)
        failed = failed or run.result.error is not None or (run.policy is not None and run.policy.fails)
    return 1 if failed else 0


def write_plan(played: Played, *, title: str, chart_title: str, markdown: Path | None, chart: Path | None) -> int:
    """Write the requested renderings of what was played; 2 when a file cannot be written."""
    renderings = [(markdown, lambda: plan.render_markdown(played.headers, played.rows, title=title)),
                  (chart, lambda: plan.render_chart(played.rows, title=chart_title))]
    for path, render in renderings:
        if path is None:
            continue
        try:
            path.write_text(render(), encoding="utf-8")
        except OSError as err:
            print(f"rehearsal: {path}: cannot write: {err.strerror}", file=sys.stderr)
            return 2
    return 0


def describe(run: Run, stack: Stack, note: str | None) -> str:
    lines = [run_header(run, stack, note).line()]
    if run.blocked:
        lines.append("  blocked by a mandatory resource policy: `pulumi up` stops before any change; nothing applied, "
                     "outputs kept")
        if run.result.error:
            lines.append(f"  error: {run.result.error}")
    elif run.result.error:
        lines.append(f"  error: {run.result.error}")
    else:
        lines += [plan.console_line(row) for row in service_rows(run, stack)]
    if run.policy is not None:
        lines += _policy_lines(run.policy, applied=not (run.preview or run.blocked))
        if run.preview and run.policy.fails:
            lines.append("  preview failed: `pulumi up` would stop after this preview, before any change")
    return "\n".join(lines)


def _outcome(run: Run) -> plan.Outcome:
    if run.blocked:
        return "blocked"
    if run.result.error:
        return "failed"
    return "preview" if run.preview else "applied"


def run_header(run: Run, stack: Stack, note: str | None) -> plan.RunHeader:
    """The run's header line and what the report says about the run as a whole. Call it right after the run."""
    services = set(_records(run, stack))
    return plan.RunHeader(
        number=run.number, kind="preview" if run.preview else "up", at=f"{stack.now:%H:%M}", note=note,
        outcome=_outcome(run), error=str(run.result.error) if run.result.error else None,
        findings=tuple(f for service, f in _findings(run) if service is None or service not in services))


def service_rows(run: Run, stack: Stack) -> list[plan.ServiceRow]:
    """One row per service: what the console prints for it, and the report's row. Call it right after the run.

    An applied run or a preview: the record the program produced (the console prints these lines). A blocked or
    failed `up`: the record the stack kept, which the next run starts from (the console prints no service line
    for those runs, only why), with no changes when blocked and the changes it attempted when failed.
    """
    outcome = _outcome(run)
    findings = _findings(run)
    rows = []
    for name, record in sorted(_records(run, stack).items()):
        weights = record["weights"]
        gate = record.get("gate") or {}
        judged = gate.get("measurements") and record["phase"] in ("progressing", "paused")
        changed = {key: () for key in ("created", "updated", "replaced", "deleted")} if run.blocked else run.changed(name)
        rows.append(plan.ServiceRow(
            run=run.number, kind="preview" if run.preview else "up", at=f"{stack.now:%H:%M}", outcome=outcome,
            service=name, phase=record["phase"], step=record["step"], blue=weights["blue"], green=weights["green"],
            versions=f"{record['stableVersion']}" + (f"->{record['candidateVersion']}" if record["candidateVersion"] else ""),
            created=len(changed["created"]), updated=len(changed["updated"]), replaced=len(changed["replaced"]),
            deleted=len(changed["deleted"]), reason=record["reason"],
            gate=gate["verdict"] if judged or gate.get("verdict") == "abort" else None,
            findings=tuple(f for service, f in findings if service == name),
        ))
    return rows


def _records(run: Run, stack: Stack) -> dict[str, Any]:
    """Each service's record after the run: the run's own, or for a blocked or failed `up` the one the stack kept."""
    if run.blocked or run.result.error:
        return dict((stack.saved_outputs or {}).get("rollouts", {}))
    return dict(run.result.outputs.get("rollouts", {}))


def _findings(run: Run) -> list[tuple[str | None, plan.PolicyFinding]]:
    """The run's violations, each with the service whose resource it names (None: stack-wide or shared)."""
    if run.policy is None:
        return []
    services = sorted(run.result.outputs.get("rollouts", {}), key=len, reverse=True)
    found = []
    for violations, stack_policy in ((run.policy.before, False), (run.policy.after, True)):
        for v in violations:
            resource = v.urn.rsplit("::", 1)[-1] if v.urn else ""
            # As Run.changed attributes resources: a service's children are named `<service>-<role>`.
            owner = next((s for s in services if resource.startswith(f"{s}-")), None)
            found.append((owner, plan.PolicyFinding(v.enforcement_level, v.policy_name, v.message, stack_policy)))
    return found


def _policy_lines(policy: PolicyReview, *, applied: bool) -> list[str]:
    """Resource-policy violations as before; stack-policy ones say when the engine reports them."""
    stack_label = "stack policy, reported after the changes" if applied else "stack policy"
    return ([f"  policy {v.enforcement_level:<9} {v.policy_name}: {v.message}" for v in policy.before]
            + [f"  policy {v.enforcement_level:<9} {v.policy_name} ({stack_label}): {v.message}" for v in policy.after])


if __name__ == "__main__":
    sys.exit(main())
