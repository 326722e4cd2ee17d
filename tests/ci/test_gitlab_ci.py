""".gitlab-ci.yml (issue 14): valid GitLab CI syntax (check-jsonschema's vendored schema, offline), and what the
GitHub workflows are checked for too: the policy pack and the stack's config on every preview, the drive in promotion
order with one resource_group per stack, AWS through OIDC, and no secret in the log. It has not run on GitLab here:
the schema and these assertions are the whole check (no GitLab instance, so no CI Lint and no `needs`/`extends`
resolution by GitLab itself; `resolved` below merges `extends` the way GitLab documents it)."""

from __future__ import annotations

import copy
import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rehearsal.engine import PROJECT_ROOT, stack_config
from tests.ci.test_workflows import PROMOTION_ORDER, STACKS

GITLAB = PROJECT_ROOT / ".gitlab-ci.yml"
GLOBAL_KEYWORDS = {"workflow", "stages", "variables", "default", "include", "image", "services", "cache",
                   "before_script", "after_script"}
SECRETS = {"PULUMI_ACCESS_TOKEN", "AWS_ID_TOKEN"}


def pipeline() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text())


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends`: hashes merge key by key, everything else (arrays, strings) is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def resolved(name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = data or pipeline()
    job = dict(data[name])
    parents = job.pop("extends", [])
    base: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        base = _merge(base, resolved(parent, data))
    return _merge(base, job)


def jobs(include_hidden: bool = False) -> dict[str, dict[str, Any]]:
    data = pipeline()
    return {name: resolved(name, data) for name in data
            if name not in GLOBAL_KEYWORDS and (include_hidden or not name.startswith("."))}


def commands(job: dict[str, Any]) -> list[str]:
    return [line for key in ("before_script", "script", "after_script") for line in job.get(key, [])]


def matrix(job: dict[str, Any]) -> list[dict[str, str]]:
    """Each parallel:matrix entry expanded (a list value is one job per item), as the jobs' variables."""
    entries = []
    for entry in job.get("parallel", {}).get("matrix", []):
        keys = list(entry)
        values = [entry[k] if isinstance(entry[k], list) else [entry[k]] for k in keys]
        entries += [{**job.get("variables", {}), **dict(zip(keys, combo))} for combo in itertools.product(*values)]
    return entries


def render(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: str(variables.get(m.group(1), m.group(0))), text)


def kubernetes_stacks() -> set[str]:
    return {stack for stack in STACKS
            if any(s.get("platform") == "kubernetes" for s in stack_config(PROJECT_ROOT / f"Pulumi.{stack}.yaml")["cutover:services"].values())}


def runs(job: dict[str, Any], text: str) -> int:
    found = [i for i, line in enumerate(commands(job)) if text in line]
    assert found, f"runs {text!r}"
    return found[0]


# --- syntax ---------------------------------------------------------------------------------------------------------

def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_the_pipeline_is_valid_gitlab_ci_syntax():
    done = check(GITLAB)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_syntax_check_rejects_a_misspelled_keyword(tmp_path):
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(GITLAB.read_text().replace("  resource_group: pulumi-up-dev", "  resource_grup: pulumi-up-dev"))
    assert check(broken).returncode == 1


# --- merge requests: preview with the policy pack, and the rehearsal's plan ---------------------------------------------

def test_merge_requests_preview_every_stack_with_the_policy_pack_through_the_shared_script():
    job = jobs()["preview"]
    entries = matrix(job)

    assert [rule["if"] for rule in job["rules"]] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    assert sorted(e["STACK"] for e in entries) == STACKS
    assert job["script"] == ['ci/preview "$STACK"'], "ci/preview: --policy-pack policies --policy-pack-config " \
                                                      "policies/config/<stack>.json (tests/ci/test_ci_scripts.py)"
    for entry in entries:
        assert shlex.split(render(job["script"][0], entry)) == ["ci/preview", entry["STACK"]]
        assert (PROJECT_ROOT / "policies" / "config" / f"{entry['STACK']}.json").is_file()
    assert job["interruptible"] is True


def test_every_preview_in_the_file_goes_through_ci_preview_and_nothing_runs_pulumi_up_itself():
    for name, job in jobs(include_hidden=True).items():
        for line in commands(job):
            assert not re.search(r"\bpulumi (preview|up)\b", line), f"{name}: {line}: use ci/preview or python -m cutover"


def test_each_stack_is_previewed_and_driven_in_its_own_account_and_region():
    for name, job in jobs().items():
        for entry in matrix(job) or ([job.get("variables", {})] if "STACK" in job.get("variables", {}) else []):
            if "AWS_ROLE_ARN" not in entry:
                continue
            stack = entry["STACK"]
            kind = "PREVIEW" if name == "preview" else "DEPLOY"
            assert entry["AWS_ROLE_ARN"] == f"$AWS_{kind}_ROLE_ARN_{stack.upper()}", name
            assert entry["AWS_REGION"] == stack_config(PROJECT_ROOT / f"Pulumi.{stack}.yaml")["aws:region"], name
            assert ("KUBECONFIG" in entry) == (stack in kubernetes_stacks()), f"{name} {stack}: a kubeconfig iff Kubernetes"
            if "KUBECONFIG" in entry:
                assert entry["KUBECONFIG"] == f"$KUBECONFIG_{stack.upper()}"


def test_the_rehearsal_plan_of_every_stack_is_linked_from_the_merge_request():
    job = jobs()["rehearse"]
    rehearse = [line for line in job["script"] if line.startswith("./run rehearse")]
    artifacts = job["artifacts"]

    assert [e["STACK"] for e in matrix(job)] == PROMOTION_ORDER
    assert len(rehearse) == 1 and artifacts["when"] == "always" and artifacts["expose_as"]
    for path in artifacts["paths"]:
        assert "$" not in path and not path.startswith("./"), "expose_as links no path with a variable or a ./"
    for stack in PROMOTION_ORDER:
        args = shlex.split(render(rehearse[0], {"STACK": stack}))
        assert args[:4] == ["./run", "rehearse", "--stack", stack]
        for option in ("--markdown", "--chart"):
            output = args[args.index(option) + 1]
            assert any(output.startswith(p) and p.endswith("/") for p in artifacts["paths"]), f"{output} is exposed"
            assert runs(job, f"mkdir -p {Path(output).parent}") < runs(job, "./run rehearse"), "its directory exists first"


# --- schedules: the drive --------------------------------------------------------------------------------------------------

def drive_jobs() -> dict[str, dict[str, Any]]:
    return {job["variables"]["STACK"]: job for name, job in jobs().items() if any("cutover drive" in c for c in commands(job))}


def test_schedules_drive_the_stacks_in_promotion_order():
    drives = drive_jobs()
    names = {stack: name for name, job in jobs().items() for stack in [job.get("variables", {}).get("STACK")] if stack in drives}

    assert sorted(drives) == STACKS
    assert [drives[stack].get("needs") for stack in PROMOTION_ORDER] == [None, [names["dev"]], [names["staging"]]], \
        "staging waits for dev, prod for staging"
    for job in drives.values():
        assert {rule["if"] for rule in job["rules"]} == {'$CI_PIPELINE_SOURCE == "schedule"', '$CI_PIPELINE_SOURCE == "web"'}
        assert job.get("allow_failure") in (None, False), "a paused or aborted stack holds the next one"


def test_each_stack_has_its_own_resource_group_and_environment_and_an_update_is_never_interrupted():
    drives = drive_jobs()

    assert {stack: job["resource_group"] for stack, job in drives.items()} == {s: f"pulumi-up-{s}" for s in STACKS}
    assert {stack: job["environment"]["name"] for stack, job in drives.items()} == {s: s for s in STACKS}
    assert drives["prod"]["environment"]["deployment_tier"] == "production"
    for name, job in jobs().items():
        if any(re.search(r"cutover (drive|approve|abort|promote|undo)\b", c) for c in commands(job)):
            assert job.get("resource_group", "").startswith("pulumi-up-"), f"{name} updates a stack outside its group"
            assert job.get("interruptible") is not True, f"{name}: a newer pipeline must not cancel an update"


def test_the_drive_command_line_is_one_the_cutover_cli_accepts_within_the_jobs_timeout():
    from cutover.cli import parser

    for stack, job in drive_jobs().items():
        line = next(c for c in commands(job) if "cutover drive" in c)
        args = shlex.split(render(line, job["variables"]))
        assert args[:3] == [".venv/bin/python", "-m", "cutover"]
        parsed = parser().parse_args(args[3:])
        assert (parsed.command, parsed.stacks, parsed.timeout) == ("drive", [stack], 300)
        hours = re.fullmatch(r"(\d+)h", job["timeout"])
        assert hours and 300 + 15 + 30 < int(hours.group(1)) * 60, "the last update and a lock wait end before GitLab stops it"
        assert runs(job, "ci/pulumi-org") < runs(job, "cutover drive")


# --- credentials -----------------------------------------------------------------------------------------------------------

def pulumi_jobs() -> dict[str, dict[str, Any]]:
    return {name: job for name, job in jobs().items() if any("ci/preview" in c or "cutover drive" in c for c in commands(job))}


def test_every_job_that_runs_pulumi_gets_both_virtualenvs_from_ci_setup_first():
    for name, job in pulumi_jobs().items():
        pulumi_at = max(runs(job, "ci/preview") if "ci/preview" in str(job) else -1,
                        runs(job, "cutover drive") if "cutover drive" in str(job) else -1)
        assert runs(job, "ci/setup") < pulumi_at, name
        assert commands(job)[runs(job, "ci/setup")] == "ci/setup"


def test_aws_credentials_come_from_gitlabs_oidc_id_token_not_stored_keys():
    assert not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)", GITLAB.read_text())
    for name, job in pulumi_jobs().items():
        assert job["id_tokens"] == {"AWS_ID_TOKEN": {"aud": "sts.amazonaws.com"}}, name
        lines = commands(job)
        written = runs(job, '"$AWS_ID_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE"')
        assert runs(job, "export AWS_WEB_IDENTITY_TOKEN_FILE=") < written
        assert written < max(runs(job, "ci/preview") if "ci/preview" in str(lines) else -1,
                             runs(job, "cutover drive") if "cutover drive" in str(lines) else -1), name
        roles = [e.get("AWS_ROLE_ARN") for e in matrix(job)] or [job["variables"].get("AWS_ROLE_ARN")]
        assert all(role and role.startswith("$AWS_") for role in roles), name


# --- secrets ------------------------------------------------------------------------------------------------------------------

def test_no_secret_is_written_in_the_file_nor_printed_by_a_job():
    data = pipeline()
    everywhere = [data.get("variables", {})] + [job.get("variables", {}) for job in jobs(include_hidden=True).values()]
    for variables in everywhere:
        assert not {"CI_DEBUG_TRACE", "CI_DEBUG_SERVICES"} & set(variables), "debug tracing prints every variable"
        assert "PULUMI_ACCESS_TOKEN" not in variables, "the token is a masked project variable, never a value in the repository"
    for name, job in jobs(include_hidden=True).items():
        secrets = SECRETS | set(job.get("id_tokens", {}))
        for line in commands(job):
            assert not re.search(r"\bset -[a-z]*x", line), f"{name}: `set -x` echoes every expanded command"
            assert not re.fullmatch(r"\s*(env|printenv|export -p|set)\s*", line), f"{name}: {line} prints every variable"
            if not any(re.search(rf"\$\{{?{var}\b", line) for var in secrets):
                continue
            assert re.fullmatch(r"""printf '%s' "\$\w+" > "\$\w+"\s*""", line), \
                f"{name}: a secret is only written to a file, never printed: {line}"
