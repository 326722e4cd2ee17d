"""Resource shapes as the mock engine records them (type token, logical name, camelCase props)."""

from __future__ import annotations

import json
from typing import Any

from policies.offline import OfflineResource, Violation, evaluate
from policies.rules import ALL_POLICIES

POLICIES_BY_NAME = {p.name: p for p in ALL_POLICIES}


def run(policy_name: str, resources: list[OfflineResource], config: dict | None = None) -> list[Violation]:
    """Violations of one policy (config entries for other policies are ignored, as the CLI does)."""
    return evaluate(resources, config, policies=[POLICIES_BY_NAME[policy_name]])


def assert_outcome(found: list[Violation], expected: tuple[str, ...] | None) -> None:
    """expected None: no findings; else one violation whose message contains every fragment."""
    if expected is None:
        assert found == [], [v.message for v in found]
        return
    assert [v for v in found if v.unknown] == [], "unexpected preview note"
    assert any(all(fragment in v.message for fragment in expected) for v in found), (
        f"no violation mentions {expected}: {[v.message for v in found]}")


def listener_rule(name: str = "api-rule", weights: list[Any] | None = None, arns: list[str] | None = None,
                  tags: dict[str, str] | None = None, listener_arn: str = "arn:listener/https",
                  sticky_seconds: int | None = None) -> OfflineResource:
    weights = [90, 10] if weights is None else weights
    arns = arns or [f"arn:tg/{i}" for i in range(len(weights))]
    groups = [{"arn": a, "weight": w} if w is not None else {"arn": a} for a, w in zip(arns, weights)]
    props = {
        "listenerArn": listener_arn,
        "priority": 100,
        "actions": [{"type": "forward", "forward": {"targetGroups": groups, "stickiness": {
            "enabled": sticky_seconds is not None, "duration": sticky_seconds or 1}}}],
        "conditions": [{"pathPattern": {"values": ["/*"]}}],
        "tags": tags or {},
    }
    return OfflineResource("aws:lb/listenerRule:ListenerRule", name, props)


def listener(name: str, protocol: str = "HTTPS", port: int = 443, ssl_policy: str | None = None,
             default_actions: list[dict] | None = None, lb_arn: str = "arn:lb/main",
             arn: str | None = None) -> OfflineResource:
    props: dict[str, Any] = {"loadBalancerArn": lb_arn, "protocol": protocol, "port": port,
                             "defaultActions": default_actions or [{"type": "fixed-response", "fixedResponse": {
                                 "contentType": "text/plain", "statusCode": "404"}}]}
    if ssl_policy is not None:
        props["sslPolicy"] = ssl_policy
    outputs = {**props, "arn": arn or f"arn:listener/{name}"}
    return OfflineResource("aws:lb/listener:Listener", name, props, outputs=outputs)


REDIRECT = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}


def target_group(name: str, arn: str, path: str | None = "/healthz", delay: int | None = 30,
                 enabled: bool | None = None, sticky_seconds: int | None = None) -> OfflineResource:
    props: dict[str, Any] = {"port": 8080, "protocol": "HTTP", "targetType": "ip", "vpcId": "vpc-1"}
    if sticky_seconds is not None:
        props["stickiness"] = {"type": "lb_cookie", "cookieDuration": sticky_seconds, "enabled": True}
    check: dict[str, Any] = {}
    if path is not None:
        check["path"] = path
    if enabled is not None:
        check["enabled"] = enabled
    if check:
        props["healthCheck"] = check
    if delay is not None:
        props["deregistrationDelay"] = delay
    return OfflineResource("aws:lb/targetGroup:TargetGroup", name, props, outputs={**props, "arn": arn})


def record(name: str, weight: Any = 10, ttl: int | None = 60, set_identifier: str | None = "blue",
           record_name: str = "api.example.com", zone: str = "Z123") -> OfflineResource:
    props: dict[str, Any] = {"zoneId": zone, "name": record_name, "type": "CNAME", "records": ["x.example.com"],
                             "weightedRoutingPolicies": [{"weight": weight}]}
    if ttl is not None:
        props["ttl"] = ttl
    if set_identifier is not None:
        props["setIdentifier"] = set_identifier
    return OfflineResource("aws:route53/record:Record", name, props)


def ecs_service(logical_name: str = "api-green", **overrides: Any) -> OfflineResource:
    props: dict[str, Any] = {
        "cluster": "arn:cluster",
        "taskDefinition": "arn:td",
        "desiredCount": 2,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "deploymentMinimumHealthyPercent": 100,
        "deploymentMaximumPercent": 200,
        "healthCheckGracePeriodSeconds": 30,
        "loadBalancers": [{"targetGroupArn": "arn:tg/0", "containerName": "app", "containerPort": 8080}],
    }
    props.update(overrides)
    return OfflineResource("aws:ecs/service:Service", logical_name, {k: v for k, v in props.items() if v is not None})


def container(name: str = "app", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "image": "registry/app:1.2.3",
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {"privileged": False},
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
    }
    spec.update(overrides)
    return {k: v for k, v in spec.items() if v is not None}


def deployment(name: str = "api-green", containers: list[dict] | None = None, labels: dict | None = None,
               namespace: str | None = "shop", strategy: dict | None = None, pod_security: dict | None = None,
               metadata: dict | None = None) -> OfflineResource:
    labels = labels or {"app": "api", "color": "green"}
    meta: dict[str, Any] = {"labels": labels}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(metadata or {})
    props = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": strategy if strategy is not None else {"type": "RollingUpdate", "rollingUpdate": {
                "maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"securityContext": pod_security if pod_security is not None else {"runAsNonRoot": True},
                         "containers": containers if containers is not None else [container()]},
            },
        },
    }
    return OfflineResource("kubernetes:apps/v1:Deployment", name, props)


def pdb(name: str, match_labels: dict, namespace: str | None = "shop") -> OfflineResource:
    meta = {"namespace": namespace} if namespace is not None else {}
    return OfflineResource("kubernetes:policy/v1:PodDisruptionBudget", name, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
        "spec": {"minAvailable": 1, "selector": {"matchLabels": match_labels}}})


def http_route(name: str = "api-route", rules: list[list[Any]] | None = None,
               annotations: dict | None = None) -> OfflineResource:
    rules = rules if rules is not None else [[90, 10]]
    spec_rules = [{"backendRefs": [{"name": f"api-{i}", "port": 80, **({"weight": w} if w is not None else {})}
                                   for i, w in enumerate(weights)]} for weights in rules]
    return OfflineResource("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", name, {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"namespace": "shop", "annotations": annotations or {}},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": spec_rules}})


def ingress(name: str = "api-canary", annotations: dict | None = None) -> OfflineResource:
    return OfflineResource("kubernetes:networking.k8s.io/v1:Ingress", name, {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"namespace": "shop", "annotations": annotations or {}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "api.example.com"}]}})


def security_group(name: str, ingress_rules: list[dict], role: str | None = None) -> OfflineResource:
    props: dict[str, Any] = {"vpcId": "vpc-1", "description": "test", "ingress": ingress_rules}
    if role is not None:
        props["tags"] = {"cutover:role": role}
    return OfflineResource("aws:ec2/securityGroup:SecurityGroup", name, props)


def task_definition(name: str, containers: list[dict]) -> OfflineResource:
    return OfflineResource("aws:ecs/taskDefinition:TaskDefinition", name, {
        "family": "api", "cpu": "256", "memory": "512", "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"], "containerDefinitions": json.dumps(containers)})


def decision(prefix: str = "cutover:", **values: str) -> dict[str, str]:
    """A decision record; keyword names use underscores (weights_before -> weights-before)."""
    record = {"service": "api", "step": "1", "weights-before": "90/10", "weights": "50/50",
              "candidate-color": "green", "cause": "advance", "verdict": "advance",
              "evidence": "staging 2026-01-05T10:00:00Z"}
    record.update({k.replace("_", "-"): v for k, v in values.items()})
    return {f"{prefix}{k}": v for k, v in record.items()}
