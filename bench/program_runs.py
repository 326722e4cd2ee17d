"""Benchmark: what one `pulumi up` of the program costs under the mock engine, next to a bare-SDK program
registering the same resources (bench/baseline.py), measured side by side in one invocation.

    .venv/bin/python -m bench.program_runs                # full: writes bench/RESULTS.md (12 min on 2 idle cores)
    .venv/bin/python -m bench.program_runs --quick        # 1/10/50 AWS and 10 Kubernetes services, 3 repeats, prints only
    .venv/bin/python -m bench.program_runs --before DIR   # also the program of another checkout (`git worktree add DIR <rev>`)

What it measures:
- per workload (1, 10, 50, 100, 200 AWS services on the shared ALB, 50 Kubernetes services on a Gateway; each a
  canary in mid-rollout: the measured run moves every service from 90/10 to 50/50): wall and CPU time of the run,
  the time the cyclic garbage collector took, the peak RSS during the run, for cutover and for the bare
  baseline with the collector on and off (cutover switches it off itself: components/program.py), one
  subprocess per measurement, the variants interleaved, medians of the repeats;
- what each run is made of (counted once, not timed): resources, component registrations, provider reads,
  Output objects created;
- per strategy and router, the resources each run of a rollout touches and the runs to reach 100 %;
- the wall time of `./run rehearse` (`python -m rehearsal`), warm.

Benchmarks never run in the test suite (tests/unit/test_resource_counts.py pins counts, not times).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from bench.baseline import Ladder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
FULL_WORKLOADS = ("aws-1", "aws-10", "aws-50", "aws-100", "aws-200", "k8s-50")
QUICK_WORKLOADS = ("aws-1", "aws-10", "aws-50", "k8s-10")
WARM_UP = {"aws": "aws-1", "k8s": "k8s-1"}
"""The run each measuring process makes first (imports, first use of each class), so the measured run is a
steady-state one. Its own cost is reported as the first run of a process."""
VARIANTS = ("cutover", "bare", "bare-gc-off")
LADDER = {"bare-gc-off": Ladder(), "+components": Ladder(components=True), "+components+reads": Ladder(components=True, reads=True)}
"""The baseline with cutover's structure added back one piece at a time (collector off, as cutover runs)."""
PACKAGES = ("pulumi", "pulumi-aws", "pulumi-kubernetes", "pydantic", "boto3")


# --- workloads -----------------------------------------------------------------------------------------------------

def workload_config(workload: str) -> dict[str, Any]:
    """Stack config of `aws-N` / `k8s-N`: N canary services (steps 10/50/100, no bake) at version 1."""
    from tests.builders import CANARY, aws_config, kubernetes_config, kubernetes_service, service

    platform_name, count = workload.split("-")
    if platform_name == "aws":
        return aws_config({f"svc{i}": service() for i in range(int(count))})
    return kubernetes_config({f"svc{i}": kubernetes_service("gateway", CANARY, host=f"svc{i}.shop.example.com")
                         for i in range(int(count))})


def candidate_version(workload: str) -> str:
    return "2" if workload.startswith("aws") else "1.28"


def prepare(workload: str, folder: Path) -> dict[str, Any]:
    """Drive a stack to mid-rollout (90/10), save it, run the measured step once and capture its registrations
    for the baseline; returns what the step is made of."""
    import pulumi

    from bench.baseline import CapturingMocks, bare_program, capture, prepare as prepare_spec, same_registrations
    from rehearsal.engine import run_program
    from rehearsal.scenario import REHEARSAL_EPOCH, Stack

    stack = Stack(workload_config(workload))
    _require(stack.up())
    names = list(stack.config["cutover:services"])
    for name in names:
        stack.set(f"cutover:services.{name}.version", candidate_version(workload))
    _require(stack.up())  # the candidate deployed at 0 %
    step = _require(stack.up())
    assert step.weights(names[0]) == (90, 10), step.weights(names[0])
    (folder / f"{workload}.stack.pkl").write_bytes(pickle.dumps(stack))
    world = copy.deepcopy(stack.world)
    created = Counter()
    original_track = pulumi.Output._track

    def counting_track(output):
        created["outputs"] += 1
        original_track(output)

    mocks: list[CapturingMocks] = []
    stack.mocks_factory = lambda previous, region: mocks.append(CapturingMocks(previous, region)) or mocks[-1]
    pulumi.Output._track = counting_track
    try:
        measured = _require(stack.up())
        cutover_outputs, created["outputs"] = created["outputs"], 0
        spec, reads = capture(measured.result), mocks[-1].read_log
        bare = run_program({}, None, now=REHEARSAL_EPOCH, world=copy.deepcopy(world), program=lambda: bare_program(prepare_spec(spec)))
        bare_outputs = created["outputs"]
    finally:
        pulumi.Output._track = original_track
    assert measured.weights(names[0]) == (50, 50), measured.weights(names[0])
    for ladder, checked in ((Ladder(), bare), (Ladder(components=True, reads=True), None)):
        checked = checked or run_program({}, None, now=REHEARSAL_EPOCH, world=copy.deepcopy(world), mocks_factory=CapturingMocks,
                                         program=lambda: bare_program(prepare_spec(spec), ladder, reads))
        problems = same_registrations(measured.result, checked, components=ladder.components)
        if problems or checked.error:
            raise SystemExit(f"{workload}: the baseline ({ladder}) does not register what cutover does: {checked.error or problems[:5]}")
    (folder / f"{workload}.bare.pkl").write_bytes(pickle.dumps((spec, reads, world)))
    resources = measured.result.resources.values()
    return {
        "workload": workload,
        "custom": sum(1 for r in resources if r.custom),
        "components": sum(1 for r in resources if not r.custom),
        "reads": len(measured.result.reads),
        "outputs": cutover_outputs,
        "bare_outputs": bare_outputs,
        "wires": sum(len(r.wires) for r in spec),
        "bare_reads": len(reads),
        "updated": len(measured.changes.updated),
    }


def _require(run):
    if run.result.error:
        raise SystemExit(f"benchmark set-up failed: {run.result.error}")
    return run


# --- one measurement (its own process) -----------------------------------------------------------------------------

class _PeakRss:
    """Samples the process's resident set every 5 ms while a run is measured."""

    def __init__(self):
        self.peak = self.before = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(variant: str, workload: str, folder: Path) -> dict[str, Any]:
    """Warm up, then time one run of `variant` on `workload`'s saved mid-rollout state."""
    started, started_cpu = time.perf_counter(), time.process_time()
    run = _runner(variant, WARM_UP[workload.split("-")[0]], folder)
    run()
    first = (time.perf_counter() - started, time.process_time() - started_cpu)
    measured = _runner(variant, workload, folder)
    gc.collect()
    if variant not in ("bare", "before"):
        # These programs switch the collector off; the harness switches it back on after the run, and its first
        # automatic collection would then walk everything the run made. That is the collection the process's
        # exit makes (interpreter finalization), timed below for every variant alike: keep it out of the run.
        gc.set_threshold(2**30)
    collector = [0.0, 0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            on_gc.started = time.perf_counter()
        else:
            collector[0] += time.perf_counter() - on_gc.started
            collector[1] += 1

    gc.callbacks.append(on_gc)
    with _PeakRss() as rss:
        wall, cpu = time.perf_counter(), time.process_time()
        measured()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        in_run = collector[0]
        # The full collection a `pulumi up` process makes when it exits, collector on or off.
        exit_cpu = time.process_time()
        gc.collect()
        exit_cpu = time.process_time() - exit_cpu
    gc.callbacks.remove(on_gc)
    return {"variant": variant, "workload": workload, "wall": wall, "cpu": cpu, "gc": in_run, "exit_gc": exit_cpu,
            "collections": collector[1], "peak_mb": rss.peak / 2**20, "growth_mb": (rss.peak - rss.before) / 2**20,
            "first_wall": first[0], "first_cpu": first[1]}


def _runner(variant: str, workload: str, folder: Path) -> Callable[[], None]:
    """The run to time, with everything it needs loaded already."""
    from rehearsal.engine import Faults, run_program

    if variant in ("cutover", "before"):  # `before`: the cutover program of another checkout (--before)
        # The harness call `Stack.up` makes, without its bookkeeping after the run (the diff, the world's commit).
        stack = pickle.loads((folder / f"{workload}.stack.pkl").read_bytes())
        first = next(iter(stack.config["cutover:services"]))

        def run_cutover() -> None:
            result = run_program(stack.config, stack.saved_outputs, now=stack.now, stack=stack.stack, world=stack.world,
                                 environment=stack.environment, faults=Faults())
            weights = (result.outputs.get("rollouts") or {}).get(first, {}).get("weights")
            if result.error or weights != {"blue": 50, "green": 50}:
                raise SystemExit(f"{variant} {workload}: {result.error or f'did not step to 50/50: {weights}'}")

        return run_cutover
    from bench.baseline import bare_program, prepare as prepare_spec
    from rehearsal.scenario import REHEARSAL_EPOCH

    spec, reads, world = pickle.loads((folder / f"{workload}.bare.pkl").read_bytes())
    prepared = prepare_spec(spec)
    ladder = LADDER.get(variant, Ladder())

    def program() -> None:
        if variant != "bare":
            gc.disable()  # what cutover does (components/program.py); run_program restores the collector
        bare_program(prepared, ladder, reads)

    def run_bare() -> None:
        result = run_program({}, None, now=REHEARSAL_EPOCH, world=copy.deepcopy(world), program=program)
        if result.error:
            raise SystemExit(f"{variant} {workload}: {result.error}")

    return run_bare


# --- resources touched per step, runs to 100 % ---------------------------------------------------------------------

@dataclass(frozen=True)
class Combination:
    platform: str
    router: str
    strategy: str


COMBINATIONS = [
    *(Combination("aws", router, kind) for router in ("alb", "route53")
      for kind in ("canary", "blue-green", "red-black", "rolling", "shadow")),
    *(Combination("kubernetes", router, kind) for router in ("gateway", "nginx", "service")
      for kind in ("canary", "blue-green", "red-black", "rolling", "shadow")),
]


def rollout_steps(combination: Combination) -> dict[str, Any]:
    """One service rolled from version 1 to 2 with `combination`, one `up` at a time until version 2 serves
    100 % (an approval is given when a blue-green pauses for it); what each run touched."""
    from rehearsal.scenario import Stack

    stack = Stack(_combination_config(combination))
    first = stack.up()
    if first.result.error:
        return {"combination": combination, "refused": first.result.error.split(": ", 1)[-1]}
    stack.set("cutover:services.web.version", "2")
    runs = []
    for _ in range(12):
        stack.advance(1)
        run = stack.up()
        if run.result.error:
            return {"combination": combination, "refused": run.result.error}
        record = run.rollout("web")
        share = sum(w for color, w in record["weights"].items() if record["versions"].get(color) == "2")
        runs.append({"weights": run.weights("web"), "share": share, "phase": record["phase"], "touched": _touched(run)})
        if share == 100:
            break
        if record["phase"] == "paused":
            stack.set("cutover:services.web.approve", "2")
    return {"combination": combination, "runs": runs}


def _combination_config(c: Combination) -> dict[str, Any]:
    from tests.builders import aws_config, kubernetes_config, kubernetes_service, service

    strategy: dict[str, Any] = {"kind": c.strategy, "bakeMinutes": 0, "scaleDownDelayMinutes": 30}
    if c.strategy in ("canary", "shadow"):
        strategy["steps"] = [10, 50, 100]
    if c.strategy == "shadow":
        strategy["then"] = "canary"
        if c.router == "nginx":  # ingress-nginx mirrors every request of every method
            strategy["mirrorMethods"] = ["GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "DELETE", "PATCH", "CONNECT"]
    if c.platform == "aws":
        return aws_config({"web": {**service(router=c.router), "strategy": strategy}})
    return kubernetes_config({"web": kubernetes_service(c.router, strategy, version="1", host="web.shop.example.com")})


SHORT_TYPES = {
    "aws:lb/listenerRule:ListenerRule": "rule", "aws:lb/targetGroup:TargetGroup": "tg", "aws:ecs/service:Service": "ecs",
    "aws:ecs/taskDefinition:TaskDefinition": "taskdef", "aws:route53/record:Record": "record",
    "aws:ssm/parameter:Parameter": "param", "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:lb/loadBalancer:LoadBalancer": "alb", "aws:lb/listener:Listener": "listener",
    "aws:cloudwatch/logGroup:LogGroup": "logs", "kubernetes:apps/v1:Deployment": "deploy",
    "kubernetes:core/v1:Service": "svc", "kubernetes:policy/v1:PodDisruptionBudget": "pdb",
    "kubernetes:networking.k8s.io/v1:Ingress": "ingress", "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": "httproute",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": "hpa",
}


def _touched(run) -> str:
    """`~rule ~ecs +tg`: what the engine would do to which kind of resource (updated ~, created +, replaced ±, deleted -)."""
    changes = run.changes
    parts = []
    for mark, keys in (("~", changes.updated), ("+", changes.created), ("±", changes.replaced), ("-", changes.deleted)):
        kinds = Counter(SHORT_TYPES.get(k.split("::")[0], k.split("::")[0].rsplit(":", 1)[-1]) for k in keys)
        parts += [f"{mark}{kind}" + (f"×{n}" if n > 1 else "") for kind, n in sorted(kinds.items())]
    return " ".join(parts) or "nothing"


# --- the rehearsal -------------------------------------------------------------------------------------------------

def rehearsal_times(tree: Path, repeats: int) -> tuple[float, float]:
    """(median wall, median CPU) of `python -m rehearsal` in `tree`, after one run that warms the bytecode cache."""
    walls, cpus = [], []
    for i in range(repeats + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rehearsal"], cwd=tree, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:
            walls.append(time.perf_counter() - started)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


# --- the driver ----------------------------------------------------------------------------------------------------

def _subprocess(args: list[str], tree: Path = ROOT) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    done = subprocess.run([sys.executable, "-m", "bench.program_runs", *args], cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench subprocess {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.program_runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads, 3 repeats, print only")
    parser.add_argument("--repeats", type=int, help="measurements per variant and workload (default 5, quick 3)")
    parser.add_argument("--workloads", nargs="*", help=f"subset of {', '.join(FULL_WORKLOADS)} (or k8s-N / aws-N)")
    parser.add_argument("--before", type=Path, help="also measure the program of this checkout (same harness, same state)")
    parser.add_argument("--before-label", help="what --before is, for the report (default: its path)")
    parser.add_argument("--output", type=Path, help=f"write the tables here (default: {RESULTS.relative_to(ROOT)} unless --quick)")
    parser.add_argument("--skip-steps", action="store_true", help="leave out the per-strategy table")
    parser.add_argument("--no-ladder", action="store_true", help="leave out the baseline with components and reads added back")
    parser.add_argument("--prepare", nargs=2, metavar=("WORKLOAD", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=3, metavar=("VARIANT", "WORKLOAD", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        print(json.dumps(prepare(args.prepare[0], Path(args.prepare[1]))))
        return
    if args.measure:
        print(json.dumps(measure(args.measure[0], args.measure[1], Path(args.measure[2]))))
        return

    workloads = tuple(args.workloads or (QUICK_WORKLOADS if args.quick else FULL_WORKLOADS))
    repeats = args.repeats or (3 if args.quick else 5)
    output = args.output or (None if args.quick else RESULTS)
    before = args.before.resolve() if args.before else None
    began = time.perf_counter()
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cutover-bench-") as tmp:
        folder = Path(tmp)
        counts = {}
        for workload in sorted({*workloads, *(WARM_UP[w.split("-")[0]] for w in workloads)}, key=_order):
            print(f"preparing {workload} ...", file=sys.stderr, flush=True)
            counts[workload] = _subprocess(["--prepare", workload, str(folder)])
        variants = [*VARIANTS, *([] if args.no_ladder else list(LADDER)[1:]), *(["before"] if before else [])]
        samples: list[dict[str, Any]] = []
        for repeat in range(repeats):
            for workload in workloads:
                turn = variants[repeat % len(variants):] + variants[:repeat % len(variants)]  # who goes first rotates
                for variant in turn:
                    print(f"repeat {repeat + 1}/{repeats}: {variant} {workload}", file=sys.stderr, flush=True)
                    if variant == "before":
                        sample = _subprocess(["--measure", "before", workload, str(folder)], tree=before)
                    else:
                        sample = _subprocess(["--measure", variant, workload, str(folder)])
                    samples.append(sample)
        steps = [] if args.skip_steps else [rollout_steps(c) for c in COMBINATIONS]
        rehearsal = rehearsal_times(ROOT, 3 if not args.quick else 1)
        rehearsal_before = rehearsal_times(before, 3 if not args.quick else 1) if before else None
    report = render(workloads, counts, samples, steps, rehearsal, rehearsal_before, repeats, args.before_label or before,
                    time.perf_counter() - began, load_at_start, os.getloadavg(), ladder=not args.no_ladder)
    print(report)
    if output:
        output.write_text(report)
        print(f"written to {output}", file=sys.stderr)


def _order(workload: str) -> tuple[str, int]:
    platform_name, count = workload.split("-")
    return platform_name, int(count)


# --- the report ----------------------------------------------------------------------------------------------------

def render(workloads, counts, samples, steps, rehearsal, rehearsal_before, repeats, before, elapsed, load_start, load_end,
           ladder: bool = True) -> str:
    def median(variant: str, workload: str, key: str) -> float:
        return statistics.median(s[key] for s in samples if s["variant"] == variant and s["workload"] == workload)

    lines = [
        "# Benchmarks",
        "",
        "`.venv/bin/python -m bench.program_runs` (bench/program_runs.py; `--quick` for a short run). Each workload is one",
        "`pulumi up` of the real program under Pulumi's mock engine (rehearsal harness) on a stack in mid-rollout: every",
        "service is a canary at 90/10 and the run moves it to 50/50. **bare** is bench/baseline.py: a program that",
        "registers the same custom resources (same types, names, inputs, `depends_on`, wiring through outputs) with",
        "the same pulumi_aws / pulumi_kubernetes classes and nothing else (no components, no state or live reads, no",
        "decisions, no exports), checked after each capture to register exactly what cutover did. cutover switches the",
        "cyclic garbage collector off for its run (components/program.py); **bare** keeps Python's default, **bare,",
        "GC off** does what cutover does. One subprocess per measurement (after a 1-service warm-up run), variants",
        f"interleaved, median of {repeats}. CPU is the measuring process's CPU time for the run; the full garbage",
        "collection a process makes when it exits (collector on or off) is timed apart. The machine was shared:",
        "wall time is noisier than CPU time.",
        "",
        *([f"**before** is the cutover program of {before}, measured the same way in the same invocation.", ""] if before else []),
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {_machine()}; load average "
        f"{load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end; the whole benchmark took {elapsed / 60:.0f} min.",
        "",
        "## Cost per run",
        "",
        "| workload | resources + components | reads | cutover wall s | cutover CPU s | bare CPU s | bare GC off CPU s "
        "| cutover / bare | cutover / bare GC off | ms CPU per resource | peak RSS MB cutover / bare |"
        + (" before CPU s | before / bare |" if before else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if before else ""),
    ]
    for w in workloads:
        c = counts[w]
        cutover, bare, bare_off = (median(v, w, "cpu") for v in VARIANTS)
        row = (f"| {_label(w)} | {c['custom']} + {c['components']} | {c['reads']} | {median('cutover', w, 'wall'):.2f} | {cutover:.2f} "
               f"| {bare:.2f} | {bare_off:.2f} | {cutover / bare:.2f}× | {cutover / bare_off:.2f}× | {1000 * cutover / c['custom']:.2f} "
               f"| {median('cutover', w, 'peak_mb'):.0f} / {median('bare', w, 'peak_mb'):.0f} |")
        if before:
            row += f" {median('before', w, 'cpu'):.2f} | {median('before', w, 'cpu') / bare:.2f}× |"
        lines.append(row)
    lines += [
        "",
        "| workload | GC in the run s cutover / bare / bare GC off" + (" / before" if before else "")
        + " | exit collection s cutover / bare | RSS added by the run MB "
        "cutover / bare / bare GC off | Output objects cutover / bare | wall s bare / bare GC off |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for w in workloads:
        c = counts[w]
        gcs = " / ".join(f"{median(v, w, 'gc'):.2f}" for v in [*VARIANTS, *(["before"] if before else [])])
        gcs += f" | {median('cutover', w, 'exit_gc'):.2f} / {median('bare', w, 'exit_gc'):.2f}"
        growth = " / ".join(f"{median(v, w, 'growth_mb'):.0f}" for v in VARIANTS)
        lines.append(f"| {_label(w)} | {gcs} | {growth} | {c['outputs']} / {c['bare_outputs']} "
                     f"| {median('bare', w, 'wall'):.2f} / {median('bare-gc-off', w, 'wall'):.2f} |")
    if ladder:
        lines += [
            "",
            "Where the gap goes: the baseline (collector off, as cutover runs) with cutover's structure added back — the",
            "same component tree (types, names, parents, `depends_on`), then the same reads (the state stack's outputs,",
            "the invokes and `get`s, in flight together) — CPU s, and what is left for cutover's own code (config,",
            "decisions, the applied-state outputs and exports, deeper call stacks for the SDK's per-resource stack trace):",
            "",
            "| workload | bare GC off | + components | + reads | cutover | components | reads | cutover's own |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for w in workloads:
            bare_off, with_components, with_reads, cutover = (median(v, w, "cpu") for v in (*LADDER, "cutover"))
            lines.append(f"| {_label(w)} | {bare_off:.2f} | {with_components:.2f} | {with_reads:.2f} | {cutover:.2f} "
                         f"| {_share(with_components - bare_off, cutover)} | {_share(with_reads - with_components, cutover)} "
                         f"| {_share(cutover - with_reads, cutover)} |")
    first = [w for w in workloads if w in ("aws-1", "k8s-1")] or workloads[:1]
    lines += ["", "First run of a process (imports and the first use of each class, 1 service; what every real `pulumi up` "
              "pays on top of the run): " + "; ".join(
                  f"{_label(w)}: cutover {median('cutover', w, 'first_cpu'):.2f} s CPU, bare {median('bare', w, 'first_cpu'):.2f} s"
                  + (f", before {median('before', w, 'first_cpu'):.2f} s" if before else "") for w in first) + "."]
    lines += ["", f"`./run rehearse` warm (`python -m rehearsal`, 7 runs of 3 services with the policy pack): "
              f"{rehearsal[0]:.1f} s wall, {rehearsal[1]:.1f} s CPU"
              + (f" (before: {rehearsal_before[0]:.1f} s wall, {rehearsal_before[1]:.1f} s CPU)" if rehearsal_before else "") + "."]
    if steps:
        lines += ["", "## Resources touched per run, and runs to 100 %", "",
                  "One service rolled from version 1 to 2, one `up` per run (bake 0, blue-green approved when it pauses). "
                  "`~` updated, `+` created, `±` replaced (a task definition is immutable), `-` deleted.", "",
                  "| platform | router | strategy | runs to 100 % | run by run: weights blue/green, touched |", "|---|---|---|---:|---|"]
        for s in steps:
            c = s["combination"]
            if "refused" in s:
                lines.append(f"| {c.platform} | {c.router} | {c.strategy} | — | not offered: {s['refused'][:110]} |")
                continue
            reached = next((i + 1 for i, r in enumerate(s["runs"]) if r["share"] == 100), None)
            story = "; ".join(f"{r['weights'][0]}/{r['weights'][1]} {r['touched']}" for r in s["runs"])
            lines.append(f"| {c.platform} | {c.router} | {c.strategy} | {reached or '—'} | {story} |")
    return "\n".join(lines) + "\n"


def _share(part: float, whole: float) -> str:
    return f"{part:+.2f} s ({100 * part / whole:+.0f} %)"


def _label(workload: str) -> str:
    platform_name, count = workload.split("-")
    return f"{count} {'AWS' if platform_name == 'aws' else 'Kubernetes'}"


def _machine() -> str:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in PACKAGES)
    return f"{os.cpu_count()} cores ({model or platform.machine()}), {platform.system()}, Python {platform.python_version()}, {versions}"


if __name__ == "__main__":
    main()
