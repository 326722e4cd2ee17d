"""Bad config and bad previous outputs: a clear error naming the key, nothing registered, traffic where it was."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rehearsal.engine import PROJECT_ROOT
from rehearsal.scenario import Stack
from tests.builders import aws_config, service

BAD_CONFIGS = [
    pytest.param(
        ("cutover:services.web.strategy.steps", [50, 10, 100]),
        "cutover:services.web.strategy.steps: steps must increase and end at 100",
        id="canary steps that go down are rejected",
    ),
    pytest.param(
        ("cutover:services.web.strategy.steps", [10, 50]),
        "cutover:services.web.strategy.steps: steps must increase and end at 100",
        id="canary steps that stop short of 100 are rejected",
    ),
    pytest.param(
        ("cutover:services.web.strategy.stepz", [10]),
        "cutover:services.web.strategy.stepz: unknown key",
        id="an unknown key is rejected by its full path",
    ),
    pytest.param(
        ("cutover:services.web.replicas", 0),
        "cutover:services.web.replicas: must be at least 1, got the number 0",
        id="zero replicas is rejected",
    ),
    pytest.param(
        ("cutover:services.web.router", "nginx"),
        "cutover:services.web.router: nginx is not a aws router",
        id="a kubernetes router on aws is rejected",
    ),
    pytest.param(
        ("cutover:services.web.strategy.kind", "yolo"),
        "cutover:services.web.strategy.kind: must be one of canary, blue-green, red-black, rolling, shadow, got 'yolo'",
        id="an unknown strategy is rejected",
    ),
    pytest.param(
        ("cutover:services.web.version", "1.0 beta"),
        "cutover:services.web.version: is not an image tag: letters, digits, '_', '.' and '-'",
        id="a version that is no image tag is rejected",
    ),
    pytest.param(
        ("cutover:services.web.version", 1.1),
        'cutover:services.web.version: must be text, got the number 1.1: quote it in the stack file (version: "...")',
        id="a version YAML read as a number gets a hint to quote it",
    ),
    pytest.param(
        ("cutover:services.web.image", "public.ecr.aws/nginx/nginx:1.27"),
        "cutover:services.web.image: must be the image without its tag (the tag goes in version)",
        id="an image with its tag says where the tag goes",
    ),
    pytest.param(
        ("cutover:network.testListenerCidrs", ["0.0.0.0/0"]),
        "cutover:network.testListenerCidrs: previews of unverified versions must not be open to the internet",
        id="a preview listener open to the internet is rejected",
    ),
    pytest.param(
        ("cutover:services.web.strategy.maxSurge", "50%"),
        "cutover:services.web.strategy.maxSurge: applies to Kubernetes rolling updates only",
        id="a kubernetes-only key on an aws service is rejected",
    ),
    pytest.param(
        ("cutover:services.web.autoscaling", {"minReplicas": 4, "maxReplicas": 10, "targetCpuPercent": 60}),
        "cutover:services.web.replicas: 2 (the initial count) must lie within autoscaling minReplicas 4..maxReplicas 10",
        id="an initial count outside the autoscaling bounds is rejected",
    ),
    pytest.param(
        ("cutover:services.web.autoscaling", {"minReplicas": 4, "maxReplicas": 3, "targetCpuPercent": 60}),
        "cutover:services.web.autoscaling.maxReplicas: 3 is below minReplicas 4",
        id="autoscaling bounds out of order are rejected",
    ),
    pytest.param(
        ("cutover:services.web.autoscaling", {"minReplicas": 1, "maxReplicas": 3, "targetCpu": 60}),
        "cutover:services.web.autoscaling.targetCpu: unknown key",
        id="a misspelt autoscaling key is rejected",
    ),
    pytest.param(
        ("cutover:services", "{not json"),
        "cutover:services: not a valid object",
        id="config that is not JSON is rejected",
    ),
]


@pytest.mark.parametrize("change, message", BAD_CONFIGS)
def test_bad_config_is_refused_before_any_resource_is_registered(change, message):
    stack = Stack(aws_config())
    stack.set(*change)
    run = stack.up()
    assert run.result.error is not None and message in run.result.error
    assert run.result.resources == {}


def test_an_unknown_top_level_key_is_refused():
    stack = Stack(aws_config())
    stack.config["cutover:servics"] = {"web": service()}
    run = stack.up()
    assert "cutover:servics: unknown key (known: network, dns, services, kubernetes, stateStack, promotion, notifications)" in run.result.error
    assert run.result.resources == {}


def test_a_rule_priority_on_a_service_without_a_listener_rule_is_refused():
    run = Stack(aws_config({"web": {**service(router="route53"), "priority": 7}})).up()
    assert "cutover:services.web.priority: a listener rule priority applies to router alb only, not route53" in run.result.error
    assert run.result.resources == {}


def test_route53_without_a_zone_names_the_missing_setting():
    run = Stack(aws_config({"web": service(router="route53")}, dns=False)).up()
    assert "cutover:services.web.router: route53 needs cutover:dns" in run.result.error


def test_bad_config_mid_rollout_leaves_the_recorded_step_and_traffic_alone():
    stack = Stack(aws_config())
    stack.up()
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.up()
    stack.set("cutover:services.web.strategy.steps", [10, 50])
    broken = stack.up()
    assert broken.result.error and broken.result.resources == {}
    stack.set("cutover:services.web.strategy.steps", [10, 50, 100])
    assert stack.up().weights("web") == (50, 50), "the rollout resumes from the last applied step"


CORRUPTIONS = [
    pytest.param(lambda r: r.pop("weights"), id="missing weights"),
    pytest.param(lambda r: r.update(weights={"blue": 70, "green": 70}), id="weights that do not sum to 100"),
    pytest.param(lambda r: r.update(phase="sideways"), id="an unknown phase"),
    pytest.param(lambda r: r.update(stepStartedAt="yesterday"), id="a timestamp that is not ISO-8601"),
    pytest.param(lambda r: r.update(step="two"), id="a step that is not a number"),
]


def at_ten_percent() -> Stack:
    stack = Stack(aws_config())
    stack.up()
    stack.set("cutover:services.web.version", "2")
    stack.up()
    assert stack.up().weights("web") == (90, 10)
    return stack


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_a_corrupt_record_mid_rollout_continues_from_the_live_record_without_moving_traffic(corrupt):
    stack = at_ten_percent()
    outputs = stack.saved_outputs
    corrupt(outputs["rollouts"]["web"])
    run = stack.up(previous_outputs=outputs)
    record = run.rollout("web")
    assert run.weights("web") == (90, 10) and stack.serving("web")["green"].weight == 10
    assert record["phase"] == "progressing" and record["candidateVersion"] == "2"
    assert "continuing from the live record on listener rule" in record["reason"]
    assert stack.up().weights("web") == (50, 50), "the run after that continues the rollout"


def test_when_neither_the_output_nor_the_router_can_be_trusted_the_run_stops_and_says_what_to_set():
    stack = at_ten_percent()
    stack.damage("web", step="two")
    rule = "aws:lb/listenerRule:ListenerRule::web-route-rule"
    tags = dict(stack.world.resources[rule].outputs["tags"])
    tags["cutover:phase"] = "sideways"
    stack.world.edit(rule, tags=tags)
    run = stack.up()
    assert run.result.refused and run.result.resources == {}
    assert "where web stands cannot be trusted" in run.result.error
    assert "listener rule" in run.result.error and "carries 90/10" in run.result.error
    assert "cutover:services.web.recover" in run.result.error
    assert stack.serving("web")["green"].weight == 10, "nothing changed"

    stack.set("cutover:services.web.recover", {"stableColor": "blue", "stableVersion": "1"})
    recovered = stack.up()
    assert recovered.weights("web") == (100, 0) and stack.serving("web")["blue"].weight == 100
    assert "recovered by the recover setting" in recovered.rollout("web")["reason"]
    assert stack.serving("web")["green"].capacity == 2, "the other color stays warm"


def test_a_rollouts_output_that_is_not_an_object_is_not_trusted_and_traffic_stays():
    stack = at_ten_percent()
    run = stack.up(previous_outputs={**stack.saved_outputs, "rollouts": "garbage"})
    assert run.result.error is None and run.weights("web") == (90, 10)
    assert "live record" in run.rollout("web")["reason"]


def test_numbers_read_back_as_floats_are_accepted():
    stack = at_ten_percent()
    outputs = stack.saved_outputs
    record = outputs["rollouts"]["web"]
    record["weights"] = {k: float(v) for k, v in record["weights"].items()}
    record["step"] = float(record["step"])
    record["replicas"] = {k: float(v) for k, v in record["replicas"].items()}
    record["plan"] = [float(p) for p in record["plan"]]
    assert stack.up(previous_outputs=outputs).weights("web") == (50, 50)


def test_a_new_service_in_a_running_stack_gets_a_first_deploy():
    stack = Stack(aws_config())
    stack.up()
    stack.set("cutover:services.api", service(version="7"))
    run = stack.up()
    assert run.rollout("api")["phase"] == "stable" and run.weights("api") == (100, 0)
    assert run.changed("web") == {"created": (), "updated": (), "replaced": (), "deleted": ()}


def test_the_rehearsal_reports_bad_config_without_a_traceback(tmp_path: Path):
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(
        textwrap.dedent(
            """
            runs:
              - note: broken steps
                set:
                  cutover:services.web.strategy.steps: [50, 10, 100]
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "rehearsal", "--scenario", str(scenario)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "cutover:services.web.strategy.steps: steps must increase and end at 100" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_bake_too_short_for_cloudwatch_evidence_warns_naming_the_key_and_still_runs():
    stack = Stack(aws_config({"web": service(bakeMinutes=1, analysis={"maxErrorRate": 0.05})}))
    run = stack.up()
    assert run.result.error is None
    assert any("cutover:services.web.strategy.bakeMinutes" in line for line in run.result.logs), run.result.logs
