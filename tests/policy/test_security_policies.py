"""TLS, HTTPS redirects, security group ingress, secrets and container privileges."""

from __future__ import annotations

import pytest

from policies.offline import OfflineResource

from .builders import REDIRECT, assert_outcome, container, deployment, listener, listener_rule, run, security_group, task_definition

MODERN = "ELBSecurityPolicy-TLS13-1-2-2021-06"
FROM_LB = {"protocol": "tcp", "fromPort": 8080, "toPort": 8080, "securityGroups": ["sg-lb"]}


def web(port: int, cidr: str = "0.0.0.0/0") -> dict:
    return {"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": [cidr]}


def ingress_rule(name: str, **props) -> OfflineResource:
    return OfflineResource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name,
                           {"securityGroupId": "sg-1", "ipProtocol": "tcp", **props})


CASES = [
    pytest.param("alb-modern-tls-policy", [listener("https", ssl_policy=MODERN)], None,
                 id="an https listener with the tls13 policy passes"),
    pytest.param("alb-modern-tls-policy", [listener("https", ssl_policy="ELBSecurityPolicy-2016-08")],
                 ("'https'", "ELBSecurityPolicy-2016-08"), id="an https listener with the 2016 policy is rejected"),
    pytest.param("alb-modern-tls-policy", [listener("https")], ("'https'", "unset"),
                 id="an https listener without ssl policy is rejected"),
    pytest.param("alb-modern-tls-policy", [listener("http", protocol="HTTP", port=80)], None,
                 id="plain http listeners need no ssl policy"),
    pytest.param("alb-http-redirects-to-https",
                 [listener("https", ssl_policy=MODERN), listener("http", "HTTP", 80, default_actions=[REDIRECT])], None,
                 id="http redirecting next to https passes"),
    pytest.param("alb-http-redirects-to-https", [listener("http", "HTTP", 80)], None,
                 id="http alone is allowed when no certificate is configured"),
    pytest.param("alb-http-redirects-to-https", [listener("https", ssl_policy=MODERN), listener("http", "HTTP", 80)],
                 ("'http'", "redirect"), id="http serving next to https is rejected"),
    pytest.param("alb-http-redirects-to-https",
                 [listener("https", ssl_policy=MODERN), listener("http", "HTTP", 80, lb_arn="arn:lb/other")], None,
                 id="http on another load balancer is not affected"),
    pytest.param("alb-http-redirects-to-https",
                 [listener("https", ssl_policy=MODERN), listener("http", "HTTP", 80, default_actions=[REDIRECT]),
                  listener_rule(listener_arn="arn:listener/http")],
                 ("'api-rule'", "HTTP listener 'http'"), id="a forwarding rule on the redirecting http listener is rejected"),
    pytest.param("public-ingress-web-ports-only", [security_group("alb-sg", [web(80), web(443)], "load-balancer")], None,
                 id="ports 80 and 443 open to the world pass"),
    pytest.param("public-ingress-web-ports-only", [security_group("alb-sg", [web(22)], "load-balancer")],
                 ("'alb-sg'", "ingress[0]", "port 22"), id="ssh open to the world is rejected"),
    pytest.param("public-ingress-web-ports-only",
                 [security_group("alb-sg", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}])],
                 ("'alb-sg'", "all ports", "::/0"), id="all ports open over ipv6 is rejected"),
    pytest.param("public-ingress-web-ports-only",
                 [security_group("alb-sg", [{"protocol": "tcp", "fromPort": 80, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}])],
                 ("ports 80..443",), id="a port range spanning 80 to 443 is rejected"),
    pytest.param("public-ingress-web-ports-only", [ingress_rule("open-https", cidrIpv4="0.0.0.0/0", fromPort=443, toPort=443)],
                 None, id="a standalone rule for 443 passes"),
    pytest.param("public-ingress-web-ports-only", [ingress_rule("open-db", cidrIpv4="0.0.0.0/0", fromPort=5432, toPort=5432)],
                 ("'open-db'", "port 5432"), id="a standalone rule opening postgres to the world is rejected"),
    pytest.param("workload-ingress-from-load-balancer-only", [security_group("api-tasks-sg", [FROM_LB], "tasks")], None,
                 id="task ingress from the load balancer group passes"),
    pytest.param("workload-ingress-from-load-balancer-only",
                 [security_group("api-tasks-sg", [web(8080, "10.0.0.0/8")], "tasks")],
                 ("'api-tasks-sg'", "10.0.0.0/8"), id="task ingress from a private cidr is rejected"),
    pytest.param("workload-ingress-from-load-balancer-only", [security_group("api-tasks-sg", [web(443)])],
                 ("'api-tasks-sg'", "0.0.0.0/0"), id="an untagged group without a load balancer name is a workload"),
    pytest.param("workload-ingress-from-load-balancer-only", [security_group("web-alb-sg", [web(443)])], None,
                 id="an untagged group named like a load balancer may take cidrs"),
    pytest.param("workload-ingress-from-load-balancer-only",
                 [security_group("web-alb-sg", [web(443)], "tasks")], ("'web-alb-sg'",),
                 id="the role tag wins over the name hint"),
    pytest.param("workload-ingress-from-load-balancer-only", [ingress_rule("tasks-from-vpc", cidrIpv4="10.0.0.0/16")],
                 ("'tasks-from-vpc'", "10.0.0.0/16"), id="a standalone workload rule with a cidr is rejected"),
    pytest.param("no-plaintext-secrets-in-env",
                 [task_definition("api-td", [{"name": "app", "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                                               "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:secret"}]}])],
                 None, id="ecs secrets from valueFrom pass"),
    pytest.param("no-plaintext-secrets-in-env",
                 [task_definition("api-td", [{"name": "app", "environment": [{"name": "Stripe_Api_Key", "value": "sk"}]}])],
                 ("'api-td'", "Stripe_Api_Key", "plaintext"), id="an ecs api key in plaintext is rejected"),
    pytest.param("no-plaintext-secrets-in-env",
                 [deployment(containers=[container(env=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                     "name": "db", "key": "password"}}}])])], None, id="kubernetes secretKeyRef passes"),
    pytest.param("no-plaintext-secrets-in-env",
                 [deployment(containers=[container(env=[{"name": "GITHUB_TOKEN", "value": "ghp_x"}])])],
                 ("'api-green'", "GITHUB_TOKEN"), id="a kubernetes token in plaintext is rejected"),
    pytest.param("no-plaintext-secrets-in-env", [OfflineResource(
        "aws:ecs/taskDefinition:TaskDefinition", "broken", {"containerDefinitions": "[{"})], ("'broken'", "not valid JSON"),
                 id="unparseable container definitions are reported"),
    pytest.param("containers-not-privileged", [task_definition("api-td", [{"name": "app", "privileged": False}]),
                                               deployment()], None, id="unprivileged containers pass"),
    pytest.param("containers-not-privileged", [task_definition("api-td", [{"name": "app", "privileged": True}])],
                 ("'api-td'", "'app'", "privileged"), id="a privileged ecs container is rejected"),
    pytest.param("containers-not-privileged",
                 [deployment(containers=[container(securityContext={"privileged": True})])],
                 ("'api-green'", "privileged true"), id="a privileged kubernetes container is rejected"),
    pytest.param("k8s-run-as-non-root", [deployment()], None, id="pod level run as non root passes"),
    pytest.param("k8s-run-as-non-root", [deployment(pod_security={}, containers=[
        container(securityContext={"runAsNonRoot": True})])], None, id="container level run as non root passes"),
    pytest.param("k8s-run-as-non-root", [deployment(pod_security={})], ("'api-green'", "'app'", "root"),
                 id="no run as non root anywhere is rejected"),
    pytest.param("k8s-run-as-non-root", [deployment(containers=[container(securityContext={"runAsNonRoot": False})])],
                 ("'app'",), id="a container switching run as non root off is rejected"),
]


@pytest.mark.parametrize(("policy", "resources", "expected"), CASES)
def test_security_policy(policy: str, resources: list, expected: tuple[str, ...] | None) -> None:
    assert_outcome(run(policy, resources), expected)


def test_the_tls_allow_list_comes_from_config() -> None:
    config = {"alb-modern-tls-policy": {"allowedSslPolicies": ["ELBSecurityPolicy-TLS13-1-3-2021-06"]}}
    assert_outcome(run("alb-modern-tls-policy", [listener("https", ssl_policy=MODERN)], config), (MODERN,))
