"""The pure pieces of the Kubernetes manifests: exact values, table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.kubernetes.manifest import (
    HorizontalScaling,
    InvalidKubernetesSetting,
    backend_ref_weights,
    canary_weight,
    candidate_service_color,
    compute_resources,
    container_env,
    hpa_bounds,
    label_value,
    max_surge,
    route_refusal,
    secret_ref,
    weights_from_colors,
)
from tests.kubernetes.harness import ACCEPTED, BACKEND_MISSING, GATEWAY_REF, NOT_ALLOWED, condition, parent

LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


@pytest.mark.parametrize(
    "setting, expected",
    [("25%", "25%"), ("100%", "100%"), ("1", 1), ("3", 3)],
    ids=["a percentage stays a string", "100 percent is allowed", "a count becomes an integer", "three surge pods"],
)
def test_max_surge_becomes_int_or_string(setting, expected):
    assert max_surge(setting) == expected


@pytest.mark.parametrize(
    "setting",
    ["0", "0%", "101%", "a few"],
    ids=["zero surge would stall a rollout with maxUnavailable 0", "zero percent too", "above 100 percent", "not a number"],
)
def test_max_surge_rejects_what_kubernetes_cannot_roll(setting):
    with pytest.raises(InvalidKubernetesSetting):
        max_surge(setting)


@pytest.mark.parametrize(
    "value, expected",
    [("db:password", ("db", "password")), ("api-db.v2:DB_PASSWORD", ("api-db.v2", "DB_PASSWORD"))],
    ids=["a secret and its key", "dots and capitals in the key"],
)
def test_secret_ref_splits_name_and_key(value, expected):
    assert secret_ref(value) == expected


@pytest.mark.parametrize(
    "value",
    ["arn:aws:secretsmanager:us-east-1:1:secret:x", "no-key", "Upper:key", ":key"],
    ids=["an AWS ARN is not a Kubernetes secret", "a name without a key", "secret names are lowercase", "no name"],
)
def test_secret_ref_rejects_other_formats(value):
    with pytest.raises(InvalidKubernetesSetting):
        secret_ref(value)


def test_env_holds_plain_values_and_secret_refs_sorted_by_name():
    assert container_env({"B": "2"}, {"A": "creds:token"}) == [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "B", "value": "2"},
    ]


def test_resources_turn_aws_units_into_millicores_with_requests_equal_to_limits():
    assert compute_resources(512, 1024) == {
        "requests": {"cpu": "500m", "memory": "1024Mi"},
        "limits": {"cpu": "500m", "memory": "1024Mi"},
    }


@pytest.mark.parametrize(
    "stable, candidate, deployed, expected",
    [
        ("blue", "green", True, "green"),
        ("green", "blue", False, "green"),
        ("blue", "green", False, "blue"),
    ],
    ids=[
        "it follows a candidate in flight",
        "after promotion it stays on the promoted color",
        "with no candidate it stays on the stable color",
    ],
)
def test_candidate_service_color(stable, candidate, deployed, expected):
    assert candidate_service_color(stable, candidate, deployed) == expected


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"rules": [{"backendRefs": [{"name": "a", "weight": 90}, {"name": "b", "weight": 10}]}]}, {"blue": 90, "green": 10}),
        ({"rules": [{"backendRefs": [{"name": "a", "weight": 100.0}]}]}, {"blue": 100, "green": 0}),
        ({"rules": []}, {"blue": 0, "green": 0}),
        (None, {"blue": 0, "green": 0}),
    ],
    ids=["weights map to colors by Service name", "float weights from the engine", "no rule applies nothing", "no spec applies nothing"],
)
def test_backend_ref_weights(spec, expected):
    assert backend_ref_weights(spec, {"a": "blue", "b": "green"}) == expected


def test_weights_of_two_role_services_on_one_color_add_up():
    assert weights_from_colors([("green", 100), ("green", 0)]) == {"blue": 0, "green": 100}


@pytest.mark.parametrize(
    "annotations, expected",
    [({"nginx.ingress.kubernetes.io/canary-weight": "10"}, 10), ({}, 0), (None, 0)],
    ids=["the applied annotation", "no annotation is weight 0", "no annotations at all"],
)
def test_canary_weight(annotations, expected):
    assert canary_weight(annotations) == expected


@given(st.from_regex(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", fullmatch=True))
def test_every_image_tag_becomes_a_valid_label_value(tag):
    import re

    value = label_value(tag)
    assert len(value) <= 63 and re.match(LABEL_VALUE, value) and value


SPEC = {"parentRefs": [GATEWAY_REF]}
SCALING = HorizontalScaling(min_replicas=2, max_replicas=6, target_cpu_percent=70)


@pytest.mark.parametrize(
    "planned, expected",
    [(0, None), (1, (2, 6)), (2, (2, 6)), (3, (3, 6)), (6, (6, 6))],
    ids=[
        "a scaled-down color gets no HPA (minReplicas 0 needs HPAScaleToZero and a non-CPU metric)",
        "a color planned below the floor runs at least the floor",
        "a color planned at the floor",
        "a color planned above the floor keeps its planned capacity as the floor",
        "planned at the ceiling pins the color there",
    ],
)
def test_hpa_bounds(planned, expected):
    assert hpa_bounds(planned, SCALING) == expected


def test_no_autoscaling_means_no_hpa():
    assert hpa_bounds(3, None) is None


@pytest.mark.parametrize(
    "status, metadata, expected",
    [
        ({"parents": [ACCEPTED]}, {"namespace": "shop", "generation": 1}, None),
        ({"parents": [NOT_ALLOWED]}, {"namespace": "shop"},
         "Gateway gateway-system/public reports Accepted=False (NotAllowedByListeners: no listener allows routes from namespace shop)"),
        ({"parents": [BACKEND_MISSING]}, {"namespace": "shop"},
         "Gateway gateway-system/public reports ResolvedRefs=False (BackendNotFound: service shop/api-green not found)"),
        ({"parents": [parent(condition("Accepted", "Unknown", "Pending"), condition("ResolvedRefs"))]}, {"namespace": "shop"},
         "Gateway gateway-system/public reports Accepted=Unknown (Pending)"),
        ({"parents": [parent(condition("Accepted"))]}, {"namespace": "shop"}, "Gateway gateway-system/public reports no ResolvedRefs condition"),
        ({"parents": []}, {"namespace": "shop"}, "Gateway gateway-system/public has not attached it (no entry in status.parents)"),
        ({"parents": [{**ACCEPTED, "parentRef": {**GATEWAY_REF, "name": "internal"}}]}, {"namespace": "shop"},
         "Gateway gateway-system/public has not attached it (no entry in status.parents)"),
        ({"parents": [ACCEPTED]}, {"namespace": "shop", "generation": 2},
         "Gateway gateway-system/public has not seen generation 2 of it yet (Accepted is of generation 1)"),
        ({"parents": [{**ACCEPTED, "parentRef": {"name": "public", "namespace": "gateway-system"}}]}, {"namespace": "shop"}, None),
        (None, {"namespace": "shop"}, None),
    ],
    ids=[
        "accepted with resolved backends carries its spec",
        "a listener that does not allow the namespace refuses it",
        "a backend the Gateway cannot resolve",
        "a Gateway still deciding has not accepted it",
        "an entry without ResolvedRefs is not taken as resolved",
        "an empty parents list means attached to no Gateway",
        "another Gateway's acceptance does not count",
        "conditions of an older generation say nothing about the current spec",
        "group and kind left to their defaults still match",
        "no status at all is left to the waitFor of the update (README limit)",
    ],
)
def test_route_refusal(status, metadata, expected):
    assert route_refusal(SPEC, status, metadata) == expected
