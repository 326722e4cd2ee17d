"""The README's main command: the rehearsal prints one line per service per run and a whole rollout,
and treats each run as the Pulumi CLI would (policies, preview then update, its own input checked)."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys

import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy

from rehearsal.__main__ import describe, load_scenario, main
from rehearsal.engine import PROJECT_ROOT, stack_config
from rehearsal.policy_check import review
from rehearsal.scenario import Stack


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


def test_the_gates_rehearsal_shows_a_healthy_step_then_the_abort():
    done = rehearse("--scenario", "rehearsal/scenarios/dev-gates.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "advanced to step 1 (candidate healthy and routed as recorded; no metrics judged)" in done.stdout
    assert "advanced to step 2 (passed: error rate 0.3%" in done.stdout
    assert "gate aborted: error rate 20.0% > 5.0%" in done.stdout


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs:\n  - note: first\n  - afer: 10\n", "run 2: afer: unknown key (known: after, alarms, note, preview, set, traffic)"),
        ("runs:\n  - note: first\n  - after: soon\n", "run 2: after: Input should be a valid number"),
        ("runs:\n  - after: -5\n", "run 1: after: Input should be greater than or equal to 0"),
        ("runs:\n  - set: {services.web.version: '1.28'}\n", "run 1: set: 'services.web.version' is not a config key"),
        ("runs:\n  - note: [unclosed\n", "line 3, column 1: not valid YAML"),
        ("runs:\n  - after: 1\n    after: 2\n", "line 3, column 5: not valid YAML: key 'after' given twice"),
        ("backend: moto\nruns:\n  - traffic: {web: {requests: 10, errors: 20}}\n", "run 1: traffic.web: errors (20) cannot exceed requests (10)"),
        ("runs:\n  - alarms: {web-5xx: ALARM}\n", "run 1: alarms: needs `backend: moto`"),
        ("- note: first deploy\n", "expected a mapping with `runs:`"),
        ("backend: moto\n", "runs: required"),
    ],
    ids=["an unknown key names the run and the key", "a wrong type", "a negative wait", "a set key without a namespace",
         "a YAML syntax error gives the line", "a key given twice", "more errors than requests",
         "alarms without the emulator", "a list instead of a mapping", "no runs"],
)
def test_a_bad_scenario_file_stops_the_rehearsal_with_one_line_per_problem(tmp_path, capsys, text, expected):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)

    assert main(["--scenario", str(scenario)]) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing is played"
    assert err.startswith(f"rehearsal: {scenario}: ") and expected in err, err
    assert len(err.splitlines()) == 1


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
