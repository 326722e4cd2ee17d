"""The shadow phase's mirroring proxy on AWS, exercised for real: Debian's nginx runs the exact configuration the
program generates (`mirror_proxy_config`), between a local "stable" and a local "candidate" HTTP server.

Tolerances, stated once:
- sampling: `split_clients` hashes `$request_id` (random per request), so the copies of n listed-method requests
  are close to binomial(n, percent); the count must lie within 4 standard deviations (a false failure about
  once in 15,000 runs);
- latency: a misbehaving candidate may add at most `LATENCY_SLACK_S` to the p95 of fresh connections, and on a
  kept-alive connection (how an ALB talks to its targets) at most the mirror timeout plus that slack, because
  nginx finalizes a request only after its mirror subrequests (apache/apisix#6536). The slack is generous on
  purpose (a loaded machine stretches latencies), yet well below what the failures it guards against cost: a
  client waiting on the slow candidate waits its 3 s (fresh) or 5 s (kept-alive) delay.
"""

from __future__ import annotations

import http.client
import os
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import pytest

from components.aws.mirror_proxy_config import HEALTH_PATH, MIRROR_TIMEOUT_SECONDS, mirror_proxy_config
from tests.servers import ServerDidNotStart, _QuietHandler, closed_port_url, http_server, nginx_binary, start_nginx

LATENCY_SLACK_S = 1.0
REQUESTS = 200
METHODS = ["GET"] * 6 + ["HEAD"] + ["POST"] * 3  # 70 % idempotent


def _nginx_or_skip() -> None:
    try:
        nginx_binary()
    except ServerDidNotStart as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(str(missing))  # CI installs it (./run test): a missing binary is a broken environment
        pytest.skip(str(missing))


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def handler(self, name: str, status: int = 200, delay_s: float = 0.0) -> type:
        recorder = self

        class Handler(_QuietHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with recorder.lock:
                    recorder.seen.append((self.command, self.path, dict(self.headers)))
                if delay_s:
                    time.sleep(delay_s)
                body = name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except BrokenPipeError:  # nginx gave up on a slow copy (the mirror timeout): expected
                        pass

            do_GET = do_HEAD = do_POST = _answer  # noqa: N815 - http.server naming

        return Handler


def _proxy(tmp_path: Path, stable: str, candidate: str, percent: int, methods: tuple[str, ...]) -> tuple[str, Callable[[], None]]:
    def config(listen: str) -> str:
        return mirror_proxy_config(listen=listen, stable_origin=stable, candidate_origin=candidate,
                                   percent=percent, methods=methods, candidate_headers={"X-Cutover-Color": "green"})

    return start_nginx(config, tmp_path / "nginx", HEALTH_PATH)


def _send(url: str, method: str, i: int, connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes, float]:
    host, port = url.removeprefix("http://").split(":")
    own = connection is None
    connection = connection or http.client.HTTPConnection(host, int(port), timeout=10)
    body = f"order={i}".encode() if method == "POST" else None
    started = time.perf_counter()
    connection.request(method, f"/items/{i}?n={i}", body=body, headers={"Host": "web.example.com"})
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    if own:
        connection.close()
    return response.status, data, elapsed


def _load(url: str, seed: int = 13) -> list[tuple[str, int, bytes, float]]:
    methods = random.Random(seed).choices(METHODS, k=REQUESTS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda item: (item[1], *_send(url, item[1], item[0])), enumerate(methods)))
    return results


def _p95(results) -> float:
    return statistics.quantiles([r[3] for r in results], n=20)[-1]


def _settled(recorder: Recorder, wait_s: float = 3.0) -> list:
    """Copies arrive after the client's answer: wait until the count stops growing."""
    deadline, count = time.monotonic() + wait_s, -1
    while time.monotonic() < deadline and count != len(recorder.seen):
        count = len(recorder.seen)
        time.sleep(0.3)
    return list(recorder.seen)


@pytest.fixture
def stable() -> Iterator[tuple[str, Recorder]]:
    _nginx_or_skip()
    recorder = Recorder()
    with http_server(recorder.handler("stable")) as url:
        yield url, recorder


def test_clients_get_only_stable_and_the_candidate_gets_the_configured_share_of_listed_methods(stable, tmp_path):
    stable_url, stable_seen = stable
    candidate = Recorder()
    with http_server(candidate.handler("candidate")) as candidate_url:
        url, stop = _proxy(tmp_path, stable_url, candidate_url, percent=50, methods=("GET", "HEAD"))
        try:
            results = _load(url)
            copies = _settled(candidate)
        finally:
            stop()
    assert [(m, s) for m, s, _, _ in results if s != 200] == [], "every client request answered 200"
    assert all(body == b"stable" for m, _, body, _ in results if m != "HEAD"), "every answer came from stable"
    assert len(stable_seen.seen) == REQUESTS, "stable served every request exactly once"
    listed = sum(1 for m, *_ in results if m in ("GET", "HEAD"))
    expected, sd = listed * 0.5, (listed * 0.25) ** 0.5
    assert abs(len(copies) - expected) <= 4 * sd, f"{len(copies)} copies of {listed} listed requests, expected ~{expected:g}"
    assert {method for method, _, _ in copies} <= {"GET", "HEAD"}, "POST is not listed: never copied"
    assert all(headers.get("Host") == "web.example.com" and headers.get("X-Cutover-Color") == "green"
               for _, _, headers in copies), "copies keep the Host and carry the candidate's routing header"
    assert {path for _, path, _ in copies} <= {path for _, path, _ in stable_seen.seen}, "copies of real requests only"


def test_a_listed_post_is_copied_with_its_body(stable, tmp_path):
    stable_url, _ = stable
    bodies: list[bytes] = []

    class Candidate(_QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(204)
            self.end_headers()

    with http_server(Candidate) as candidate_url:
        url, stop = _proxy(tmp_path, stable_url, candidate_url, percent=100, methods=("GET", "POST"))
        try:
            status, body, _ = _send(url, "POST", 7)
            deadline = time.monotonic() + 3
            while not bodies and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop()
    assert (status, body) == (200, b"stable")
    assert bodies == [b"order=7"], "mirror_request_body on: the copy carries the body"


@pytest.mark.parametrize("behaviour", ["slow", "answers 500", "down"])
def test_a_misbehaving_candidate_causes_no_client_error_and_no_latency_beyond_the_bound(stable, tmp_path, behaviour):
    stable_url, _ = stable
    healthy = Recorder()
    with http_server(healthy.handler("candidate")) as healthy_url:
        url, stop = _proxy(tmp_path / "baseline", stable_url, healthy_url, percent=100, methods=("GET", "HEAD", "POST"))
        try:
            baseline = _load(url)
        finally:
            stop()
    bad = Recorder()
    handler = bad.handler("candidate", status=500) if behaviour == "answers 500" else bad.handler("candidate", delay_s=3.0)
    with http_server(handler) as bad_url:
        candidate_url = closed_port_url() if behaviour == "down" else bad_url
        url, stop = _proxy(tmp_path / "bad", stable_url, candidate_url, percent=100, methods=("GET", "HEAD", "POST"))
        try:
            results = _load(url)
        finally:
            stop()
    assert [s for _, s, _, _ in results if s != 200] == [], f"{behaviour} candidate: no client error"
    assert all(body == b"stable" for m, _, body, _ in results if m != "HEAD")
    added = _p95(results) - _p95(baseline)
    print(f"{behaviour}: p95 {_p95(baseline) * 1000:.1f} ms -> {_p95(results) * 1000:.1f} ms")
    assert added <= LATENCY_SLACK_S, f"{behaviour} candidate added {added * 1000:.0f} ms to p95 (fresh connections)"


def test_on_a_kept_alive_connection_a_slow_candidate_delays_the_next_request_by_at_most_the_mirror_timeout(stable, tmp_path):
    """nginx finalizes a request after its mirror subrequests: the answer is sent at once, but the connection
    takes the next request only when the copy finished or timed out (`proxy_read_timeout` of the mirror)."""
    stable_url, _ = stable
    slow = Recorder()
    with http_server(slow.handler("candidate", delay_s=5.0)) as candidate_url:
        url, stop = _proxy(tmp_path, stable_url, candidate_url, percent=100, methods=("GET",))
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            results = [_send(url, "GET", i, connection) for i in range(6)]
        finally:
            connection.close()
            stop()
    assert [s for s, _, _ in results] == [200] * 6 and {b for _, b, _ in results} == {b"stable"}
    worst = max(elapsed for _, _, elapsed in results)
    print(f"kept-alive, candidate 5 s slow: worst {worst * 1000:.0f} ms")
    assert worst <= MIRROR_TIMEOUT_SECONDS + LATENCY_SLACK_S, f"a request waited {worst:.2f} s"


def test_a_port_taken_between_its_pick_and_nginx_bind_is_replaced_by_a_fresh_one(stable, tmp_path, monkeypatch):
    """nginx cannot bind port 0 and report it: start_nginx picks a port, and when another process takes it first,
    starts nginx again on a fresh one (tests/servers.py). Here the first pick is a port this test listens on."""
    import socket

    from tests import servers

    stable_url, _ = stable
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        picks = iter([taken_port])
        fresh = servers._unused_port
        monkeypatch.setattr(servers, "_unused_port", lambda: next(picks, None) or fresh())
        url, stop = _proxy(tmp_path, stable_url, stable_url, percent=100, methods=("GET",))
        try:
            status, body, _ = _send(url, "GET", 1)
        finally:
            stop()
    assert url != f"http://127.0.0.1:{taken_port}" and (status, body) == (200, b"stable")
