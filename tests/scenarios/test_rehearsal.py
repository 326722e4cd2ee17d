"""The README's main command: the rehearsal prints one line per service per run and a whole rollout."""

from __future__ import annotations

import subprocess
import sys

from rehearsal.engine import PROJECT_ROOT


def rehearse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rehearsal", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def test_the_dev_rehearsal_shows_a_whole_canary_and_an_approved_blue_green():
    done = rehearse()
    assert done.returncode == 0, done.stdout + done.stderr
    web = [line for line in done.stdout.splitlines() if line.strip().startswith("web ")]
    assert any("blue  90 / green  10" in line for line in web)
    assert any("blue  50 / green  50" in line for line in web)
    assert any("promoted 1.28 on green" in line for line in web)
    assert any("blue scaled to zero" in line for line in web)
    admin = [line for line in done.stdout.splitlines() if line.strip().startswith("admin ")]
    assert any("waiting for approve: 1.28" in line for line in admin)
    assert "policy mandatory" not in done.stdout


def test_the_gates_rehearsal_shows_a_healthy_step_then_the_abort():
    done = rehearse("--scenario", "rehearsal/scenarios/dev-gates.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "advanced to step 1 (candidate healthy and routed as recorded; no metrics judged)" in done.stdout
    assert "advanced to step 2 (passed: error rate 0.3%" in done.stdout
    assert "gate aborted: error rate 20.0% > 5.0%" in done.stdout


def test_the_rehearsal_reports_policy_violations_per_run(tmp_path):
    scenario = tmp_path / "plaintext.yaml"
    scenario.write_text(
        "runs:\n"
        "  - note: a password in plain text\n"
        "    set:\n"
        "      cutover:services.web.environment: {DB_PASSWORD: hunter2}\n"
    )
    done = rehearse("--scenario", str(scenario))
    assert done.returncode == 0, "dev's policies are advisory: reported, not fatal"
    assert "policy advisory  no-plaintext-secrets-in-env" in done.stdout
    staging = rehearse("--stack", "staging", "--scenario", str(scenario))
    assert staging.returncode != 0 and "policy mandatory no-plaintext-secrets-in-env" in staging.stdout


def test_the_rollback_rehearsal_shows_a_promotion_an_alarm_and_the_one_run_rollback():
    done = rehearse("--scenario", "rehearsal/scenarios/dev-rollback.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    web = [line for line in done.stdout.splitlines() if line.strip().startswith("web ")]
    assert "promoted 1.28 on green; until" in web[-3] and "version: 1.27 switches back in one run" in web[-3]
    assert "blue 100 / green   0  1.27" in web[-1] and "rolled back to 1.27 on blue in one run" in web[-1]
    assert "~1 " in web[-1], "one traffic write"
