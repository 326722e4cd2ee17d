"""Values unknown during preview: an advisory note naming the value, never a crash and never a silent pass."""

from __future__ import annotations

import pytest
from pulumi.output import Unknown
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policies.offline import OfflineResource, load_stack_config
from policies.rules.weights import alb_forward_weights_validator

from .builders import (
    assert_outcome,
    container,
    decision,
    deployment,
    listener_rule,
    record,
    run,
    target_group,
    task_definition,
)


def notes(found) -> list[str]:
    return [v.message for v in found if v.unknown]


def violations(found) -> list[str]:
    return [v.message for v in found if not v.unknown]


def test_a_validator_raises_unknown_value_error_after_reporting_what_it_could_check() -> None:
    props = {"actions": [{"type": "forward", "forward": {"targetGroups": [
        {"arn": "a", "weight": UNKNOWN_STRING_VALUE}, {"arn": "b", "weight": 5000}]}}]}
    args = ResourceValidationArgs("aws:lb/listenerRule:ListenerRule", unknown_checking_proxy(props), "urn:x", "api-rule",
                                  PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), []), None)
    reported: list[str] = []
    with pytest.raises(UnknownValueError) as raised:
        alb_forward_weights_validator(args, lambda message, urn=None: reported.append(message))
    assert any("5000" in m for m in reported)
    assert "actions.0.forward.targetGroups.0.weight" in raised.value.message


CASES = [
    pytest.param("alb-forward-weights", [listener_rule(weights=[Unknown(), 10])], "targetGroups.0.weight",
                 id="an unknown alb weight leaves a note instead of an all zero verdict"),
    pytest.param("alb-target-group-health", [listener_rule(arns=[Unknown(), "arn:tg/g"], weights=[90, 10]),
                                             target_group("tg-green", "arn:tg/g")], "api-rule",
                 id="a target group arn not known yet leaves a note naming the rule"),
    pytest.param("route53-weighted-records", [record("api-blue", ttl=Unknown())], "ttl",
                 id="an unknown ttl leaves a note"),
    pytest.param("route53-weighted-set-not-all-zero", [record("api-blue", 0), record("api-green", Unknown(), set_identifier="g")],
                 "api-green", id="an unknown weight in a weighted set leaves a note"),
    pytest.param("no-plaintext-secrets-in-env", [OfflineResource("aws:ecs/taskDefinition:TaskDefinition", "api-td",
                                                                 {"containerDefinitions": Unknown()})],
                 "containerDefinitions", id="container definitions built from outputs leave a note"),
    pytest.param("k8s-pod-disruption-budget", [deployment(namespace=Unknown())], "api-green",
                 id="an unknown namespace leaves a note naming the deployment"),
    pytest.param("rollout-step-discipline", [listener_rule(tags={**decision(), "cutover:weights": Unknown()})],
                 "tags.cutover:weights", id="an unknown decision record leaves a note"),
    pytest.param("alb-http-redirects-to-https", [OfflineResource("aws:lb/listener:Listener", "http", {
        "loadBalancerArn": Unknown(), "protocol": "HTTP", "port": 80})], "loadBalancerArn",
                 id="an unknown load balancer arn leaves a note"),
]


@pytest.mark.parametrize(("policy", "resources", "path"), CASES)
def test_unknown_values_leave_an_advisory_note(policy: str, resources: list, path: str) -> None:
    found = run(policy, resources, load_stack_config("prod"))
    assert violations(found) == []
    (note,) = [v for v in found if v.unknown]
    assert note.enforcement_level == "advisory"
    assert "during preview" in note.message and path in note.message


def test_a_known_violation_is_still_reported_next_to_an_unknown() -> None:
    bad = deployment(containers=[container(env=[{"name": "API_TOKEN", "value": "t"}, {"name": Unknown(), "value": "x"}])])
    found = run("no-plaintext-secrets-in-env", [bad])
    assert any("API_TOKEN" in m for m in violations(found))
    assert len(notes(found)) == 1


def test_a_secret_value_computed_from_outputs_is_still_plaintext() -> None:
    bad = deployment(containers=[container(env=[{"name": "DB_PASSWORD", "value": Unknown()}])])
    assert_outcome(run("no-plaintext-secrets-in-env", [bad]), ("DB_PASSWORD", "plaintext"))


def test_an_unknown_in_one_container_does_not_hide_another_container() -> None:
    bad = task_definition("api-td", [{"name": "app", "privileged": True}])
    hidden = deployment(containers=[container(securityContext=Unknown()), container("side", securityContext={
        "privileged": True})])
    found = run("containers-not-privileged", [bad, hidden])
    assert any("'api-td'" in m for m in violations(found))
    assert any("'side'" in m for m in violations(found))
    assert len(notes(found)) == 1
