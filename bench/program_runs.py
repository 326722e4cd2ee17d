"""Benchmark: wall time and peak memory of one `pulumi up` of the program under the mock engine,
by number of services, and of the whole dev rehearsal.

    .venv/bin/python -m bench.program_runs            # prints a markdown table
"""

from __future__ import annotations

import copy
import resource
import statistics
import subprocess
import sys
import time

from rehearsal.engine import PROJECT_ROOT
from rehearsal.scenario import Stack
from tests.builders import aws_config, service

SIZES = (1, 10, 40)
REPEATS = 3


def time_runs(count: int) -> tuple[float, float, int]:
    """(median seconds of a first deploy, median seconds of a canary step, resources registered)."""
    services = {f"svc{i}": service() for i in range(count)}
    firsts, steps = [], []
    resources = 0
    for _ in range(REPEATS):
        stack = Stack(aws_config(copy.deepcopy(services)))
        started = time.perf_counter()
        first = stack.up()
        firsts.append(time.perf_counter() - started)
        for name in services:
            stack.set(f"cutover:services.{name}.version", "2")
        stack.up()
        started = time.perf_counter()
        stack.up()
        steps.append(time.perf_counter() - started)
        resources = len(first.result.resources)
    return statistics.median(firsts), statistics.median(steps), resources


def main() -> None:
    print("| services | resources | first deploy (s) | canary step (s) | ms per resource |")
    print("|---:|---:|---:|---:|---:|")
    for count in SIZES:
        first, step, resources = time_runs(count)
        print(f"| {count} | {resources} | {first:.2f} | {step:.2f} | {1000 * step / resources:.1f} |")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak_mb:.0f} MB")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rehearsal"], cwd=PROJECT_ROOT, check=True, capture_output=True)
    print(f"dev rehearsal (`./run rehearse` without set-up): {time.perf_counter() - started:.1f} s wall")


if __name__ == "__main__":
    main()
