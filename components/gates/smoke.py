"""Smoke checks: plain HTTP GETs against a candidate's preview endpoint. The only I/O of the smoke hook.

No pulumi, no boto3: `urllib` with hard bounds. Each request gets at most `REQUEST_TIMEOUT` (5 s) and all
checks of one service together at most `TOTAL_BUDGET` (20 s); a check that would start after the budget is
spent is reported as not run. Each request runs in a worker thread that is waited for with the remaining
time, so a server trickling its body byte by byte cannot stretch a run (the socket timeout alone would
apply per read). Redirects are not followed (the status the candidate answers is what is judged) and
proxy variables are ignored (the preview endpoints are private: the ALB's test listener, an in-cluster
Service).

`resolve` works like curl's `--resolve`: `{"web.example.com:8443": "127.0.0.1:54321"}` connects there while
the request keeps the URL's `Host` header (which the ALB's test-listener rule matches on). Tests and the
rehearsal use it to point the real preview URL at a local server; the program reads it from
`CUTOVER_SMOKE_RESOLVE` (`host:port=address:port[,...]`).

Turning outcomes into a verdict is pure and lives in `smoke_verdict.py`.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

REQUEST_TIMEOUT = 5.0
"""Seconds one check may take, connection to last byte."""
TOTAL_BUDGET = 20.0
"""Seconds all checks of one service may take together."""
MAX_BODY_BYTES = 1 << 20
"""Bytes of a body read for `expectBodyContains`; the rest is not read."""
RESOLVE_VARIABLE = "CUTOVER_SMOKE_RESOLVE"


@dataclass(frozen=True)
class SmokeCheck:
    """One check, with `{{version}}` already substituted."""

    path: str
    expect_status: int = 200
    expect_body_contains: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    """What one GET found. `status` None: no HTTP answer (`problem` says why)."""

    check: SmokeCheck
    url: str
    status: int | None = None
    body: str = ""
    problem: str | None = None
    seconds: float = 0.0

    @property
    def reached(self) -> bool:
        return self.status is not None


class SmokeRunner(Protocol):
    def run(self, base_url: str, checks: Sequence[SmokeCheck]) -> list[CheckOutcome]: ...


def check_url(base_url: str, path: str) -> str:
    """The preview URL joined with a check's path: `http://h:8443/web/` + `/healthz` -> `http://h:8443/web/healthz`
    (a path-prefix service is checked under its prefix, as the ALB rule forwards it)."""
    return base_url.rstrip("/") + path


def parse_resolve(text: str | None) -> dict[str, str]:
    """`host:port=address:port[,...]` -> {"host:port": "address:port"}. Raises ValueError naming the bad entry."""
    found: dict[str, str] = {}
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, target = entry.partition("=")
        if not sep or ":" not in name or ":" not in target:
            raise ValueError(f"{RESOLVE_VARIABLE}: {entry!r} is not host:port=address:port")
        found[name.strip().lower()] = target.strip()
    return found


class UrllibSmokeRunner:
    """Runs checks one after another, each bounded by `request_timeout` and all by `total_budget`."""

    def __init__(self, request_timeout: float = REQUEST_TIMEOUT, total_budget: float = TOTAL_BUDGET,
                 resolve: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic):
        self._request_timeout = request_timeout
        self._total_budget = total_budget
        self._resolve = {k.lower(): v for k, v in (resolve or {}).items()}
        self._clock = clock
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def run(self, base_url: str, checks: Sequence[SmokeCheck]) -> list[CheckOutcome]:
        deadline = self._clock() + self._total_budget
        outcomes = []
        for check in checks:
            url = check_url(base_url, check.path)
            left = deadline - self._clock()
            if left <= 0:
                outcomes.append(CheckOutcome(check, url, problem=f"not run: the {self._total_budget:g} s budget for all "
                                                               "checks was spent"))
                continue
            outcomes.append(self._get(check, url, min(self._request_timeout, left)))
        return outcomes

    def _get(self, check: SmokeCheck, url: str, timeout: float) -> CheckOutcome:
        started = self._clock()
        result: dict[str, CheckOutcome] = {}
        worker = threading.Thread(target=lambda: result.update(outcome=self._fetch(check, url, timeout)), daemon=True)
        worker.start()
        worker.join(timeout)
        # A worker still running past the bound is abandoned: its socket times out on its own.
        outcome = result.get("outcome") or CheckOutcome(check, url, problem=f"no complete answer within {timeout:g} s")
        return CheckOutcome(outcome.check, outcome.url, outcome.status, outcome.body, outcome.problem,
                            round(self._clock() - started, 3))

    def _fetch(self, check: SmokeCheck, url: str, timeout: float) -> CheckOutcome:
        request = self._request(url)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return CheckOutcome(check, url, response.status, _text(response.read(MAX_BODY_BYTES)))
        except urllib.error.HTTPError as answer:  # an answer with an error status is still an answer
            with answer:
                return CheckOutcome(check, url, answer.code, _text(answer.read(MAX_BODY_BYTES)))
        except urllib.error.URLError as err:
            return CheckOutcome(check, url, problem=_why(err.reason))
        except (OSError, ValueError) as err:  # timeouts while reading, resets, a malformed URL
            return CheckOutcome(check, url, problem=_why(err))

    def _request(self, url: str) -> urllib.request.Request:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = self._resolve.get(f"{(parts.hostname or '').lower()}:{port}")
        headers = {"User-Agent": "cutover-smoke/1", "Accept": "*/*"}
        if target is None:
            return urllib.request.Request(url, headers=headers)
        # Connect to the override, keep the URL's Host header (curl --resolve).
        headers["Host"] = parts.netloc
        return urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=target)), headers=headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None  # the 3xx itself comes back as the answer


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _why(reason: object) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
