"""Kubernetes migration Jobs, pure parts: names, reading a Job's status back, merging outcomes into the records."""

from __future__ import annotations

import doctest
import re

import pytest

from components.gates import migration_verdict
from components.gates.migration_verdict import expand_verdict, recorded_outcome, with_live_outcomes
from components.gates.model import GateVerdict
from components.kubernetes import migration_job
from components.kubernetes.migration_job import MAX_LOGICAL_NAME, job_outcome, job_resource_name

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@pytest.mark.parametrize("module", [migration_job, migration_verdict])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried and not failures


@pytest.mark.parametrize("version", ["1.28", "Build_7", "v1.2.3-rc.1", "x" * 128, "1." + "a" * 60 + "._-", "_"])
@pytest.mark.parametrize("attempt", ["", "2025-03-01T09:01:00+00:00"])
def test_job_names_are_valid_short_and_distinct_per_version_and_attempt(version, attempt):
    name = job_resource_name("a" * 24, "contract", version, attempt)
    assert len(name) <= MAX_LOGICAL_NAME and DNS_SUBDOMAIN.match(name), name
    assert name != job_resource_name("a" * 24, "contract", version + "1", attempt)
    assert name != job_resource_name("a" * 24, "contract", version, attempt + "x")


@pytest.mark.parametrize("status, expected", [
    ({}, None),
    ({"startTime": "t", "active": 1}, None),
    ({"succeeded": 1}, "succeeded"),
    ({"conditions": [{"type": "Complete", "status": "True"}]}, "succeeded"),
    ({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}, "succeeded"),
    ({"conditions": [{"type": "Complete", "status": "False"}]}, None),
    ({"failed": 1, "conditions": [{"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"}]}, "failed"),
    ({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "m"}]}, "failed"),
])
def test_a_jobs_status_reads_as_an_outcome_only_once_it_finished(status, expected):
    outcome = job_outcome(status)
    assert (outcome or {}).get("status") == expected


def test_a_read_outcome_fills_a_record_without_one_and_never_rewrites_one():
    records = {"expand": {"version": "2", "attempt": "a", "status": None, "job": "shop/api-expand-2-x"},
               "contract": {"version": "1", "attempt": "", "status": "succeeded", "reason": "Job complete"}}
    merged = with_live_outcomes(records, {"expand": {"status": "failed", "reason": "BackoffLimitExceeded: m"},
                                          "contract": {"status": "failed", "reason": "late"}})
    assert merged["contract"] == records["contract"] and records["expand"]["status"] is None
    verdict = expand_verdict(merged, "2")
    assert verdict.verdict is GateVerdict.ABORT and verdict.source == "workload"
    assert verdict.reason == "the expand migration of 2 failed: BackoffLimitExceeded: m (Job shop/api-expand-2-x)"
    assert recorded_outcome(merged, "expand", "2", "a") == {"status": "failed", "reason": "BackoffLimitExceeded: m"}
    assert recorded_outcome(merged, "expand", "2", "b") is None, "another attempt has no outcome yet"
    assert expand_verdict(records, "2").verdict is GateVerdict.HOLD, "still running: hold"
