"""The Automation API adapter without a CLI: the real SDK (LocalWorkspace, Stack) over a fake `PulumiCommand`
that records every argument list and answers like the CLI. This pins what `pulumi` would be asked to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from cutover.ports import ConfigWriteFailed, PendingOperation, StackLocked, StackUnavailable, UpdateFailed
from cutover.workspace import POLICY_PACK, PROJECT_DIR, open_stack, policy_config_for

CONFLICT = "error: [409] Conflict: Another update is currently in progress."


def _flags_and_positionals(args: list[str]) -> tuple[set[str], list[str]]:
    """`config set` arguments: which flags, and the key / value wherever the SDK put them."""
    cut = args.index("--") if "--" in args else len(args)
    flags, positionals, skip = set(), [], False
    for i, token in enumerate(args[2:cut], start=2):
        if skip:
            skip = False
            continue
        if token.startswith("--"):
            flags.add(token)
            skip = token in ("--stack", "--type")
            if token == "--type":
                flags.add(f"--type={args[i + 1]}")
        else:
            positionals.append(token)
    return flags, positionals + args[cut + 1:]


class FakePulumi(PulumiCommand):
    """Stands in for the `pulumi` binary: no subprocess, answers from a small in-memory stack."""

    def __init__(self, version: str = "3.200.0"):  # no super().__init__: it would run `pulumi version`
        self.command = "pulumi"
        self.version = VersionInfo.parse(version)
        self.calls: list[list[str]] = []
        self.services: dict[str, Any] = {"web": {"version": "1.27", "strategy": {"kind": "canary"}}}
        self.secrets = {"cutover:notifications": '[{"url": "https://hooks.slack.com/services/T/B/s3cr3t", "kind": "slack"}]'}
        self.outputs: dict[str, Any] = {"rollouts": {"web": {"phase": "stable", "stableVersion": "1.27"}}}
        self.pending: list[dict] = []
        self.fail: dict[str, CommandResult] = {}
        self.ignore_type = False
        """Play a CLI that stores an integer as a number even with `--type string`."""

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        args = list(args)
        self.calls.append(args)
        verb = " ".join(a for a in args[:2] if not a.startswith("-"))
        if "--event-log" in args:
            # The SDK reads a preview's change summary from the event log (a file for CLIs <= 3.205); the CLI
            # ends the log with a cancel event whether the preview passed or not.
            log = Path(args[args.index("--event-log") + 1])
            log.write_text(json.dumps({"sequence": 1, "timestamp": 0, "summaryEvent": {"resourceChanges": {"same": 22}}}) + "\n"
                           + json.dumps({"sequence": 2, "timestamp": 0, "cancelEvent": {}}) + "\n")
        if verb in self.fail:
            raise create_command_error(self.fail[verb])
        answer = self._answer(verb, args)
        return CommandResult(stdout=answer, stderr="", code=0)

    def _answer(self, verb: str, args: list[str]) -> str:
        if verb == "config" and args[1] == "--show-secrets":
            config = {"aws:region": {"value": "us-east-1", "secret": False},
                      "cutover:services": {"value": json.dumps(self.services), "secret": False}}
            config.update({k: {"value": v, "secret": True} for k, v in self.secrets.items()})
            return json.dumps(config)
        if verb == "config set":
            flags, (key, value) = _flags_and_positionals(args)
            assert "--path" in flags and "--plaintext" in flags
            stored: Any = value
            if value.isdigit() and ("--type=string" not in flags or self.ignore_type):
                stored = int(value)  # what `config set --path` does with an integer
            _, service, name = key.split(".")
            self.services[service][name] = stored
            return ""
        if verb == "config rm":
            _, service, name = args[2].split(".")
            self.services[service].pop(name, None)
            return ""
        if verb == "stack output":
            return json.dumps(self.outputs)
        if verb == "stack history":
            return json.dumps([{"kind": "update", "startTime": "2026-01-05T09:00:00.000000Z", "message": "cutover",
                                "environment": {}, "config": {}, "result": "succeeded"}])
        if verb == "stack export":
            return json.dumps({"version": 3, "deployment": {"manifest": {}, "pending_operations": self.pending}})
        return ""

    def ran(self, verb: str) -> list[list[str]]:
        return [a for a in self.calls if " ".join(x for x in a[:2] if not x.startswith("-")) == verb]


@pytest.fixture
def cli():
    return FakePulumi()


def opened(cli: FakePulumi, stack: str = "dev", **options: Any):
    return open_stack(stack, work_dir=PROJECT_DIR, pulumi_command=cli, **options)


def test_opening_selects_the_stack_and_reads_config_with_secrets_decrypted(cli):
    workspace = opened(cli)
    assert cli.calls[0] == ["stack", "select", "--stack", "dev"]
    config = workspace.config()
    assert cli.calls[-1] == ["config", "--show-secrets", "--json", "--stack", "dev"]
    assert config["cutover:notifications"][0]["url"].endswith("/s3cr3t"), "the secret webhook comes back decrypted and parsed"
    assert config["cutover:services"]["web"]["version"] == "1.27" and config["aws:region"] == "us-east-1"
    assert workspace.outputs()["rollouts"]["web"]["phase"] == "stable"
    assert ["stack", "output", "--json", "--show-secrets", "--stack", "dev"] in cli.calls


def test_a_version_like_1_28_is_set_with_config_set_path(cli):
    opened(cli).set_service_key("web", "approve", "1.28")
    [write] = cli.ran("config set")
    assert write == ["config", "set", "--path", "cutover:services.web.approve", "--plaintext", "--stack", "dev",
                     "--non-interactive", "--", "1.28"]
    assert cli.services["web"]["approve"] == "1.28"


def test_an_integer_looking_version_is_set_with_type_string_so_it_stays_a_string(cli):
    opened(cli).set_service_key("web", "version", "2")
    [write] = cli.ran("config set")
    assert write == ["config", "set", "--stack", "dev", "--path", "--plaintext", "--type", "string", "--",
                     "cutover:services.web.version", "2"]
    assert cli.services["web"]["version"] == "2"


def test_a_cli_without_type_string_is_refused_before_writing_anything():
    cli = FakePulumi(version="3.140.0")
    with pytest.raises(ConfigWriteFailed, match=r"needs `config set --type string`, CLI 3\.148\.0\+"):
        opened(cli).set_service_key("web", "version", "2")
    assert cli.ran("config set") == []


def test_a_write_that_does_not_read_back_as_the_string_is_reported(cli):
    cli.ignore_type = True
    with pytest.raises(ConfigWriteFailed, match=r"reads back as 2, not the string '2'"):
        opened(cli).set_service_key("web", "version", "2")


def test_removing_a_key_uses_its_path(cli):
    cli.services["web"]["promote"] = "1.28"
    opened(cli).remove_service_key("web", "promote")
    assert cli.ran("config rm") == [["config", "rm", "cutover:services.web.promote", "--stack", "dev", "--path"]]
    assert "promote" not in cli.services["web"]


def test_up_previews_then_updates_with_the_policy_pack_and_the_stacks_policy_config(cli):
    opened(cli).up()
    [preview], [up] = cli.ran("preview"), cli.ran("up")
    pack = ["--policy-pack", str(POLICY_PACK), "--policy-pack-config", str(PROJECT_DIR / "policies/config/dev.json")]
    assert preview[:1] == ["preview"] and _contains(preview, pack)
    assert up[:3] == ["up", "--yes", "--skip-preview"] and _contains(up, pack)
    assert cli.calls.index(preview) < cli.calls.index(up)
    assert _contains(up, ["--message", "cutover"]) and _contains(up, ["--color", "never"])
    assert not any(a[:1] == ["cancel"] for a in cli.calls)


def test_a_stack_without_a_policy_config_file_gets_the_pack_with_its_defaults(cli):
    assert policy_config_for("acme/cutover/prod") == PROJECT_DIR / "policies/config/prod.json"
    assert policy_config_for("qa") is None
    opened(cli, "qa").up()
    [up] = cli.ran("up")
    assert _contains(up, ["--policy-pack", str(POLICY_PACK)]) and "--policy-pack-config" not in up


def test_skip_preview_goes_straight_to_the_update(cli):
    opened(cli, preview_first=False).up()
    assert cli.ran("preview") == [] and len(cli.ran("up")) == 1


def test_another_updates_lock_becomes_stack_locked_through_the_sdks_own_classification(cli):
    cli.fail["up"] = CommandResult(stdout="", stderr=CONFLICT, code=255)
    with pytest.raises(StackLocked) as locked:
        opened(cli).up()
    assert "Another update is currently in progress" in locked.value.detail


def test_a_diy_backend_lock_is_a_lock_too(cli):
    cli.fail["preview"] = CommandResult(stdout="", code=255, stderr="error: the stack is currently locked by 1 lock(s). Either "
                                        "wait for the other process(es) to end or delete the lock file with `pulumi cancel`.")
    with pytest.raises(StackLocked):
        opened(cli).up()


@pytest.mark.parametrize("verb, stage, applied", [("preview", "preview", "nothing was applied"),
                                                   ("up", "update", "what resolved was applied")])
def test_a_failed_preview_or_update_says_which_and_what_it_left(cli, verb, stage, applied):
    cli.fail[verb] = CommandResult(stdout="Policies:\n    mandatory: [rollout-step-discipline] 0 -> 100 in one run",
                                   stderr="error: preview failed", code=255)
    with pytest.raises(UpdateFailed) as failed:
        opened(cli).up()
    assert failed.value.stage == stage and applied in failed.value.detail
    assert "rollout-step-discipline" in failed.value.detail


def test_pending_operations_come_from_the_exported_state(cli):
    cli.pending = [{"resource": {"urn": "urn:pulumi:dev::cutover::aws:lb/targetGroup:TargetGroup::web-green-tg",
                                 "type": "aws:lb/targetGroup:TargetGroup"}, "type": "creating"}]
    assert opened(cli).pending_operations() == [PendingOperation(
        "creating", "urn:pulumi:dev::cutover::aws:lb/targetGroup:TargetGroup::web-green-tg", "aws:lb/targetGroup:TargetGroup")]
    assert ["stack", "export", "--show-secrets", "--stack", "dev"] in cli.calls


def test_an_unknown_stack_is_a_clear_error(cli):
    cli.fail["stack select"] = CommandResult(stdout="", stderr="error: no stack named 'nope' found", code=255)
    with pytest.raises(StackUnavailable, match="no stack named nope"):
        opened(cli, "nope")


def _contains(args: list[str], sequence: list[str]) -> bool:
    return any(args[i:i + len(sequence)] == sequence for i in range(len(args)))
