"""The Jenkinsfile (issue 14), checked for structure: the stages, when each runs, the promotion order, a lock around
every update, the approval path, and that every command it runs exists here and parses.

What is not validated here: that Jenkins accepts it. The declarative linter (`jenkins-cli declarative-linter`, or
POST /pipeline-model-converter/validate) needs a running Jenkins with the Pipeline plugins; there is none on this
machine, and no Groovy parser either. So a misspelled step or directive would pass these tests; the steps used are
the documented ones (see the file's header for the plugins)."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from cutover.cli import parser as cutover_parser
from rehearsal.engine import PROJECT_ROOT
from tests.ci.test_workflows import PROMOTION_ORDER, STACKS

JENKINSFILE = PROJECT_ROOT / "Jenkinsfile"
UPDATES = re.compile(r"cutover (drive|approve|abort|promote|undo)\b")


def source() -> str:
    """The Jenkinsfile without its // comments (none of its strings holds a //)."""
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in JENKINSFILE.read_text().splitlines())


def block(text: str, opening: str) -> str:
    """The text of the `{ ... }` block that follows `opening` (its first occurrence), braces balanced."""
    start = text.index(opening)
    brace = text.index("{", start + len(opening) - 1)
    depth = 0
    for at in range(brace, len(text)):
        depth += {"{": 1, "}": -1}.get(text[at], 0)
        if depth == 0:
            return text[brace + 1:at]
    raise AssertionError(f"unbalanced braces after {opening!r}")


def blocks(text: str, pattern: str) -> list[str]:
    return [block(text[m.start():], m.group(0)) for m in re.finditer(pattern, text)]


def shell_commands(text: str) -> list[str]:
    """Every shell script the file runs: `sh '...'`, `sh "..."` and `sh(..., script: "...")`."""
    found = re.findall(r"""\bsh\s+(['"])(.*?)\1""", text)
    found += re.findall(r"""\bsh\([^)]*?script:\s*(['"])(.*?)\1""", text)
    return [command for _, command in found]


def as_run(command: str, stack: str = "dev") -> list[str]:
    """The command's words as the shell would see them for `stack` (Groovy's ${stack}/${service}, the shell's $STACK)."""
    filled = command.replace("${stack}", stack).replace("${service}", "web").replace("$STACK", stack)
    return shlex.split(filled)


class _Parsed(Exception):
    pass


def rehearsal_accepts(args: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """Parse `args` with `python -m rehearsal`'s own parser, stopping before it rehearses anything."""
    import rehearsal.__main__ as rehearsal_main

    seen: dict[str, argparse.Namespace] = {}
    original = argparse.ArgumentParser.parse_args

    def parse_only(self, argv=None, namespace=None):
        seen["args"] = original(self, argv, namespace)
        raise _Parsed

    with monkeypatch.context() as patched, pytest.raises(_Parsed):
        patched.setattr(argparse.ArgumentParser, "parse_args", parse_only)
        rehearsal_main.main(args)
    return seen["args"]


def test_the_braces_balance_and_the_stages_are_there():
    text = source()
    assert text.count("{") == text.count("}")
    names = re.findall(r"""\bstage\((['"])(.*?)\1\)""", text)
    assert [name for _, name in names] == ["Review", "Preview", "Rehearse", "Drive", "Drive ${stack}"]
    assert "pipeline {" in text and "agent none" in block(text, "pipeline {")


def test_change_requests_preview_and_rehearse_every_stack():
    review = block(source(), "stage('Review')")

    assert re.search(r"\bchangeRequest\(\)", block(review, "when {"))
    axis = block(review, "axis {")
    assert re.search(r"name\s+'STACK'", axis)
    assert re.findall(r"'(\w+)'", axis.split("values", 1)[1]) == PROMOTION_ORDER
    assert sorted(PROMOTION_ORDER) == STACKS
    assert shell_commands(block(review, "stage('Preview')")) == ["ci/setup", 'ci/preview "$STACK"'], \
        "ci/preview: the policy pack and policies/config/<stack>.json (tests/ci/test_ci_scripts.py)"
    rehearse = block(review, "stage('Rehearse')")
    assert "archiveArtifacts" in block(rehearse, "always {"), "the plan is kept when the rehearsal fails too"


def test_the_drive_runs_on_a_cron_trigger_of_the_main_branch_in_promotion_order():
    text = source()
    cron = re.search(r"cron\(env\.BRANCH_NAME == 'main' \? '([^']+)' : ''\)", block(text, "triggers {"))
    drive = block(text, "stage('Drive')")

    assert cron and len(cron.group(1).split()) == 5
    condition = block(drive, "when {")
    assert "branch 'main'" in condition and "triggeredBy 'TimerTrigger'" in condition
    order = re.search(r"for \(String stack in \[([^\]]*)\]\)", drive)
    assert order and re.findall(r"'(\w+)'", order.group(1)) == PROMOTION_ORDER
    assert re.search(r"driveStack\(stack\)", block(drive, "for (String stack in")), "each stack in turn"
    assert "disableConcurrentBuilds()" in block(text, "options {")


def test_every_update_runs_inside_the_stacks_lock_and_no_timeout_interrupts_one():
    text = source()
    locked = [c for body in blocks(text, r'lock\(resource: "pulumi-up-\$\{stack\}"\) \{') for c in shell_commands(body)]
    updates = [c for c in shell_commands(text) if UPDATES.search(c)]

    assert updates and sorted(updates) == sorted(locked), "every command that can run `pulumi up` holds the lock"
    for body in blocks(text, r"timeout\([^)]*\) \{"):
        assert not UPDATES.search(body), "a timeout would interrupt `pulumi up` midway"
        assert "input(" in body, "the only timeout bounds the wait for a person"


def test_a_pause_asks_a_person_and_approves_the_services_status_json_names_then_drives_on():
    drive_stack = block(source(), "void driveStack(String stack) {")
    loop = block(drive_stack, "for (int round = 1;")
    at = {what: loop.index(what) for what in
          ("cutover drive", "code == 0", "code != 4", "cutover status --json", "pausedServices(status)", "input(", "cutover approve")}

    assert list(at) == sorted(at, key=at.get), "drive; stable: done; not a pause: fail; else status, ask, approve"
    assert "return" in block(loop, "if (code == 0) {") and "error(" in block(loop, "if (code != 4) {")
    assert "submitter:" in loop, "only the named approvers can approve"
    input_at, lock_at = loop.index("input("), [m.start() for m in re.finditer(r"lock\(", loop)]
    assert lock_at[0] < input_at < lock_at[1], "the lock is released while a person decides"
    assert re.search(r"for \(String service in paused\)", loop)
    parsing = block(source(), "List<String> pausedServices(String json) {")
    assert "status.paused" in parsing, "the `paused` list of status --json (tests/operator/test_status_json.py)"


def test_every_command_the_jenkinsfile_runs_exists_here_and_parses(monkeypatch):
    commands = shell_commands(source())
    assert len(commands) >= 7
    for command in commands:
        args = as_run(command)
        program = args[0]
        if program == ".venv/bin/python":
            assert args[1:3] == ["-m", "cutover"], command
            parsed = cutover_parser().parse_args(args[3:])
            assert parsed.command in {"drive", "status", "approve"}, command
            if parsed.command == "drive":
                assert (parsed.stacks, parsed.timeout) == (["dev"], 300)
            if parsed.command == "status":
                assert parsed.json and parsed.stack == "dev"
            if parsed.command == "approve":
                assert (parsed.service, parsed.stack) == ("web", "dev")
            continue
        path = PROJECT_ROOT / program
        assert path.is_file() and path.stat().st_mode & 0o111, f"{command}: {program} is an executable in the repository"
        if program == "./run":
            assert args[1] == "rehearse", command
            parsed = rehearsal_accepts(args[2:], monkeypatch)
            assert (parsed.stack, parsed.markdown, parsed.chart) == ("dev", Path("rehearsal-dev.md"), Path("rehearsal-dev.svg"))
            archived = re.search(r'archiveArtifacts\(artifacts: "([^"]+)"', source()).group(1).replace("${env.STACK}", "dev")
            assert {str(parsed.markdown), str(parsed.chart)} <= {p.strip() for p in archived.split(",")}
        if program == "ci/preview":
            assert (PROJECT_ROOT / "policies" / "config" / f"{args[1]}.json").is_file()


def test_the_pulumi_token_only_reaches_the_steps_that_need_it_and_is_never_printed():
    text = source()
    assert "pulumi-access-token" in text
    assert not re.search(r"\bset -[a-z]*x", text)
    assert not re.search(r'"[^"\n]*\$\{?PULUMI_ACCESS_TOKEN', text), "never Groovy-interpolated into a command line"
    assert not re.search(r"\becho\b[^\n]*PULUMI_ACCESS_TOKEN", text)
    assert re.findall(r"variable: '(\w+)'", text) == ["PULUMI_ACCESS_TOKEN"] * 2, "bound by withCredentials, masked in the log"
    environment = re.search(r"\benvironment \{", text)
    assert environment is None or "PULUMI_ACCESS_TOKEN" not in block(text, "environment {"), "not for the whole build"
    assert not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)", text), "AWS credentials come from the agent's role"
