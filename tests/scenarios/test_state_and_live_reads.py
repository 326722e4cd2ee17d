"""Where a run reads its state from: the configured state stack, the live routers and workloads, the CLI it runs under."""

from __future__ import annotations

from pathlib import Path

import yaml

from rehearsal.engine import PROJECT_ROOT, STACK_REFERENCE
from rehearsal.scenario import Stack
from tests.builders import aws_config, service
from tests.scenarios.safety import capacity_where_traffic, ecs_of, rule_of, up_until, weights


def deployed(services=None) -> Stack:
    stack = Stack(aws_config(services or {"web": service()}))
    assert stack.up().result.error is None
    return stack


def test_the_state_stack_defaults_to_this_stack_and_can_be_named():
    stack = deployed()
    assert f"{STACK_REFERENCE} organization/cutover/dev" in stack.runs[-1].result.reads
    stack.config["cutover:stateStack"] = "dev"  # a self-managed backend in its legacy layout takes a plain name
    run = stack.up()
    assert run.result.error is None and f"{STACK_REFERENCE} dev" in run.result.reads


def test_a_malformed_state_stack_name_is_refused_before_anything_is_registered():
    stack = deployed()
    stack.config["cutover:stateStack"] = "org/project/stack/extra"
    run = stack.up()
    assert run.result.refused and "cutover:stateStack" in run.result.error and run.result.resources == {}


def test_an_unreadable_state_stack_is_an_error_never_a_first_deploy():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    run = stack.up(state_unreadable=True)
    assert run.result.refused and run.result.resources == {}
    said = "\n".join(run.result.logs)
    assert "error: cutover: the state stack 'organization/cutover/dev' could not be read" in said
    assert "cutover:stateStack" in said
    assert weights(stack.serving("web")) == (100, 0) and stack.serving("web")["blue"].version == "1"


def test_a_cli_that_drops_the_outputs_of_failed_updates_is_refused():
    stack = deployed()
    run = stack.up(cli_version="3.111.0")
    assert run.result.refused and "needs Pulumi CLI 3.112.0 or newer" in run.result.error
    assert run.result.resources == {}


def test_pulumi_yaml_states_the_minimum_cli_version():
    project = yaml.safe_load(Path(PROJECT_ROOT / "Pulumi.yaml").read_text())
    assert project["requiredPulumiVersion"] == ">=3.112.0"


def test_without_any_outputs_the_alb_router_is_found_from_config_and_traffic_stays():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (90, 10))
    stack.drop_outputs()  # every output lost: only the cloud remembers
    run = stack.up()
    reads = run.result.reads
    assert "aws:lb/getLoadBalancer:getLoadBalancer" in reads and "aws:lb/getListenerRule:getListenerRule" in reads
    assert weights(stack.serving("web")) == (90, 10), "not a first deploy: the live record says where web stands"
    assert "continuing from the live record" in run.rollout("web")["reason"]
    assert stack.up().weights("web") == (50, 50)


def test_without_any_outputs_the_route53_router_is_found_by_its_parameter_name():
    stack = deployed({"shop": service(router="route53")})
    stack.set("cutover:services.shop.version", "2")
    up_until(stack, "shop", (90, 10))
    stack.drop_outputs()
    run = stack.up()
    assert weights(stack.serving("shop")) == (90, 10)
    assert "parameter /cutover/cutover/dev/shop" in run.rollout("shop")["reason"]


def test_a_service_added_to_a_running_stack_is_a_first_deploy_and_nothing_else_moves():
    stack = deployed()
    stack.set("cutover:services.api", service(version="7"))
    run = stack.up()
    assert run.rollout("api")["reason"] == "first deploy: blue serves 100%"
    assert run.changed("web") == {"created": (), "updated": (), "replaced": (), "deleted": ()}


# --- a color that appears or goes away mid-life ----------------------------------------------------

def test_switching_rolling_to_canary_creates_the_second_color_after_the_rule_that_attaches_it():
    stack = deployed({"web": service("rolling")})
    stack.set("cutover:services.web.strategy", {"kind": "canary", "steps": [10, 50, 100], "bakeMinutes": 0})
    stack.set("cutover:services.web.version", "2")
    run = stack.up()
    assert run.result.error is None
    green = ecs_of("web", "green")
    assert green in run.changes.created
    assert rule_of("web") in run.result.dependencies[green], "ECS attaches a target group only once a rule forwards to it"
    assert weights(stack.serving("web")) == (100, 0) and stack.serving("web")["green"].version == "2"
    up_until(stack, "web", (0, 100))
    assert capacity_where_traffic(stack.serving("web")) == []


def test_switching_a_canary_in_flight_to_rolling_hands_traffic_back_before_the_color_goes_away():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (50, 50))
    stack.set("cutover:services.web.strategy", {"kind": "rolling", "bakeMinutes": 0})
    back = stack.up()
    assert back.result.error is None and weights(stack.serving("web")) == (100, 0)
    green_keys = [k for k in back.changes.deleted if "web-green" in k]
    assert green_keys, "green is removed once it carries nothing"
    assert all(g["arn"] != back.result.outputs["endpoints"]["web"]["targetGroupArns"].get("green")
               for g in back.result.resources[rule_of("web")].inputs["actions"][0]["forward"]["targetGroups"])
    rolled = stack.up()
    assert rolled.rollout("web")["stableVersion"] == "2" and stack.serving("web")["blue"].version == "2"


def test_a_failed_switch_to_rolling_deletes_nothing_and_traffic_stays_where_it_was():
    stack = deployed()
    stack.set("cutover:services.web.version", "2")
    up_until(stack, "web", (50, 50))
    stack.set("cutover:services.web.strategy", {"kind": "rolling", "bakeMinutes": 0})
    stack.up(fail=[rule_of("web")])
    assert weights(stack.serving("web")) == (50, 50)
    assert capacity_where_traffic(stack.serving("web")) == [], "the engine deletes nothing in a failed update"
