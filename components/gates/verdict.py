"""The gate decision: evidence about the candidate plus thresholds in, one `GateResult` out.

Pure: no pulumi, no boto3. Readers (CloudWatch, Prometheus, fakes in tests)
gather an `Evidence`; `decide` alone turns it into ADVANCE / HOLD / ABORT, so
the rules live in one place and are tested with plain values.

Worked example (maxErrorRate 0.05, maxLatencyMs 500, minRequests 100, 2 replicas):
    2 healthy, 1000 requests, 10 errors, 120 ms        -> ADVANCE
    2 healthy, 1000 requests, 200 errors               -> ABORT  (error rate 20.0% > 5.0%)
    2 healthy, 37 requests                             -> HOLD, inconclusive (not enough evidence: 37 requests < 100)
    alarm "web-5xx" in ALARM, numbers perfect          -> ABORT  (alarms in ALARM: web-5xx)
    live weights 70/30, recorded 90/10                 -> HOLD, not inconclusive (someone changed the router)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.gates.model import GateResult, GateVerdict

if TYPE_CHECKING:  # config.py imports pydantic; the decision itself only needs the numbers
    from components.config import AnalysisConfig


@dataclass(frozen=True)
class Thresholds:
    """The limits one gate applies. `None` skips that check.

    `min_requests` only matters when a metric threshold is set: with neither
    `max_error_rate` nor `max_latency_ms` the gate judges health and drift only,
    and a quiet candidate must not be held for lack of traffic it is not judged on.
    """

    max_error_rate: float | None = None
    """Highest accepted share of 5xx responses, 0..1 (0.05 = 5 %)."""
    max_latency_ms: float | None = None
    """Highest accepted candidate latency in milliseconds (see the reader for which statistic)."""
    min_requests: int = 100
    """Requests the candidate must have served in the window before its numbers count."""
    required_healthy: int = 0
    """Healthy candidate targets needed before judging (the service's replica count)."""
    against_stable: bool = False
    """Shadow phase: the candidate saw copies of the requests stable answered, so a breach counts against the
    candidate only when stable, over the same window, stays within the limit (see `decide`)."""

    @classmethod
    def from_analysis(cls, analysis: "AnalysisConfig | None", replicas: int) -> "Thresholds":
        """`analysis` is the service's `strategy.analysis` block; `None` = health and drift only.

        >>> Thresholds.from_analysis(None, 3)
        Thresholds(max_error_rate=None, max_latency_ms=None, min_requests=100, required_healthy=3, against_stable=False)
        """
        if analysis is None:
            return cls(required_healthy=replicas)
        return cls(
            max_error_rate=analysis.max_error_rate,
            max_latency_ms=analysis.max_latency_ms,
            min_requests=analysis.min_requests,
            required_healthy=replicas,
        )

    @property
    def judges_metrics(self) -> bool:
        """True when some metric threshold is set, i.e. when traffic numbers are needed."""
        return self.max_error_rate is not None or self.max_latency_ms is not None


@dataclass(frozen=True)
class Evidence:
    """What a reader saw of the candidate over the step's window. `None` = not known.

    `problems` lists reads that failed (API error, throttling, timeout, missing
    alarm): any problem makes the gate inconclusive, because a partial view must
    not pass a candidate.
    """

    requests: int | None = None
    """Requests the candidate served in the window; `None` when there were no datapoints at all."""
    errors: int | None = None
    """5xx responses among `requests`."""
    latency_ms: float | None = None
    """Candidate latency in milliseconds."""
    healthy_targets: int | None = None
    """Healthy candidate targets; `None` when the reader does not measure health (e.g. Prometheus)."""
    alarms_in_alarm: tuple[str, ...] = ()
    """Names of the configured alarms whose state is ALARM."""
    drift: str | None = None
    """Why the live router weights differ from the recorded ones, e.g. 'live weights 70/30 differ ...'."""
    problems: tuple[str, ...] = ()
    """Reads that failed, each a sentence naming the call and the error."""
    error_rate: float | None = None
    """A ready-made 5xx ratio (Prometheus); preferred over errors/requests when set."""
    stable_error_rate: float | None = None
    """Stable's 5xx ratio over the same window (read only when judging against stable)."""
    stable_latency_ms: float | None = None
    """Stable's latency over the same window, in milliseconds (read only when judging against stable)."""

    @property
    def observed_error_rate(self) -> float | None:
        """The ratio `decide` compares: the reader's own ratio, else errors/requests.

        >>> Evidence(requests=1000, errors=50).observed_error_rate
        0.05
        >>> Evidence(requests=0, errors=0).observed_error_rate is None
        True
        """
        if self.error_rate is not None:
            return self.error_rate
        if self.requests and self.errors is not None:
            return self.errors / self.requests
        return None


def decide(evidence: Evidence, thresholds: Thresholds) -> GateResult:
    """One verdict for one run. The order is the order of safety.

    1. any alarm in ALARM                  -> ABORT (an operator's alarm outranks our numbers)
    2. drift                               -> HOLD, not inconclusive (a human changed the router: never fight it)
    3. read problems                       -> HOLD, inconclusive
    4. healthy targets < required          -> HOLD, inconclusive (candidate not ready yet)
    5. no metric threshold set             -> ADVANCE (health and drift were all we judge)
    6. requests unknown or < min_requests  -> HOLD, inconclusive
    7. error rate > max, latency > max     -> ABORT
    8. a judged number missing             -> HOLD, inconclusive (no data is never a pass)
    9.                                     -> ADVANCE

    With `against_stable` (a shadow phase: the candidate answered copies of the requests stable answered),
    step 7 aborts only when stable stayed within the limit over the same window; when stable breaches it
    too, or stable's number is missing, the gate holds as inconclusive (the requests or a shared dependency
    fail, not only the candidate). Stable's numbers join the reason and the measurements.

    >>> shadow = Thresholds(max_error_rate=0.05, min_requests=0, against_stable=True)
    >>> decide(Evidence(error_rate=0.2, stable_error_rate=0.01), shadow).reason
    'error rate 20.0% > 5.0% (stable 1.0% over the same window)'
    >>> decide(Evidence(error_rate=0.2, stable_error_rate=0.3), shadow).inconclusive
    True

    Step 6 when `requests` is None but the reader gave a ratio or a latency
    itself (a Prometheus reader without a request query): min_requests cannot be
    checked and is not applied; those numbers are judged as they are.

    >>> decide(Evidence(requests=37, errors=0, latency_ms=10.0), Thresholds(max_error_rate=0.05)).reason
    'not enough evidence: 37 requests < 100'
    >>> decide(Evidence(requests=1000, errors=200), Thresholds(max_error_rate=0.05)).verdict.value
    'abort'
    """
    m = _measurements(evidence)
    if evidence.alarms_in_alarm:
        return GateResult(GateVerdict.ABORT, f"alarms in ALARM: {', '.join(evidence.alarms_in_alarm)}", False, m)
    if evidence.drift:
        return GateResult(GateVerdict.HOLD, evidence.drift, False, m)
    if evidence.problems:
        return _inconclusive(f"evidence could not be read: {'; '.join(evidence.problems)}", m)
    healthy = evidence.healthy_targets
    if healthy is not None and healthy < thresholds.required_healthy:
        return _inconclusive(f"candidate not ready: {healthy} of {thresholds.required_healthy} targets healthy", m)
    if not thresholds.judges_metrics:
        return GateResult(GateVerdict.ADVANCE, "candidate healthy and routed as recorded; no metrics judged", False, m)

    if evidence.requests is None:
        # A source that reports a ratio or a latency but cannot count requests (Prometheus
        # without a request query) is judged on those; with nothing at all there was no traffic.
        if evidence.error_rate is None and evidence.latency_ms is None:
            return _inconclusive("no request data for the candidate in this step", m)
    elif evidence.requests < thresholds.min_requests:
        return _inconclusive(f"not enough evidence: {evidence.requests} requests < {thresholds.min_requests}", m)

    # Check every limit we have data for before calling a missing number inconclusive:
    # a clear breach aborts even when another metric is silent.
    rate, latency = _known(evidence.observed_error_rate), _known(evidence.latency_ms)
    if thresholds.max_error_rate is not None and rate is not None and rate > thresholds.max_error_rate:
        breach = f"error rate {rate:.1%} > {thresholds.max_error_rate:.1%}{_of(evidence)}"
        stable = _known(evidence.stable_error_rate)
        if thresholds.against_stable:
            return _against_stable(breach, None if stable is None else f"{stable:.1%}",
                                   stable is not None and stable <= thresholds.max_error_rate, m)
        return GateResult(GateVerdict.ABORT, breach, False, m)
    if thresholds.max_latency_ms is not None and latency is not None and latency > thresholds.max_latency_ms:
        breach = f"latency {latency:.0f} ms > {thresholds.max_latency_ms:g} ms"
        stable = _known(evidence.stable_latency_ms)
        if thresholds.against_stable:
            return _against_stable(breach, None if stable is None else f"{stable:.0f} ms",
                                   stable is not None and stable <= thresholds.max_latency_ms, m)
        return GateResult(GateVerdict.ABORT, breach, False, m)
    if thresholds.max_error_rate is not None and rate is None:
        return _inconclusive("no error-rate data for the candidate in this step", m)
    if thresholds.max_latency_ms is not None and latency is None:
        return _inconclusive("no latency data for the candidate in this step", m)
    return GateResult(GateVerdict.ADVANCE, _passed(evidence, thresholds), False, m)


def _against_stable(breach: str, stable: str | None, stable_within: bool, measurements: dict[str, Any]) -> GateResult:
    """A candidate's breach in a shadow phase: its fault only when stable, on the same requests, stayed within."""
    if stable is None:
        return _inconclusive(f"{breach}, but stable's number over the same window is missing: cannot compare", measurements)
    if not stable_within:
        return _inconclusive(f"{breach}, but stable breaches too ({stable} over the same window): the requests or a "
                             "shared dependency fail, not only the candidate", measurements)
    return GateResult(GateVerdict.ABORT, f"{breach} (stable {stable} over the same window)", False, measurements)


def _inconclusive(reason: str, measurements: dict[str, Any]) -> GateResult:
    return GateResult(GateVerdict.HOLD, reason, True, measurements)


def _of(evidence: Evidence) -> str:
    if evidence.requests is not None and evidence.errors is not None and evidence.error_rate is None:
        return f" ({evidence.errors} of {evidence.requests} requests)"
    return ""


def _passed(evidence: Evidence, thresholds: Thresholds) -> str:
    parts = []
    if thresholds.max_error_rate is not None:
        parts.append(f"error rate {evidence.observed_error_rate:.1%} <= {thresholds.max_error_rate:.1%}")
    if thresholds.max_latency_ms is not None:
        parts.append(f"latency {evidence.latency_ms:.0f} ms <= {thresholds.max_latency_ms:g} ms")
    if evidence.requests is not None:
        parts.append(f"{evidence.requests} requests")
    if thresholds.against_stable:
        stable = [f"error rate {evidence.stable_error_rate:.1%}" if _known(evidence.stable_error_rate) is not None else None,
                  f"latency {evidence.stable_latency_ms:.0f} ms" if _known(evidence.stable_latency_ms) is not None else None]
        shown = ", ".join(s for s in stable if s) or "no data"
        return f"passed against stable (mirrored requests): {', '.join(parts)}; stable over the same window: {shown}"
    return "passed: " + ", ".join(parts)


def _measurements(evidence: Evidence) -> dict[str, Any]:
    """The numbers behind the verdict, JSON-serializable (non-finite floats become None)."""
    return {
        "requests": evidence.requests,
        "errors": evidence.errors,
        "errorRate": _finite(evidence.observed_error_rate),
        "latencyMs": _finite(evidence.latency_ms),
        "healthyTargets": evidence.healthy_targets,
        "alarms": list(evidence.alarms_in_alarm),
        **({"stableErrorRate": _finite(evidence.stable_error_rate), "stableLatencyMs": _finite(evidence.stable_latency_ms)}
           if evidence.stable_error_rate is not None or evidence.stable_latency_ms is not None else {}),
    }


def _known(value: float | None) -> float | None:
    """NaN (0/0 in PromQL) is no data, not a number that passes every comparison."""
    return None if value is None or math.isnan(value) else value


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
