"""Per-stack config files, enforcement levels, settings schemas and the pack's own conventions."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from policies.offline import (
    CONFIG_DIR,
    SUPPORTED_SCHEMA_KEYWORDS,
    PolicyConfigError,
    evaluate,
    load_stack_config,
    resolve_config,
)
from policies.rules import ALL_POLICIES

from .builders import ecs_service, listener_rule

POLICIES = Path(__file__).resolve().parents[2] / "policies"
NAMES = {p.name for p in ALL_POLICIES}


@pytest.mark.parametrize(("stack", "level"), [("dev", EnforcementLevel.ADVISORY), ("staging", EnforcementLevel.MANDATORY),
                                             ("prod", EnforcementLevel.MANDATORY)])
def test_each_stack_config_sets_every_policy_to_its_level(stack: str, level: EnforcementLevel) -> None:
    resolved = resolve_config(load_stack_config(stack))
    assert {name: c.enforcement_level for name, c in resolved.items()} == {name: level for name in NAMES}


@pytest.mark.parametrize(("stack", "production"), [("dev", False), ("staging", False), ("prod", True)])
def test_only_prod_turns_on_the_production_checks(stack: str, production: bool) -> None:
    resolved = resolve_config(load_stack_config(stack))
    takes_production = [p.name for p in ALL_POLICIES if p.config_schema and "production" in p.config_schema.properties]
    assert takes_production == ["ecs-minimum-healthy-percent", "rollout-step-discipline"]
    assert all(resolved[name].properties["production"] is production for name in takes_production)


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.json")), ids=lambda p: f"{p.name} names only real policies and settings")
def test_config_files_name_only_real_policies_and_settings(path: Path) -> None:
    config = json.loads(path.read_text())
    by_name = {p.name: p for p in ALL_POLICIES}
    for name, value in config.items():
        assert name == "all" or name in by_name, f"{path.name}: unknown policy {name!r}"
        if isinstance(value, dict):
            known = set(by_name[name].config_schema.properties) if by_name[name].config_schema else set()
            assert set(value) - {"enforcementLevel"} <= known, f"{path.name}: {name} has unknown settings"


def test_the_prod_config_blocks_what_dev_only_reports() -> None:
    bad = [ecs_service(deploymentMinimumHealthyPercent=50, deploymentCircuitBreaker=None)]
    dev = evaluate(bad, load_stack_config("dev"))
    prod = evaluate(bad, load_stack_config("prod"))
    assert {(v.policy_name, v.enforcement_level) for v in dev} == {("ecs-circuit-breaker-rollback", "advisory")}
    assert {(v.policy_name, v.enforcement_level) for v in prod} == {("ecs-circuit-breaker-rollback", "mandatory"),
                                                                  ("ecs-minimum-healthy-percent", "mandatory")}


def test_without_config_every_policy_is_advisory_with_schema_defaults() -> None:
    resolved = resolve_config(None)
    assert {c.enforcement_level for c in resolved.values()} == {EnforcementLevel.ADVISORY}
    assert resolved["rollout-step-discipline"].properties == {
        "production": False, "maxStepPercent": 50, "allowManualPromotion": False,
        "requirePromotionEvidence": True}
    assert resolved["alb-target-group-health"].properties == {"maxDeregistrationDelaySeconds": 120}


def test_a_disabled_policy_does_not_run() -> None:
    bad = [listener_rule(weights=[0, 0])]
    assert evaluate(bad, {"all": "mandatory", "alb-forward-weights": "disabled"},
                    policies=[p for p in ALL_POLICIES if p.name == "alb-forward-weights"]) == []


def test_a_per_policy_level_overrides_all() -> None:
    resolved = resolve_config({"all": "mandatory", "k8s-run-as-non-root": {"enforcementLevel": "advisory"}})
    assert resolved["k8s-run-as-non-root"].enforcement_level == EnforcementLevel.ADVISORY
    assert resolved["k8s-readiness-probes"].enforcement_level == EnforcementLevel.MANDATORY


@pytest.mark.parametrize("config", [
    pytest.param({"all": "blocking"}, id="an unknown enforcement level is refused"),
    pytest.param({"rollout-step-discipline": {"maxStepPercent": 0}}, id="a step limit of zero is refused"),
    pytest.param({"rollout-step-discipline": {"maxStepPercent": "50"}}, id="a step limit given as text is refused"),
    pytest.param({"rollout-step-discipline": {"production": "yes"}}, id="production given as text is refused"),
    pytest.param({"alb-modern-tls-policy": {"allowedSslPolicies": [1]}}, id="a non string tls policy is refused"),
    pytest.param({"all": 3}, id="a number instead of a level is refused"),
])
def test_invalid_config_is_refused_like_the_cli(config: dict) -> None:
    with pytest.raises(PolicyConfigError):
        resolve_config(config)


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: f"{p.name} is named, described and leveled")
def test_every_policy_follows_the_pack_conventions(policy) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name)
    assert len(policy.description) > 40
    assert policy.enforcement_level == EnforcementLevel.ADVISORY
    if policy.config_schema:
        for spec in policy.config_schema.properties.values():
            assert set(spec) <= SUPPORTED_SCHEMA_KEYWORDS and "default" in spec and "description" in spec


def test_policy_names_are_unique() -> None:
    assert len(NAMES) == len(ALL_POLICIES)


def test_only_the_entry_point_constructs_the_pack() -> None:
    constructing = []
    for path in POLICIES.rglob("*.py"):
        if "venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PolicyPack":
                constructing.append(path.name)
    assert constructing == ["__main__.py"]


def test_the_pack_pins_its_own_dependencies() -> None:
    pins = set((POLICIES / "requirements.txt").read_text().split())
    assert pins == {"pulumi-policy==1.21.0", "pulumi==3.272.0"}
    assert "runtime:" in (POLICIES / "PulumiPolicy.yaml").read_text()
