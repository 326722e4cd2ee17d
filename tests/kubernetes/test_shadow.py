"""Shadow deployments on Kubernetes (issue 13): the candidate receives mirrored copies of live requests at 0 %,
bakes, is judged against stable over the same window, then the rollout continues with its `then` strategy."""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from typing import Iterator

import jsonschema
import kubernetes_validate
import pytest

from components.config import CutoverConfigError, load_config
from tests.builders import KUBERNETES_VERSION, kubernetes_config, kubernetes_service
from tests.kubernetes.harness import (
    DEPLOYMENT,
    HTTPROUTE,
    INGRESS,
    Rollout,
    httproute_schema,
    kubernetes_objects,
    manifest,
    only,
    replicas,
    route_weights,
)
from tests.servers import _QuietHandler, http_server

MIRROR_TARGET = "nginx.ingress.kubernetes.io/mirror-target"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "DELETE", "PATCH", "CONNECT"]
ERROR_RATE = 'sum(rate(http_requests_total{service="{{service}}",color="{{color}}",code=~"5.."}[{{window}}])) / sum(rate(http_requests_total{service="{{service}}",color="{{color}}"}[{{window}}]))'
LATENCY = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{service}}",color="{{color}}"}[{{window}}])))'


def shadow(then: str = "canary", **extra) -> dict:
    return {"kind": "shadow", "then": then, **({"steps": [10, 100]} if then == "canary" else {}), **extra}


@contextlib.contextmanager
def fake_prometheus(error_rate: dict[str, float], latency_s: dict[str, float]) -> Iterator[str]:
    """Prometheus' instant-query API answering per color: what the reader sends is what a real one would get."""

    class Answer(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["query"][0]
            color = "green" if 'color="green"' in query else "blue"
            value = (latency_s if "duration" in query else error_rate)[color]
            answers.append((color, "latency" if "duration" in query else "error-rate"))
            body = json.dumps({"status": "success", "data": {"resultType": "vector",
                                                             "result": [{"metric": {}, "value": [0, str(value)]}]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    answers: list[tuple[str, str]] = []
    with http_server(Answer) as url:
        yield url


def analysed(url: str) -> dict:
    return {"maxErrorRate": 0.05, "maxLatencyMs": 500,
            "prometheus": {"url": url, "errorRateQuery": ERROR_RATE, "latencyQuery": LATENCY}}


def mirror_filters(run) -> list[dict]:
    route = only(run, HTTPROUTE, "-route")
    return [f for rule in route.inputs["spec"]["rules"] for f in rule.get("filters", [])]


def green_service_name(run) -> str:
    return next(r.outputs["metadata"]["name"] for r in run.of_type("kubernetes:core/v1:Service") if r.name.endswith("-gateway-green"))


# --- config ---------------------------------------------------------------------------------------------

def config_error(strategy: dict, **overrides) -> str:
    with pytest.raises(CutoverConfigError) as caught:
        load_config({"services": {"api": kubernetes_service(overrides.pop("router", "gateway"), strategy, **overrides)},
                     "kubernetes": {"namespace": "shop", "gateway": {"name": "public", "namespace": "gw"}}})
    return str(caught.value)


@pytest.mark.parametrize("strategy, overrides, expected", [
    pytest.param(shadow(), {"platform": "aws", "router": "route53"}, "strategy.kind: shadow is not supported with router route53",
                 id="aws route53 is refused: weighted records cannot copy, the proxy tier sits behind the ALB"),
    pytest.param({"kind": "shadow"}, {}, "strategy.then: a shadow phase continues with blue-green or canary",
                 id="then is required"),
    pytest.param(shadow(then="red-black"), {}, "strategy.then", id="then is blue-green or canary only"),
    pytest.param({"kind": "shadow", "then": "canary"}, {}, "strategy.steps: a canary needs steps", id="then canary needs steps"),
    pytest.param(shadow(mirrorPercent=0), {}, "mirrorPercent", id="mirrorPercent is 1..100"),
    pytest.param(shadow(mirrorMethods=["FETCH"]), {}, "mirrorMethods", id="methods are HTTP methods"),
    pytest.param(shadow(mirrorMethods=["GET", "GET"]), {}, "listed twice", id="a method listed twice"),
    pytest.param({"kind": "canary", "steps": [10, 100], "mirrorPercent": 50}, {}, "only a shadow strategy takes mirrorPercent",
                 id="mirror keys belong to shadow"),
    pytest.param(shadow(then="blue-green"), {"router": "service"}, "router service", id="the service router cannot copy"),
    pytest.param(shadow(), {"router": "nginx"}, "no method filter", id="nginx would copy state-changing methods"),
    pytest.param(shadow(mirrorPercent=50, mirrorMethods=ALL_METHODS), {"router": "nginx"}, "no sampling",
                 id="nginx cannot sample"),
])
def test_config_refuses_what_cannot_shadow(strategy, overrides, expected):
    assert expected in config_error(strategy, **overrides)


def test_config_defaults_mirror_every_request_of_the_idempotent_methods():
    strategy = load_config({"services": {"api": kubernetes_service("gateway", shadow())},
                            "kubernetes": {"namespace": "shop", "gateway": {"name": "p", "namespace": "gw"}}}).services["api"].strategy
    assert strategy.mirror_percent == 100 and [m.value for m in strategy.mirror_methods] == ["GET", "HEAD"]


# --- routers: manifests with the mirror, validated --------------------------------------------------------

def test_gateway_mirrors_only_the_listed_methods_and_the_route_validates():
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(mirrorPercent=25))}))
    rollout.up()
    run = rollout.up(version="1.28")
    route = manifest(only(run, HTTPROUTE, "-route"))
    jsonschema.validate(route, httproute_schema())
    plain, mirrored = route["spec"]["rules"]
    assert "filters" not in plain and plain["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert [m["method"] for m in mirrored["matches"]] == ["GET", "HEAD"]
    assert mirrored["backendRefs"] == plain["backendRefs"], "both rules route by the same weights"
    assert mirrored["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"group": "", "kind": "Service", "name": green_service_name(run), "port": 80}, "percent": 25}}]
    assert route_weights(run) == {"blue": 100, "green": 0}
    assert rollout.record()["mirrorPercent"] == 25


def test_gateway_with_every_method_listed_mirrors_on_the_one_rule():
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(mirrorMethods=ALL_METHODS))}))
    rollout.up()
    route = manifest(only(rollout.up(version="1.28"), HTTPROUTE, "-route"))
    jsonschema.validate(route, httproute_schema())
    assert len(route["spec"]["rules"]) == 1 and route["spec"]["rules"][0]["filters"][0]["requestMirror"]["percent"] == 100


def test_the_httproute_schema_rejects_a_broken_mirror():
    """The schema check has teeth for the filter too."""
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow())}))
    rollout.up()
    route = manifest(only(rollout.up(version="1.28"), HTTPROUTE, "-route"))
    for broken in ({"percent": 101}, {"ratio": 0.5}):
        bad = json.loads(json.dumps(route))
        bad["spec"]["rules"][1]["filters"][0]["requestMirror"].update(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, httproute_schema())
    bad = json.loads(json.dumps(route))
    bad["spec"]["rules"][1]["matches"][0]["method"] = "FETCH"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, httproute_schema())


def test_nginx_mirrors_through_the_main_ingress_and_every_manifest_validates():
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("nginx", shadow(mirrorMethods=ALL_METHODS))}))
    rollout.up()
    run = rollout.up(version="1.28")
    for resource in kubernetes_objects(run):
        kubernetes_validate.validate(manifest(resource), KUBERNETES_VERSION, strict=True)
    main = only(run, INGRESS, "-main").inputs["metadata"]["annotations"]
    candidate = only(run, "kubernetes:core/v1:Service", "-candidate").outputs["metadata"]["name"]
    assert main[MIRROR_TARGET] == f"http://{candidate}.shop.svc.cluster.local$request_uri"
    assert main["nginx.ingress.kubernetes.io/mirror-request-body"] == "on"
    assert MIRROR_TARGET not in only(run, INGRESS, "-canary").inputs["metadata"]["annotations"]
    rollout.up(minutes=6)  # bakeMinutes 0: judged and advanced to 10 %
    assert MIRROR_TARGET not in only(rollout.last, INGRESS, "-main").inputs["metadata"]["annotations"]
    assert rollout.record()["mirrorPercent"] == 0


# --- successive runs ------------------------------------------------------------------------------------

def test_shadow_then_canary_bakes_on_mirrored_traffic_is_judged_against_stable_then_follows_the_steps():
    with fake_prometheus({"green": 0.01, "blue": 0.01}, {"green": 0.12, "blue": 0.1}) as url:
        rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(bakeMinutes=30, analysis=analysed(url)))}))
        rollout.up()
        deployed = rollout.up(version="1.28")
        assert route_weights(deployed) == {"blue": 100, "green": 0} and len(mirror_filters(deployed)) == 1
        assert rollout.record()["mirrorPercent"] == 100 and "mirrored requests" in rollout.record()["reason"]
        baking = rollout.up(minutes=10)
        assert route_weights(baking) == {"blue": 100, "green": 0} and len(mirror_filters(baking)) == 1
        assert "shadowing (mirrored requests only): about 20 min left" in rollout.record()["reason"]
        advanced = rollout.up(minutes=21)
        record = rollout.record()
        assert route_weights(advanced) == {"blue": 90, "green": 10} and record["step"] == 1
        assert mirror_filters(advanced) == [] and record["mirrorPercent"] == 0, "the run that ends the shadow phase removes the mirror"
        assert "passed against stable (mirrored requests)" in record["gate"]["reason"]
        assert record["gate"]["measurements"]["stableErrorRate"] == 0.01
        rollout.up(minutes=31)
        assert rollout.record()["phase"] == "stable" and rollout.record()["stableVersion"] == "1.28"


def test_shadow_then_blue_green_waits_for_approval_then_switches_and_stops_mirroring():
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(then="blue-green", bakeMinutes=30))}))
    rollout.up()
    rollout.up(version="1.28")
    assert rollout.record()["phase"] == "paused" and rollout.record()["mirrorPercent"] == 100
    waiting = rollout.up(minutes=31)
    assert route_weights(waiting) == {"blue": 100, "green": 0} and len(mirror_filters(waiting)) == 1
    assert "approve: 1.28" in rollout.record()["reason"]
    switched = rollout.up(approve="1.28")
    assert route_weights(switched) == {"blue": 0, "green": 100} and mirror_filters(switched) == []
    assert rollout.record()["phase"] == "stable" and rollout.record()["mirrorPercent"] == 0


def test_approval_inside_the_shadow_phase_still_waits_for_the_bake():
    rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(then="blue-green", bakeMinutes=30))}))
    rollout.up()
    rollout.up(version="1.28", approve="1.28")
    early = rollout.up(minutes=5)
    assert route_weights(early) == {"blue": 100, "green": 0} and len(mirror_filters(early)) == 1
    assert "shadowing" in rollout.record()["reason"]


def test_a_candidate_failing_against_stable_in_the_shadow_phase_aborts_and_the_mirror_goes():
    with fake_prometheus({"green": 0.2, "blue": 0.01}, {"green": 0.1, "blue": 0.1}) as url:
        rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(bakeMinutes=30, analysis=analysed(url)))}))
        rollout.up()
        rollout.up(version="1.28")
        before = replicas(rollout.last)
        blue_before = only(rollout.last, DEPLOYMENT, "-blue-deployment").inputs
        aborted = rollout.up(minutes=5)
        record = rollout.record()
        assert record["phase"] == "aborted" and record["abortedBy"] == "gate"
        assert "error rate 20.0% > 5.0% (stable 1.0% over the same window)" in record["reason"]
        assert mirror_filters(aborted) == [] and record["mirrorPercent"] == 0
        assert route_weights(aborted) == {"blue": 100, "green": 0}
        assert only(aborted, DEPLOYMENT, "-blue-deployment").inputs == blue_before, "stable untouched"
        assert replicas(aborted)["blue"] == before["blue"]


def test_stable_failing_as_well_holds_instead_of_blaming_the_candidate():
    with fake_prometheus({"green": 0.2, "blue": 0.25}, {"green": 0.1, "blue": 0.1}) as url:
        rollout = Rollout(kubernetes_config({"api": kubernetes_service("gateway", shadow(bakeMinutes=0, analysis=analysed(url)))}))
        rollout.up()
        rollout.up(version="1.28")
        held = rollout.up(minutes=5)
        record = rollout.record()
        assert record["phase"] == "progressing" and record["step"] == 0 and len(mirror_filters(held)) == 1
        assert "stable breaches too (25.0% over the same window)" in record["reason"]
