"""The Automation API adapter: `StackWorkspace` on a `pulumi.automation.Stack` of this project.

The only module of the tool that imports `pulumi.automation` (pinned SDK: pulumi 3.272.0). It is thin:
argument building and error translation; every decision lives in the pure modules.

What the installed SDK offers, and how it is used:
- `Stack.up(policy_packs=[...], policy_pack_configs=[...])` and `Stack.preview(...)` take the policy pack
  and its config directly (`--policy-pack policies --policy-pack-config policies/config/<stack>.json`).
  `Stack.up` always runs `pulumi up --yes --skip-preview`, so a mandatory resource-policy violation would
  only fail the update at that resource, after the resources before it were applied. To keep the CLI's
  behaviour ("mandatory halts an update before creating a resource that violates that policy", see
  rehearsal/policy_check.py), `up` here runs `Stack.preview` with the same pack first and only updates
  when the preview passed (`preview_first=False` skips it).
- `Stack.get_all_config()` runs `pulumi config --show-secrets --json`: secrets such as the webhook URLs in
  `cutover:notifications` come back decrypted.
- `Stack.set_config(key, ConfigValue, path=True)` runs `pulumi config set --path`, which changes that one
  key inside the `cutover:services` object. With `--path` the CLI stores "true"/"false" as booleans and
  integers as numbers (pulumi `config set` docs; pulumi/pulumi#5442, #17586), and `ServiceConfig.version`
  must be a string, so a value like `2` is written with `--type string` instead, through the SDK's
  generated CLI wrapper `workspace.cli_api.config_set` (`Stack.set_config` has no type parameter in this
  SDK). `--type` needs CLI 3.148.0 (pulumi/pulumi#18287). Every write is read back and checked.
- `ConcurrentUpdateError` (another update holds the lock) becomes `StackLocked`; the caller waits and
  retries. Nothing here ever calls `Stack.cancel()`.
- `Stack.export_stack()` gives the state's `pending_operations` (pulumi apitype `DeploymentV3`:
  `[{resource: {urn, type, ...}, type: creating|updating|deleting|reading|importing}]`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pulumi import automation as auto
from pulumi.automation.errors import CommandError, ConcurrentUpdateError, StackNotFoundError
from semver import VersionInfo

from cutover.ports import ConfigWriteFailed, PendingOperation, StackLocked, StackUnavailable, UpdateFailed

PROJECT_DIR = Path(__file__).resolve().parent.parent
POLICY_PACK = PROJECT_DIR / "policies"
POLICY_CONFIGS = POLICY_PACK / "config"
TYPE_FLAG_SINCE = VersionInfo(3, 148, 0)
# Go's strconv.ParseBool spellings and plain integers: what `config set --path` would not keep as a string.
COERCED_BY_PATH = re.compile(r"^(?:[0-9]+|1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$")
DETAIL_LINES = 30


def policy_config_for(stack: str, configs: Path = POLICY_CONFIGS) -> Path | None:
    """`policies/config/<stack>.json` for `dev` or `org/project/dev`; None when the stack has none (pack defaults)."""
    path = configs / f"{stack.rsplit('/', 1)[-1]}.json"
    return path if path.is_file() else None


def _detail(err: Exception) -> str:
    """The end of what the CLI printed: enough to see why, bounded for a terminal or a CI log."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    return "\n".join(f"  {line}" for line in lines[-DETAIL_LINES:])


def _parsed(value: str) -> Any:
    """Objects and lists arrive as JSON text; anything else stays the string it is."""
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class AutomationWorkspace:
    """`StackWorkspace` over an Automation API stack (or anything with the same methods)."""

    def __init__(self, stack: auto.Stack, *, policy_pack: Path | None = POLICY_PACK,
                 policy_config: Path | None = None, preview_first: bool = True, message: str = "cutover"):
        self._stack = stack
        self.policy_pack = policy_pack
        self.policy_config = policy_config
        self.preview_first = preview_first
        self.message = message

    @property
    def name(self) -> str:
        return self._stack.name

    def _read(self, what: str, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except CommandError as err:
            raise StackUnavailable(f"cannot read the {what} of stack {self.name}:\n{_detail(err)}") from err

    def outputs(self) -> Mapping[str, Any]:
        return {key: output.value for key, output in self._read("outputs", self._stack.outputs).items()}

    def config(self) -> Mapping[str, Any]:
        # `pulumi config --show-secrets --json`: secret values (webhook URLs) arrive decrypted.
        return {key: _parsed(value.value) for key, value in self._read("config", self._stack.get_all_config).items()}

    def _service_key(self, service: str, key: str) -> str:
        return f"cutover:services.{service}.{key}"

    def set_service_key(self, service: str, key: str, value: str) -> None:
        path = self._service_key(service, key)
        try:
            if COERCED_BY_PATH.match(value):
                self._set_as_string(path, value)
            else:
                self._stack.set_config(path, auto.ConfigValue(value=value, secret=False), path=True)
        except CommandError as err:
            raise ConfigWriteFailed(f"cannot set {path} = {value} on stack {self.name}:\n{_detail(err)}") from err
        written = (self.config().get("cutover:services") or {}).get(service, {}).get(key)
        if written != value:
            raise ConfigWriteFailed(f"{path} reads back as {written!r}, not the string {value!r}: fix Pulumi.{self.name}.yaml "
                                    f"by hand ({key}: \"{value}\")")

    def _set_as_string(self, path: str, value: str) -> None:
        """`pulumi config set --path --plaintext --type string -- <path> <value>`."""
        workspace = self._stack.workspace
        version = getattr(workspace.pulumi_command, "version", None)
        if version is not None and version < TYPE_FLAG_SINCE:
            raise ConfigWriteFailed(
                f"{path}: the Pulumi CLI {version} would store {value} as a number inside cutover:services; "
                f"storing it as a string needs `config set --type string`, CLI {TYPE_FLAG_SINCE}+ (pulumi/pulumi#18287). "
                f"Upgrade the CLI, or write {path.rsplit('.', 1)[-1]}: \"{value}\" in Pulumi.{self.name}.yaml")
        env = {**({"PULUMI_HOME": workspace.pulumi_home} if workspace.pulumi_home else {}), **workspace.env_vars}
        workspace.cli_api.config_set(path, value, path=True, plaintext=True, type="string", stack=self.name,
                                     cwd=workspace.work_dir, additional_env=env)
        workspace.post_command_callback(self.name)

    def remove_service_key(self, service: str, key: str) -> None:
        try:
            self._stack.remove_config(self._service_key(service, key), path=True)
        except CommandError as err:
            raise ConfigWriteFailed(f"cannot remove {self._service_key(service, key)}:\n{_detail(err)}") from err

    def _policy_args(self) -> dict[str, Any]:
        if self.policy_pack is None:
            return {}
        return {"policy_packs": [str(self.policy_pack)],
                "policy_pack_configs": [str(self.policy_config)] if self.policy_config is not None else None}

    def up(self, log: Callable[[str], None] | None = None) -> None:
        options = {**self._policy_args(), "message": self.message, "color": "never", "on_output": log}
        stage = "preview"
        try:
            if self.preview_first:
                self._stack.preview(**options)
            stage = "update"
            self._stack.up(**options)
        except ConcurrentUpdateError as err:
            raise StackLocked(self.name, _detail(err).strip()) from err
        except CommandError as err:
            what = "nothing was applied" if stage == "preview" else "what resolved was applied, the rest kept its state"
            raise UpdateFailed(self.name, stage, f"{_detail(err)}\n  ({what})") from err

    def pending_operations(self) -> Sequence[PendingOperation]:
        deployment = self._read("state (stack export)", self._stack.export_stack).deployment or {}
        operations = []
        for op in deployment.get("pending_operations") or []:
            resource = op.get("resource") or {}
            operations.append(PendingOperation(str(op.get("type", "?")), str(resource.get("urn", "?")), str(resource.get("type", ""))))
        return operations


def open_stack(stack: str | None, *, work_dir: Path = PROJECT_DIR, pulumi_command: auto.PulumiCommand | None = None,
               preview_first: bool = True, env_vars: Mapping[str, str] | None = None) -> AutomationWorkspace:
    """Select `stack` (default: the project's currently selected stack) of the project in `work_dir`.

    Selecting goes through `pulumi stack select`, as every Automation API `Stack` does; every later
    command also names the stack explicitly (`--stack`).
    """
    try:
        options = auto.LocalWorkspaceOptions(work_dir=str(work_dir), pulumi_command=pulumi_command, env_vars=env_vars)
        if stack is None:
            current = auto.LocalWorkspace(**options.__dict__).stack()
            if current is None:
                raise StackUnavailable("no stack is selected in this project: name one (e.g. `dev`) or `pulumi stack select`")
            stack = current.name
        selected = auto.select_stack(stack, work_dir=str(work_dir), opts=options)
    except StackNotFoundError as err:
        raise StackUnavailable(f"no stack named {stack} in {work_dir} (see `pulumi stack ls`):\n{_detail(err)}") from err
    except FileNotFoundError as err:
        raise StackUnavailable("the Pulumi CLI is not installed or not on PATH (README: The real path; CLI 3.112.0+, "
                               "3.148.0+ to write integer-looking versions)") from err
    except CommandError as err:
        raise StackUnavailable(f"cannot open stack {stack}:\n{_detail(err)}") from err
    return AutomationWorkspace(selected, policy_config=policy_config_for(stack), preview_first=preview_first)
