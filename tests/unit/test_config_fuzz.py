"""Config fuzzing (issue 15): whatever a stack file holds, cutover accepts it or refuses it in words naming the key.

The configs start valid — AWS and Kubernetes, every strategy kind and router, every optional block set —
and are then mutated: a value of the wrong type at any key path, numbers out of range (down to -10**400 and
up to 10**400), keys renamed, unknown keys at every level, required keys removed, 10,000-entry lists, text with
unicode and control characters, 100,000-character text, empty text, null, nested garbage, and YAML
oddities parsed from real YAML text with `yaml.safe_load` (`1.10` is the number 1.1, `on`/`yes` are true,
`017` is 15, `2026-01-01` is a date, `~` is null). Others are random from the start: any keys, any values,
or shaped by the schema with random values.

Properties:
(a) `load_config` returns a config or raises `CutoverConfigError`; never any other exception. An accepted config
    holds only numbers the providers can carry (32-bit counts, finite floats).
(b) every line of the message is `cutover:<key path>: <words>`, at most 20 problems and a count of the rest: the
    path leads into the config as written (a missing key's block exists); after one mutation, a value of another
    kind or an unknown or misspelt key is named; the words carry no regular expression nor pydantic jargon
    (`Input should be`, `String should match pattern`, `type=`, ...); a line stays under 1,000 characters.
(c) through the whole program under the mock engine (the rehearsal's `Stack`), a refused config registers no
    resource and the run's error is exactly that message; an accepted one runs without an exception.

Examples per run (the CI profile in tests/conftest.py is derandomized: the same examples every run):
hypothesis draws 400 mutated AWS configs, 300 mutated Kubernetes ones (1 to 3 mutations each), 300 with one
YAML oddity, 200 random and 200 schema-shaped random configs, all through `load_config`, and 100 refused
mutated configs through the whole program; deterministically, each of the 6 fuzzer configs has every key
path set to every troublesome value of its kind and every block given every troublesome key (about 40,000
checks), and each is pushed to its extremes (highest numbers with the longest, strangest text; lowest
numbers) and run twice through the program (a first deploy, then a rollout of every service). About 25 s
on 2 shared cores (12 s of CPU).
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import types
from typing import Any, Iterator, Union, get_args, get_origin

import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from components import config as config_module
from components.config import CONFIG_KEYS, CONFIG_NAMESPACE, MAX_PROBLEMS, PATTERN_WORDS, PLAIN_KEYS, CutoverConfig, CutoverConfigError, load_config
from rehearsal.engine import ORGANIZATION, PROJECT, PROJECT_ROOT, stack_config
from rehearsal.scenario import Stack
from tests.builders import DNS, NETWORK, service

PREFIX = f"{CONFIG_NAMESPACE}:"
HUGE = 10_000
"""Entries of a huge list."""

# --- valid stack configs to start from ------------------------------------------------------------------------

ANALYSIS = {
    "maxErrorRate": 0.05, "maxLatencyMs": 800, "minRequests": 50, "alarms": ["web-5xx"], "maxInconclusiveRuns": 3,
    "prometheus": {"url": "http://prometheus:9090", "errorRateQuery": "sum(rate(e[5m]))", "latencyQuery": "p99",
                   "requestQuery": "sum(increase(r[5m]))"},
}
HOOKS = {
    "smoke": [{"path": "/healthz", "expectStatus": 200, "expectBodyContains": "{{version}}"}],
    "migrations": {"expand": {"command": ["./manage.py", "migrate"]}, "contract": {"command": ["./manage.py", "contract"]}},
}


def aws_service(kind: str, router: str = "alb", **extra: Any) -> dict[str, Any]:
    strategy = {key: extra.pop(key) for key in ("analysis", "mirrorPercent", "mirrorMethods", "then", "steps") if key in extra}
    spec = service(kind, router=router, **strategy)
    spec.update(cpu=512, memory=1024, environment={"LOG_LEVEL": "info"},
                secrets={"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"},
                autoscaling={"minReplicas": 2, "maxReplicas": 6, "targetCpuPercent": 60, "targetRequestsPerTarget": 500})
    return spec | extra


def kubernetes_service(kind: str, router: str, **extra: Any) -> dict[str, Any]:
    strategy = {key: extra.pop(key) for key in ("analysis", "mirrorPercent", "mirrorMethods", "then", "steps", "maxSurge") if key in extra}
    spec = service(kind, router=router, **strategy)
    spec.update(platform="kubernetes", image="nginxinc/nginx-unprivileged", port=8080, host="api.shop.example.com",
                environment={"LOG_LEVEL": "info"}, secrets={"DB_PASSWORD": "api-db:password"},
                autoscaling={"minReplicas": 2, "maxReplicas": 6, "targetCpuPercent": 70})
    return spec | extra


def stack(services: dict[str, dict[str, Any]], *, kubernetes: bool = False) -> dict[str, Any]:
    config = {
        "aws:region": "us-east-1",
        "cutover:stateStack": f"{ORGANIZATION}/{PROJECT}/dev",
        "cutover:network": {**NETWORK, "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                            "testListenerPort": 8443, "testListenerCidrs": ["10.0.0.0/8"]},
        "cutover:dns": {**DNS, "ttl": 60},
        "cutover:notifications": [{"url": "https://hooks.example.com/services/x", "kind": "slack"}],
        "cutover:services": services,
    }
    if kubernetes:
        config["cutover:kubernetes"] = {"namespace": "shop", "version": "1.32", "ingressClass": "nginx", "hostSuffix": "shop.example.com",
                                        "gateway": {"name": "public", "namespace": "gateway-system"}}
    return config


AWS_BASES = {
    "aws canary on alb and blue-green on route53": stack({
        "web": aws_service("canary", analysis=ANALYSIS, hooks=HOOKS, stickySessions={"durationSeconds": 3600},
                           host="web.example.com", priority=120),
        "admin": aws_service("blue-green", router="route53", approve="2", abort="3"),
    }),
    "aws red-black and rolling on alb": stack({
        "web": aws_service("red-black", pathPrefix="/web", promote="2", hooks={"smoke": [{"path": "/"}]}),
        "batch": aws_service("rolling", recover={"stableColor": "blue", "stableVersion": "1"}),
    }),
    "aws shadow then canary or blue-green": stack({
        "web": aws_service("shadow", then="canary", steps=[10, 100], mirrorPercent=50, mirrorMethods=["GET", "HEAD"], priority=100),
        "api": aws_service("shadow", then="blue-green", priority=200),
    }) | {"cutover:promotion": {"from": "staging", "requireAnalysis": True}},
}
KUBERNETES_BASES = {
    "kubernetes canary on gateway and blue-green on service": stack({
        "api": kubernetes_service("canary", "gateway", analysis=ANALYSIS, hooks=HOOKS),
        "admin": kubernetes_service("blue-green", "service", stickySessions={"durationSeconds": 600}),
    }, kubernetes=True),
    "kubernetes red-black and rolling on nginx": stack({
        "api": kubernetes_service("red-black", "nginx", stickySessions={"durationSeconds": 600}, pathPrefix="/api", host=None),
        "batch": kubernetes_service("rolling", "nginx", maxSurge="25%"),
    }, kubernetes=True),
    "kubernetes shadow and rolling on gateway": stack({
        "api": kubernetes_service("shadow", "gateway", then="canary", steps=[10, 100], mirrorPercent=10),
        "batch": kubernetes_service("rolling", "gateway", maxSurge="2"),
    }, kubernetes=True),
}
SHIPPED = {f"Pulumi.{name}.yaml": stack_config(PROJECT_ROOT / f"Pulumi.{name}.yaml") for name in ("dev", "staging", "prod")}
BASES = {**AWS_BASES, **KUBERNETES_BASES, **SHIPPED}


def short_keys(config: dict[str, Any]) -> dict[str, Any]:
    """The `cutover:*` values of a stack config, keyed as `load_config` takes them."""
    return {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}


def as_the_engine_passes_it(config: dict[str, Any]) -> dict[str, Any]:
    """What the program reads: every value a string, objects as JSON (rehearsal/engine.py, like the CLI)."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in short_keys(config).items()}


@pytest.mark.parametrize("name", list(BASES))
def test_every_config_the_fuzzer_starts_from_is_valid(name):
    assert load_config(short_keys(BASES[name])).services


# --- what goes wrong ------------------------------------------------------------------------------------------

YAML_ODDITIES = ["1.10", "1.20", "1.0", "on", "off", "yes", "no", "True", "FALSE", "0o17", "017", "0x1F", "1e3", "1.0e+3",
                 "2026-01-01", "2026-01-01 10:00:00", "~", "null", "", ".inf", "-.inf", ".nan", "1_000", "12:30", "12:30:00",
                 "!!binary aGVsbG8=", "[]", "{}", "[on, off]", "{a: 1}", "'1.10'", "!!float 1", ".5", "+1", "0b101", "-0"]
ODD_VALUES = {text: yaml.safe_load(f"value: {text}")["value"] for text in YAML_ODDITIES}
"""What YAML 1.1 (PyYAML, the rehearsal's reader) makes of each unquoted scalar."""

NASTY_TEXT = ["", " ", "\x00", "\t", "line\nbreak", "\u202eevil", "é", "🚀", "日本", "\ud7ff", "a" * 300, "x" * 100_000,
              "{not json", "[1, 2]", "null", "1.10", "25%", "0%", "101%", "9" * 5000, "9" * 5000 + "%", "-1", "nginx:1.27",
              "nginx@sha256:abc", "http://", "/", "/a b", "0.0.0.0/0", "blue", "Canary", "bluegreen", "ALB", "Kubernetes",
              "get", "GET", "secret:key", "a:b", "vpc-", "arn:aws:acm:", "1", "true", "port\n", "a.b", "a: b"]
NUMBERS = [0, -1, 1, 2, 7, 80, 99, 100, 101, 255, 600, 65_535, 65_536, 604_801, 2**31, 2**63, 10**30, 10**400, -(10**400),
           0.5, -0.0, 1.5, 1e308, 99.999]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(NASTY_TEXT),
)
nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)
odd_yaml = st.sampled_from(YAML_ODDITIES).map(ODD_VALUES.__getitem__)
garbage = st.one_of(scalars, nested, odd_yaml)

FREE_FORM = {"services", "environment", "secrets"}
"""Mappings whose keys the user names: a new key there is a new entry, not an unknown setting."""
ALL_FIELD_NAMES = {
    name for model in vars(config_module).values()
    if isinstance(model, type) and issubclass(model, pydantic.BaseModel) and model is not pydantic.BaseModel
    for field_name, field in model.model_fields.items() for name in (field_name, field.alias)
}


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key path into a config (`("cutover:services", "web", "strategy", "steps", 0)`), containers included."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            if prefix or str(key).startswith(PREFIX):
                yield from paths(child, (*prefix, key))
    elif isinstance(value, list) and len(value) <= 20:
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def at(config: Any, path: tuple) -> Any:
    for part in path:
        config = config[part]
    return config


def kind_of(value: Any) -> str:
    """The JSON kind of a value: a different kind where a key's type is fixed is a type error there."""
    for kind, types_ in (("null", type(None)), ("bool", bool), ("number", (int, float)), ("text", str), ("list", list), ("mapping", dict)):
        if isinstance(value, types_):
            return kind
    return "other"


def typos(key: str) -> list[str]:
    """Misspellings of a key: a letter short, plural, other case, snake_case, rotated, a 3 for an e."""
    variants = {key[:-1], key + "s", key.lower(), key.upper(), key.capitalize(), re.sub(r"([A-Z])", r"_\1", key).lower(),
                key[1:] + key[0], key.replace("e", "3")} - {key, ""}
    return sorted(variants) or [key + "x"]


def typo(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from(typos(key))


KINDS = ["garbage", "garbage", "yaml", "number", "number", "text", "text", "delete", "unknown key", "rename", "huge list"]
"""Mutations, the likelier ones listed twice; each picks a key path it applies to."""


def aims(kind: str, config: dict[str, Any]) -> list[tuple]:
    """The key paths a kind of mutation applies to: numbers for `number`, text for `text`, lists for `huge list`..."""
    every = list(paths(config))
    fits = {
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "text": lambda v: isinstance(v, str),
        "huge list": lambda v: isinstance(v, list),
        "unknown key": lambda v: isinstance(v, dict),
    }.get(kind)
    chosen = [path for path in every if fits is None or fits(at(config, path))]
    if kind == "unknown key":
        chosen.append(())  # a new top-level `cutover:` key
    if kind == "rename":
        chosen = [path for path in every if isinstance(path[-1], str)]
    return chosen or every


@st.composite
def mutation(draw, config: dict[str, Any], *, json_only: bool = False) -> tuple[str, tuple, Any]:
    """Apply one random mutation to `config` in place; returns (what, key path it aims at, the new value or old path)."""
    what = draw(st.sampled_from(KINDS))
    if what == "yaml" and json_only:
        what = "garbage"
    path = draw(st.sampled_from(aims(what, config)))
    if what == "unknown key":  # a key nobody defined, or a known key misspelt, in a block
        block = at(config, path)
        new_key = draw(st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(sorted(ALL_FIELD_NAMES)), st.sampled_from(NASTY_TEXT),
                                 typo(str(path[-1]) if path else "services")))
        new_key = new_key if path else PREFIX + new_key
        if new_key in block:
            return "nothing", path, None
        block[new_key] = draw(garbage)
        return what, (*path, new_key), None
    parent, key = at(config, path[:-1]), path[-1]
    current = parent[key]
    if what == "rename":
        new_key = draw(typo(key.removeprefix(PREFIX)))
        new_key = PREFIX + new_key if len(path) == 1 else new_key
        if new_key in parent:
            return "nothing", path, None
        parent[new_key] = parent.pop(key)
        return what, (*path[:-1], new_key), path
    if what == "delete":
        parent.pop(key)
        return what, path, None
    if what == "garbage":
        value = draw(garbage)
    elif what == "yaml":
        value = draw(odd_yaml)
    elif what == "number":
        value = draw(st.sampled_from(NUMBERS) | st.sampled_from(NUMBERS) | st.integers(-(2**70), 2**70) | st.floats())
    elif what == "text":
        value = draw(st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=40),
                               st.builds(lambda i, extra: current[:i] + extra + current[i:], st.integers(0, len(current)),
                                         st.sampled_from(["\x00", "\n", " ", ":", "@", "é", "\u200b", "%", "/", "*", ".", "-"]))))
    else:  # a huge list
        seed = current[0] if isinstance(current, list) and current else current
        value = draw(st.sampled_from([lambda: [seed] * HUGE, lambda: list(range(1, HUGE + 1)), lambda: [str(i) for i in range(HUGE)]]))()
    if json_only:  # what a JSON string can hold: a date becomes its text
        value = json.loads(json.dumps(value, default=str))
    parent[key] = value
    return what, path, value


def json_safe(value: Any) -> bool:
    try:
        return json.loads(json.dumps(value, allow_nan=False)) == value
    except (TypeError, ValueError):
        return False


@st.composite
def mutated(draw, bases: dict[str, dict[str, Any]], *, json_only: bool = False) -> tuple[str, dict[str, Any], list]:
    name = draw(st.sampled_from(sorted(bases)))
    config = copy.deepcopy(bases[name])
    done = [draw(mutation(config, json_only=json_only)) for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3])))]
    note(f"from {name}: {[(what, path) for what, path, _ in done]}")
    return name, config, done


# --- the properties -------------------------------------------------------------------------------------------

JARGON = ("Input should", "String should", "List should", "Dictionary should", "Value error", "Assertion failed", "validation error",
          "type=", "input_value", "For further information", "errors.pydantic.dev", "model_type", "union_tag", "[key]",
          "pydantic", "Field required", "Extra inputs", "instance of", "unable to parse", "Traceback", "StrategyConfig",
          "ServiceConfig", "CutoverConfig", "Exceeds the limit", "sys.set_int_max_str_digits")
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
REGEX_BITS = ("\\d", "\\S", "\\s", "[^", "(?", "^[", "]+", "]*", "{0,", "[a-z", "[0-9", "[A-Z")
KEY = r'(?:[\w-]{1,64}|"(?:[^"\\]|\\.)*")'
LINE = re.compile(rf"^{re.escape(PREFIX)}(?P<path>{KEY}(?:\.{KEY})*): (?P<words>.+)$", re.S)
SUMMARY = re.compile(rf"^{re.escape(PREFIX)} \d+ more problems not shown; fix these first$")
LONGEST_LINE = 1_000


def refusal(raw: dict[str, Any]) -> str | None:
    """(a): None when the config is accepted, else the message; any other exception fails the test."""
    try:
        accepted = load_config(raw)
    except CutoverConfigError as err:
        return str(err)
    assert_carried_by_the_providers(accepted.model_dump(by_alias=True))
    return None


INT32 = 2**31 - 1


def assert_carried_by_the_providers(value: Any, path: str = "cutover") -> None:
    """An accepted config holds numbers the providers can carry: 32-bit counts (Kubernetes' int32 fields; Pulumi's
    wire format is a double), finite floats (a double); `maxSurge` is an int32 count or a percentage."""
    if isinstance(value, dict):
        for key, child in value.items():
            assert_carried_by_the_providers(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            assert_carried_by_the_providers(child, f"{path}.{index}")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        assert -INT32 <= value <= INT32, f"{path}: {value} accepted"
    elif isinstance(value, float):
        assert math.isfinite(value), f"{path}: {value} accepted"
    elif path.endswith(".maxSurge") and value.isdigit():
        assert len(value) <= 10 and int(value) <= INT32, f"{path}: a surge of {len(value)} digits accepted"


def key_path(text: str) -> list[str]:
    return [json.loads(part) if part.startswith('"') else part for part in re.findall(KEY, text)]


def leads_into(config: Any, path: list[str]) -> bool:
    """The path names keys the user wrote; only its last key may be missing (a required or cross-field key)."""
    for depth, part in enumerate(path):
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except (ValueError, RecursionError):
                return depth == len(path)
        if isinstance(config, dict):
            keys = [key for key in config if str(key) == part or (part.endswith("…") and str(key).startswith(part[:-1]))]
            if not keys:
                return depth == len(path) - 1
            config = config[keys[0]]
        elif isinstance(config, list) and part.isdigit() and int(part) < len(config):
            config = config[int(part)]
        else:
            return depth == len(path) - 1
    return True


def check_message(message: str, raw: dict[str, Any]) -> list[list[str]]:
    """(b): returns the key path each line names ([] for the summary line)."""
    lines = message.split("\n")
    assert 1 <= len(lines) <= MAX_PROBLEMS + 1, f"{len(lines)} lines"
    named = []
    for line in lines:
        assert len(line) <= LONGEST_LINE, f"a line of {len(line)} characters: {line[:200]}…"
        if SUMMARY.match(line):
            named.append([])
            continue
        match = LINE.match(line)
        assert match, f"not `cutover:<key path>: <words>`: {line!r}"
        words = match["words"]
        assert re.search(r"[a-z]{2,} [a-z]{2,}", words), f"no words: {line!r}"
        for jargon in JARGON:
            assert jargon not in words, f"pydantic jargon {jargon!r}: {line!r}"
        for pattern in PATTERN_WORDS:
            assert pattern not in words, f"a regular expression: {line!r}"
        unquoted = QUOTED.sub("", words)  # what the user wrote is echoed quoted, and may hold anything
        for bit in REGEX_BITS:
            assert bit not in unquoted, f"a regular expression: {line!r}"
        path = key_path(match["path"])
        assert leads_into(raw, path), f"{line!r} names a key path that is not in the config"
        named.append(path)
    return named


def names(named: list[list[str]], path: tuple) -> bool:
    """Some line names `path` or a key below it."""
    wanted = [str(part).removeprefix(PREFIX) if i == 0 else str(part) for i, part in enumerate(path)]
    short = [w if len(w) <= 60 and re.fullmatch(r"[\w-]{1,64}", w) else None for w in wanted]
    return any(len(p) >= len(wanted) and all(s is None or s == q or q.startswith(s) for s, q in zip(short, p)) for p in named)


def as_read(path: tuple, value: Any) -> Any:
    """A top-level value as the program reads it: text is JSON unless the key is a plain one (`stateStack`)."""
    if len(path) == 1 and isinstance(value, str) and path[0].removeprefix(PREFIX) not in PLAIN_KEYS:
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def check_mutated(base: dict[str, Any], config: dict[str, Any], done: list) -> str | None:
    """(a) and (b), and with a single mutation: a key of the wrong kind, or an unknown or misspelt one, is named."""
    raw = short_keys(config)
    message = refusal(raw)
    if message is None:
        return None
    named = check_message(message, raw)
    if len(done) == 1:
        what, path, value = done[0]
        if what in ("garbage", "yaml", "number", "text", "huge list"):
            before, after = kind_of(at(base, path)), kind_of(as_read(path, value))
            if before != after and "null" not in (before, after) and (before, after) != ("number", "text"):
                assert names(named, path), f"a {after} where a {before} was: {message}"
        elif what == "unknown key" and not set(map(str, path[-2:-1])) & FREE_FORM and str(path[-1]) not in ALL_FIELD_NAMES:
            assert names(named, path), f"an unknown key {path[-1]!r} is not named: {message}"
        elif what == "rename" and not set(map(str, path[-2:-1])) & FREE_FORM and str(path[-1]) not in ALL_FIELD_NAMES:
            assert names(named, path) or names(named, value), f"a renamed key is not named: {message}"
    return message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated(AWS_BASES))
def test_mutated_aws_configs_are_accepted_or_refused_in_words_naming_the_key(case):
    name, config, done = case
    check_mutated(AWS_BASES[name], config, done)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated(KUBERNETES_BASES))
def test_mutated_kubernetes_configs_are_accepted_or_refused_in_words_naming_the_key(case):
    name, config, done = case
    check_mutated(KUBERNETES_BASES[name], config, done)


@st.composite
def one_yaml_oddity(draw) -> tuple[dict[str, Any], tuple, str]:
    """A shipped or fuzzer base with one leaf written as an unquoted YAML scalar, read back as YAML reads it."""
    name = draw(st.sampled_from(sorted(BASES)))
    config = copy.deepcopy(BASES[name])
    leaves = [path for path in paths(config) if not isinstance(at(config, path), (dict, list))]
    path = draw(st.sampled_from(leaves))
    text = draw(st.sampled_from(YAML_ODDITIES))
    at(config, path[:-1])[path[-1]] = yaml.safe_load(f"value: {text}")["value"]
    note(f"from {name}: {path} written as {text!r}")
    return config, path, text


@settings(max_examples=300, deadline=None)
@given(one_yaml_oddity())
def test_yaml_oddities_are_accepted_or_refused_naming_the_key_with_a_hint_to_quote_text(case):
    config, path, text = case
    raw = short_keys(config)
    message = refusal(raw)
    if message is None:
        return
    value = at(config, path)
    wanted = [str(part).removeprefix(PREFIX) for part in path]
    for line, named in zip(message.split("\n"), check_message(message, raw)):
        if named == wanted and "must be text" in line and isinstance(value, (int, float, datetime.date, datetime.time)):
            assert "quote it" in line, line


JSON_TEXTS = ['{"web": {}}', "{}", "[]", "{", "null", "5", "NaN", '"text"', '{"web": {"port": ' + "9" * 5000 + "}}",
              "[" * 100_000 + "]" * 100_000, '{"web": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001]
"""A top-level value as the engine passes it, JSON text: broken, of the wrong kind, a 5,000-digit number, nested 100,000 deep."""
random_values = st.one_of(nested, st.text(max_size=30), st.sampled_from(JSON_TEXTS))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(CONFIG_KEYS), st.text(max_size=10)), random_values, max_size=6))
def test_random_configs_are_accepted_or_refused_in_words(raw):
    message = refusal(raw)
    if message is not None:
        check_message(message, raw)


def _inner(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


PLAUSIBLE = {
    str: st.sampled_from(["nginx", "1.27", "/", "/healthz", "canary", "blue-green", "red-black", "rolling", "shadow", "alb",
                          "route53", "gateway", "nginx", "service", "kubernetes", "aws", "GET", "25%", "1.32", "shop",
                          "vpc-0abc", "http://prometheus:9090", "blue", "staging", "db:password", "example.com"]),
    int: st.integers(-2, 70_000),
    float: st.floats(-1, 2),
    bool: st.booleans(),
}


def shaped(annotation: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Random values shaped like the schema: the right keys (and a few wrong ones), plausible or garbage values."""
    annotation = _inner(annotation)
    origin = get_origin(annotation)
    if origin is list:
        return st.lists(shaped(get_args(annotation)[0], depth + 1), max_size=4) | garbage
    if origin is dict:
        return st.dictionaries(st.sampled_from(["web", "api", "LOG_LEVEL", "Web", "a b"]), shaped(get_args(annotation)[1], depth + 1),
                               max_size=3) | garbage
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        if depth > 6:
            return garbage
        fields = {(field.alias or name): field for name, field in annotation.model_fields.items()}
        return st.fixed_dictionaries({}, optional={
            **{key: st.deferred(lambda f=field: shaped(f.annotation, depth + 1)) for key, field in fields.items()},
            "bogus": garbage,
        })
    if isinstance(annotation, type) and issubclass(annotation, str):  # enums are str enums
        return (st.sampled_from([member.value for member in annotation]) if annotation is not str else PLAUSIBLE[str]) | garbage
    return PLAUSIBLE.get(annotation, garbage) | garbage


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(shaped(CutoverConfig))
def test_random_configs_shaped_like_the_schema_are_accepted_or_refused_in_words(raw):
    raw.pop("bogus", None)
    message = refusal(raw)
    if message is not None:
        check_message(message, raw)


DIGITS = ["9" * n + suffix for n in (10, 11, 4300, 4301, 5000) for suffix in ("", "%")]
"""Digit strings around int32 and Python's 4300-digit conversion limit."""
SWEEP_ANY = [None, True, False, [], {}, [None], {"": None}, *ODD_VALUES.values()]
SWEEP = {"number": NUMBERS, "text": [*NASTY_TEXT, *DIGITS]}
NASTY_KEYS = ["", " ", "port\n", "a.b", "a: b", "x" * 100, "\x00", "é", "🚀", "Port", "health_check_path", "[key]", '"', "1"]


@pytest.mark.parametrize("name", list(AWS_BASES) + list(KUBERNETES_BASES))
def test_every_key_with_every_troublesome_value_is_accepted_or_refused_in_words_naming_it(name):
    """The deterministic half of the fuzzing: each key path in turn gets each troublesome value of its kind
    (text: unicode, control characters, 100,000 characters, digit strings of 5,000 digits; numbers: 0, -1,
    10**400, fractions...) and each value of any kind (null, lists, mappings, every YAML oddity); each key is
    misspelt in each way `typos` knows; each block gets each troublesome key (empty, a newline, a dot, 100 characters)."""
    base, config = BASES[name], copy.deepcopy(BASES[name])
    for path in list(paths(config)):
        parent, key = at(config, path[:-1]), path[-1]
        original = parent[key]
        for value in [*SWEEP_ANY, *SWEEP.get(kind_of(original), []), *(JSON_TEXTS if len(path) == 1 else [])]:
            parent[key] = value
            try:
                check_mutated(base, config, [("garbage", path, value)])
            except AssertionError as err:
                raise AssertionError(f"{path} = {value!r:.80}: {err}") from None
        parent[key] = original
    for path in [p for p in paths(config) if isinstance(p[-1], str)]:
        parent, key = at(config, path[:-1]), path[-1]
        for new_key in typos(key.removeprefix(PREFIX)):
            new_key = PREFIX + new_key if len(path) == 1 else new_key
            if new_key not in parent:
                renamed = {(new_key if k == key else k): v for k, v in parent.items()}
                parent.clear()
                parent.update(renamed)
                try:
                    check_mutated(base, config, [("rename", (*path[:-1], new_key), path)])
                except AssertionError as err:
                    raise AssertionError(f"{path} renamed {new_key!r}: {err}") from None
                restored = {(key if k == new_key else k): v for k, v in parent.items()}
                parent.clear()
                parent.update(restored)
    for path in [(), *(p for p in paths(config) if isinstance(at(config, p), dict))]:
        block = at(config, path)
        for key in NASTY_KEYS if path else [PREFIX + key for key in NASTY_KEYS]:
            if key not in block:
                block[key] = "1"
                try:
                    check_mutated(base, config, [("unknown key", (*path, key), None)])
                except AssertionError as err:
                    raise AssertionError(f"{(*path, key)}: {err}") from None
                del block[key]


# --- (c) through the whole program ----------------------------------------------------------------------------

@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.filter_too_much])
@given(mutated(BASES, json_only=True))
def test_through_the_program_a_refused_config_registers_nothing_and_the_error_is_the_message(case):
    _, config, done = case
    assume(json_safe(config))
    expected = refusal(as_the_engine_passes_it(config))
    assume(expected is not None)
    run = Stack(config).up()
    assert run.result.error == expected, f"the run says {run.result.error!r}, the config check says {expected!r}"
    assert run.result.resources == {} and run.result.failed == [], "a resource was registered before the error"


HIGHS = [2**70, INT32, 10**9, 10**6, 1_048_576, 604_800, 86_400, 65_536, 65_535, 49_999, 43_200, 1_000, 599, 100, 95, 60, 10]
LOWS = [-(2**70), -1, 0, 1, 10, 60, 100, 256, 512]
TEXTS = ["x" * 10_000, "é🚀\u202e日本\x00\n\t", "1000", "100%", "1%", "/é🚀", "/" + "x" * 10_000, "a" * 128]


def extreme(base: dict[str, Any], candidates: Any) -> dict[str, Any]:
    """The base with each leaf in turn set to the first of its candidates the config check still accepts."""
    config = copy.deepcopy(base)
    for path in [p for p in paths(config) if not isinstance(at(config, p), (dict, list)) or at(config, p) == []]:
        for candidate in candidates(at(config, path)):
            trial = copy.deepcopy(config)
            at(trial, path[:-1])[path[-1]] = candidate
            if refusal(short_keys(trial)) is None:
                config = trial
                break
    return config


def numbers(candidates: list[int]) -> Any:
    return lambda v: candidates if isinstance(v, (int, float)) and not isinstance(v, bool) else []


def texts(v: Any) -> list[str]:
    return [t if not v.startswith("/") or t.startswith("/") else "/" + t for t in TEXTS] if isinstance(v, str) else []


EXTREMES = {
    "the highest numbers and the longest, strangest text": lambda base: extreme(extreme(base, numbers(HIGHS)), texts),
    "the lowest numbers": lambda base: extreme(base, numbers(LOWS)),
}


@pytest.mark.parametrize("extremes", list(EXTREMES))
@pytest.mark.parametrize("name", list(AWS_BASES) + list(KUBERNETES_BASES))
def test_through_the_program_an_accepted_config_at_its_extremes_runs_without_an_exception(name, extremes):
    """Every value the check accepts, the program can carry: each leaf pushed to the edge of what is accepted."""
    config = EXTREMES[extremes](BASES[name])
    assert config != BASES[name]
    stack = Stack(config)
    first, second = stack.up(), None
    if first.result.error is None:  # and the run that starts a rollout of every service
        stack.set("cutover:services", {svc: {**spec, "version": "2"} for svc, spec in config["cutover:services"].items()})
        second = stack.up()
    for run in (first, second):
        if run is not None:
            error = run.result.error or ""
            assert not re.match(r"^\w+(Error|Exception|Exit)\b", error), f"the program crashed: {error[:500]}"
            assert run.result.failed == [], run.result.failed
