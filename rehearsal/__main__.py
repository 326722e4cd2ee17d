"""`python -m rehearsal`: play a stack's scenario under the mock engine, one line per service per run.

    python -m rehearsal                       # the dev stack and rehearsal/scenarios/dev.yaml
    python -m rehearsal --stack staging --scenario my-scenario.yaml
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from rehearsal.engine import PROJECT_ROOT, stack_config
from rehearsal.policy_check import check
from rehearsal.scenario import Run, Stack
from rehearsal.traffic import put_candidate_traffic, set_alarm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to use (default: dev)")
    parser.add_argument("--scenario", type=Path, help="scenario file (default: rehearsal/scenarios/<stack>.yaml)")
    args = parser.parse_args(argv)
    stack_file = PROJECT_ROOT / f"Pulumi.{args.stack}.yaml"
    scenario_file = args.scenario or PROJECT_ROOT / "rehearsal" / "scenarios" / f"{args.stack}.yaml"
    if not stack_file.exists():
        print(f"rehearsal: no {stack_file.name}", file=sys.stderr)
        return 2
    scenario = (yaml.safe_load(scenario_file.read_text()) or {}) if scenario_file.exists() else {}
    runs = scenario.get("runs") or [{"note": "first deploy"}]
    config = stack_config(stack_file)
    with backend(scenario.get("backend"), config) as (mocks_factory, start):
        stack = Stack(config, stack=args.stack, mocks_factory=mocks_factory, **({"start": start} if start else {}))
        where = " and moto" if mocks_factory else ""
        print(f"rehearsal of stack {args.stack}: {len(runs)} runs of __main__.py under the mock engine{where} ({scenario_file.name})")
        return play(stack, runs, args.stack)


@contextlib.contextmanager
def backend(kind: str | None, config: dict):
    """`moto`: resources the gates read also exist in an in-process AWS emulator."""
    if kind is None:
        yield None, None
        return
    if kind != "moto":
        raise SystemExit(f"rehearsal: unknown backend {kind!r} (known: moto)")
    from moto import mock_aws

    from rehearsal.moto_backend import MotoAws, MotoBackedMocks

    os.environ.update({"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        moto = MotoAws(str(config.get("aws:region", "us-east-1")))
        if "cutover:dns" in config:
            config["cutover:dns"]["zoneId"] = moto.create_zone(config["cutover:dns"]["domain"])
        # Metrics carry real timestamps: play the scenario in the recent past.
        start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=6)
        yield (lambda previous, region: MotoBackedMocks(previous, region, moto)), start


def play(stack: Stack, runs: list[dict], stack_name: str) -> int:
    failed = False
    for step in runs:
        stack.advance(step.get("after", 0))
        for key, value in (step.get("set") or {}).items():
            stack.set(key, value)
        for name, state in (step.get("alarms") or {}).items():
            set_alarm(name, state)
        for service, traffic in (step.get("traffic") or {}).items():
            put_candidate_traffic(stack.saved, service, at=stack.now - timedelta(minutes=1), requests=traffic["requests"],
                                  errors=traffic.get("errors", 0), latency_ms=traffic.get("latencyMs", 100))
        run = stack.preview() if step.get("preview") else stack.up()
        print(describe(run, stack, step.get("note")))
        failed = failed or run.result.error is not None
        if run.result.error is None:
            violations = check(run.result, stack_name)
            for v in violations:
                print(f"  policy {v.enforcement_level:<9} {v.policy_name}: {v.message}")
            failed = failed or any(v.enforcement_level == "mandatory" for v in violations)
    return 1 if failed else 0


def describe(run: Run, stack: Stack, note: str | None) -> str:
    kind = "preview" if run.preview else "up"
    header = f"run {run.number} ({kind}, {stack.now:%H:%M})" + (f" — {note}" if note else "")
    if run.result.error:
        return f"{header}\n  error: {run.result.error}"
    lines = [header]
    for name, record in sorted(run.result.outputs.get("rollouts", {}).items()):
        weights = record["weights"]
        changed = run.changed(name)
        step = "-" if record["step"] is None else record["step"]
        versions = f"{record['stableVersion']}" + (f"->{record['candidateVersion']}" if record["candidateVersion"] else "")
        gate = record.get("gate") or {}
        judged = gate.get("measurements") and record["phase"] in ("progressing", "paused")
        verdict = f"  [gate {gate['verdict']}]" if judged or gate.get("verdict") == "abort" else ""
        lines.append(
            f"  {name:<8} {record['phase']:<11} step {step:<2} blue {weights['blue']:>3} / green {weights['green']:>3}"
            f"  {versions:<11} +{len(changed['created'])} ~{len(changed['updated'])} ±{len(changed['replaced'])} -{len(changed['deleted'])}"
            f"  {record['reason']}{verdict}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
