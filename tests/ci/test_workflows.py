"""The CI workflows (issue 11): valid GitHub Actions syntax, and what a reviewer relies on them for: the
preview runs the policy pack with each stack's own config, stacks are driven in promotion order one update
at a time, and no secret reaches the log."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rehearsal.engine import PROJECT_ROOT, stack_config

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
STACKS = sorted(path.name.split(".")[1] for path in PROJECT_ROOT.glob("Pulumi.*.yaml"))
PROMOTION_ORDER = ["dev", "staging", "prod"]
STACK_EXPR = "${{ matrix.stack }}"


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    data["on"] = data.pop(True, data.get("on"))
    return data


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.y*ml"))}


def step_using(job: dict[str, Any], action: str) -> tuple[int, dict[str, Any]]:
    """(index, step) of the one step that uses `action` (any version)."""
    found = [(i, step) for i, step in enumerate(job["steps"]) if step.get("uses", "").split("@")[0] == action]
    assert len(found) == 1, f"one step uses {action}: {found}"
    return found[0]


def step_running(job: dict[str, Any], text: str) -> tuple[int, dict[str, Any]]:
    found = [(i, step) for i, step in enumerate(job["steps"]) if text in step.get("run", "")]
    assert len(found) == 1, f"one step runs {text!r}"
    return found[0]


def render(value: str, **matrix: str) -> str:
    for key, replacement in matrix.items():
        value = value.replace(f"${{{{ matrix.{key} }}}}", replacement)
    return value


def test_the_stacks_are_the_promotion_order():
    assert sorted(PROMOTION_ORDER) == STACKS, "a new stack needs its place in review.yml and drive.yml"


def test_every_workflow_is_valid_github_actions_syntax():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {"review.yml", "drive.yml", "drive-stack.yml", "ci.yml"} <= {f.name for f in files}

    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, files)], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_syntax_check_rejects_a_misspelled_key(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "ci.yml").read_text().replace("    steps:", "    stepz:"))

    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(broken)], capture_output=True, text=True, timeout=120)

    assert done.returncode == 1 and "'stepz' was unexpected" in done.stdout, done.stdout + done.stderr


# --- review.yml: pulumi preview with the policy pack, per stack ---------------------------------


def test_each_pull_request_is_previewed_on_every_stack_with_the_policy_pack_and_that_stacks_config():
    review = workflow("review.yml")
    job = review["jobs"]["preview"]
    matrix = job["strategy"]["matrix"]["include"]
    _, preview = step_using(job, "pulumi/actions")

    assert "pull_request" in review["on"]
    assert sorted(entry["stack"] for entry in matrix) == STACKS
    assert job["strategy"]["fail-fast"] is False, "one stack's failure must not cancel the other previews"
    assert preview["uses"] == "pulumi/actions@v7"
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["policyPacks"] == "policies"
    assert preview["with"]["policyPackConfigs"] == f"policies/config/{STACK_EXPR}.json"
    assert preview["with"]["stack-name"].endswith(f"'{{0}}/cutover/{{1}}', vars.PULUMI_ORG, matrix.stack) || matrix.stack }}}}")
    assert preview["with"]["comment-on-pr"] is True
    assert preview["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    for entry in matrix:
        config = PROJECT_ROOT / render(preview["with"]["policyPackConfigs"], stack=entry["stack"])
        assert config.is_file(), f"{entry['stack']}: {config} (the README's policies/config/<stack>.json)"
    assert (PROJECT_ROOT / preview["with"]["policyPacks"] / "PulumiPolicy.yaml").is_file()


def test_the_preview_skips_forks_which_get_no_secrets():
    review = workflow("review.yml")
    assert "pull_request_target" not in review["on"], "never run a fork's code with the repository's secrets"
    assert review["jobs"]["preview"]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


@pytest.mark.parametrize(("name", "job"), [("review.yml", "preview"), ("drive-stack.yml", "drive")])
def test_the_program_and_the_policy_pack_get_their_virtualenvs_from_the_shared_setup_script(name, job):
    """ci/setup creates the virtualenvs the project files name (tests/ci/test_ci_scripts.py); GitLab and Jenkins run it too."""
    steps = workflow(name)["jobs"][job]
    setup_at, setup = step_running(steps, "ci/setup")
    pulumi_at, _ = step_using(steps, "pulumi/actions") if name == "review.yml" else step_running(steps, "cutover drive")

    assert setup["run"].strip() == "ci/setup"
    assert setup_at < pulumi_at, "both virtualenvs exist before Pulumi runs"
    assert not any("python -m venv" in step.get("run", "") for step in steps["steps"]), "no virtualenv made inline"


@pytest.mark.parametrize(("name", "job"), [("review.yml", "preview"), ("drive-stack.yml", "drive")])
def test_aws_credentials_come_from_oidc_not_stored_keys(name, job):
    steps = workflow(name)["jobs"][job]
    aws_at, aws = step_using(steps, "aws-actions/configure-aws-credentials")
    pulumi_at, _ = step_using(steps, "pulumi/actions") if name == "review.yml" else step_running(steps, "cutover drive")

    assert steps["permissions"]["id-token"] == "write"
    assert aws["uses"] == "aws-actions/configure-aws-credentials@v6"
    assert re.fullmatch(r"\$\{\{ secrets(\[matrix\.aws-role-secret\]|\.aws-role-arn) \}\}", aws["with"]["role-to-assume"])
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])
    assert aws_at < pulumi_at


def test_each_stack_is_previewed_in_its_own_account_and_region():
    matrix = workflow("review.yml")["jobs"]["preview"]["strategy"]["matrix"]["include"]
    for entry in matrix:
        config = stack_config(PROJECT_ROOT / f"Pulumi.{entry['stack']}.yaml")
        assert entry["aws-region"] == config["aws:region"], entry["stack"]
        assert entry["aws-role-secret"] == f"AWS_PREVIEW_ROLE_ARN_{entry['stack'].upper()}"
        kubernetes = any(s.get("platform") == "kubernetes" for s in config["cutover:services"].values())
        assert ("kubeconfig-secret" in entry) == kubernetes, f"{entry['stack']}: a kubeconfig iff it has Kubernetes services"


def test_the_rehearsal_of_every_stack_is_posted_on_the_pull_request_with_its_chart():
    job = workflow("review.yml")["jobs"]["rehearse"]
    _, rehearse = step_running(job, "./run rehearse")
    _, upload = step_using(job, "actions/upload-artifact")
    _, comment = step_using(job, "marocchino/sticky-pull-request-comment")

    assert job["strategy"]["matrix"]["stack"] == PROMOTION_ORDER
    assert job["permissions"]["pull-requests"] == "write"
    for stack in PROMOTION_ORDER:
        args = shlex.split(render(rehearse["run"], stack=stack))
        assert args[:4] == ["./run", "rehearse", "--stack", stack]
        markdown, chart = args[args.index("--markdown") + 1], args[args.index("--chart") + 1]
        assert (markdown, chart) == (f"rehearsal-{stack}.md", f"rehearsal-{stack}.svg")
        assert chart in render(upload["with"]["path"], stack=stack).split()
        assert {k: render(v, stack=stack) for k, v in comment["with"].items()} == {"header": f"rehearsal-{stack}",
                                                                                 "path": markdown}
    assert upload["if"].startswith("always()")
    assert comment["if"].startswith("always()"), "a failing rehearsal is posted too: that is when it matters"
    helped = subprocess.run([sys.executable, "-m", "rehearsal", "--help"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert {"--stack", "--markdown", "--chart"} <= set(re.findall(r"--[a-z]+", helped.stdout)), helped.stdout


# --- drive.yml: the schedule ---------------------------------------------------------------------


def test_drive_runs_the_stacks_in_promotion_order_on_a_schedule():
    drive = workflow("drive.yml")
    jobs = drive["jobs"]

    assert set(drive["on"]) == {"schedule", "workflow_dispatch"} and drive["on"]["schedule"][0]["cron"]
    assert sorted(jobs) == STACKS
    assert [jobs[stack].get("needs") for stack in PROMOTION_ORDER] == [None, "dev", "staging"], \
        "staging waits for dev, prod for staging"
    for stack, job in jobs.items():
        assert job["uses"] == "./.github/workflows/drive-stack.yml"
        assert job["with"]["stack"] == stack
        assert job["with"]["aws-region"] == stack_config(PROJECT_ROOT / f"Pulumi.{stack}.yaml")["aws:region"]
        assert job["secrets"]["aws-role-arn"] == f"${{{{ secrets.AWS_DEPLOY_ROLE_ARN_{stack.upper()} }}}}"
        assert job["permissions"]["id-token"] == "write"


def test_each_stack_has_its_own_concurrency_group_and_a_running_update_is_never_cancelled():
    jobs = workflow("drive.yml")["jobs"]
    groups = {stack: job["concurrency"] for stack, job in jobs.items()}

    assert {stack: c["group"] for stack, c in groups.items()} == {s: f"pulumi-up-{s}" for s in STACKS}
    assert all(c["cancel-in-progress"] is False for c in groups.values())
    assert "concurrency" not in workflow("drive-stack.yml")["jobs"]["drive"], \
        "the caller holds the group; the same group in the called job would deadlock"


def test_drive_calls_python_m_cutover_drive_with_the_stack():
    called = workflow("drive-stack.yml")
    _, drive = step_running(called["jobs"]["drive"], "cutover drive")

    assert "workflow_call" in called["on"] and called["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    assert shlex.split(drive["run"]) == [".venv/bin/python", "-m", "cutover", "drive", "--timeout", "300", "$STACK"]
    assert 300 + 15 + 30 < called["jobs"]["drive"]["timeout-minutes"], \
        "drive starts no update after its limit; the last one and a lock wait (15 min) end before GitHub stops the job"
    assert drive["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.pulumi-access-token }}", "STACK": "${{ inputs.stack }}"}
    assert not {name for name, job in workflow("drive.yml")["jobs"].items() if "kubeconfig" in job["secrets"]} - {
        stack for stack in STACKS
        if any(s.get("platform") == "kubernetes"
               for s in stack_config(PROJECT_ROOT / f"Pulumi.{stack}.yaml")["cutover:services"].values())}


def test_the_drive_command_line_is_one_the_cutover_cli_accepts():
    cli = pytest.importorskip("cutover.cli", reason="python -m cutover is not in this checkout yet")
    _, drive = step_running(workflow("drive-stack.yml")["jobs"]["drive"], "cutover drive")
    args = shlex.split(drive["run"].replace("$STACK", "prod"))[3:]

    parsed = cli.parser().parse_args(args)

    assert (parsed.command, parsed.stacks, parsed.timeout) == ("drive", ["prod"], 300)


# --- ci.yml ----------------------------------------------------------------------------------------


def test_ci_runs_the_readmes_test_command_on_push_and_pull_request():
    ci = workflow("ci.yml")
    (job,) = ci["jobs"].values()

    assert {"push", "pull_request"} <= set(ci["on"])
    assert step_running(job, "./run test")[1]["run"].strip() == "./run test"
    assert "./run test" in (PROJECT_ROOT / "README.md").read_text()
    assert "requirements-dev.txt" in (PROJECT_ROOT / "run").read_text(), "./run test installs the dev requirements"


# --- secrets ------------------------------------------------------------------------------------------

SECRET = re.compile(r"\$\{\{[^}]*\bsecrets\b")


def _steps() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name}: {job_name}: {step.get('name') or step.get('uses')}", step)
            for name, wf in all_workflows().items() for job_name, job in wf["jobs"].items()
            for step in job.get("steps", [])]


def test_secrets_reach_steps_only_through_env_or_inputs_never_the_script_text():
    for where, step in _steps():
        assert not SECRET.search(step.get("run", "")), f"{where}: a secret expanded into the script is in its text"


def test_secrets_are_given_to_single_steps_not_whole_jobs():
    for name, wf in all_workflows().items():
        assert not SECRET.search(str(wf.get("env", {}))), name
        for job_name, job in wf["jobs"].items():
            assert not SECRET.search(str(job.get("env", {}))), f"{name}: {job_name}: job-level env reaches every step"


def test_no_step_prints_a_secret():
    for name, wf in all_workflows().items():
        assert not {"ACTIONS_STEP_DEBUG", "ACTIONS_RUNNER_DEBUG"} & set(wf.get("env", {})), name
    for where, step in _steps():
        script = step.get("run", "")
        assert not re.search(r"\bset -[a-z]*x", script), f"{where}: `set -x` echoes every expanded command"
        secret_vars = [var for var, value in step.get("env", {}).items() if SECRET.search(str(value))]
        for line in script.splitlines():
            if not any(re.search(rf"\$\{{?{var}\b", line) for var in secret_vars):
                continue
            assert not re.search(r"\b(echo|cat|tee)\b|GITHUB_(OUTPUT|ENV|STEP_SUMMARY)", line), f"{where}: {line}"
            tested = re.fullmatch(r'\s*if \[ -n "\$\w+" \]; then', line)
            into_file = re.search(r'> "\$RUNNER_TEMP/[\w.-]+"\s*$', line)
            assert tested or into_file, f"{where}: a secret is only tested or written to a file, never printed: {line}"
