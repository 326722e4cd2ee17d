"""End to end: the real program under the mock engine, every registered resource fed to the pack.

The shipped stacks pass every policy as mandatory through whole rollouts; and for
every mandatory policy, a deliberately broken variant of a real config or of a
resource the program really registered proves that the policy catches it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from policies.rules import ALL_POLICIES
from rehearsal.engine import PROJECT_ROOT, RecordedResource, RecordingMocks, RunResult, stack_config
from rehearsal.policy_check import check, policy_config
from rehearsal.scenario import Stack
from tests.builders import completed_elsewhere

MANDATORY = {"all": "mandatory"}


def whole_rollout(stack_name: str) -> list[RunResult]:
    """First deploy, a new version for every service, approvals, then enough runs to promote and scale down."""
    stack = Stack(stack_config(PROJECT_ROOT / f"Pulumi.{stack_name}.yaml"), stack=stack_name)
    stack.other_stacks.update(completed_elsewhere(stack.config["cutover:services"], "9.9"))  # prod promotes from staging
    runs = [stack.up(), *stack.roll_out("9.9", [200] * 8, approve_from=2)]
    assert all(run.result.error is None for run in runs)
    return [run.result for run in runs]


@pytest.mark.parametrize("stack_name", ["dev", "staging", "prod"])
def test_shipped_stacks_pass_every_policy_through_a_whole_rollout(stack_name):
    config = {**policy_config(stack_name), **MANDATORY}
    for number, result in enumerate(whole_rollout(stack_name), start=1):
        violations = check(result, stack_name, config)
        assert violations == [], f"run {number}: {[(v.policy_name, v.message) for v in violations]}"


def test_every_run_of_the_rollout_is_checked_in_production():
    results = whole_rollout("prod")
    tags = [r.named("aws:lb/listenerRule:ListenerRule", "web-route-rule").inputs["tags"]["cutover:weights"] for r in results]
    assert tags[0] == "100/0" and tags[-1] == "0/100" and len(set(tags)) == 6, tags


# --- one broken variant per policy ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_run() -> RunResult:
    stack = Stack(stack_config(PROJECT_ROOT / "Pulumi.prod.yaml"), stack="prod")
    stack.other_stacks.update(completed_elsewhere(stack.config["cutover:services"], "9.9"))
    stack.up()
    stack.set("cutover:services.web.version", "9.9")
    stack.up()  # deployed at 0 %
    return stack.up().result


def broken(result: RunResult, key: str, change) -> RunResult:
    """A copy of a real run where one registered resource is changed by `change(inputs, outputs)`."""
    resources = copy.deepcopy(result.resources)
    original = resources[key]
    inputs, outputs = copy.deepcopy(dict(original.inputs)), copy.deepcopy(dict(original.outputs))
    change(inputs, outputs)
    resources[key] = RecordedResource(original.type, original.name, inputs, {**outputs, **inputs}, original.custom)
    return replace(result, resources=resources)


RULE = "aws:lb/listenerRule:ListenerRule::web-route-rule"
BLUE_TG = "aws:lb/targetGroup:TargetGroup::web-blue-tg"
WEB_SVC = "aws:ecs/service:Service::web-green-svc"
HTTPS = "aws:lb/listener:Listener::cutover-shared-https"
HTTP = "aws:lb/listener:Listener::cutover-shared-http"
LB_SG = "aws:ec2/securityGroup:SecurityGroup::cutover-shared-sg"
TASK_SG = "aws:ec2/securityGroup:SecurityGroup::web-tasks-sg"
TASK = "aws:ecs/taskDefinition:TaskDefinition::web-green-task"


def _weights(inputs, _):
    for group in inputs["actions"][0]["forward"]["targetGroups"]:
        group["weight"] = 0


def _sticky_target_group(inputs, _):
    inputs["stickiness"] = {"type": "lb_cookie", "cookieDuration": 3600, "enabled": True}


def _no_health_path(inputs, _):
    inputs["healthCheck"].pop("path")


def _fixed_name(inputs, _):
    inputs["name"] = "web-blue"


def _no_rollback(inputs, _):
    inputs["deploymentCircuitBreaker"]["rollback"] = False


def _half_healthy(inputs, _):
    inputs["deploymentMinimumHealthyPercent"] = 50


def _no_grace(inputs, _):
    inputs.pop("healthCheckGracePeriodSeconds")


def _big_step(inputs, _):
    inputs["tags"]["cutover:weights"] = "20/80"


def _unpromoted_jump(inputs, _):
    inputs["tags"].update({"cutover:weights-before": "95/5", "cutover:weights": "0/100", "cutover:cause": "advance", "cutover:verdict": "hold"})


def _old_tls(inputs, _):
    inputs["sslPolicy"] = "ELBSecurityPolicy-2016-08"


def _http_serves(inputs, _):
    inputs["defaultActions"] = [{"type": "fixed-response", "fixedResponse": {"contentType": "text/plain", "statusCode": "200"}}]


def _ssh_open(inputs, _):
    inputs["ingress"].append({"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]})


def _tasks_open_to_cidr(inputs, _):
    inputs["ingress"][0]["cidrBlocks"] = ["10.0.0.0/8"]


def _privileged(inputs, _):
    containers = json.loads(inputs["containerDefinitions"])
    containers[0]["privileged"] = True
    inputs["containerDefinitions"] = json.dumps(containers)


AWS_BREAKAGES = [
    pytest.param("alb-forward-weights", RULE, _weights, id="alb-forward-weights catches a rule with all-zero weights"),
    pytest.param("alb-sticky-weighted-forward", BLUE_TG, _sticky_target_group,
                 id="alb-sticky-weighted-forward catches a sticky target group behind a forward without group stickiness"),
    pytest.param("alb-target-group-health", BLUE_TG, _no_health_path, id="alb-target-group-health catches a health check without a path"),
    pytest.param("autonamed-replaceable-resources", BLUE_TG, _fixed_name, id="autonamed-replaceable-resources catches a fixed target group name"),
    pytest.param("ecs-circuit-breaker-rollback", WEB_SVC, _no_rollback, id="ecs-circuit-breaker-rollback catches a breaker without rollback"),
    pytest.param("ecs-minimum-healthy-percent", WEB_SVC, _half_healthy, id="ecs-minimum-healthy-percent catches 50 percent in production"),
    pytest.param("ecs-health-check-grace-period", WEB_SVC, _no_grace, id="ecs-health-check-grace-period catches a missing grace period"),
    pytest.param("rollout-step-discipline", RULE, _big_step, id="rollout-step-discipline catches a 70 point step in production"),
    pytest.param("rollout-step-discipline", RULE, _unpromoted_jump, id="rollout-step-discipline catches a promotion on a hold verdict"),
    pytest.param("alb-modern-tls-policy", HTTPS, _old_tls, id="alb-modern-tls-policy catches a 2016 TLS policy"),
    pytest.param("alb-http-redirects-to-https", HTTP, _http_serves, id="alb-http-redirects-to-https catches HTTP serving beside HTTPS"),
    pytest.param("public-ingress-web-ports-only", LB_SG, _ssh_open, id="public-ingress-web-ports-only catches SSH open to the internet"),
    pytest.param("workload-ingress-from-load-balancer-only", TASK_SG, _tasks_open_to_cidr,
                 id="workload-ingress-from-load-balancer-only catches tasks open to a CIDR"),
    pytest.param("containers-not-privileged", TASK, _privileged, id="containers-not-privileged catches a privileged container"),
]


def assert_only_policy_catches(result: RunResult, stack: str, policy: str, key: str, change) -> None:
    assert check(result, stack) == [], "the unbroken run is clean"
    violations = check(broken(result, key, change), stack)
    assert {v.policy_name for v in violations} == {policy}, [(v.policy_name, v.message) for v in violations]
    assert all(v.enforcement_level == "mandatory" for v in violations)


@pytest.mark.parametrize("policy, key, change", AWS_BREAKAGES)
def test_each_policy_catches_a_broken_variant_of_a_real_resource(prod_run, policy, key, change):
    assert_only_policy_catches(prod_run, "prod", policy, key, change)


def test_a_real_stack_with_sticky_sessions_passes_the_whole_pack():
    config = stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")
    config["cutover:services"]["web"]["stickySessions"] = {"durationSeconds": 600}
    stack = Stack(config, stack="prod")
    stack.other_stacks.update(completed_elsewhere(config["cutover:services"], "9.9"))
    stack.up()
    stack.set("cutover:services.web.version", "9.9")
    stack.up()
    assert check(stack.up().result, "prod") == []


def test_route53_policies_catch_broken_records():
    stack = Stack(stack_config(PROJECT_ROOT / "Pulumi.staging.yaml"), stack="staging")
    result = stack.up().result
    assert check(result, "staging") == []
    ttl = broken(result, "aws:route53/record:Record::admin-dns-blue", lambda i, o: i.update(ttl=300))
    assert {v.policy_name for v in check(ttl, "staging")} == {"route53-weighted-records"}

    def zero(inputs, _):
        inputs["weightedRoutingPolicies"] = [{"weight": 0}]

    all_zero = broken(result, "aws:route53/record:Record::admin-dns-blue", zero)
    assert {v.policy_name for v in check(all_zero, "staging")} == {"route53-weighted-set-not-all-zero"}


def test_plaintext_secrets_in_a_real_config_variant_are_caught():
    config = stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")
    config["cutover:services"]["web"]["environment"] = {"DB_PASSWORD": "hunter2"}
    result = Stack(config, stack="prod").up().result
    assert {v.policy_name for v in check(result, "prod")} == {"no-plaintext-secrets-in-env"}
    config["cutover:services"]["web"]["environment"] = {}
    config["cutover:services"]["web"]["secrets"] = {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:444455556666:secret:db"}
    assert check(Stack(config, stack="prod").up().result, "prod") == [], "a secret reference passes"


# --- Kubernetes: the dev stack's gateway canary `api` plus an nginx canary `shop`, mid-rollout -----------


@pytest.fixture(scope="module")
def kubernetes_run() -> RunResult:
    config = stack_config(PROJECT_ROOT / "Pulumi.dev.yaml")
    shop = copy.deepcopy(config["cutover:services"]["api"])
    config["cutover:services"]["shop"] = {**shop, "router": "nginx", "host": "shop.dev.example.com"}
    stack = Stack(config, stack="dev")
    stack.up()
    stack.set("cutover:services.api.version", "9.9")
    stack.set("cutover:services.shop.version", "9.9")
    stack.up()  # deployed at 0 %
    return stack.up().result


DEPLOYMENT = "kubernetes:apps/v1:Deployment::api-green-deployment"
PDB = "kubernetes:policy/v1:PodDisruptionBudget::api-green-pdb"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::api-gateway-route"
CANARY = "kubernetes:networking.k8s.io/v1:Ingress::shop-nginx-canary"


def _container(inputs):
    return inputs["spec"]["template"]["spec"]["containers"][0]


def _route_all_zero(inputs, _):
    for ref in inputs["spec"]["rules"][0]["backendRefs"]:
        ref["weight"] = 0


def _canary_150(inputs, _):
    inputs["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] = "150"


def _named_deployment(inputs, _):
    inputs["metadata"]["name"] = "api-green"


def _no_readiness(inputs, _):
    _container(inputs).pop("readinessProbe")


def _unavailable_one(inputs, _):
    inputs["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1


def _no_requests(inputs, _):
    _container(inputs)["resources"].pop("requests")


def _pdb_elsewhere(inputs, _):
    inputs["spec"]["selector"]["matchLabels"] = {"app": "someone-else"}


def _root(inputs, _):
    inputs["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    _container(inputs)["securityContext"]["runAsNonRoot"] = False


def _privileged_pod(inputs, _):
    _container(inputs)["securityContext"]["privileged"] = True


def _plaintext_token(inputs, _):
    _container(inputs)["env"] = [{"name": "API_TOKEN", "value": "s3cr3t"}]


KUBERNETES_BREAKAGES = [
    pytest.param("httproute-backend-weights", ROUTE, _route_all_zero, id="httproute-backend-weights catches all-zero backendRefs"),
    pytest.param("nginx-canary-weight", CANARY, _canary_150, id="nginx-canary-weight catches a weight of 150"),
    pytest.param("autonamed-replaceable-resources", DEPLOYMENT, _named_deployment, id="autonamed-replaceable-resources catches a named Deployment"),
    pytest.param("k8s-readiness-probes", DEPLOYMENT, _no_readiness, id="k8s-readiness-probes catches a container without one"),
    pytest.param("k8s-rolling-update-zero-unavailable", DEPLOYMENT, _unavailable_one, id="k8s-rolling-update-zero-unavailable catches maxUnavailable 1"),
    pytest.param("k8s-resource-requests", DEPLOYMENT, _no_requests, id="k8s-resource-requests catches a container without requests"),
    pytest.param("k8s-pod-disruption-budget", PDB, _pdb_elsewhere, id="k8s-pod-disruption-budget catches a Deployment no PDB covers"),
    pytest.param("k8s-run-as-non-root", DEPLOYMENT, _root, id="k8s-run-as-non-root catches pods running as root"),
    pytest.param("containers-not-privileged", DEPLOYMENT, _privileged_pod, id="containers-not-privileged catches a privileged pod"),
    pytest.param("no-plaintext-secrets-in-env", DEPLOYMENT, _plaintext_token, id="no-plaintext-secrets-in-env catches a token in a pod env"),
]


@pytest.mark.parametrize("policy, key, change", KUBERNETES_BREAKAGES)
def test_each_kubernetes_policy_catches_a_broken_variant_of_a_real_resource(kubernetes_run, policy, key, change):
    assert_only_policy_catches(kubernetes_run, "staging", policy, key, change)


@pytest.fixture(scope="module")
def kubernetes_migration_run() -> RunResult:
    """The dev stack's `api` with expand/contract migrations, in the run that deploys 9.9 and creates its expand Job."""
    config = stack_config(PROJECT_ROOT / "Pulumi.dev.yaml")
    config["cutover:services"]["api"]["hooks"] = {"migrations": {"expand": {"command": ["./migrate", "--expand"]},
                                                                 "contract": {"command": ["./migrate", "--contract"]}}}
    stack = Stack(config, stack="dev")
    stack.up()
    stack.set("cutover:services.api.version", "9.9")
    result = stack.up().result
    assert [r.name for r in result.of_type(MIGRATION_JOB)] and result.error is None
    return result


MIGRATION_JOB = "kubernetes:batch/v1:Job"
JOB_BREAKAGES = [
    pytest.param("k8s-resource-requests", _no_requests, id="k8s-resource-requests catches a migration Job without requests"),
    pytest.param("k8s-run-as-non-root", _root, id="k8s-run-as-non-root catches a migration Job running as root"),
    pytest.param("containers-not-privileged", _privileged_pod, id="containers-not-privileged catches a privileged migration Job"),
    pytest.param("no-plaintext-secrets-in-env", _plaintext_token, id="no-plaintext-secrets-in-env catches a token in a Job's env"),
]


@pytest.mark.parametrize("policy, change", JOB_BREAKAGES)
def test_a_migration_job_passes_the_pack_and_its_pod_policies_catch_a_broken_one(kubernetes_migration_run, policy, change):
    """A Job serves no traffic (no readiness probe, strategy or disruption budget to ask of it), but it runs the
    service's image with its secrets: the pod policies apply to it as to the Deployments."""
    key = kubernetes_migration_run.of_type(MIGRATION_JOB)[0].key
    assert_only_policy_catches(kubernetes_migration_run, "staging", policy, key, change)
    messages = [v.message for v in check(broken(kubernetes_migration_run, key, change), "staging")]
    assert all(m.startswith("Job '") for m in messages), messages


def test_every_policy_of_the_pack_has_a_broken_variant():
    covered = {p.values[0] for p in AWS_BREAKAGES + KUBERNETES_BREAKAGES}
    covered |= {"route53-weighted-records", "route53-weighted-set-not-all-zero"}
    assert {p.name for p in ALL_POLICIES} - covered == set()


# --- preview of a first deploy: computed outputs (ARNs, names) are unknown ------------------------------


class FirstPreviewMocks(RecordingMocks):
    """What a first `pulumi preview` hands over: a new resource's computed outputs are unknown."""

    def new_resource(self, args):
        resource_id, outputs = super().new_resource(args)
        return (resource_id, outputs) if args.typ == "pulumi:pulumi:StackReference" else (resource_id, dict(args.inputs))


@pytest.fixture(scope="module")
def first_preview() -> RunResult:
    run = Stack(stack_config(PROJECT_ROOT / "Pulumi.prod.yaml"), stack="prod", mocks_factory=FirstPreviewMocks).preview()
    assert run.result.error is None
    return run.result


def test_unknowns_at_preview_give_advisory_notes_not_failures(first_preview):
    violations = check(first_preview, "prod")
    assert violations, "some checks cannot run before ARNs exist"
    assert all(v.unknown and v.enforcement_level == "advisory" for v in violations)
    assert all("during preview" in v.message for v in violations)


def test_an_unknown_elsewhere_never_hides_a_known_problem(first_preview):
    violations = check(broken(first_preview, RULE, _weights), "prod")
    caught = [v for v in violations if v.policy_name == "alb-forward-weights"]
    assert caught and caught[0].enforcement_level == "mandatory" and not caught[0].unknown


def test_a_production_stack_that_promotes_from_nowhere_is_flagged_when_traffic_moves():
    config = stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")
    del config["cutover:promotion"]
    stack = Stack(config, stack="prod")
    stack.up()
    stack.set("cutover:services.web.version", "9.9")
    stack.up()  # deployed at 0 %: no traffic moved yet
    first_step = stack.up().result
    flagged = [v for v in check(first_step, "prod") if "without promotion evidence" in v.message]
    assert [v.urn.rsplit("::", 1)[1] for v in flagged] == ["web-route-rule"]


@pytest.mark.parametrize("sticky", [False, True], ids=["per-request weighting", "sticky sessions"])
def test_a_shadow_service_on_aws_and_its_mirroring_proxy_pass_the_whole_pack_through_the_shadow_phase(sticky):
    """The proxy's target group (health check, deregistration delay), ECS service (circuit breaker, minimum healthy,
    grace period), security group (ingress from the ALB's only), task definition and per-color rules, in every run
    from the deploy through the shadow phase to the first canary step."""
    config = stack_config(PROJECT_ROOT / "Pulumi.prod.yaml")
    web = config["cutover:services"]["web"]
    web["strategy"] = {**web["strategy"], "kind": "shadow", "then": "canary", "steps": [10, 100], "mirrorPercent": 50,
                       "bakeMinutes": 30}
    if sticky:
        web["stickySessions"] = {"durationSeconds": 600}
    stack = Stack(config, stack="prod")
    stack.other_stacks.update(completed_elsewhere(config["cutover:services"], "9.9"))
    results = [stack.up().result]
    stack.set("cutover:services.web.version", "9.9")
    results.append(stack.up().result)
    assert any(k.endswith("web-mirror-svc") for k in results[-1].resources)
    stack.advance(31)
    results.append(stack.up().result)
    pack = {**policy_config("prod"), **MANDATORY}
    for number, result in enumerate(results, start=1):
        assert result.error is None, result.error
        assert check(result, "prod", pack) == [], f"run {number}"
