"""Hypothesis runs the same examples on every machine (derandomized, no example database), so a green
run is not luck and a red one reproduces anywhere. `HYPOTHESIS_PROFILE=explore ./run test` draws fresh
random examples instead (and remembers failures in .hypothesis/), for hunting new bugs locally."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items):
    """Slow tests first, so that with one worker per core (`./run test`) the minutes-long ones start at once
    instead of landing last on one worker; the order is the same on every worker, as pytest-xdist needs."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
