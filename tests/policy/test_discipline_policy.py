"""Rollout discipline: step size in production and promotion only on a passing gate."""

from __future__ import annotations

import pytest

from policies.offline import OfflineResource
from policies.rules.discipline import MalformedWeights, Split, parse_split

from .builders import assert_outcome, decision, http_route, ingress, listener_rule, run

PROD = {"rollout-step-discipline": {"production": True}}
DEV: dict = {}


def ssm(tags: dict) -> OfflineResource:
    return OfflineResource("aws:ssm/parameter:Parameter", "api-decision", {"type": "String", "value": "{}",
                                                                            "tags": tags})


CASES = [
    pytest.param(decision(weights_before="90/10", weights="50/50"), PROD, None,
                 id="advancing forty points on a passing gate is fine in production"),
    pytest.param(decision(weights_before="90/10", weights="30/70"), PROD, ("'api-rule'", "60 percentage points", "50"),
                 id="moving sixty points in one production run is rejected"),
    pytest.param(decision(weights_before="90/10", weights="30/70"), DEV, None,
                 id="big steps are allowed outside production"),
    pytest.param(decision(weights_before="50/50", weights="0/100"), PROD, None,
                 id="promotion on a passing gate within the step passes"),
    pytest.param(decision(weights_before="60/40", weights="0/100", verdict="hold"), DEV,
                 ("'api-rule'", "promoted without a passing gate", "'hold'"),
                 id="promotion on a hold verdict is rejected even outside production"),
    pytest.param(decision(weights_before="100/0", weights="0/100", cause="start", verdict="none"), DEV,
                 ("promoted without a passing gate", "'start'"),
                 id="a start that jumps straight to one hundred without a gate is rejected"),
    pytest.param(decision(weights_before="90/10", weights="70/30", verdict="hold"), DEV,
                 ("advanced without a passing gate", "'hold'"), id="advancing on a hold verdict is rejected"),
    pytest.param(decision(weights_before="100/0", weights="90/10", cause="start", verdict="none"), PROD, None,
                 id="starting a canary at ten percent passes"),
    pytest.param(decision(weights_before="30/70", weights="100/0", cause="rollback", verdict="none"), PROD, None,
                 id="a rollback may move all traffic back in one run"),
    pytest.param(decision(weights_before="30/70", weights="100/0", cause="aborted", verdict="abort"), PROD, None,
                 id="an abort may move all traffic back in one run"),
    pytest.param(decision(weights_before="none", weights="100/0", cause="first-deploy", verdict="none",
                          candidate_color="none", step="none"), PROD, None, id="a first deploy passes"),
    pytest.param(decision(weights_before="none", weights="0/100", cause="first-deploy", verdict="none"), PROD, None,
                 id="a first deploy moves no live traffic so the step limit does not apply"),
    pytest.param(decision(weights_before="90/10", weights="0/100", cause="promote", verdict="hold"), PROD,
                 ("'api-rule'", "promoted by hand", "allowManualPromotion"),
                 id="a manual promotion is flagged in production"),
    pytest.param(decision(weights_before="90/10", weights="0/100", cause="promote", verdict="hold"),
                 {"rollout-step-discipline": {"production": True, "allowManualPromotion": True}}, None,
                 id="a production stack whose policy config allows manual promotion accepts it"),
    pytest.param(decision(weights_before="90/10", weights="0/100", cause="promote", verdict="hold"), DEV, None,
                 id="a manual promotion past an inconclusive gate is fine outside production"),
    pytest.param(decision(evidence="none"), PROD, ("'api-rule'", "without promotion evidence", "cutover:promotion.from"),
                 id="a production candidate gaining traffic without promotion evidence is flagged"),
    pytest.param({k: v for k, v in decision().items() if k != "cutover:evidence"}, PROD, ("without promotion evidence",),
                 id="a record from before evidence was recorded counts as none"),
    pytest.param(decision(evidence="none"), {"rollout-step-discipline": {"production": True, "requirePromotionEvidence": False}},
                 None, id="a production stack may opt out of promotion evidence"),
    pytest.param(decision(evidence="none"), DEV, None, id="outside production no evidence is needed"),
    pytest.param(decision(weights_before="50/50", weights="100/0", cause="rollback", verdict="none", evidence="none"), PROD, None,
                 id="going back needs no evidence"),
    pytest.param(decision(cause="advance", candidate_color="none"), DEV, ("candidate-color is 'none'",),
                 id="an advance without a candidate is rejected"),
    pytest.param(decision(weights="60/60"), DEV, ("malformed", "'60/60' does not add up to 100"),
                 id="weights that do not add up to one hundred are rejected"),
    pytest.param(decision(cause="yolo"), DEV, ("malformed", "cause 'yolo'"), id="an unknown cause is rejected"),
    pytest.param({k: v for k, v in decision().items() if k != "cutover:verdict"}, DEV,
                 ("incomplete", "cutover:verdict"), id="a record without verdict is rejected"),
]


@pytest.mark.parametrize(("tags", "config", "expected"), CASES)
def test_listener_rule_decision(tags: dict, config: dict, expected: tuple[str, ...] | None) -> None:
    assert_outcome(run("rollout-step-discipline", [listener_rule(tags=tags)], config), expected)


@pytest.mark.parametrize("carrier", [
    pytest.param(lambda a: http_route(annotations=a), id="on an httproute"),
    pytest.param(lambda a: ingress(annotations=a), id="on a canary ingress"),
    pytest.param(lambda a: OfflineResource("kubernetes:core/v1:Service", "api", {"metadata": {"annotations": a}}),
                 id="on a service"),
])
def test_kubernetes_annotations_use_the_cutover_dev_prefix(carrier) -> None:
    bad = carrier(decision("cutover.dev/", weights_before="90/10", weights="0/100", verdict="hold"))
    assert_outcome(run("rollout-step-discipline", [bad], PROD), ("promoted without a passing gate",))
    good = carrier(decision("cutover.dev/"))
    assert_outcome(run("rollout-step-discipline", [good], PROD), None)


def test_the_route53_decision_lives_on_an_ssm_parameter() -> None:
    found = run("rollout-step-discipline", [ssm(decision(weights_before="90/10", weights="10/90"))], PROD)
    assert_outcome(found, ("'api-decision'", "80 percentage points"))


def test_the_step_limit_comes_from_config() -> None:
    config = {"rollout-step-discipline": {"production": True, "maxStepPercent": 20}}
    found = run("rollout-step-discipline", [listener_rule(tags=decision(weights_before="90/10", weights="60/40"))], config)
    assert_outcome(found, ("30 percentage points", "maxStepPercent 20"))


def test_resources_without_a_decision_record_are_not_judged() -> None:
    service_tags = {"cutover:service": "api", "cutover:color": "green"}
    assert run("rollout-step-discipline", [listener_rule(tags=service_tags), ssm(service_tags)], PROD) == []


@pytest.mark.parametrize(("text", "split"), [("90/10", Split(90, 10)), ("0/100", Split(0, 100)), (" 50/ 50", Split(50, 50))])
def test_parse_split_reads_blue_then_green(text: str, split: Split) -> None:
    assert parse_split(text) == split


@pytest.mark.parametrize("text", ["90", "90/10/0", "a/b", "-10/110", "50.5/49.5", "none"])
def test_parse_split_rejects_anything_else(text: str) -> None:
    with pytest.raises(MalformedWeights):
        parse_split(text)
