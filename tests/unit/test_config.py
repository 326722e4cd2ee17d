"""Config validation: the shipped stacks are valid; errors name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import CONFIG_NAMESPACE, CutoverConfigError, load_config
from rehearsal.engine import PROJECT_ROOT, stack_config


def short_keys(stack_file: Path) -> dict:
    config = stack_config(stack_file)
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{CONFIG_NAMESPACE}:")}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stack_configs_are_valid(stack):
    config = load_config(short_keys(PROJECT_ROOT / f"Pulumi.{stack}.yaml"))
    assert config.services


def test_priorities_are_stable_when_a_service_is_added():
    base = {"services": {"web": _svc()}}
    more = {"services": {"web": _svc(), "api": _svc(), "zz": _svc()}}
    assert load_config(base).rule_priority("web") == load_config(more).rule_priority("web")


def test_colliding_priorities_name_the_service():
    with pytest.raises(CutoverConfigError, match=r"cutover:services\.b\.priority: listener rule priority 7 is also a's"):
        load_config({"services": {"a": _svc(priority=7), "b": _svc(priority=7)}})


def _svc(kind: str = "canary", steps=(10, 100), **extra):
    strategy = {"kind": kind}
    if steps is not None:
        strategy["steps"] = list(steps)
    return {"image": "nginx", "version": "1", "port": 80, "replicas": 1, "strategy": strategy} | extra


CROSS_FIELD = [
    pytest.param({"Web": _svc()}, r"cutover:services\.Web: service names are", id="upper-case service names are rejected"),
    pytest.param({"web": _svc(kind="blue-green", steps=[10, 100])}, r"cutover:services\.web\.strategy\.steps: only canary takes steps",
                 id="steps on a blue-green are rejected"),
    pytest.param({"web": _svc(steps=None)}, r"cutover:services\.web\.strategy\.steps: a canary needs steps", id="a canary without steps is rejected"),
    pytest.param({"web": _svc(host="a.example.com", pathPrefix="/a")}, r"cutover:services\.web\.pathPrefix: route by host or by pathPrefix",
                 id="host and path prefix together are rejected"),
    pytest.param({"web": _svc(environment={"A": "1"}, secrets={"A": "arn:aws:ssm:x"})}, r"cutover:services\.web\.secrets",
                 id="a variable both plain and secret is rejected"),
    pytest.param({"web": _svc(platform="kubernetes", router="gateway")}, r"cutover:services\.web\.platform: kubernetes needs cutover:kubernetes",
                 id="a kubernetes service needs the kubernetes settings"),
    pytest.param({"web": _svc(router="route53", kind="rolling", steps=None)}, r"cutover:services\.web\.router: route53 cannot run a rolling rollout",
                 id="rolling behind weighted records is rejected"),
]


@pytest.mark.parametrize("services, message", CROSS_FIELD)
def test_cross_field_errors_name_the_key(services, message):
    with pytest.raises(CutoverConfigError, match=message):
        load_config({"services": services})


def test_missing_services_is_an_error():
    with pytest.raises(CutoverConfigError, match="cutover:services: required"):
        load_config({})


def test_a_prometheus_threshold_without_its_query_is_rejected():
    analysis = {"maxErrorRate": 0.01, "prometheus": {"url": "http://prometheus:9090"}}
    with pytest.raises(CutoverConfigError, match=r"cutover:services\.web\.strategy\.analysis\.prometheus\.errorRateQuery: maxErrorRate is set"):
        load_config({"services": {"web": _svc(strategy={"kind": "canary", "steps": [10, 100], "analysis": analysis})}})


STICKY = {"durationSeconds": 3600}
STICKY_REFUSED = [
    pytest.param({"web": _svc(router="route53", stickySessions=STICKY)},
                 r"cutover:services\.web\.stickySessions: router route53 cannot keep sessions sticky: weighted DNS",
                 id="sticky sessions behind weighted DNS are refused"),
    pytest.param({"web": _svc(platform="kubernetes", router="gateway", stickySessions=STICKY)},
                 r"cutover:services\.web\.stickySessions: router gateway cannot keep sessions sticky: HTTPRoute session "
                 r"persistence \(GEP-1619\) is in the Gateway API experimental channel only",
                 id="sticky sessions on a gateway route are refused"),
    pytest.param({"web": _svc(kind="blue-green", steps=None, platform="kubernetes", router="service",
                              stickySessions={"durationSeconds": 86_401})},
                 r"cutover:services\.web\.stickySessions\.durationSeconds: 86401 is above 86400",
                 id="client ip affinity longer than a day is refused"),
    pytest.param({"web": _svc(stickySessions={"durationSeconds": 604_801})},
                 r"cutover:services\.web\.stickySessions\.durationSeconds: Input should be less than or equal to 604800",
                 id="alb stickiness longer than seven days is refused"),
    pytest.param({"web": _svc(stickySessions={"duration": 60})}, r"cutover:services\.web\.stickySessions\.duration: unknown key",
                 id="a misspelled sticky key is refused"),
]


@pytest.mark.parametrize("services, message", STICKY_REFUSED)
def test_sticky_sessions_are_refused_where_the_router_cannot_keep_them(services, message):
    with pytest.raises(CutoverConfigError, match=message):
        load_config({"services": services})


def test_sticky_sessions_are_accepted_on_alb_nginx_and_the_service_router():
    config = load_config({"kubernetes": {"namespace": "shop"}, "services": {
        "web": _svc(stickySessions=STICKY),
        "api": _svc(platform="kubernetes", router="nginx", stickySessions=STICKY),
        "admin": _svc(kind="blue-green", steps=None, platform="kubernetes", router="service", stickySessions=STICKY),
    }})
    assert {name: s.sticky_sessions.duration_seconds for name, s in config.services.items()} == {
        "web": 3600, "api": 3600, "admin": 3600}


HOOKS_REFUSED = [
    pytest.param({"web": _svc(hooks={"smoke": [{"path": "healthz"}]})}, r"cutover:services\.web\.hooks\.smoke\.0\.path: must be a path starting with / and without spaces",
                 id="a smoke path without its leading slash is refused"),
    pytest.param({"web": _svc(hooks={"smoke": [{"path": "/healthz", "expectStatus": 700}]})},
                 r"cutover:services\.web\.hooks\.smoke\.0\.expectStatus: Input should be less than or equal to 599",
                 id="a status that is no http status is refused"),
    pytest.param({"web": _svc(hooks={"smoke": [{"path": "/healthz", "expect": 200}]})},
                 r"cutover:services\.web\.hooks\.smoke\.0\.expect: unknown key", id="a misspelled smoke key is refused"),
    pytest.param({"web": _svc(hooks={"migrations": {"expand": {"command": []}}})},
                 r"cutover:services\.web\.hooks\.migrations\.expand\.command: List should have at least 1 item",
                 id="an empty migration command is refused"),
]


@pytest.mark.parametrize("services, message", HOOKS_REFUSED)
def test_bad_hooks_are_refused_naming_the_key(services, message):
    with pytest.raises(CutoverConfigError, match=message):
        load_config({"services": services})


def test_hooks_as_the_issue_writes_them_are_accepted():
    hooks = {"smoke": [{"path": "/healthz", "expectStatus": 200}, {"path": "/api/version", "expectBodyContains": "{{version}}"}],
             "migrations": {"expand": {"command": ["./manage.py", "migrate", "--expand"]},
                            "contract": {"command": ["./manage.py", "migrate", "--contract"]}}}
    config = load_config({"services": {"web": _svc(hooks=hooks, stickySessions={"durationSeconds": 3600})}})
    web = config.services["web"]
    assert [c.expect_status for c in web.hooks.smoke] == [200, 200] and web.hooks.migrations.contract.command[-1] == "--contract"



def test_every_pattern_in_the_config_is_said_in_words():
    """A new field with a regular expression must say what it wants: users never read the pattern itself."""
    import pydantic

    from components import config

    patterns = set()
    for model in vars(config).values():
        if isinstance(model, type) and issubclass(model, pydantic.BaseModel) and model is not pydantic.BaseModel:
            for field in model.model_fields.values():
                patterns.update(m.pattern for m in field.metadata if getattr(m, "pattern", None))
    assert patterns and patterns <= set(config.PATTERN_WORDS), sorted(patterns - set(config.PATTERN_WORDS))
