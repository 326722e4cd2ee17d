"""Fixtures the operator-tool tests share."""

from tests.scenarios.gated import aws  # noqa: F401 - a fixture: moto in-process with the gate's alarm
