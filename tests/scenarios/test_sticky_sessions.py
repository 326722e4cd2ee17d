"""Sticky sessions: a user stays on the version they started on while a weighted shift moves.

ALB: lb_cookie stickiness on both colors' target groups plus group stickiness on the rule's forward action,
for every weighted service that asks and for none that does not. Kubernetes: cookie affinity on both nginx
Ingresses, ClientIP affinity on the service router's stable Service (validated with kubernetes-validate).
"""

from __future__ import annotations

import kubernetes_validate

from rehearsal.scenario import Stack
from tests.builders import (
    BLUE_GREEN,
    CANARY,
    KUBERNETES_VERSION,
    aws_config,
    kubernetes_config,
    kubernetes_service,
    service,
)
from tests.kubernetes.harness import INGRESS, SERVICE, manifest

RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
AFFINITY = "nginx.ingress.kubernetes.io/affinity"
MAX_AGE = "nginx.ingress.kubernetes.io/session-cookie-max-age"
CANARY_BEHAVIOR = "nginx.ingress.kubernetes.io/affinity-canary-behavior"


def sticky(spec: dict, seconds: int = 3600) -> dict:
    return {**spec, "stickySessions": {"durationSeconds": seconds}}


def forward_stickiness(run, service_name: str) -> dict:
    rule = run.result.named(RULE, f"{service_name}-route-rule")
    return rule.inputs["actions"][0]["forward"]["stickiness"]


def target_group_stickiness(run, service_name: str) -> dict:
    return {color: run.result.named(TARGET_GROUP, f"{service_name}-{color}-tg").inputs.get("stickiness")
            for color in ("blue", "green")}


def test_every_weighted_alb_service_that_asks_gets_target_group_and_group_stickiness_through_a_whole_canary():
    stack = Stack(aws_config({
        "web": sticky(service(), 3600),
        "shop": sticky(service("blue-green"), 900),
        "api": service(),
    }))
    stack.up()
    stack.set("cutover:services.web.version", "2")
    runs = [stack.up() for _ in range(3)]  # 0 %, 10 %, 50 %
    assert runs[-1].weights("web") == (50, 50)
    for run in [stack.runs[0], *runs]:
        assert forward_stickiness(run, "web") == {"enabled": True, "duration": 3600}
        assert forward_stickiness(run, "shop") == {"enabled": True, "duration": 900}
        assert forward_stickiness(run, "api") == {"enabled": False, "duration": 1}, "not asked: each request is weighted"
        assert target_group_stickiness(run, "web") == {c: {"type": "lb_cookie", "cookieDuration": 3600, "enabled": True}
                                                       for c in ("blue", "green")}
        assert target_group_stickiness(run, "shop") == {c: {"type": "lb_cookie", "cookieDuration": 900, "enabled": True}
                                                        for c in ("blue", "green")}
        assert target_group_stickiness(run, "api") == {"blue": None, "green": None}


def test_turning_sticky_sessions_on_mid_rollout_updates_the_rule_and_target_groups_in_place():
    stack = Stack(aws_config({"web": service()}))
    stack.up()
    stack.set("cutover:services.web.version", "2")
    stack.up()
    stack.up()  # 90/10
    stack.set("cutover:services.web.stickySessions", {"durationSeconds": 600})
    run = stack.up()
    assert run.weights("web") == (50, 50)
    assert forward_stickiness(run, "web") == {"enabled": True, "duration": 600}
    changed = run.changed("web")
    assert changed["replaced"] == () and changed["deleted"] == ()
    assert {f"{TARGET_GROUP}::web-blue-tg", f"{TARGET_GROUP}::web-green-tg", f"{RULE}::web-route-rule"} <= set(changed["updated"])


def test_nginx_canary_ingresses_both_carry_cookie_affinity_and_the_canary_stays_sticky():
    stack = Stack(kubernetes_config({"api": kubernetes_service("nginx", CANARY, stickySessions={"durationSeconds": 1800})}))
    stack.up()
    stack.set("cutover:services.api.version", "1.28")
    stack.up()
    run = stack.up()  # 90/10
    ingresses = {r.name: r for r in run.result.of_type(INGRESS)}
    main, canary = ingresses["api-nginx-main"], ingresses["api-nginx-canary"]
    for ingress in (main, canary):
        annotations = ingress.inputs["metadata"]["annotations"]
        assert annotations[AFFINITY] == "cookie" and annotations[MAX_AGE] == "1800"
        kubernetes_validate.validate(manifest(ingress), KUBERNETES_VERSION, strict=True)
    assert canary.inputs["metadata"]["annotations"][CANARY_BEHAVIOR] == "sticky"
    assert canary.inputs["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "10"


def test_nginx_without_sticky_sessions_carries_no_affinity():
    stack = Stack(kubernetes_config({"api": kubernetes_service("nginx", CANARY)}))
    run = stack.up()
    for ingress in run.result.of_type(INGRESS):
        assert AFFINITY not in ingress.inputs["metadata"]["annotations"]


def test_the_service_router_keeps_client_ip_affinity_on_its_stable_service_only():
    stack = Stack(kubernetes_config({"api": kubernetes_service("service", BLUE_GREEN, stickySessions={"durationSeconds": 600})}))
    run = stack.up()
    services = {r.name: r for r in run.result.of_type(SERVICE)}
    stable = services["api-switch-stable"]
    assert stable.inputs["spec"]["sessionAffinity"] == "ClientIP"
    assert stable.inputs["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    kubernetes_validate.validate(manifest(stable), KUBERNETES_VERSION, strict=True)
    assert all("sessionAffinity" not in s.inputs["spec"] for name, s in services.items() if name != "api-switch-stable")
