"""Real local servers for tests and the rehearsal: moto_server, Prometheus, and misbehaving endpoints.

Every server listens on 127.0.0.1, is waited for until it answers, and is stopped by its own PID (never by
name). Nothing reaches the internet. Ports are never picked and then released for a server to take later
(another process could take the port in between): servers that can bind port 0 do so themselves and the
port is read from their log (moto_server, Prometheus, the in-thread servers); nginx, which cannot, is
retried on a fresh port when its bind fails (`start_nginx`).

    with moto_server() as url:            # or: url, stop = start_moto_server()
        os.environ["AWS_ENDPOINT_URL"] = url
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Callable, Iterator

LOCALHOST = "127.0.0.1"


class ServerDidNotStart(RuntimeError):
    """A server process exited or did not answer in time; the message carries its output."""


def _unused_port() -> int:
    """A port nothing was bound to a moment ago. Racy by nature: only for nginx, which retries (`start_nginx`)."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def _port_from_log(process: subprocess.Popen, pattern: str, timeout: float = 20.0) -> int:
    """The port a server bound (it was started on port 0), read from its own log line matching `pattern`."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, _output(process, limit=None))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise ServerDidNotStart(f"{process.args[0]} exited with {process.returncode}: {_output(process)}")
        if time.monotonic() > deadline:
            raise ServerDidNotStart(f"{process.args[0]} did not log its port within {timeout:g} s: {_output(process)}")
        time.sleep(0.05)


def wait_until_answers(url: str, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    """Poll `url` until any HTTP answer (an error status counts: the server is up)."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ServerDidNotStart(f"{process.args[0]} exited with {process.returncode}: {_output(process)}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                output = f": {_output(process)}" if process is not None else ""
                raise ServerDidNotStart(f"{url} did not answer within {timeout:g} s{output}") from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM to this process's PID, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log = _LOGS.pop(process.pid, None)
    if log is not None:
        log.close()


# Server output goes to a temporary file, not a pipe: a pipe nobody reads fills up
# (moto logs every request) and blocks the server in the middle of a test.
_LOGS: dict[int, IO[bytes]] = {}


def _spawn(args: list[str]) -> subprocess.Popen:
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    _LOGS[process.pid] = log
    return process


def _output(process: subprocess.Popen, limit: int | None = 2000) -> str:
    """The process's output so far (its last `limit` characters). Read with pread: the server writes through a
    duplicate of the same descriptor, so moving the shared file offset could make it overwrite its own log."""
    log = _LOGS.get(process.pid)
    if log is None:
        return ""
    size = os.fstat(log.fileno()).st_size
    text = os.pread(log.fileno(), size, 0).decode(errors="replace")
    return text if limit is None else text[-limit:]


MOTO_PORT_LINE = r"Running on http://127\.0\.0\.1:(\d+)"
"""What moto_server (werkzeug) logs once bound: ` * Running on http://127.0.0.1:41234`."""


def start_moto_server() -> tuple[str, Callable[[], None]]:
    """Start `moto_server` (from this interpreter's environment) on a port it picks; returns (endpoint url, stop)."""
    process = _spawn([sys.executable, "-m", "moto.server", "-H", LOCALHOST, "-p", "0"])
    try:
        url = f"http://{LOCALHOST}:{_port_from_log(process, MOTO_PORT_LINE)}"
        wait_until_answers(f"{url}/moto-api/", process=process)
    except ServerDidNotStart:
        stop_process(process)
        raise
    return url, lambda: stop_process(process)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    url, stop = start_moto_server()
    try:
        yield url
    finally:
        stop()


def reset_moto(url: str) -> None:
    """Forget every resource the server holds (between scenarios)."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5).close()


PROMETHEUS_MISSING = (
    "the Prometheus server binary is missing: install the Debian package with "
    "`apt-get install -y prometheus` (provides /usr/bin/prometheus)"
)


def prometheus_binary() -> str:
    path = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    if path is None:
        raise ServerDidNotStart(PROMETHEUS_MISSING)
    return path


PROMETHEUS_PORT_LINE = r'msg="Listening on" address=127\.0\.0\.1:(\d+)'
"""What Prometheus logs once bound: `msg="Listening on" address=127.0.0.1:39311`."""


def start_prometheus(scrape_targets: list[str], workdir: Path, scrape_interval: str = "1s") -> tuple[str, Callable[[], None]]:
    """Start a real Prometheus scraping `scrape_targets` ("127.0.0.1:PORT") as job "exporter".

    Returns (url, stop) once `/-/ready` answers 200. Its config and TSDB live in `workdir`.
    """
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    targets = ", ".join(f'"{t}"' for t in scrape_targets)
    config.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        "scrape_configs:\n"
        "  - job_name: exporter\n"
        f"    static_configs:\n      - targets: [{targets}]\n"
    )
    process = _spawn(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={LOCALHOST}:0",
        ]
    )
    deadline = time.monotonic() + 30
    try:
        url = f"http://{LOCALHOST}:{_port_from_log(process, PROMETHEUS_PORT_LINE, timeout=30)}"
        while True:
            wait_until_answers(f"{url}/-/ready", timeout=max(0.1, deadline - time.monotonic()), process=process)
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break  # 200: TSDB open, ready to serve queries
            except (urllib.error.HTTPError, OSError):  # 503 while starting up
                if time.monotonic() > deadline:
                    raise ServerDidNotStart(f"prometheus at {url} not ready within 30 s") from None
                time.sleep(0.1)
    except ServerDidNotStart:
        stop_process(process)
        raise
    return url, lambda: stop_process(process)


class _QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        pass


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a thread; yields the base url."""
    server = ThreadingHTTPServer((LOCALHOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOCALHOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def metrics_exporter(text: Callable[[], str]) -> contextlib.AbstractContextManager[str]:
    """A /metrics endpoint serving Prometheus text format; `text()` is called per scrape."""

    class Exporter(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            body = text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return http_server(Exporter)


@contextlib.contextmanager
def prometheus_scraping(text: Callable[[], str], workdir: Path, ready_query: str, timeout: float = 20.0) -> Iterator[str]:
    """A real Prometheus scraping a local exporter of `text()` every second; yields its url once `ready_query`
    returns data (the first scrape happened). Both are stopped at the end (Prometheus by its PID)."""
    with metrics_exporter(text) as exporter:
        url, stop = start_prometheus([exporter.removeprefix("http://")], workdir)
        try:
            query = urllib.parse.urlencode({"query": ready_query})
            deadline = time.monotonic() + timeout
            while True:
                with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as answer:
                    if json.load(answer)["data"]["result"]:
                        break
                if time.monotonic() > deadline:
                    raise ServerDidNotStart(f"prometheus at {url} did not scrape {exporter} within {timeout:g} s")
                time.sleep(0.2)
            yield url
        finally:
            stop()


@contextlib.contextmanager
def scraped_prometheus(text: Callable[[], str], workdir: Path, ready_query: str) -> Iterator[str]:
    """`prometheus_scraping` for a test: without the binary the test fails (never skips) with how to install it."""
    import pytest  # only tests call this; the servers above serve benchmarks too

    try:
        prometheus_binary()
    except ServerDidNotStart:
        pytest.fail(PROMETHEUS_MISSING, pytrace=False)
    with prometheus_scraping(text, workdir, ready_query) as url:
        yield url


_REFUSING: socket.socket | None = None


def closed_port_url() -> str:
    """An endpoint that refuses connections: a port this process keeps bound and never listens on, for as long
    as the tests run, so no other server can take it (a port picked and released could be taken meanwhile)."""
    global _REFUSING
    if _REFUSING is None:
        _REFUSING = socket.socket()
        _REFUSING.bind((LOCALHOST, 0))  # bound, not listening: the kernel answers every connection with a reset
    return f"http://{LOCALHOST}:{_REFUSING.getsockname()[1]}"


def _cbor_text(value: str) -> bytes:
    data = value.encode()
    assert len(data) < 256
    return (bytes([0x60 + len(data)]) if len(data) < 24 else bytes([0x78, len(data)])) + data


class _Throttling(_QuietHandler):
    """Answers every AWS call with 400 ThrottlingException in the caller's protocol:
    CBOR for CloudWatch (smithy-rpc-v2-cbor in botocore >= 1.40), JSON for JSON
    protocols, XML for query (ELBv2) and rest-xml (Route53)."""

    retry_after_ms: int | None = None

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        content_type = self.headers.get("Content-Type", "")
        if "cbor" in content_type:
            body = b"\xa2" + _cbor_text("__type") + _cbor_text("ThrottlingException") + _cbor_text("message") + _cbor_text("Rate exceeded")
            headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        elif "json" in content_type:
            body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
            headers = {"Content-Type": content_type}
        else:
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )
            headers = {"Content-Type": "text/xml"}
        if self.retry_after_ms is not None:
            headers["x-amz-retry-after"] = str(self.retry_after_ms)
        self.send_response(400)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815


def throttling_server(retry_after_ms: int | None = None) -> contextlib.AbstractContextManager[str]:
    """An AWS endpoint that throttles every call, optionally asking clients to wait (`x-amz-retry-after`)."""
    handler = type("Throttling", (_Throttling,), {"retry_after_ms": retry_after_ms})
    return http_server(handler)


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """An endpoint that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as listener:
        listener.bind((LOCALHOST, 0))
        listener.listen(128)
        yield f"http://{LOCALHOST}:{listener.getsockname()[1]}"


NGINX_MISSING = (
    "nginx is missing: install the Debian package with `apt-get install -y nginx-light` (provides /usr/sbin/nginx; "
    "`./run test` installs it)"
)


def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path is None:
        raise ServerDidNotStart(NGINX_MISSING)
    return path


NGINX_START_ATTEMPTS = 5


def start_nginx(http_context_for: Callable[[str], str], workdir: Path, health_path: str) -> tuple[str, Callable[[], None]]:
    """Start a real nginx (foreground, prefix, pid and temp files in `workdir`, so no root paths) with
    `http_context_for(listen)` inside `http {}`, where `listen` is "127.0.0.1:PORT" for it to listen on.
    Returns (url, stop) once `url + health_path` answers; nginx is stopped by its own PID.

    nginx cannot listen on port 0 and report the port, so PORT is one that was free a moment ago: when
    another process took it meanwhile, nginx fails to bind ("Address already in use") and is started again on
    a fresh port, at most NGINX_START_ATTEMPTS times. Bound or not is known before anything is asked: nginx
    writes its pid file only after it opened every listening socket.
    """
    binary = nginx_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config, pid_file = workdir / "nginx.conf", workdir / "nginx.pid"
    for attempt in range(1, NGINX_START_ATTEMPTS + 1):
        listen = f"{LOCALHOST}:{_unused_port()}"
        config.write_text(
            f"pid {pid_file};\n"
            f"error_log {workdir / 'error.log'} warn;\n"
            "worker_processes 1;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log off;\n"
            f"    client_body_temp_path {workdir / 'body'};\n"
            f"    proxy_temp_path {workdir / 'proxy'};\n"
            f"    fastcgi_temp_path {workdir / 'fastcgi'};\n"
            f"    uwsgi_temp_path {workdir / 'uwsgi'};\n"
            f"    scgi_temp_path {workdir / 'scgi'};\n"
            f"{http_context_for(listen)}"
            "}\n"
        )
        pid_file.unlink(missing_ok=True)
        process = _spawn([binary, "-p", str(workdir), "-c", str(config), "-g", "daemon off;"])
        try:
            _wait_for_pid_file(process, pid_file)
        except ServerDidNotStart:
            taken = "Address already in use" in _output(process, limit=None)
            stop_process(process)
            if taken and attempt < NGINX_START_ATTEMPTS:
                continue  # another process took the port between the pick and nginx's bind
            raise
        url = f"http://{listen}"
        try:
            wait_until_answers(f"{url}{health_path}", process=process)
        except ServerDidNotStart:
            stop_process(process)
            raise
        return url, lambda: stop_process(process)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _wait_for_pid_file(process: subprocess.Popen, pid_file: Path, timeout: float = 20.0) -> None:
    """Until nginx wrote its own PID (it bound every listen socket), or fail with its output if it exited."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            if int(pid_file.read_text().strip()) == process.pid:
                return
        if process.poll() is not None:
            raise ServerDidNotStart(f"{process.args[0]} exited with {process.returncode}: {_output(process)}")
        if time.monotonic() > deadline:
            raise ServerDidNotStart(f"{process.args[0]} did not write {pid_file} within {timeout:g} s: {_output(process)}")
        time.sleep(0.05)
