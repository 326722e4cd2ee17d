"""Config validation: the shipped stacks are valid; errors name the key path."""

from __future__ import annotations

import datetime
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
                 r"cutover:services\.web\.stickySessions\.durationSeconds: must be at most 604800, got the number 604801",
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
                 r"cutover:services\.web\.hooks\.smoke\.0\.expectStatus: must be at most 599, got the number 700",
                 id="a status that is no http status is refused"),
    pytest.param({"web": _svc(hooks={"smoke": [{"path": "/healthz", "expect": 200}]})},
                 r"cutover:services\.web\.hooks\.smoke\.0\.expect: unknown key", id="a misspelled smoke key is refused"),
    pytest.param({"web": _svc(hooks={"migrations": {"expand": {"command": []}}})},
                 r"cutover:services\.web\.hooks\.migrations\.expand\.command: must have at least 1 entry \(got 0\)",
                 id="an empty migration command is refused"),
]


@pytest.mark.parametrize("services, message", HOOKS_REFUSED)
def test_bad_hooks_are_refused_naming_the_key(services, message):
    with pytest.raises(CutoverConfigError, match=message):
        load_config({"services": services})


RULE = "use ASCII letters, digits, '_', '-' and '.', not starting with a digit or '..' (the names ECS and every Kubernetes version accept)"
VARIABLE_NAMES_REFUSED = [
    pytest.param(_svc(environment={"": "x"}), f'cutover:services.web.environment."": a variable name must not be empty: {RULE}',
                 id="an empty environment variable name is refused"),
    pytest.param(_svc(environment={"A=B": "x"}), f"cutover:services.web.environment.\"A=B\": a variable name must not contain '=' "
                 f"(the container receives NAME=value): {RULE}", id="a name with an equals sign is refused"),
    pytest.param(_svc(secrets={"=": "arn:aws:ssm:x"}), "cutover:services.web.secrets.\"=\": a variable name must not contain '='",
                 id="a secret named by an equals sign alone is refused"),
    pytest.param(_svc(secrets={"1DB": "arn:aws:ssm:x"}), f"cutover:services.web.secrets.1DB: a variable name is not one every "
                 f"platform accepts: {RULE}", id="a secret name starting with a digit is refused"),
    pytest.param(_svc(environment={"LOG LEVEL": "info"}), 'cutover:services.web.environment."LOG LEVEL": a variable name is not one',
                 id="a name with a space is refused and quoted"),
    pytest.param(_svc(environment={"PATH\n": "/bin"}), 'cutover:services.web.environment."PATH\\n": a variable name is not one',
                 id="a name with a newline is refused and escaped"),
    pytest.param(_svc(environment={"..HIDDEN": "x"}), 'cutover:services.web.environment."..HIDDEN": a variable name is not one',
                 id="a name starting with two dots is refused as kubernetes does"),
    pytest.param(_svc(environment={".": "x"}), 'cutover:services.web.environment.".": a variable name is not one',
                 id="a name that is a single dot is refused as kubernetes does"),
    pytest.param(_svc(environment={"CAFÉ": "x"}), 'cutover:services.web.environment.CAFÉ: a variable name is not one',
                 id="a name with a letter outside ascii is refused"),
    pytest.param(_svc(platform="kubernetes", router="gateway", secrets={"A=B": "db:password"}),
                 "cutover:services.web.secrets.\"A=B\": a variable name must not contain '='",
                 id="a kubernetes secret name with an equals sign is refused before its reference is read"),
    pytest.param(_svc(environment={"DB_PASSWORD": "x"}, secrets={"DB_PASSWORD": "arn:aws:ssm:x"}),
                 "cutover:services.web.secrets.DB_PASSWORD: also set in environment: a variable takes its value from one place; "
                 "keep it in secrets if it is sensitive, else remove it from secrets", id="a variable both plain and secret is named"),
    pytest.param(_svc(environment={"B": "1", "A": "1", "C": "1"}, secrets={"C": "arn:aws:ssm:x", "A": "arn:aws:ssm:x", "B": "arn:aws:ssm:x"}),
                 "cutover:services.web.secrets.A: also set in environment (as are B, C): ", id="every variable both plain and secret is named"),
]


@pytest.mark.parametrize("service, words", VARIABLE_NAMES_REFUSED)
def test_a_variable_name_ecs_or_kubernetes_would_refuse_is_refused_naming_it(service, words):
    config = {"services": {"web": service}}
    if service.get("platform") == "kubernetes":
        config["kubernetes"] = {"namespace": "shop", "gateway": {"name": "public", "namespace": "gateway-system"}}
    with pytest.raises(CutoverConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(words), str(caught.value)


def test_variable_names_every_platform_accepts_are_accepted():
    """Kubernetes' own examples (my.env-name, MY_ENV.NAME, MyEnvName1) and names starting with '_', '-' or one '.'."""
    names = ["my.env-name", "MY_ENV.NAME", "MyEnvName1", "_PRIVATE", "-x", ".x", "x..y", "A" * 300]
    config = load_config({"services": {"web": _svc(environment=dict.fromkeys(names, "v"), secrets={"DB_PASSWORD": "arn:aws:ssm:x"})}})
    assert list(config.services["web"].environment) == names


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


# --- every problem pydantic can report about the config is said in words ----------------------------------------

def error_kinds(annotation, required: bool = False, metadata=(), seen=None) -> set[str]:
    """The pydantic error types a field of this type and these constraints can produce (pydantic 2, lax mode)."""
    import types
    from enum import Enum
    from typing import Union, get_args, get_origin

    import pydantic

    seen = set() if seen is None else seen
    kinds = {"missing"} if required else set()
    kinds |= {kind for m in metadata for attr, kind in (("ge", "greater_than_equal"), ("gt", "greater_than"), ("le", "less_than_equal"),
              ("lt", "less_than"), ("min_length", "too_short"), ("max_length", "too_long"), ("pattern", "string_pattern_mismatch"))
              if getattr(m, attr, None) is not None}
    if get_origin(annotation) in (Union, types.UnionType):
        return kinds | set().union(*(error_kinds(arg, seen=seen) for arg in get_args(annotation) if arg is not type(None)))
    if get_origin(annotation) is list:
        return kinds | {"list_type"} | error_kinds(get_args(annotation)[0], seen=seen)
    if get_origin(annotation) is dict:
        key, value = get_args(annotation)
        return kinds | {"dict_type"} | error_kinds(key, seen=seen) | error_kinds(value, seen=seen)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        kinds |= {"model_type", "extra_forbidden"}
        if annotation.__pydantic_decorators__.field_validators or annotation.__pydantic_decorators__.model_validators:
            kinds.add("value_error")
        if annotation not in seen:
            seen.add(annotation)
            for field in annotation.model_fields.values():
                kinds |= error_kinds(field.annotation, field.is_required(), field.metadata, seen)
        return kinds
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return kinds | {"enum"}
    if "too_short" in kinds and annotation is str:  # min_length on text
        kinds = (kinds - {"too_short"}) | {"string_too_short"}
    return kinds | {
        str: {"string_type", "string_unicode"},
        int: {"int_type", "int_parsing", "int_from_float", "int_parsing_size", "finite_number", "value_error"},  # value_error: a boolean
        float: {"float_type", "float_parsing", "finite_number", "value_error"},
        bool: {"bool_type", "bool_parsing"},
    }[annotation]


def _web(**changes):
    return {"services": {"web": _svc(**changes)}}


def _strategy(**changes):
    return _web(strategy={"kind": "canary", "steps": [10, 100], **changes})


def _without(key):
    config = _web()
    del config["services"]["web"][key]
    return config


ERROR_EXAMPLES = [
    pytest.param(_without("image"), "missing", "cutover:services.web.image: is required", id="a missing key is required"),
    pytest.param(_strategy(stepz=[10]), "extra_forbidden", "cutover:services.web.strategy.stepz: unknown key (known: kind, steps, "
                 "bakeMinutes, scaleDownDelayMinutes, maxSurge, analysis, mirrorPercent, mirrorMethods, then); did you mean steps?",
                 id="an unknown key lists the known ones and suggests the nearest"),
    pytest.param(_web(version=1.1), "string_type", 'cutover:services.web.version: must be text, got the number 1.1: quote it in the '
                 'stack file (version: "...")', id="a version YAML read as a number is to be quoted"),
    pytest.param(_web(approve=True), "string_type", "cutover:services.web.approve: must be text, got true (YAML reads yes, no, on and "
                 'off as true and false): quote it in the stack file (approve: "...")', id="an approval YAML read as true is to be quoted"),
    pytest.param(_web(version=datetime.date(2026, 1, 1)), "string_type", "cutover:services.web.version: must be text, got the date "
                 '2026-01-01: quote it in the stack file (version: "...")', id="a version YAML read as a date is to be quoted"),
    pytest.param(_web(image=None), "string_type", "cutover:services.web.image: must be text, got nothing (an empty value, null or ~)",
                 id="an empty image says it got nothing"),
    pytest.param(_web(version=b"\xff"), "string_unicode", "cutover:services.web.version: must be text (UTF-8), got binary data",
                 id="binary data is no text"),
    pytest.param(_web(image=""), "string_too_short", "cutover:services.web.image: must not be empty", id="an empty image is refused"),
    pytest.param(_web(version="1.0 beta"), "string_pattern_mismatch", "cutover:services.web.version: is not an image tag: letters, "
                 "digits, '_', '.' and '-', at most 128 characters, not starting with '.' or '-', got '1.0 beta'",
                 id="a pattern is said in words with what was written"),
    pytest.param(_web(port=[80]), "int_type", "cutover:services.web.port: must be a whole number, got a list of 1 item",
                 id="a list for a port is no number"),
    pytest.param(_web(port="eighty"), "int_parsing", "cutover:services.web.port: must be a whole number, got 'eighty'",
                 id="a word for a port is no number"),
    pytest.param(_web(replicas=2.5), "int_from_float", "cutover:services.web.replicas: must be a whole number, got the number 2.5",
                 id="half a replica is refused"),
    pytest.param(_web(port="9" * 5000), "int_parsing_size", "cutover:services.web.port: must be a whole number of sensible size, "
                 "got '999", id="five thousand digits are no port"),
    pytest.param(_web(port=float("inf")), "finite_number", "cutover:services.web.port: must be a finite number, got inf",
                 id="an infinite port is refused"),
    pytest.param(_strategy(analysis={"maxErrorRate": [0.1]}), "float_type", "cutover:services.web.strategy.analysis.maxErrorRate: must "
                 "be a number, got a list of 1 item", id="a list for a rate is no number"),
    pytest.param(_strategy(analysis={"maxErrorRate": "five percent"}), "float_parsing", "cutover:services.web.strategy.analysis."
                 "maxErrorRate: must be a number, got 'five percent'", id="a rate in words is no number"),
    pytest.param(_web(replicas=0), "greater_than_equal", "cutover:services.web.replicas: must be at least 1, got the number 0",
                 id="zero replicas are too few"),
    pytest.param(_strategy(analysis={"maxLatencyMs": 0}), "greater_than", "cutover:services.web.strategy.analysis.maxLatencyMs: must "
                 "be above 0, got the number 0", id="a latency bound of zero is refused"),
    pytest.param(_web(port=70_000), "less_than_equal", "cutover:services.web.port: must be at most 65535, got the number 70000",
                 id="a port above 65535 is refused"),
    pytest.param(_web(port=10**400), "less_than_equal", "cutover:services.web.port: must be at most 65535, got a number of 401 digits",
                 id="a number of hundreds of digits is said by its length"),
    pytest.param(_web(replicas=True), "value_error", "cutover:services.web.replicas: must be a number, got true (YAML reads yes, no, "
                 "on and off as true and false)", id="replicas YAML read as true are refused, not taken for 1"),
    pytest.param(_strategy(steps=[10, 50, 20]), "value_error", "cutover:services.web.strategy.steps: steps must increase and end at 100",
                 id="a validator's own words are kept"),
    pytest.param({"promotion": {"from": "staging", "requireAnalysis": []}, **_web()}, "bool_type", "cutover:promotion.requireAnalysis: "
                 "must be true or false, got an empty list", id="a list is neither true nor false"),
    pytest.param({"promotion": {"from": "staging", "requireAnalysis": "maybe"}, **_web()}, "bool_parsing", "cutover:promotion."
                 "requireAnalysis: must be true or false, got 'maybe'", id="maybe is neither true nor false"),
    pytest.param(_strategy(steps="10,50,100"), "list_type", "cutover:services.web.strategy.steps: must be a list, got '10,50,100'",
                 id="steps written as text are no list"),
    pytest.param({"network": {"vpcId": "vpc-1", "publicSubnetIds": ["a"], "privateSubnetIds": ["c", "d"]}, **_web()}, "too_short",
                 "cutover:network.publicSubnetIds: must have at least 2 entries (got 1)", id="one subnet is too few"),
    pytest.param(_web(hooks={"smoke": [{"path": "/"}] * 11}), "too_long", "cutover:services.web.hooks.smoke: must have at most 10 "
                 "entries (got 11)", id="eleven smoke checks are too many"),
    pytest.param(_web(environment="LOG_LEVEL=info"), "dict_type", "cutover:services.web.environment: must be a mapping of names to "
                 "values (name: value lines), got 'LOG_LEVEL=info'", id="environment written as text is no mapping"),
    pytest.param(_web(strategy="canary"), "model_type", "cutover:services.web.strategy: must be a block of settings (key: value lines), "
                 "got 'canary'", id="a strategy written as its kind alone is no block"),
    pytest.param(_strategy(kind="bluegreen", steps=None), "enum", "cutover:services.web.strategy.kind: must be one of canary, "
                 "blue-green, red-black, rolling, shadow, got 'bluegreen'; did you mean blue-green?", id="a misspelt kind is corrected"),
]


def _kinds_of(config) -> set[str]:
    import pydantic

    from components.config import CutoverConfig

    with pytest.raises(pydantic.ValidationError) as caught:
        CutoverConfig.model_validate(config)
    return {error["type"] for error in caught.value.errors()}


@pytest.mark.parametrize("config, kind, words", ERROR_EXAMPLES)
def test_each_kind_of_problem_is_said_in_words(config, kind, words):
    assert kind in _kinds_of(config)
    with pytest.raises(CutoverConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(words), str(caught.value)


def test_every_kind_of_problem_the_config_can_have_has_words_and_an_example():
    """A new field type or constraint brings a new pydantic error type: it needs words in ERROR_WORDS and a row above."""
    from components.config import ERROR_WORDS, CutoverConfig

    kinds = error_kinds(CutoverConfig)
    assert kinds - {"string_pattern_mismatch", "value_error"} <= set(ERROR_WORDS), sorted(kinds - set(ERROR_WORDS))
    assert kinds <= {p.values[1] for p in ERROR_EXAMPLES}, sorted(kinds - {p.values[1] for p in ERROR_EXAMPLES})


def test_a_mapping_key_yaml_read_as_a_number_names_it_and_says_to_quote_it():
    with pytest.raises(CutoverConfigError, match=r'^cutover:services\.web\.environment\.1: the name must be text, got the number 1: '
                       r'quote it in the stack file \(1: "\.\.\."\)$'):
        load_config(_web(environment={1: "a"}))
    with pytest.raises(CutoverConfigError, match=r'^cutover:services\.web\.environment\."\[key\]": must be text, got the number 1: '):
        load_config(_web(environment={"[key]": 1}))


def test_a_list_of_ten_thousand_bad_steps_says_twenty_problems_and_how_many_more():
    with pytest.raises(CutoverConfigError) as caught:
        load_config(_strategy(steps=["x"] * 10_000))
    lines = str(caught.value).split("\n")
    assert lines[0] == "cutover:services.web.strategy.steps.0: must be a whole number, got 'x'"
    assert len(lines) == 21 and lines[-1] == "cutover: 9980 more problems not shown; fix these first"


@pytest.mark.parametrize("key, shown", [("health check", '"health check"'), ("port\n", '"port\\n"'), ("a.b", '"a.b"'), ("[key]", '"[key]"'),
                                        ("x" * 100, '"' + "x" * 60 + '…"')])
def test_a_key_with_spaces_dots_or_control_characters_is_quoted_in_the_path(key, shown):
    with pytest.raises(CutoverConfigError) as caught:
        load_config(_web(**{key: "/"}))
    assert str(caught.value).startswith(f"cutover:services.web.{shown}: unknown key"), str(caught.value)


def test_a_json_value_nested_too_deep_or_with_a_number_too_long_is_refused_in_words():
    for text in ["[" * 100_000 + "]" * 100_000, '{"web": {"port": ' + "9" * 5000 + "}}"]:
        with pytest.raises(CutoverConfigError, match=r"^cutover:services: not a valid object \(a number too long or nesting too deep"):
            load_config({"services": text})


YAML_STACK = """
config:
  cutover:services:
    web:
      image: nginx
      version: {version}
      port: 80
      replicas: {replicas}
      strategy: {{kind: blue-green}}
"""


@pytest.mark.parametrize("version, replicas, words", [
    pytest.param("1.10", "2", 'cutover:services.web.version: must be text, got the number 1.1: quote it in the stack file (version: "...")',
                 id="version 1.10 is the number 1.1 and gets a hint to quote it"),
    pytest.param("2026-01-01", "2", "cutover:services.web.version: must be text, got the date 2026-01-01: quote it",
                 id="a date-like version gets a hint to quote it"),
    pytest.param("'1.10'", "on", "cutover:services.web.replicas: must be a number, got true (YAML reads yes, no, on and off as true",
                 id="replicas on is refused instead of read as one replica"),
    pytest.param("12:30", "2", "cutover:services.web.version: must be text, got the number 750: quote it",
                 id="a version with a colon YAML 1.1 reads in base 60 gets a hint to quote it"),
    pytest.param('"1.10"', "2", None, id="a quoted version is accepted"),
])
def test_yaml_oddities_in_a_stack_file_are_refused_with_a_hint(tmp_path, version, replicas, words):
    stack_file = tmp_path / "Pulumi.fuzz.yaml"
    stack_file.write_text(YAML_STACK.format(version=version, replicas=replicas))
    if words is None:
        assert load_config(short_keys(stack_file)).services["web"].version == "1.10"
        return
    with pytest.raises(CutoverConfigError) as caught:
        load_config(short_keys(stack_file))
    assert str(caught.value).startswith(words), str(caught.value)
