"""Before traffic moves onto a candidate, the run checks that the candidate's color really runs it.

An ECS deployment circuit breaker can return a service to its previous task definition and still
report steady state (terraform-provider-aws #19519, #20858); `kubectl rollout undo` does the same to
a Deployment. The record would still say "candidate", so the first shift would send users to the
old image. These tests plant that rollback in the live world between runs, and check the ECS
reading itself against moto's ECS API.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from components.live.workloads import ecs_workload
from components.rollout.live import image_tag
from rehearsal.scenario import Stack
from tests.builders import CANARY, aws_config, kubernetes_config, kubernetes_service, service
from tests.scenarios.safety import share_of, weights

DEPLOYMENT = "kubernetes:apps/v1:Deployment::api-green-deployment"


def test_a_candidate_the_circuit_breaker_rolled_back_is_aborted_before_any_traffic_reaches_it():
    stack = Stack(aws_config({"web": service()}))
    stack.up()
    stack.set("cutover:services.web.version", "2")
    stack.up()  # 2 deployed on green at 0 %
    stack.world.roll_back("web-green-svc")
    assert stack.serving("web")["green"].version == "1"
    run = stack.up()
    record = run.rollout("web")
    assert record["phase"] == "aborted" and record["abortedBy"] == "gate"
    assert "green runs 1, not the candidate 2: the ECS deployment circuit breaker rolled it back" in record["reason"]
    assert weights(stack.serving("web")) == (100, 0) and share_of(stack.serving("web"), "1") == 100


def test_a_candidate_rolled_back_mid_canary_is_aborted_and_its_traffic_returns():
    stack = Stack(aws_config({"web": service()}))
    stack.up()
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.up()  # 90/10
    stack.world.roll_back("web-green-svc")
    stack.up()
    assert weights(stack.serving("web")) == (100, 0)
    assert stack.runs[-1].rollout("web")["phase"] == "aborted"


def test_a_rolling_update_the_platform_rolled_back_is_not_recorded_as_stable_and_is_not_retried():
    stack = Stack(aws_config({"web": service("rolling")}))
    stack.up()
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.world.roll_back("web-blue-svc")
    run = stack.up()
    record = run.rollout("web")
    assert record["stableVersion"] == "1" and record["phase"] == "aborted"
    assert "the platform rolled 2 back on blue: it runs 1" in record["reason"]
    again = stack.up()
    assert again.rollout("web")["stableVersion"] == "1" and stack.serving("web")["blue"].version == "1", "not retried every run"


def test_a_kubernetes_candidate_rolled_back_by_hand_is_aborted():
    stack = Stack(kubernetes_config({"api": kubernetes_service("gateway", CANARY)}))
    stack.up()
    stack.set("cutover:services.api.version", "1.28")
    stack.up()
    spec = dict(stack.world.resources[DEPLOYMENT].outputs["spec"])
    template = {**spec["template"], "spec": {**spec["template"]["spec"], "containers": [
        {**spec["template"]["spec"]["containers"][0], "image": "nginxinc/nginx-unprivileged:1.27"}]}}
    stack.world.edit(DEPLOYMENT, spec={**spec, "template": template})  # kubectl rollout undo
    record = stack.up().rollout("api")
    assert record["phase"] == "aborted" and "its Deployment was rolled back or edited" in record["reason"]
    assert weights(stack.serving("api")) == (100, 0)


# --- the ECS reading against moto's API ------------------------------------------------------------

@pytest.fixture
def ecs(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "MOTO_ECS_SERVICE_RUNNING": "2"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("ecs", region_name="us-east-1")
        client.create_cluster(clusterName="cutover")
        arns = {}
        for version in ("1", "2"):
            arns[version] = client.register_task_definition(
                family="web-green", containerDefinitions=[{"name": "web", "image": f"public.ecr.aws/nginx/nginx:{version}", "memory": 512}],
            )["taskDefinition"]["taskDefinitionArn"]
        yield client, arns


def _workload(client, name: str):
    description = client.describe_services(cluster="cutover", services=[name])["services"][0]
    definition = client.describe_task_definition(taskDefinition=description["taskDefinition"])["taskDefinition"]
    return ecs_workload(description, definition["containerDefinitions"][0]["image"])


def test_an_ecs_service_running_the_candidate_reads_as_the_candidate_and_settled(ecs):
    client, arns = ecs
    client.create_service(cluster="cutover", serviceName="web-green", taskDefinition=arns["2"], desiredCount=2)
    seen = _workload(client, "web-green")
    assert (seen.version, seen.desired, seen.settled) == ("2", 2, True)


def test_an_ecs_service_returned_to_its_previous_task_definition_reads_as_the_old_version(ecs):
    client, arns = ecs
    client.create_service(cluster="cutover", serviceName="web-green", taskDefinition=arns["2"], desiredCount=2)
    client.update_service(cluster="cutover", service="web-green", taskDefinition=arns["1"])  # what the breaker's rollback does
    seen = _workload(client, "web-green")
    assert seen.version == "1", "the version is the service's current task definition, not what was last deployed"
    assert seen.settled is False, "its primary deployment is not the service's task definition"


def test_an_image_tag_is_not_confused_with_a_registry_port():
    assert image_tag("registry.local:5000/team/web:1.28") == "1.28"
    assert image_tag("registry.local:5000/team/web") is None
