"""A stand-in for `pulumi.automation.Stack`, backed by the rehearsal: the real program under the mock engine.

`cutover.workspace.AutomationWorkspace` wraps it exactly as it wraps a real Automation API stack, so a
command runs end to end: CLI parsing -> commands / drive -> the adapter's argument building and error
translation -> this stand-in -> `__main__.py` under the mock engine, with the policy pack evaluated the
way the rehearsal evaluates it. What is not real is the `pulumi` process between the SDK and the engine.

It behaves like the CLI where the tool depends on it:
- `set_config(..., path=True)` stores integer-looking values as numbers and "true"/"false" as booleans, as
  `pulumi config set --path` does (so a version `2` written that way breaks the program's config);
  `workspace.cli_api.config_set(..., type="string")` stores the string;
- `up` and `preview` take `policy_packs` / `policy_pack_configs` and evaluate the pack with that config
  file; a mandatory violation fails the preview (nothing applied) or the update (rehearsal's rules);
- a locked stack raises the SDK's own `ConcurrentUpdateError`, built by `create_command_error` from the
  Pulumi Cloud conflict message; a failed run raises a `CommandError`;
- `get_all_config` hands secret values over decrypted (`--show-secrets`), marked secret.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.automation import CommandResult, ConfigValue, Deployment, OutputValue
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from cutover.cli import main
from cutover.workspace import POLICY_PACK, AutomationWorkspace, policy_config_for
from rehearsal.policy_check import review
from rehearsal.scenario import Stack

CONFLICT = "error: [409] Conflict: Another update is currently in progress."


def cli_coerced(value: str) -> Any:
    """What `pulumi config set --path` stores for `value` (pulumi config set docs: booleans and integers)."""
    if value in ("true", "false"):
        return value == "true"
    if value.isdigit() and not (len(value) > 1 and value.startswith("0")):
        return int(value)
    return value


class _CliApi:
    def __init__(self, owner: "StandInAutoStack"):
        self.owner = owner

    def config_set(self, key: str, value: str, *, path: bool = False, plaintext: bool = False, type: str | None = None,
                   stack: str | None = None, cwd: str | None = None, additional_env: Any = None, **_: Any) -> None:
        self.owner.calls.append(("config set", {"key": key, "value": value, "path": path, "plaintext": plaintext,
                                                "type": type, "stack": stack}))
        assert stack == self.owner.name and path
        stored = value if type == "string" else cli_coerced(value)
        self.owner.rehearsal.set(key, stored)


class _Command:
    def __init__(self, version: str):
        self.version = VersionInfo.parse(version)


class _Workspace:
    def __init__(self, owner: "StandInAutoStack", cli_version: str):
        self.cli_api = _CliApi(owner)
        self.pulumi_command = _Command(cli_version)
        self.pulumi_home = None
        self.env_vars: dict[str, str] = {}
        self.work_dir = str(Path(__file__).resolve().parents[2])

    def post_command_callback(self, stack_name: str) -> None:
        pass


class StandInAutoStack:
    """The subset of `pulumi.automation.Stack` that cutover.workspace calls. There is no `cancel`: the tool must never need it."""

    def __init__(self, rehearsal: Stack, name: str = "dev", *, lock_conflicts: float = 0, pending: list[dict] | None = None,
                 secret_keys: tuple[str, ...] = (), cli_version: str = "3.200.0"):
        self.rehearsal = rehearsal
        self.name = name
        self.lock_conflicts = lock_conflicts
        """How many of the next update attempts find the stack locked (`float('inf')`: it never clears)."""
        self.pending = list(pending or [])
        self.secret_keys = secret_keys
        self.workspace = _Workspace(self, cli_version)
        self.calls: list[tuple[str, dict]] = []

    # --- reads ---------------------------------------------------------------------------------

    def outputs(self) -> dict[str, OutputValue]:
        return {key: OutputValue(copy.deepcopy(value), False) for key, value in (self.rehearsal.saved_outputs or {}).items()}

    def get_all_config(self) -> dict[str, ConfigValue]:
        return {key: ConfigValue(value if isinstance(value, str) else json.dumps(value), key in self.secret_keys)
                for key, value in self.rehearsal.config.items()}

    def export_stack(self) -> Deployment:
        self.calls.append(("stack export", {}))
        return Deployment(version=3, deployment={"manifest": {}, "resources": [], "pending_operations": copy.deepcopy(self.pending)})

    # --- writes --------------------------------------------------------------------------------

    def set_config(self, key: str, value: ConfigValue, *, path: bool = False) -> None:
        self.calls.append(("config set", {"key": key, "value": value.value, "path": path, "type": None}))
        self.rehearsal.set(key, cli_coerced(value.value) if path else value.value)

    def remove_config(self, key: str, *, path: bool = False) -> None:
        self.calls.append(("config rm", {"key": key, "path": path}))
        self.rehearsal.set(key, None)

    def preview(self, **options: Any) -> None:
        self.calls.append(("preview", options))
        self.rehearsal.policies = self._policies(options)
        run = self.rehearsal.preview()
        if run.result.error or (run.policy is not None and run.policy.fails):
            raise create_command_error(CommandResult(stdout=_report(run), stderr="error: preview failed", code=255))

    def up(self, **options: Any) -> None:
        self.calls.append(("up", options))
        if self.lock_conflicts > 0:
            self.lock_conflicts -= 1
            raise create_command_error(CommandResult(stdout="", stderr=CONFLICT, code=255))
        self.rehearsal.policies = self._policies(options)
        run = self.rehearsal.up()
        if run.blocked or run.result.error or (run.policy is not None and run.policy.fails):
            raise create_command_error(CommandResult(stdout=_report(run), stderr="error: update failed", code=255))

    def _policies(self, options: dict[str, Any]):
        packs = options.get("policy_packs") or []
        if not packs:
            return None
        assert [Path(p) for p in packs] == [POLICY_PACK], packs
        configs = options.get("policy_pack_configs") or []
        config = json.loads(Path(configs[0]).read_text()) if configs else {}
        return lambda result: review(result, self.name, config)

    def ran(self, operation: str) -> list[dict]:
        return [options for name, options in self.calls if name == operation]


def _report(run) -> str:
    lines = [f"error: {run.result.error}"] if run.result.error else []
    if run.policy is not None:
        lines += [f"{v.enforcement_level}: [{v.policy_name}] {v.message}" for v in (*run.policy.before, *run.policy.after)]
    return "\n".join(lines)


@dataclass
class Result:
    code: int
    out: str
    err: str


class Operator:
    """`python -m cutover ...` against one stand-in stack; time passes on the rehearsal's clock."""

    def __init__(self, rehearsal: Stack, name: str = "dev", **standin: Any):
        self.rehearsal = rehearsal
        self.auto = StandInAutoStack(rehearsal, name, **standin)
        self.slept: list[float] = []

    def workspace(self, stack: str | None = None, skip_preview: bool = False) -> AutomationWorkspace:
        assert stack in (None, self.auto.name), f"asked for stack {stack}"
        return AutomationWorkspace(self.auto, policy_config=policy_config_for(self.auto.name), preview_first=not skip_preview)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.rehearsal.advance(seconds / 60)

    def __call__(self, *argv: str, watch_limit: int | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()):  # the mock engine's own chatter
            code = main(list(argv), open_workspace=lambda stack, args: self.workspace(stack, getattr(args, "skip_preview", False)),
                        clock=lambda: self.rehearsal.now, sleep=self.sleep, stdout=out, stderr=err, watch_limit=watch_limit)
        return Result(code, out.getvalue(), err.getvalue())

    def ups(self) -> int:
        """Update attempts so far (each `up` the tool ran, locked ones included)."""
        return len(self.auto.ran("up"))

    def record(self, service: str = "web") -> dict:
        return self.rehearsal.saved_outputs["rollouts"][service]
