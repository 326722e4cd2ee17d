"""Local webhook receivers for the notification tests (127.0.0.1, port 0, a thread each)."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any, Iterator

from tests.servers import _QuietHandler, http_server

__all__ = ["receiver", "slow_receiver"]


@contextlib.contextmanager
def receiver(status: int = 200, answer: bytes = b"ok") -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook that records every POST (path, headers, JSON body) and answers `status`."""
    received: list[dict[str, Any]] = []

    class Hook(_QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append({"path": self.path, "content_type": self.headers.get("Content-Type"), "body": json.loads(body)})
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    with http_server(Hook) as url:
        yield url, received


@contextlib.contextmanager
def slow_receiver() -> Iterator[str]:
    """A webhook that reads the request and does not answer until the test is over (slower than any timeout)."""
    release = threading.Event()

    class Slow(_QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            release.wait(30)
            self.send_response(200)
            self.end_headers()

    with http_server(Slow) as url:
        try:
            yield url
        finally:
            release.set()
