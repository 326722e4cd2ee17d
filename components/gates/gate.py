"""One gate evaluation: read the evidence, decide. The only place readers meet `decide`.

Pure of I/O itself: the reader passed in does the talking.
"""

from __future__ import annotations

from components.gates.model import GateResult
from components.gates.reader import EvidenceReader, EvidenceRequest
from components.gates.verdict import Evidence, Thresholds, decide


def evaluate_gate(reader: EvidenceReader, request: EvidenceRequest, thresholds: Thresholds) -> GateResult:
    """The verdict for one candidate and step. Never raises for a reader's failure.

    A reader that raises (a bug, an SDK surprise) gives an inconclusive HOLD naming
    the exception class: a broken gate must pause a rollout, never pass it or crash `pulumi up`.
    """
    try:
        evidence = reader.read(request)
    except Exception as err:  # noqa: BLE001 - any reader failure is "no evidence", by design
        evidence = Evidence(problems=(f"{type(reader).__name__} raised {type(err).__name__}: {err}",))
    return decide(evidence, thresholds)
