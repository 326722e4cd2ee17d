"""What the operator tool needs from a stack, as a Protocol, and the errors it raises.

The commands and the drive loop talk to a stack only through `StackWorkspace`. The real
implementation is `cutover.workspace.AutomationWorkspace` (Pulumi's Automation API, the only
module that imports `pulumi.automation`); the tests implement the same interface on top of the
mock-engine rehearsal. No pulumi import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence


class CutoverToolError(Exception):
    """A problem the operator has to act on; the message says what happened and what to do."""


class StackLocked(CutoverToolError):
    """Another update holds the stack's lock (`pulumi.automation.errors.ConcurrentUpdateError`)."""

    def __init__(self, stack: str, detail: str):
        super().__init__(f"stack {stack} is locked by another update: {detail}")
        self.stack = stack
        self.detail = detail


class UpdateFailed(CutoverToolError):
    """`pulumi preview` or `pulumi up` exited non-zero (a policy violation, a failed resource, a config error)."""

    def __init__(self, stack: str, stage: str, detail: str):
        super().__init__(f"{stage} of stack {stack} failed:\n{detail}")
        self.stack = stack
        self.stage = stage
        self.detail = detail


class ConfigWriteFailed(CutoverToolError):
    """A config key could not be written as a string, or did not read back as written."""


class StackUnavailable(CutoverToolError):
    """The stack (or the Pulumi CLI) cannot be reached at all."""


@dataclass(frozen=True)
class PendingOperation:
    """An operation a killed `pulumi up` left in the stack's state (`pending_operations` of a deployment)."""

    kind: str
    """`creating`, `updating`, `deleting`, `reading` or `importing`."""
    urn: str
    type: str = ""


class StackWorkspace(Protocol):
    """One stack of this project, as the operator tool uses it."""

    @property
    def name(self) -> str:
        """The stack name as given (`dev`, or `org/project/dev`)."""

    def outputs(self) -> Mapping[str, Any]:
        """The stack's outputs as plain values (secrets decrypted); empty before the first deploy."""

    def config(self) -> Mapping[str, Any]:
        """Every config key (`cutover:services`, `aws:region`) with its value decrypted; JSON objects and lists parsed."""

    def set_service_key(self, service: str, key: str, value: str) -> None:
        """Set `cutover:services.<service>.<key>` to the string `value`, changing no other key."""

    def remove_service_key(self, service: str, key: str) -> None:
        """Remove `cutover:services.<service>.<key>`."""

    def up(self, log: Callable[[str], None] | None = None) -> None:
        """One `pulumi up` with the policy pack; raises StackLocked or UpdateFailed."""

    def pending_operations(self) -> Sequence[PendingOperation]:
        """Operations an interrupted update left pending in the stack's state."""
