"""Does the whole-program state machine find issue 8's defects from scratch? Plant each one and see.

    .venv/bin/python -m bench.planted_defects            # every defect, CI's settings
    .venv/bin/python -m bench.planted_defects D2 --examples 80

Each defect is put back the way the program behaved before it was fixed (one function replaced in
process, nothing edited on disk), then the two machines of `tests/scenarios/test_program_state_machine.py`
run with the settings CI uses (derandomized: the same examples on every machine). It reports whether a
machine failed and how long that took. Not part of the test suite: it takes minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import replace
from typing import Callable, Iterator

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

import components.app
import components.recording
import components.rollout.machine as machine
import components.rollout.trust as trust
from components.rollout.codec import from_output
from tests.scenarios.test_program_state_machine import CI_SETTINGS, DamagedState, PartialFailures


@contextlib.contextmanager
def patched(module, name: str, value) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def scale_down_races_the_shift():
    """D1: a color's capacity drops in the same run, not ordered after the router."""
    import components.aws.build

    original = components.app.color_plan
    return patched(components.aws.build, "color_plan", lambda d, s: replace(original(d, s), after_router=()))


def superseding_lands_on_traffic():
    """D2: a newer version goes onto the candidate color while it still carries traffic."""
    def supersede(state, spec, gate, now, hold):
        return machine._deploy(state.with_(weights=machine.Weights.all_on(state.stable_color)), spec, now, "planted")
    return patched(machine, "_supersede", supersede)


def records_what_was_planned():
    """D3: the record says what was planned, not what was applied; no live check of the candidate."""
    stack = contextlib.ExitStack()
    stack.enter_context(patched(components.recording, "recorded_state", lambda planned, previous, applied: planned))
    stack.enter_context(patched(components.app, "verify_colors", lambda state, colors, platform: None))
    return stack


def one_stale_output_for_all():
    """D4: the stack output is trusted whenever it is consistent; the live router is not consulted."""
    def assess(service, output, live, deployed_before, now, prefix):
        if output is None:
            return trust.Assessment(None, first_deploy=True, source="none")
        return trust.Assessment(from_output(output), False)
    return patched(components.app, "assess", assess)


def damaged_records_trusted():
    """D5: a record that parses is trusted, whatever it says."""
    def assess(service, output, live, deployed_before, now, prefix):
        try:
            return trust.Assessment(from_output(output), False) if output is not None else trust.Assessment(None, True, source="none")
        except Exception:  # noqa: BLE001 - unparseable: fall back to the real rules
            return trust.assess(service, output, live, deployed_before, now, prefix)
    return patched(components.app, "assess", assess)


DEFECTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "D1": scale_down_races_the_shift,
    "D2": superseding_lands_on_traffic,
    "D3": records_what_was_planned,
    "D4": one_stale_output_for_all,
    "D5": damaged_records_trusted,
}


def hunt(defect: str, examples: int) -> tuple[bool, float, str]:
    """Run both machines of the property test with the defect planted; the first failure is the finding."""
    chosen = replace_settings(examples)
    started = time.monotonic()
    with DEFECTS[defect]():
        for machine_class in (PartialFailures, DamagedState):
            try:
                run_state_machine_as_test(machine_class, settings=chosen)
            except AssertionError as err:
                return True, time.monotonic() - started, f"{machine_class.__name__}: {str(err).splitlines()[0][:160]}"
            except Exception as err:  # noqa: BLE001 - a crash is a finding too
                return True, time.monotonic() - started, f"{machine_class.__name__}: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    return False, time.monotonic() - started, ""


def replace_settings(examples: int) -> settings:
    # From scratch: no example database, no shrinking (a finding is enough here).
    return settings(CI_SETTINGS, max_examples=examples, phases=[Phase.explicit, Phase.generate], database=None,
                    suppress_health_check=list(HealthCheck))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.planted_defects", description=__doc__.splitlines()[0])
    parser.add_argument("defects", nargs="*", default=sorted(DEFECTS))
    parser.add_argument("--examples", type=int, default=CI_SETTINGS.max_examples)
    args = parser.parse_args(argv)
    missed = 0
    for defect in args.defects:
        found, seconds, what = hunt(defect, args.examples)
        missed += not found
        verdict = f"found in {seconds:.0f} s: {what}" if found else f"NOT found in {args.examples} examples ({seconds:.0f} s)"
        print(f"{defect} {DEFECTS[defect].__doc__.splitlines()[0]}\n   {verdict}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
