"""The smoke hook's HTTP I/O against small local servers on 127.0.0.1: what each kind of answer (or silence)
becomes, the per-request and total time bounds, and `resolve` keeping the preview URL's Host header."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from components.gates.model import GateVerdict
from components.gates.smoke import SmokeCheck, UrllibSmokeRunner, check_url, parse_resolve
from components.gates.smoke_verdict import smoke_checks, smoke_verdict
from components.config import SmokeCheckConfig
from tests.gates.conftest import returns_within
from tests.servers import closed_port_url, hanging_server, http_server

SEEN: list[dict] = []


class Candidate(BaseHTTPRequestHandler):
    """/healthz 200; /api/version answers the version; /broken 500; /moved 301; /slow trickles for 3 s."""

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        SEEN.append({"path": self.path, "host": self.headers.get("Host")})
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "30")
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
            return
        status, body = {"/healthz": (200, b"ok"), "/api/version": (200, b'{"version": "1.28"}'),
                        "/broken": (500, b"boom"), "/moved": (301, b"")}.get(self.path, (404, b"no"))
        self.send_response(status)
        if status == 301:
            self.send_header("Location", "/healthz")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        pass


@pytest.fixture(scope="module")
def candidate():
    with http_server(Candidate) as url:
        yield url


def verdict_of(base_url: str, *checks: SmokeCheck, runner: UrllibSmokeRunner | None = None):
    outcomes = (runner or UrllibSmokeRunner()).run(base_url, list(checks))
    return smoke_verdict(base_url, outcomes), outcomes


def test_a_candidate_answering_every_check_passes(candidate):
    checks = smoke_checks([SmokeCheckConfig(path="/healthz"),
                           SmokeCheckConfig(path="/api/version", expect_body_contains="{{version}}")], "1.28")
    result, outcomes = verdict_of(candidate, *checks)
    assert result.verdict is GateVerdict.ADVANCE and result.source == "workload"
    assert result.reason == "smoke passed: GET /healthz 200, GET /api/version 200 with '1.28'"
    assert [o.status for o in outcomes] == [200, 200]


def test_a_wrong_status_aborts_naming_the_check(candidate):
    result, _ = verdict_of(candidate, SmokeCheck("/healthz"), SmokeCheck("/broken"))
    assert result.verdict is GateVerdict.ABORT and not result.inconclusive
    assert result.reason == f"smoke check failed: GET /broken answered 500, expected 200 ({candidate})"


def test_a_body_without_the_version_aborts(candidate):
    checks = smoke_checks([SmokeCheckConfig(path="/api/version", expect_body_contains="{{version}}")], "1.29")
    result, _ = verdict_of(candidate, *checks)
    assert result.verdict is GateVerdict.ABORT
    assert "GET /api/version answered 200 without '1.29' in its body" in result.reason


def test_a_redirect_is_judged_as_answered_not_followed(candidate):
    result, outcomes = verdict_of(candidate, SmokeCheck("/moved"))
    assert outcomes[0].status == 301 and result.verdict is GateVerdict.ABORT
    assert verdict_of(candidate, SmokeCheck("/moved", expect_status=301))[0].verdict is GateVerdict.ADVANCE


def test_a_refused_connection_holds_as_inconclusive():
    url = closed_port_url()
    result, _ = verdict_of(url, SmokeCheck("/healthz"))
    assert result.verdict is GateVerdict.HOLD and result.inconclusive and result.source == "workload"
    assert result.reason == f"smoke checks could not reach the candidate: GET /healthz: connection refused ({url})"


# Time bounds: the outcome names the bound that fired (a loaded machine stretches any tight wall-clock bound);
# `returns_within` only keeps a test from hanging when a bound is ignored (the servers never answer).
BOUND_S = 15.0


def test_a_server_that_never_answers_holds_within_the_request_bound():
    with hanging_server() as url:
        runner = UrllibSmokeRunner(request_timeout=0.5)
        result, outcomes = returns_within(BOUND_S, lambda: verdict_of(url, SmokeCheck("/healthz"), runner=runner))
    assert result.verdict is GateVerdict.HOLD and result.inconclusive
    assert "timed out" in result.reason or "no complete answer within 0.5 s" in result.reason


def test_a_body_trickling_past_the_bound_is_cut_off(candidate):
    """Each byte of /slow comes within the socket timeout; only the bound on the whole answer stops it (1 s of 3)."""
    result, outcomes = verdict_of(candidate, SmokeCheck("/slow"), runner=UrllibSmokeRunner(request_timeout=1.0))
    assert result.verdict is GateVerdict.HOLD and outcomes[0].problem == "no complete answer within 1 s"


def test_checks_past_the_total_budget_are_not_run_and_hold():
    with hanging_server() as url:
        runner = UrllibSmokeRunner(request_timeout=0.4, total_budget=1.0)
        result, outcomes = returns_within(BOUND_S, lambda: verdict_of(url, *[SmokeCheck(f"/c{i}") for i in range(5)], runner=runner))
    assert outcomes[-1].problem == "not run: the 1 s budget for all checks was spent"
    assert result.verdict is GateVerdict.HOLD


def test_the_default_bounds_are_five_seconds_each_and_twenty_in_all():
    from components.gates import smoke

    assert (smoke.REQUEST_TIMEOUT, smoke.TOTAL_BUDGET) == (5.0, 20.0)


def test_a_failed_check_wins_over_an_unreachable_one(candidate):
    runner = UrllibSmokeRunner(resolve={"nowhere.test:80": closed_port_url().removeprefix("http://")})
    outcomes = runner.run("http://nowhere.test", [SmokeCheck("/healthz")]) + UrllibSmokeRunner().run(candidate, [SmokeCheck("/broken")])
    assert smoke_verdict(candidate, outcomes).verdict is GateVerdict.ABORT


def test_resolve_connects_elsewhere_but_keeps_the_preview_host_header(candidate):
    SEEN.clear()
    target = candidate.removeprefix("http://")
    runner = UrllibSmokeRunner(resolve=parse_resolve(f"web.example.com:8443={target}"))
    result, _ = verdict_of("http://web.example.com:8443", SmokeCheck("/healthz"), runner=runner)
    assert result.verdict is GateVerdict.ADVANCE
    assert SEEN == [{"path": "/healthz", "host": "web.example.com:8443"}]


@pytest.mark.parametrize("base, path, url", [
    ("http://web.example.com:8443", "/healthz", "http://web.example.com:8443/healthz"),
    ("http://alb-1.elb.amazonaws.com:8443/web/", "/healthz", "http://alb-1.elb.amazonaws.com:8443/web/healthz"),
], ids=["a host-routed preview", "a path-prefix preview checks under its prefix"])
def test_check_urls_join_the_preview_url_and_the_path(base, path, url):
    assert check_url(base, path) == url


def test_a_malformed_resolve_entry_is_refused_naming_it():
    with pytest.raises(ValueError, match="CUTOVER_SMOKE_RESOLVE: 'web.example.com' is not host:port=address:port"):
        parse_resolve("web.example.com")


def test_without_a_preview_url_the_checks_wait():
    result = smoke_verdict(None, [])
    assert result.verdict is GateVerdict.HOLD and result.inconclusive and "no preview URL" in result.reason
