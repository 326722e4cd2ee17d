"""ci/: the shell the three CI systems share (GitHub Actions, GitLab CI, Jenkins), so none of them repeats it, and the
one driver command line all three run. ci/preview runs here against a stand-in `pulumi` on PATH that records its
arguments; ci/setup is checked by reading it (running it would reinstall this machine's .venv)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest
import yaml

from rehearsal.engine import PROJECT_ROOT
from tests.ci.test_workflows import STACKS

CI = PROJECT_ROOT / "ci"
SCRIPTS = ["setup", "preview", "pulumi-org"]
PIPELINES = {
    "GitHub": sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml")),
    "GitLab": [PROJECT_ROOT / ".gitlab-ci.yml"],
    "Jenkins": [PROJECT_ROOT / "Jenkinsfile"],
}


def text_of(system: str) -> str:
    return "\n".join(path.read_text() for path in PIPELINES[system])


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_is_executable_bash_that_parses(name):
    path = CI / name
    assert path.stat().st_mode & 0o111, f"ci/{name} is executable: the pipelines call it directly"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in path.read_text()
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_setup_creates_the_virtualenvs_the_project_files_name_from_their_requirements():
    script = (CI / "setup").read_text()
    program_venv = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]["virtualenv"]
    pack = yaml.safe_load((PROJECT_ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    pack_venv = f"policies/{pack['runtime']['options']['virtualenv']}"

    assert f'"$python" -m venv {program_venv}\n' in script
    assert f"{program_venv}/bin/python -m pip install -r requirements.txt" in script
    assert f'"$python" -m venv {pack_venv}\n' in script
    assert f"{pack_venv}/bin/python -m pip install --upgrade pip setuptools wheel" in script
    assert f"{pack_venv}/bin/python -m pip install -r policies/requirements.txt" in script
    assert f"{pack_venv}/" in (PROJECT_ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("system", sorted(PIPELINES))
def test_every_ci_system_gets_its_virtualenvs_from_ci_setup_and_makes_none_itself(system):
    text = text_of(system)
    assert re.search(r"(^|[\s'\"])ci/setup\b", text), f"{system} runs ci/setup"
    assert "-m venv" not in text, f"{system} creates a virtualenv itself: call ci/setup"
    assert "pip install" not in text, system


def commands_of(system: str) -> list[str]:
    """Every shell command line a CI system's files run (GitHub steps, GitLab scripts, Jenkins `sh`)."""
    if system == "GitHub":
        from tests.ci.test_workflows import all_workflows

        return [line for wf in all_workflows().values() for job in wf["jobs"].values() for step in job.get("steps", [])
                for line in step.get("run", "").splitlines()]
    if system == "GitLab":
        from tests.ci.test_gitlab_ci import commands, jobs

        return [line for job in jobs().values() for line in commands(job)]
    from tests.ci.test_jenkinsfile import shell_commands, source

    return shell_commands(source())


def shared_form(line: str) -> str:
    return re.sub(r'"?\$(\{\{ matrix\.stack \}\}|\{stack\}|STACK)"?', "STACK", line.strip())


@pytest.mark.parametrize("system", sorted(PIPELINES))
def test_all_three_run_the_same_driver_command_line(system):
    drives = {shared_form(line) for line in commands_of(system) if "-m cutover drive" in line}
    assert drives == {".venv/bin/python -m cutover drive --timeout 300 STACK"}, system


@pytest.mark.parametrize("system", sorted(PIPELINES))
def test_all_three_publish_the_rehearsal_plan_with_markdown_and_chart(system):
    rehearsals = [shlex.split(shared_form(line)) for line in commands_of(system) if "./run rehearse" in line]
    assert len(rehearsals) == 1, system
    args = rehearsals[0]
    assert args[:4] == ["./run", "rehearse", "--stack", "STACK"], system
    assert args[args.index("--markdown") + 1].endswith("rehearsal-STACK.md"), system
    assert args[args.index("--chart") + 1].endswith("rehearsal-STACK.svg"), system


# --- ci/preview, run against a stand-in pulumi ---------------------------------------------------------------------------

@pytest.fixture
def fake_pulumi(tmp_path):
    """A `pulumi` on PATH that appends its arguments, one call per line, to a log and succeeds."""
    log = tmp_path / "pulumi.log"
    binary = tmp_path / "bin" / "pulumi"
    binary.parent.mkdir()
    binary.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> {shlex.quote(str(log))}\n')
    binary.chmod(0o755)

    def run(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        environment = {k: v for k, v in os.environ.items() if k != "PULUMI_ORG"}
        environment.update(PATH=f"{binary.parent}{os.pathsep}{os.environ['PATH']}", **env)
        done = subprocess.run([str(CI / "preview"), *args], capture_output=True, text=True, timeout=30, env=environment,
                              cwd="/")
        return done, log.read_text().splitlines() if log.exists() else []

    return run


@pytest.mark.parametrize("stack", STACKS)
def test_preview_runs_pulumi_preview_with_the_policy_pack_and_that_stacks_config(fake_pulumi, stack):
    done, calls = fake_pulumi(stack)

    assert done.returncode == 0, done.stderr
    assert calls == [f"preview --stack {stack} --non-interactive --policy-pack policies "
                     f"--policy-pack-config policies/config/{stack}.json"]
    assert (PROJECT_ROOT / "policies" / "config" / f"{stack}.json").is_file()


def test_preview_sets_the_organization_first_when_pulumi_org_is_set_and_passes_extra_flags(fake_pulumi):
    done, calls = fake_pulumi("prod", "--diff", PULUMI_ORG="acme")

    assert done.returncode == 0, done.stderr
    assert calls == ["org set-default acme", "preview --stack prod --non-interactive --policy-pack policies "
                     "--policy-pack-config policies/config/prod.json --diff"]


def test_preview_of_a_stack_without_a_policy_config_refuses_before_calling_pulumi(fake_pulumi):
    done, calls = fake_pulumi("qa")

    assert done.returncode == 2 and calls == []
    assert "no policies/config/qa.json" in done.stderr
