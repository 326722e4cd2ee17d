"""`status --json`: what a CI pipeline reads when `drive` exits 4 (paused): which services wait for `approve`,
and the exact command that approves each (the Jenkinsfile's `input` step runs it)."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta

import pytest

from cutover.cli import parser
from cutover.records import ServiceSettings
from cutover.status import status_document
from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.operator.records import T0, rollout
from tests.operator.standin import Operator


def test_the_document_names_the_paused_service_and_the_command_that_approves_it():
    admin = rollout("paused", service="admin", step=0, blue=100, candidate="1.28", stable="1.27", strategy="blue-green")
    web = rollout("progressing", step=1, blue=90, candidate="1.28", stable="1.27", started=T0)
    doc = status_document("staging", {"admin": admin, "web": web}, {"web": ServiceSettings("1.28", bake_minutes=5)},
                          T0 + timedelta(minutes=1))

    assert doc["stack"] == "staging" and doc["at"] == "2026-01-05T09:01:00Z"
    assert doc["paused"] == ["admin"]
    assert doc["services"]["admin"]["approve"] == "python -m cutover approve admin --stack staging"
    assert doc["services"]["web"]["approve"] is None
    assert doc["services"]["web"]["nextStepAt"] == "2026-01-05T09:05:00Z"
    assert doc["services"]["web"]["weights"] == {"blue": 90, "green": 10}
    assert json.loads(json.dumps(doc)) == doc, "plain JSON values only"


def test_the_approve_command_in_the_document_is_one_the_cli_accepts():
    admin = rollout("paused", service="admin", candidate="2")
    command = status_document("prod", {"admin": admin}, {}, T0)["services"]["admin"]["approve"]

    parsed = parser().parse_args(shlex.split(command)[3:])

    assert (parsed.command, parsed.service, parsed.stack) == ("approve", "admin", "prod")


def test_json_does_not_combine_with_watch():
    with pytest.raises(SystemExit):
        Operator(Stack(aws_config({"web": service()})))("status", "--json", "--watch", "5")


def test_a_paused_blue_green_is_listed_by_status_json_and_approving_it_lets_the_drive_finish():
    stack = Stack(aws_config({"web": service(kind="blue-green")}), stack="dev")
    assert stack.up().result.error is None
    stack.set("cutover:services.web.version", "2")
    op = Operator(stack)
    assert op("drive", "dev").code == 4

    shown = op("status", "dev", "--json")
    doc = json.loads(shown.out)

    assert shown.code == 0 and doc["paused"] == ["web"]
    assert doc["services"]["web"]["candidateVersion"] == "2"
    approve = shlex.split(doc["services"]["web"]["approve"])[3:]
    assert op(*approve).code == 0
    assert json.loads(op("status", "dev", "--json").out)["paused"] == []
    assert op("drive", "dev").code == 0
