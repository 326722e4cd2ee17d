"""Mutation testing of the pure decision core: mutmut (pinned in requirements-dev.txt, configured in setup.cfg)
mutates components/rollout/*.py and components/gates/verdict.py one change at a time and runs the pure tests
that call the changed function; a mutant that no test notices "survives".

    .venv/bin/python -m bench.mutation               # fresh run (clears mutants/), then the score per module
    .venv/bin/python -m bench.mutation --resume      # reuse mutants/: only functions changed since are re-tested
    .venv/bin/python -m bench.mutation --report      # the table of the last run, without running anything
    .venv/bin/python -m bench.mutation --survivors   # the table, then the diff of every unexplained survivor

Survivors listed in bench/MUTATION.md's table of equivalent mutants (no behaviour can tell them from the
original; each row gives the reason) are counted apart. The command exits 1 when the state machine, the
codec or the verdict has a survivor not in that list. It is not part of .ci/run: see MUTATION.md for how long
it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "bench" / "MUTATION.md"
PINNED = ("components/rollout/machine.py", "components/rollout/codec.py", "components/gates/verdict.py")
"""Modules whose survivors must be zero or listed as equivalent."""

# mutmut 3.8's exit codes of a mutant's test run (mutmut/stats.py), reduced to what the table shows.
STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", None: "not checked",
                       24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout", 36: "timeout"}


def run_mutmut(resume: bool, children: int) -> float:
    """Run mutmut; its progress output goes to mutants/run.log. Returns the wall time in seconds."""
    if not resume and MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir(exist_ok=True)
    started = time.monotonic()
    with open(MUTANTS / "run.log", "w") as log:
        done = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(children)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    if done.returncode != 0:
        sys.exit(f"mutmut run failed (exit {done.returncode}); see {MUTANTS / 'run.log'}")
    return time.monotonic() - started


def results() -> dict[str, dict[str, str]]:
    """Module path -> mutant name -> status, from the .meta files mutmut leaves next to each mutated module."""
    found: dict[str, dict[str, str]] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        found[module] = {name: STATUS_BY_EXIT_CODE.get(code, "suspicious") for name, code in codes.items()}
    return found


def equivalent_mutants() -> dict[str, str]:
    """Mutant name -> reason, from the rows "| `name` | change | reason |" of bench/MUTATION.md."""
    if not EQUIVALENTS.exists():
        return {}
    rows = [line for line in EQUIVALENTS.read_text().splitlines() if line.startswith("| `") and "__mutmut_" in line]
    return {re.match(r"\| `([^`]+)`", row).group(1): row.rstrip(" |").rsplit(" | ", 1)[1] for row in rows}


def table(found: dict[str, dict[str, str]], equivalent: dict[str, str]) -> tuple[str, list[str], list[str]]:
    """The markdown score table, the unexplained survivors of the pinned modules, and stale equivalence rows."""
    lines = ["| module | mutants | killed | timeout | survived | equivalent (listed) | no tests | score |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    unexplained: list[str] = []
    totals: Counter[str] = Counter()
    for module, statuses in found.items():
        if not statuses:
            continue  # an empty __init__.py
        count = Counter(statuses.values())
        listed = sum(1 for name, status in statuses.items() if status == "survived" and name in equivalent)
        unexplained += [name for name, status in statuses.items()
                        if module in PINNED and status == "survived" and name not in equivalent]
        row = Counter(mutants=len(statuses), killed=count["killed"], timeout=count["timeout"],
                      survived=count["survived"] - listed, equivalent=listed, no_tests=count["no tests"])
        totals.update(row)
        lines.append(_row(module, row))
    lines.append(_row("**all**", totals))
    stale = [name for name in equivalent if not any(found[m].get(name) == "survived" for m in found)]
    return "\n".join(lines), unexplained, stale


def _row(name: str, row: Counter[str]) -> str:
    judged = row["mutants"] - row["equivalent"]
    score = f"{100 * (row['killed'] + row['timeout']) / judged:.1f} %" if judged else "–"
    return (f"| {name} | {row['mutants']} | {row['killed']} | {row['timeout']} | {row['survived']} | {row['equivalent']} "
            f"| {row['no_tests']} | {score} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resume", action="store_true", help="keep mutants/ and re-test only what changed")
    parser.add_argument("--report", action="store_true", help="only print the table of the last run")
    parser.add_argument("--survivors", action="store_true", help="print the diff of every unexplained survivor")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, help="parallel test runs (default: CPUs)")
    args = parser.parse_args()
    elapsed = None if args.report or args.survivors else run_mutmut(args.resume, args.max_children)
    found = results()
    if not found:
        sys.exit("no mutation results: run `.venv/bin/python -m bench.mutation` first")
    text, unexplained, stale = table(found, equivalent_mutants())
    print(text)
    print("\nscore = (killed + timeout) / (mutants - equivalent); 'no tests': no selected test calls the function")
    if elapsed is not None:
        print(f"mutmut run took {elapsed / 60:.1f} min with {args.max_children} parallel test runs")
    for name in stale:
        print(f"stale row in bench/MUTATION.md (no such surviving mutant now): {name}")
    if unexplained:
        print(f"\n{len(unexplained)} surviving mutants of {', '.join(PINNED)} are neither killed nor listed as equivalent:")
        for name in unexplained:
            if args.survivors:
                shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=ROOT, capture_output=True, text=True)
                print(shown.stdout)
            else:
                print(f"  {name}")
        sys.exit(1)


if __name__ == "__main__":
    main()
