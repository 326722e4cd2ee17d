"""Are the one-line bugs issue 15 planted caught by the fast tests? Plant each, run, restore.

    .venv/bin/python -m bench.planted_bugs

Each bug is one textual replacement in a source file; the file is restored whatever happens. A bug is
"caught" when `tests/unit` + `tests/gates/test_verdict.py` fail with it in place (about 5 s each).
Not part of the suite: it edits sources while it runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/unit", "tests/gates/test_verdict.py"]
BUGS = [
    ("a gate abort is no longer sticky once abort is lifted", "components/rollout/machine.py",
     'if state.aborted_by == "gate":\n        hint', 'if False:\n        hint'),
    ("progressing with a null step is accepted", "components/rollout/codec.py",
     'if state.candidate_version is None or state.step is None:\n        return [f"phase',
     'if state.candidate_version is None:\n        return [f"phase'),
    ("aborted with no candidate is accepted", "components/rollout/codec.py",
     'if state.candidate_version is None or state.step is not None or not on_stable:\n            found.append("phase aborted',
     'if state.step is not None or not on_stable:\n            found.append("phase aborted'),
    ("abortedBy is exported as null", "components/rollout/codec.py",
     '"abortedBy": state.aborted_by,', '"abortedBy": None,'),
    ("minRequests compared with <= instead of <", "components/gates/verdict.py",
     "elif evidence.requests < thresholds.min_requests:", "elif evidence.requests <= thresholds.min_requests:"),
]


def main() -> int:
    missed = 0
    for name, path, old, new in BUGS:
        source = ROOT / path
        text = source.read_text()
        if old not in text:
            print(f"{name}: the planted line is no longer in {path} — update this list")
            missed += 1
            continue
        source.write_text(text.replace(old, new, 1))
        try:
            run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600)
        finally:
            source.write_text(text)
        caught = run.returncode != 0
        missed += not caught
        print(f"{name}: {'caught' if caught else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
