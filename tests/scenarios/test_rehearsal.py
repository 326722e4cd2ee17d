"""The README's main command: the rehearsal prints one line per service per run and a whole rollout,
and treats each run as the Pulumi CLI would (policies, preview then update, its own input checked)."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from rehearsal.__main__ import describe, load_scenario, main
from rehearsal.engine import PROJECT_ROOT, stack_config
from rehearsal.plan import ServiceRow, console_line, render_chart, render_markdown
from rehearsal.policy_check import review
from rehearsal.scenario import Stack
from tests.builders import completed_elsewhere


def rehearse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rehearsal", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


@functools.lru_cache(maxsize=None)
def rehearsed(*args: str) -> subprocess.CompletedProcess:
    """`rehearse` for the checked-in scenarios, played once per test session."""
    return rehearse(*args)


def runs_of(stdout: str) -> dict[int, str]:
    """Run number -> its header and lines."""
    return {int(m.group(1)): m.group(0) for m in re.finditer(r"^run (\d+) .*?(?=^run \d+ |\Z)", stdout, re.M | re.S)}


def prod_with_a_blue_green_admin() -> dict:
    config = stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")
    config["cutover:services"]["admin"]["strategy"] = {"kind": "blue-green", "bakeMinutes": 30, "scaleDownDelayMinutes": 120}
    return config


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_dev_rehearsal_shows_a_whole_canary_and_an_approved_blue_green():
    done = rehearsed()
    assert done.returncode == 0, done.stdout + done.stderr
    web = [line for line in done.stdout.splitlines() if line.strip().startswith("web ")]
    assert any("blue  90 / green  10" in line for line in web)
    assert any("blue  50 / green  50" in line for line in web)
    assert any("promoted 1.28 on green" in line for line in web)
    assert any("blue scaled to zero" in line for line in web)
    admin = [line for line in done.stdout.splitlines() if line.strip().startswith("admin ")]
    assert any("waiting for approve: 1.28" in line for line in admin)
    assert "policy mandatory" not in done.stdout


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_gates_rehearsal_shows_a_healthy_step_then_the_abort():
    done = rehearse("--scenario", "rehearsal/scenarios/dev-gates.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "advanced to step 1 (candidate healthy and routed as recorded; no metrics judged)" in done.stdout
    assert "advanced to step 2 (passed: error rate 0.3%" in done.stdout
    assert "gate aborted: error rate 20.0% > 5.0%" in done.stdout


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_rehearsal_reports_policy_violations_per_run(tmp_path):
    scenario = tmp_path / "plaintext.yaml"
    scenario.write_text(
        "runs:\n"
        "  - note: a password in plain text\n"
        "    set:\n"
        "      cutover:services.web.environment: {DB_PASSWORD: hunter2}\n"
    )
    done = rehearse("--scenario", str(scenario))
    assert done.returncode == 0, "dev's policies are advisory: reported, not fatal"
    assert "policy advisory  no-plaintext-secrets-in-env" in done.stdout
    staging = rehearse("--stack", "staging", "--scenario", str(scenario))
    assert staging.returncode != 0 and "policy mandatory no-plaintext-secrets-in-env" in staging.stdout


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_rollback_rehearsal_shows_a_promotion_an_alarm_and_the_one_run_rollback():
    done = rehearsed("--scenario", "rehearsal/scenarios/dev-rollback.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    web = [line for line in done.stdout.splitlines() if line.strip().startswith("web ")]
    assert "promoted 1.28 on green; until" in web[-3] and "version: 1.27 switches back in one run" in web[-3]
    assert "blue 100 / green   0  1.27" in web[-1] and "rolled back to 1.27 on blue in one run" in web[-1]
    assert "~1 " in web[-1], "one traffic write"


# --- mandatory policies block the update ------------------------------------------------------


def test_a_mandatory_resource_policy_blocks_the_up_nothing_applied_and_the_outputs_kept():
    stack = Stack(prod_with_a_blue_green_admin(), stack="prod", policies=lambda result: review(result, "prod"))
    stack.other_stacks.update(completed_elsewhere(["admin", "web"], "1.28"))  # prod promotes from staging
    stack.up()
    stack.advance(60)
    stack.set("cutover:services.admin.version", "1.28")
    waiting = stack.up()
    assert waiting.rollout("admin")["phase"] == "paused" and not waiting.blocked
    outputs, serving, live = stack.saved_outputs, stack.serving("admin"), dict(stack.world.resources)

    stack.advance(10)
    stack.set("cutover:services.admin.approve", "1.28")
    switch = stack.up()

    assert switch.blocked, "prod allows 50 points per run; a blue-green switch moves 100"
    assert [v.policy_name for v in switch.policy.before if v.enforcement_level == "mandatory"] == ["rollout-step-discipline"]
    assert stack.saved_outputs == outputs, "a blocked update keeps the previous outputs"
    assert stack.serving("admin") == serving and stack.world.resources == live, "nothing applied"
    stack.advance(10)
    stack.set("cutover:services.admin.approve", None)
    after = stack.up()
    assert after.rollout("admin")["phase"] == "paused" and after.weights("admin") == (100, 0), \
        "the next run starts from the state before the blocked one"


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_rehearsal_prints_a_blocked_run_and_plays_on_from_the_same_state(tmp_path):
    scenario = tmp_path / "prod-blue-green.yaml"
    scenario.write_text(
        "runs:\n"
        "  - note: first deploy\n"
        "  - note: admin becomes a blue-green and moves to 1.28\n"
        "    after: 60\n"
        "    set:\n"
        "      cutover:services.admin.strategy: {kind: blue-green, bakeMinutes: 30, scaleDownDelayMinutes: 120}\n"
        "      cutover:services.admin.version: '1.28'\n"
        "  - note: approved\n"
        "    after: 10\n"
        "    set: {cutover:services.admin.approve: '1.28'}\n"
        "  - note: approval withdrawn\n"
        "    after: 10\n"
        "    set: {cutover:services.admin.approve: null}\n"
    )
    done = rehearse("--stack", "prod", "--scenario", str(scenario))
    runs = runs_of(done.stdout)
    assert done.returncode != 0, "`pulumi up` fails on a mandatory violation"
    assert "blocked by a mandatory resource policy" in runs[3] and "nothing applied, outputs kept" in runs[3]
    assert "policy mandatory rollout-step-discipline: 'admin-route-rule'" in runs[3]
    assert "promoted" not in runs[3]
    admin = [line for line in runs[4].splitlines() if line.strip().startswith("admin ")]
    assert "paused      step 0  blue 100 / green   0  1.27->1.28" in admin[0], runs[4]


def test_a_stack_policy_violation_is_reported_after_the_changes_and_does_not_block_them():
    def always(args, report_violation):
        report_violation("planted stack-wide finding")

    planted = StackValidationPolicy(name="planted-stack-check", description="a stack policy that always reports",
                                    enforcement_level=EnforcementLevel.MANDATORY, validate=always)
    stack = Stack(stack_config(PROJECT_ROOT / "Pulumi.prod.yaml"), stack="prod",
                  policies=lambda result: review(result, "prod", config={}, policies=[planted]))
    first = stack.up()

    assert not first.blocked and first.policy.fails, "mandatory: the update fails, after the changes"
    assert stack.saved_outputs == first.result.outputs, "the outputs of the applied run are saved"
    assert stack.serving("web")["blue"].weight == 100, "the resources changed"
    assert ("  policy mandatory planted-stack-check (stack policy, reported after the changes): planted stack-wide finding"
            in describe(first, stack, None).splitlines())


# --- preview, then update -----------------------------------------------------------------------


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_a_preview_then_its_update_shows_both_and_the_update_decides_afresh():
    done = rehearsed("--scenario", "rehearsal/scenarios/dev-preview.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    web = {n: next(line for line in text.splitlines() if line.strip().startswith("web "))
           for n, text in runs_of(done.stdout).items()}
    assert runs_of(done.stdout)[4].startswith("run 4 (preview, ")
    assert "blue  90 / green  10" in web[4] and "baking step 1" in web[4], "shown: still baking"
    assert "blue  75 / green  25" in web[5] and "advanced to step 2" in web[5], "applied: the bake ended meanwhile"
    assert "blue  50 / green  50" in web[6] and "blue  50 / green  50" in web[7] and "advanced to step 3" in web[7], \
        "a preview writes nothing: its update finds the live weights as the last update left them"
    assert "promoted 1.28 on green" in web[8], "shown: the alarm was quiet"
    assert "gate aborted: alarms in ALARM: web-5xx" in web[9] and "blue 100 / green   0" in web[9], "applied: it fired"


# --- scenario files are input too -------------------------------------------------------------


JARGON = ("Input should", "validation error", "type=", "Value error", "errors.pydantic.dev", "[key]")
"""What pydantic says on its own; a scenario file's problems are said in the words of a config error."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs:\n  - note: first\n  - afer: 10\n",
         "run 2: afer: unknown key (known: after, set, alarms, traffic, preview, note); did you mean after?"),
        ("runs:\n  - note: first\n  - after: soon\n", "run 2: after: must be a number, got 'soon'"),
        ("runs:\n  - after: on\n", "run 1: after: must be a number, got true (YAML reads yes, no, on and off as true and false)"),
        ("runs:\n  - after: .inf\n", "run 1: after: must be a finite number, got inf"),
        ("runs:\n  - after: -5\n", "run 1: after: must be at least 0, got the number -5"),
        ("runs:\n  - after: 100000.0\n", "run 1: after: must be at most 43200, got the number 100000.0"),
        ("runs:\n  - note: 1.10\n", 'run 1: note: must be text, got the number 1.1: quote it in the scenario file (note: "...")'),
        ("runs:\n  - preview: maybe\n", "run 1: preview: must be true or false, got 'maybe'"),
        ("runs:\n  - set: {services.web.version: '1.28'}\n", "run 1: set: 'services.web.version' is not a config key"),
        ("runs:\n  - set: [cutover:services.web.version]\n",
         "run 1: set: must be a mapping of names to values (name: value lines), got a list of 1 item"),
        ("runs:\n  - 5\n", "run 1: must be a block of settings (key: value lines), got the number 5"),
        ("runs: first deploy\n", "runs: must be a list, got 'first deploy'"),
        ("runs: []\n", "runs: must have at least 1 entry (got 0)"),
        ("backend: mot\nruns:\n  - note: first\n", "backend: must be one of moto, got 'mot'; did you mean moto?"),
        ("backend: moto\nruns:\n  - alarms: {web-5xx: alarm}\n",
         "run 1: alarms.web-5xx: must be one of OK, ALARM, INSUFFICIENT_DATA, got 'alarm'; did you mean ALARM?"),
        ("backend: moto\nruns:\n  - traffic: {web: {requests: ten}}\n", "run 1: traffic.web.requests: must be a whole number, got 'ten'"),
        ("backend: moto\nruns:\n  - traffic: {web: {requests: 10, latencyMS: 3}}\n",
         "run 1: traffic.web.latencyMS: unknown key (known: requests, errors, latencyMs); did you mean latencyMs?"),
        ("runs:\n  - note: [unclosed\n", "line 3, column 1: not valid YAML"),
        ("runs:\n  - after: 1\n    after: 2\n", "line 3, column 5: not valid YAML: key 'after' given twice"),
        ("backend: moto\nruns:\n  - traffic: {web: {requests: 10, errors: 20}}\n", "run 1: traffic.web: errors (20) cannot exceed requests (10)"),
        ("runs:\n  - alarms: {web-5xx: ALARM}\n", "run 1: alarms: needs `backend: moto`"),
        ("- note: first deploy\n", "expected a mapping with `runs:`"),
        ("backend: moto\n", "runs: is required"),
    ],
    ids=["an unknown key names the run and the key", "a word for a number", "YAML's on for a number",
         "an infinite wait", "a negative wait", "a wait beyond thirty days", "a note YAML read as a number is to be quoted",
         "maybe is neither true nor false", "a set key without a namespace", "set as a list", "a run that is no block",
         "runs that are no list", "no run in the list", "a misspelt backend is corrected", "a misspelt alarm state is corrected",
         "a word for a request count", "a misspelt traffic key", "a YAML syntax error gives the line", "a key given twice",
         "more errors than requests", "alarms without the emulator", "a list instead of a mapping", "no runs"],
)
def test_a_bad_scenario_file_stops_the_rehearsal_with_one_line_per_problem(tmp_path, capsys, text, expected):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)

    assert main(["--scenario", str(scenario)]) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing is played"
    assert err.startswith(f"rehearsal: {scenario}: {expected}") and len(err.splitlines()) == 1, err
    for jargon in JARGON:
        assert jargon not in err, f"pydantic jargon {jargon!r}: {err}"


def test_a_missing_scenario_file_is_an_error_not_the_default(capsys):
    assert main(["--scenario", "rehearsal/scenarios/no-such-file.yaml"]) == 2
    assert capsys.readouterr().err == "rehearsal: rehearsal/scenarios/no-such-file.yaml: no such scenario file\n"


def test_a_bad_scenario_file_prints_no_traceback(tmp_path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("runs:\n  - note: first\n  afer: 10\n")
    done = rehearse("--scenario", str(scenario))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"rehearsal: {scenario}: line ")


def test_every_checked_in_scenario_file_is_valid():
    for path in sorted((PROJECT_ROOT / "rehearsal" / "scenarios").glob("*.yaml")):
        assert load_scenario(path).runs, path.name


@pytest.mark.parametrize(
    ("stack", "web_weights", "expected"),
    [
        ("staging", ["blue  90 / green  10", "blue  50 / green  50", "blue   0 / green 100"],
         ["admin    paused", "waiting for approve: 1.28", "admin    stable      step -  blue   0 / green 100  1.28",
          "blue scaled to zero"]),
        ("prod", ["blue  95 / green   5", "blue  75 / green  25", "blue  50 / green  50", "blue  25 / green  75",
                  "blue   0 / green 100"],
         ["(preview, ", "baking step 1", "promoted 1.28 on green; until", "blue scaled to zero"]),
    ],
    ids=["staging plays a canary and an approved blue-green", "prod plays a canary in small steps, one up previewed first"],
)
@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_staging_and_prod_rehearsals_show_a_rollout(stack, web_weights, expected):
    done = rehearsed("--stack", stack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"({stack}.yaml)" in done.stdout.splitlines()[0]
    assert "policy mandatory" not in done.stdout and "blocked" not in done.stdout
    web = [line for line in done.stdout.splitlines() if line.strip().startswith("web ")]
    shown = [w for w in web_weights if any(w in line for line in web)]
    assert shown == web_weights
    for text in expected:
        assert text in done.stdout, text


# --- the README shows what the command prints -------------------------------------------------

CLOCK = re.compile(r"\b\d\d:\d\d\b")


def readme_samples() -> list[tuple[list[str], list[str]]]:
    """(rehearse arguments, sample lines) for each output block under "The two commands": the command is
    the last `./run rehearse ...` quoted in the prose before the block."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    samples = []
    prose = ""
    for part in re.split(r"^(```[a-z]*\n.*?^```)$", section, flags=re.M | re.S):
        if not part.startswith("```"):
            prose += part
            continue
        if part.startswith("```\n"):
            commands = re.findall(r"`\./run rehearse([^`]*)`", prose)
            assert commands, f"no `./run rehearse ...` before the sample starting {part[4:60]!r}"
            samples.append((shlex.split(commands[-1]), part.splitlines()[1:-1]))
            prose = ""
    return samples


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_readme_samples_are_what_the_rehearsal_prints():
    samples = readme_samples()
    assert [args for args, _ in samples][:1] == [[]], "the first sample is `./run rehearse`"
    for args, lines in samples:
        done = rehearsed(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        scenario = args[args.index("--scenario") + 1] if "--scenario" in args else "rehearsal/scenarios/dev.yaml"
        # moto scenarios play in the recent past (metrics carry real timestamps): compare them without the clock.
        clockless = load_scenario(PROJECT_ROOT / scenario).backend == "moto"
        output = [CLOCK.sub("HH:MM", line) if clockless else line for line in done.stdout.splitlines()]
        position = 0
        for line in lines:
            wanted = CLOCK.sub("HH:MM", line) if clockless else line
            assert wanted in output[position:], f"README line not printed (in order) by ./run rehearse {' '.join(args)}:\n{line}"
            position = output.index(wanted, position) + 1


# --- the plan as Markdown and as a chart (--markdown, --chart) --------------------------------

SVG = "{http://www.w3.org/2000/svg}"
SERVICE_LINE = re.compile(r"^  (\S+)\s+(\S+)\s+step (\S+)\s+blue\s+(\d+) / green\s+(\d+)  .*?  (\+\d+ ~\d+ ±\d+ -\d+)  "
                          r".*?(?:  \[gate (\w+)\])?$")
BLOCKED_SCENARIO = (
    "runs:\n"
    "  - note: first deploy\n"
    "  - note: web moves to 1.28\n"
    "    after: 60\n"
    "    set: {cutover:services.web.version: '1.28'}\n"
    "  - note: a password in plain text, mandatory in staging\n"
    "    after: 10\n"
    "    set:\n"
    "      cutover:services.web.environment: {DB_PASSWORD: hunter2}\n"
)


@functools.lru_cache(maxsize=None)
def planned(*args: str) -> tuple[subprocess.CompletedProcess, str, str]:
    """`rehearse(*args, --markdown, --chart)` once per session: (the process, the Markdown, the SVG)."""
    with tempfile.TemporaryDirectory() as out:
        markdown, chart = Path(out, "plan.md"), Path(out, "plan.svg")
        done = rehearse(*args, "--markdown", str(markdown), "--chart", str(chart))
        return done, markdown.read_text(), chart.read_text()


def printed(stdout: str) -> dict[tuple[int, str], dict]:
    """(run, service) -> what the console line shows, for every service line the rehearsal printed."""
    shown = {}
    for number, text in runs_of(stdout).items():
        kind = "preview" if text.startswith(f"run {number} (preview, ") else "up"
        for line in text.splitlines()[1:]:
            m = SERVICE_LINE.match(line)
            if m:
                service, phase, step, blue, green, changed, gate = m.groups()
                shown[number, service] = {"kind": kind, "phase": phase, "step": step, "blue": int(blue),
                                          "green": int(green), "changed": changed, "gate": gate or "–"}
    return shown


def markdown_tables(markdown: str) -> dict[tuple[int, str], dict]:
    """(run, service) -> the row of that service's table."""
    rows = {}
    for section in re.split(r"^### ", markdown, flags=re.M)[1:]:
        service, _, body = section.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith("|")]
        header = _cells(lines[0])
        assert header == ["run", "phase", "step", "blue / green", "versions", "gate", "changed", "policy", "reason"]
        for line in lines[2:]:
            row = dict(zip(header, _cells(line)))
            number, label = re.fullmatch(r"(\d+) \((.*)\)", row["run"]).groups()
            blue, green = row["blue / green"].split(" / ")
            assert (int(number), service) not in rows, f"run {number} twice in {service}'s table"
            rows[int(number), service] = {"kind": label.split(",")[0], "label": label, "phase": row["phase"],
                                          "step": row["step"], "blue": int(blue), "green": int(green),
                                          "changed": row["changed"], "gate": row["gate"], "policy": row["policy"]}
    return rows


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|").replace("&lt;", "<").replace("&amp;", "&")
            for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def chart_points(svg: str) -> dict[tuple[int, str, str], float]:
    """(run, service, color) -> the weight each plotted marker stands for, read back through the panel's axes:
    the y of the 0 and 100 gridlines and the x of each run's tick."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    points = {}
    for panel in root.iter(f"{SVG}g"):
        if panel.get("class") != "panel":
            continue
        service = panel.get("data-service")
        grid = {int(line.get("data-value")): float(line.get("y1"))
                for line in panel.iter(f"{SVG}line") if line.get("class") == "grid"}
        ticks = {float(line.get("x1")): int(line.get("data-value"))
                 for line in panel.iter(f"{SVG}line") if line.get("class") == "x-tick"}
        labels = sorted(t.text for t in panel.iter(f"{SVG}text") if t.get("class") == "axis-label")
        assert labels == ["% of traffic", "run"], f"{service}: both axes are labelled"
        assert [t.text for t in panel.iter(f"{SVG}text") if t.get("class") == "panel-title"] == [service]
        zero, hundred = grid[0], grid[100]
        markers = {}
        for circle in panel.iter(f"{SVG}circle"):
            x, y = float(circle.get("cx")), float(circle.get("cy"))
            key = (ticks[x], service, circle.get("data-color"))
            assert key not in points, f"two markers for {key}"
            points[key] = (zero - y) / (zero - hundred) * 100
            markers[key] = (x, y, "preview" in circle.get("class"))
        for line in panel.iter(f"{SVG}polyline"):
            color = line.get("data-color")
            drawn = [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]
            held = [(x, y) for (run, s, c), (x, y, preview) in sorted(markers.items()) if c == color and not preview]
            assert drawn == held, f"{service} {color}: the line joins the applied runs' markers, in run order"
    return points


@pytest.mark.slow  # a rehearsal subprocess: seconds each
@pytest.mark.parametrize("args", [(), ("--scenario", "rehearsal/scenarios/dev-preview.yaml")],
                         ids=["the dev rehearsal", "a rehearsal with previews and a gate abort"])
def test_the_markdown_has_one_row_per_service_per_run_with_what_the_console_printed(args):
    done, markdown, _ = planned(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = printed(done.stdout)
    tables = markdown_tables(markdown)

    assert sorted(tables) == sorted(shown), "a row for exactly the runs and services the console printed"
    for key, line in shown.items():
        row = tables[key]
        assert {k: row[k] for k in line} == line, key
    runs = re.findall(r"^\| (\d+) \| (up|preview), (\d\d:\d\d) \|", markdown, re.M)
    assert [int(n) for n, _, _ in runs] == sorted(runs_of(done.stdout)), "the runs table lists every run once"


@pytest.mark.slow  # a rehearsal subprocess: seconds each
@pytest.mark.parametrize("args", [(), ("--scenario", "rehearsal/scenarios/dev-preview.yaml")],
                         ids=["the dev rehearsal", "a rehearsal with previews and a gate abort"])
def test_the_chart_plots_exactly_the_rehearsals_weights_per_service_and_run(args):
    done, _, svg = planned(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {(run, service, color): line[color]
                for (run, service), line in printed(done.stdout).items() for color in ("blue", "green")}

    plotted = chart_points(svg)

    assert sorted(plotted) == sorted(expected)
    for key, weight in expected.items():
        assert plotted[key] == pytest.approx(weight, abs=0.01), key
    legend = ET.fromstring(svg).find(f"{SVG}g[@class='legend']")
    assert [t.text for t in legend.iter(f"{SVG}text")][:2] == ["blue (% of traffic)", "green (% of traffic)"]


@pytest.mark.slow  # a rehearsal subprocess: seconds each
def test_the_plan_options_leave_what_the_rehearsal_prints_unchanged():
    done, _, _ = planned()
    assert (done.returncode, done.stdout, done.stderr) == (rehearsed().returncode, rehearsed().stdout, rehearsed().stderr)


def test_a_blocked_run_is_a_row_with_the_kept_weights_and_the_violation(tmp_path):
    scenario = tmp_path / "staging-plaintext.yaml"
    scenario.write_text(BLOCKED_SCENARIO)
    done, markdown, svg = planned("--stack", "staging", "--scenario", str(scenario))
    assert done.returncode != 0 and "blocked by a mandatory resource policy" in runs_of(done.stdout)[3]

    web = {run: row for (run, service), row in markdown_tables(markdown).items() if service == "web"}
    assert web[3]["label"] == "up, blocked"
    assert {k: web[3][k] for k in ("phase", "step", "blue", "green")} == {k: web[2][k] for k in ("phase", "step", "blue", "green")}, \
        "the state the stack kept"
    assert web[3]["changed"] == "+0 ~0 ±0 -0", "nothing applied"
    assert web[3]["policy"].startswith("mandatory no-plaintext-secrets-in-env: Task definition 'web-")
    assert chart_points(svg)[3, "web", "blue"] == pytest.approx(web[2]["blue"]), "traffic stayed where it was"


def test_an_output_file_in_a_missing_directory_stops_the_rehearsal_before_it_plays(tmp_path, capsys):
    assert main(["--chart", str(tmp_path / "no-such-dir" / "plan.svg")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"rehearsal: {tmp_path / 'no-such-dir' / 'plan.svg'}: no such directory")


def _row(run: int, **fields) -> ServiceRow:
    values = dict(run=run, kind="up", at="09:00", outcome="applied", service="web", phase="progressing", step=1,
                  blue=90, green=10, versions="1.27->1.28", created=0, updated=1, replaced=0, deleted=0,
                  reason="advanced to step 1")
    return ServiceRow(**{**values, **fields})


def test_the_console_line_and_the_markdown_row_come_from_the_same_row():
    row = _row(3, reason="passed: error rate 0.3% <= 5.0% | p99 ok", gate="advance")

    assert console_line(row) == ("  web      progressing step 1  blue  90 / green  10  1.27->1.28  +0 ~1 ±0 -0  "
                                 "passed: error rate 0.3% <= 5.0% | p99 ok  [gate advance]")
    table = markdown_tables(render_markdown([], [row], title="t"))
    assert table[3, "web"] == {"kind": "up", "label": "up", "phase": "progressing", "step": "1", "blue": 90,
                                 "green": 10, "changed": "+0 ~1 ±0 -0", "gate": "advance", "policy": "–"}
    assert "| passed: error rate 0.3% &lt;= 5.0% \\| p99 ok |" in render_markdown([], [row], title="t"), \
        "a | in a reason stays inside its cell"


def test_a_chart_without_runs_is_still_a_valid_svg():
    root = ET.fromstring(render_chart([]))
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}g[@class='panel']") is None
    assert chart_points(render_chart([_row(1, blue=100, green=0)])) == {(1, "web", "blue"): 100, (1, "web", "green"): 0}
