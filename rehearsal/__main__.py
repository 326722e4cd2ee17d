"""`python -m rehearsal`: play a stack's scenario under the mock engine, one line per service per run.

    python -m rehearsal                       # the dev stack and rehearsal/scenarios/dev.yaml
    python -m rehearsal --stack staging --scenario my-scenario.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from rehearsal.engine import PROJECT_ROOT, stack_config
from rehearsal.policy_check import check
from rehearsal.scenario import Run, Stack


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
    runs = (yaml.safe_load(scenario_file.read_text()) or {}).get("runs") if scenario_file.exists() else None
    runs = runs or [{"note": "first deploy"}]
    stack = Stack(stack_config(stack_file), stack=args.stack)
    print(f"rehearsal of stack {args.stack}: {len(runs)} runs of __main__.py under the mock engine ({scenario_file.name})")
    failed = False
    for step in runs:
        stack.advance(step.get("after", 0))
        for key, value in (step.get("set") or {}).items():
            stack.set(key, value)
        run = stack.preview() if step.get("preview") else stack.up()
        print(describe(run, stack, step.get("note")))
        failed = failed or run.result.error is not None
        if run.result.error is None:
            violations = check(run.result, args.stack)
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
        lines.append(
            f"  {name:<8} {record['phase']:<11} step {step:<2} blue {weights['blue']:>3} / green {weights['green']:>3}"
            f"  {versions:<11} +{len(changed['created'])} ~{len(changed['updated'])} ±{len(changed['replaced'])} -{len(changed['deleted'])}"
            f"  {record['reason']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
