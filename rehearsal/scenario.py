"""Successive runs of one stack, each fed the previous run's outputs: what `pulumi up` repeated does.

Used by the README's rehearsal command and by the scenario tests, so both
exercise the same path.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rehearsal.engine import Changes, Faults, RunResult, diff, run_program
from rehearsal.world import LiveWorld, Share

if TYPE_CHECKING:
    from rehearsal.policy_check import PolicyReview

REHEARSAL_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Run:
    number: int
    result: RunResult
    changes: Changes
    config: Mapping[str, Any]
    preview: bool
    policy: PolicyReview | None = None
    """The policy pack's verdict on this run (None: the stack was built without `policies`)."""
    blocked: bool = False
    """A mandatory resource-policy violation stopped this `up` before any change: nothing was applied."""

    def rollout(self, service: str) -> dict[str, Any]:
        return self.result.outputs["rollouts"][service]

    def weights(self, service: str) -> tuple[int, int]:
        w = self.rollout(service)["weights"]
        return w["blue"], w["green"]

    def changed(self, service: str | None = None) -> dict[str, tuple[str, ...]]:
        """Changed resource keys (`type::name`), optionally only those of one service."""
        def mine(keys: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(k for k in keys if service is None or k.split("::", 1)[1].startswith(f"{service}-"))

        c = self.changes
        return {"created": mine(c.created), "updated": mine(c.updated), "replaced": mine(c.replaced), "deleted": mine(c.deleted)}


class Stack:
    """A stack driven through successive runs, with the engine's rules for what a run leaves behind:

    - `up` applies what the program registered to the live world; a failed `up` keeps what resolved,
      the failed resource and everything that depends on it keep their previous state, nothing is deleted;
    - stack outputs are saved when every export resolved (Python registers them in one call, so one
      export that waits on a failed resource keeps all the old ones); `preview` saves nothing;
    - `outputs_on_failure="drop"` plays a CLI older than pulumi/pulumi#15754, which dropped every output
      of a failed update;
    - with `policies` (`pulumi up --policy-pack`), each run is reviewed before it is applied: a mandatory
      resource-policy violation blocks the `up` — nothing applied, saved outputs kept, so the next run
      starts from the same state — while stack-policy violations are reported after the changes and do
      not hold them back (see rehearsal/policy_check.py for the CLI's behaviour this follows).
    """

    def __init__(self, config: Mapping[str, Any], *, stack: str = "dev", start: datetime = REHEARSAL_EPOCH,
                 environment: Mapping[str, str] | None = None, mocks_factory=None, outputs_on_failure: str = "keep",
                 policies: Callable[[RunResult], PolicyReview] | None = None):
        self.config: dict[str, Any] = copy.deepcopy(dict(config))
        self.stack = stack
        self.now = start
        self.environment = dict(environment or {})
        self.mocks_factory = mocks_factory
        self.outputs_on_failure = outputs_on_failure
        self.policies = policies
        self.world = LiveWorld(str(self.config.get("aws:region", "us-east-1")))
        self.saved_outputs: dict[str, Any] | None = None
        self.last_applied: RunResult | None = None
        self.runs: list[Run] = []
        self.other_stacks: dict[str, "Stack | Mapping[str, Any]"] = {}
        """Stack name (`organization/cutover/<stack>`) -> another Stack or its outputs: what a reference to it reads."""

    @property
    def saved(self) -> RunResult | None:
        """The last run that was applied (for its resources); its outputs are `saved_outputs`."""
        return self.last_applied

    def set(self, dotted: str, value: Any) -> None:
        """`set("cutover:services.web.version", "2")`; a value of None removes the key."""
        head, _, rest = dotted.partition(".")
        target = self.config.setdefault(head, {})
        parts = rest.split(".") if rest else []
        if not parts:
            self.config[head] = value
            return
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(parts[-1], None)
        else:
            target[parts[-1]] = value

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)

    def up(self, *, previous_outputs: Mapping[str, Any] | None = None, fail: tuple[str, ...] | list[str] = (),
           stop_on_failure: bool = False, state_unreadable: bool = False, cli_version: str | None = None,
           not_taken: tuple[str, ...] | list[str] = ()) -> Run:
        faults = Faults(frozenset(fail), stop_on_failure, state_unreadable, not_taken=frozenset(not_taken),
                        **({"cli_version": cli_version} if cli_version else {}))
        return self._run(preview=False, previous_outputs=previous_outputs, faults=faults)

    def preview(self) -> Run:
        return self._run(preview=True)

    def roll_out(self, version: str, schedule: Sequence[float], *, approve_from: int | None = None) -> list[Run]:
        """A new `version` for every service, then one `up` per entry of `schedule` (minutes after the run before);
        from run number `approve_from` on (0-based), `approve: <version>` is set for the strategies that wait for it."""
        services = list(self.config["cutover:services"])
        for name in services:
            self.set(f"cutover:services.{name}.version", version)
        runs = []
        for number, minutes in enumerate(schedule):
            if number == approve_from:
                for name in services:
                    self.set(f"cutover:services.{name}.approve", version)
            self.advance(minutes)
            runs.append(self.up())
        return runs

    def serving(self, service: str) -> dict[str, Share]:
        """What users of `service` get right now (see LiveWorld.serving)."""
        return self.world.serving(service)

    def damage(self, service: str, **fields: Any) -> None:
        """Edit the saved record of one service, as a hand edit or a bad import would; None removes a field."""
        record = dict(self.saved_outputs["rollouts"][service])
        for key, value in fields.items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = value
        self.saved_outputs = {**self.saved_outputs, "rollouts": {**self.saved_outputs["rollouts"], service: record}}

    def drop_outputs(self, *keys: str) -> None:
        """Lose saved outputs (all of them without keys), as an older CLI's failed update or a bad import did."""
        outputs = dict(self.saved_outputs or {})
        for key in keys or list(outputs):
            outputs.pop(key, None)
        self.saved_outputs = outputs

    def _run(self, *, preview: bool, previous_outputs: Mapping[str, Any] | None = None, faults: Faults | None = None) -> Run:
        previous = previous_outputs if previous_outputs is not None else self.saved_outputs
        registry = (dict(self.world.task_definitions), dict(self.world.revisions))
        others = {name: (other.saved_outputs or {}) if isinstance(other, Stack) else other for name, other in self.other_stacks.items()}
        faults = dataclasses.replace(faults or Faults(), other_stacks=others)
        result = run_program(self.config, previous, now=self.now, stack=self.stack, preview=preview,
                             environment=self.environment, mocks_factory=self.mocks_factory, world=self.world, faults=faults)
        review = self.policies(result) if self.policies is not None and not result.refused else None
        blocked = not preview and review is not None and review.blocks
        run = Run(len(self.runs) + 1, result, diff(self.last_applied, result), copy.deepcopy(self.config), preview,
                  review, blocked)
        self.runs.append(run)
        if preview or blocked:
            # Nothing reached ECS: forget the task definition revisions this run's registrations asked for.
            self.world.task_definitions, self.world.revisions = registry
        if preview or blocked or result.refused:
            return run
        completed = result.error is None
        self.world.commit((_applied(result, key) for key in result.applied), completed=completed)
        if completed or result.exports_resolved:
            self.saved_outputs = result.outputs
        elif self.outputs_on_failure == "drop":
            self.saved_outputs = {}
        if completed:
            self.last_applied = result
        return run


def _applied(result: RunResult, key: str):
    from rehearsal.world import Applied

    resource = result.resources[key]
    return Applied(resource.type, resource.name, resource.inputs, resource.outputs, result.ignore_changes.get(key, frozenset()))
