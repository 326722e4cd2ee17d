"""Smoke hooks through the whole program, run after run: no weight moves onto a candidate before its
smoke checks passed against its preview endpoint; a failing check aborts, an unreachable candidate holds.

The candidate is a local HTTP server; `CUTOVER_SMOKE_RESOLVE` (curl --resolve) points the real preview URL
the previous run exported (the ALB test listener, the Kubernetes preview Service) at it, so the URL the
program reads and the Host header it sends are the real ones."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from rehearsal.scenario import Stack
from tests.builders import CANARY, aws_config, kubernetes_config, kubernetes_service, service
from tests.scenarios.safety import share_of, weights
from tests.servers import closed_port_url, http_server

SMOKE = {"smoke": [{"path": "/healthz"}, {"path": "/api/version", "expectBodyContains": "{{version}}"}]}
RULE = "aws:lb/listenerRule:ListenerRule"


class Candidate(BaseHTTPRequestHandler):
    health = 200
    version = "2"
    requests: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        type(self).requests.append((self.headers.get("Host"), self.path))
        status, body = {"/healthz": (type(self).health, b"ok"),
                        "/api/version": (200, f'{{"version": "{type(self).version}"}}'.encode())}.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        pass


@pytest.fixture
def candidate():
    handler = type("Candidate", (Candidate,), {"health": 200, "version": "2", "requests": []})
    with http_server(handler) as url:
        yield handler, url.removeprefix("http://")


def smoke_stack(kind: str, target: str, **extra) -> Stack:
    """`web` with smoke hooks, first deployed on 1; its preview host resolves to `target`."""
    config = aws_config({"web": {**service(kind), "hooks": SMOKE, **extra}})
    stack = Stack(config, environment={"CUTOVER_SMOKE_RESOLVE": f"web.example.com:8443={target}"})
    stack.up()
    return stack


def test_no_weight_moves_to_a_canary_before_its_smoke_checks_passed(candidate):
    handler, target = candidate
    stack = smoke_stack("canary", target)
    stack.set("cutover:services.web.version", "2")
    deployed = stack.up()
    assert deployed.weights("web") == (100, 0) and handler.requests == [], "the deploying run checks nothing yet"
    assert deployed.result.outputs["endpoints"]["web"]["previewUrl"] == "http://web.example.com:8443"
    preview = deployed.result.named(RULE, "web-preview")
    green_tg = deployed.result.outputs["endpoints"]["web"]["targetGroupArns"]["green"]
    assert preview.inputs["actions"][0]["targetGroupArn"] == green_tg, "the test listener reaches the candidate"
    shifted = stack.up()
    assert handler.requests == [("web.example.com:8443", "/healthz"), ("web.example.com:8443", "/api/version")]
    assert shifted.weights("web") == (90, 10)
    assert "advanced to step 1 (smoke passed: GET /healthz 200, GET /api/version 200 with '2')" in shifted.rollout("web")["reason"]
    stack.up()
    assert len(handler.requests) == 2, "checked once, before the first shift only"


def test_a_failing_smoke_check_aborts_with_traffic_untouched(candidate):
    handler, target = candidate
    handler.health = 500
    stack = smoke_stack("canary", target)
    stack.set("cutover:services.web.version", "2")
    stack.up()
    run = stack.up()
    record = run.rollout("web")
    assert record["phase"] == "aborted" and record["abortedBy"] == "gate"
    assert "smoke check failed: GET /healthz answered 500, expected 200 (http://web.example.com:8443)" in record["reason"]
    assert record["gate"]["source"] == "workload"
    assert weights(stack.serving("web")) == (100, 0) and share_of(stack.serving("web"), "1") == 100


def test_a_candidate_answering_the_wrong_version_aborts(candidate):
    handler, target = candidate
    handler.version = "1"
    stack = smoke_stack("red-black", target)
    stack.set("cutover:services.web.version", "2")
    stack.up()
    record = stack.up().rollout("web")
    assert record["phase"] == "aborted"
    assert "GET /api/version answered 200 without '2' in its body" in record["reason"]
    assert weights(stack.serving("web")) == (100, 0)


def test_an_unreachable_candidate_holds_at_zero_until_it_answers(candidate):
    handler, target = candidate
    stack = smoke_stack("canary", closed_port_url().removeprefix("http://"))
    stack.set("cutover:services.web.version", "2")
    stack.up()
    held = stack.up()
    record = held.rollout("web")
    assert (record["phase"], record["step"], held.weights("web")) == ("progressing", 0, (100, 0))
    assert record["inconclusiveRuns"] == 1 and "smoke checks could not reach the candidate: GET /healthz: connection refused" in record["reason"]
    stack.environment["CUTOVER_SMOKE_RESOLVE"] = f"web.example.com:8443={target}"
    assert stack.up().weights("web") == (90, 10)


def test_promote_does_not_skip_an_unreachable_smoke_check():
    stack = smoke_stack("canary", closed_port_url().removeprefix("http://"))
    stack.set("cutover:services.web.version", "2")
    stack.set("cutover:services.web.promote", "2")
    stack.up()
    run = stack.up()
    assert run.weights("web") == (100, 0)
    assert "promote: 2 waits: smoke checks could not reach the candidate" in run.rollout("web")["reason"]


def test_a_blue_green_switch_waits_for_approval_then_for_its_smoke_checks(candidate):
    handler, target = candidate
    handler.health = 503
    stack = smoke_stack("blue-green", target)
    stack.set("cutover:services.web.version", "2")
    stack.up()
    paused = stack.up()
    assert paused.rollout("web")["phase"] == "paused" and handler.requests == [], "not checked before approval"
    stack.set("cutover:services.web.approve", "2")
    run = stack.up()
    assert run.rollout("web")["phase"] == "aborted" and "GET /healthz answered 503" in run.rollout("web")["reason"]
    assert weights(stack.serving("web")) == (100, 0)


def test_a_blue_green_switch_with_passing_smoke_checks_moves_all_traffic(candidate):
    handler, target = candidate
    stack = smoke_stack("blue-green", target, approve="2")
    stack.set("cutover:services.web.version", "2")
    stack.up()
    run = stack.up()
    assert run.weights("web") == (0, 100)
    assert run.rollout("web")["gate"]["reason"] == "smoke passed: GET /healthz 200, GET /api/version 200 with '2'"
    assert len(handler.requests) == 2


def test_a_kubernetes_canary_is_checked_through_its_preview_service(candidate):
    handler, target = candidate
    handler.version = "1.28"
    stack = Stack(kubernetes_config({"api": kubernetes_service("gateway", CANARY, hooks=SMOKE)}))
    first = stack.up()
    preview = first.result.outputs["endpoints"]["api"]["previewUrl"]
    assert preview.startswith("http://") and preview.endswith(".shop.svc.cluster.local")
    stack.environment["CUTOVER_SMOKE_RESOLVE"] = f"{preview.removeprefix('http://')}:80={target}"
    stack.set("cutover:services.api.version", "1.28")
    assert stack.up().weights("api") == (100, 0)
    shifted = stack.up()
    assert shifted.weights("api") == (90, 10) and "smoke passed" in shifted.rollout("api")["reason"]
    assert {host for host, _ in handler.requests} == {preview.removeprefix("http://")}


def test_smoke_hooks_on_a_rolling_service_are_refused():
    stack = Stack(aws_config({"web": {**service("rolling"), "hooks": SMOKE}}))
    run = stack.up()
    assert run.result.refused and "cutover:services.web.hooks.smoke: rolling replaces tasks in place" in run.result.error
