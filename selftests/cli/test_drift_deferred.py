"""Only the drift check waits for drift detection: the other checks run while it is in progress.

A real emulator process whose drift detection stays DETECTION_IN_PROGRESS for some seconds, as on
AWS (FAITHFUL_AWS_TIMING, emulator/faithful/aws_timing.py), the platform deployed in it, and the
real suite attached to it (with and without xdist workers). The run directory's ``drift-dev.json``
appears when the controller publishes drift detection's answer; Allure's results say when each
check ran. Then a resource is changed outside CloudFormation and the drift check, which waited for
the answer, fails naming it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.launcher import Emulator
from selftests.cli.test_bad_input import REPO, _env
from selftests.emulator.platform import deploy_platform

DRIFT_SECONDS = 10.0
SUFFIX = "late"
DRIFT_CHECK = "test_stack_in_sync_with_its_template"
SELECTED = ("tests/stack", "tests/network")


@pytest.fixture(scope="module")
def slow_drift() -> Iterator[str]:
    """An emulator whose drift detection takes DRIFT_SECONDS (no added latency), dev deployed in it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAITHFUL_AWS_TIMING", f"drift_seconds={DRIFT_SECONDS},latency_ms=0,throttle_scale=1000")
        emu = Emulator().start()
    try:
        deploy_platform(emu.endpoint_url, "dev", suffix=SUFFIX)
        yield emu.endpoint_url
    finally:
        emu.stop()


def _suite(url: str, workdir: Path, workers: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    run_dir, allure = workdir / "run", workdir / "allure"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", workers, "--env=dev", f"--suffix={SUFFIX}",
         f"--endpoint-url={url}", f"--run-dir={run_dir}", f"--alluredir={allure}", *SELECTED],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (run,) = [p for p in run_dir.iterdir() if (p / "state.json").exists()]
    return proc, run


def _stops(allure: Path) -> dict[str, float]:
    """Each check's end (epoch seconds) as Allure recorded it, by test name with its parameter."""
    stops: dict[str, float] = {}
    for f in allure.glob("*-result.json"):
        result = json.loads(f.read_text())
        stops[result["name"]] = result["stop"] / 1000.0
    return stops


@pytest.mark.parametrize("workers", ["0", "2"])
def test_other_checks_run_while_drift_detection_is_in_progress(slow_drift, tmp_path, workers):
    proc, run = _suite(slow_drift, tmp_path, workers)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "drift detection still in progress, published when it ends" in proc.stdout
    published = (run / "drift-dev.json").stat().st_mtime
    stops = _stops(tmp_path / "allure")
    drift = [t for name, t in stops.items() if name.startswith(DRIFT_CHECK)]
    others = [t for name, t in stops.items() if not name.startswith(DRIFT_CHECK)]
    assert len(drift) == 1 and len(others) > 10, sorted(stops)
    assert min(others) < published, "no other check ended before drift detection's answer was published"
    assert drift[0] >= published, "the drift check ended before drift detection's answer was published"
    # the saved inventory is complete: drift detection's answer in it, its time in timings.json
    inventory = json.loads((run / "inventory-dev.json").read_text())
    assert inventory["stack"]["drift_detection"]["DetectionStatus"] == "DETECTION_COMPLETE"
    assert "cloudformation:DetectStackDrift" not in inventory["stack"]["errors"]
    assert json.loads((run / "timings.json").read_text())["drift:dev"] >= DRIFT_SECONDS - 1


def test_the_drift_check_waits_and_still_fails_on_a_drifted_stack(slow_drift, tmp_path):
    import boto3

    logs = boto3.client(
        "logs", region_name="us-east-1", endpoint_url=slow_drift, aws_access_key_id="test",
        aws_secret_access_key="test",
    )  # fmt: skip
    group = f"payments-dev-{SUFFIX}-app-logs"
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)  # outside CloudFormation
    proc, run = _suite(slow_drift, tmp_path, "0")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"FAILED tests/stack/test_stack.py::{DRIFT_CHECK}[dev]" in proc.stdout
    assert group in proc.stdout and "has drifted from its template" in proc.stdout
    assert proc.stdout.count("FAILED") == 1, proc.stdout[-3000:]  # nothing else judged the drift
    assert (run / "drift-dev.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_drift_check_waits_is_an_interrupt(slow_drift, tmp_path, sig):
    """Ctrl-C (or SIGTERM) while only the drift check is left, waiting for drift detection: exit 2 and
    the attach run's one line at once, not after the detection or its deadline."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "--env=dev", f"--suffix={SUFFIX}",
         f"--endpoint-url={slow_drift}", f"--run-dir={tmp_path / 'run'}", f"--alluredir={tmp_path / 'allure'}",
         "tests/stack"],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:  # the run says so when it publishes the inventory without drift detection
        seen += line
        if "drift detection still in progress" in line:
            break
    time.sleep(1.5)  # the other stack checks take a fraction of that; the drift check is waiting
    signalled = time.monotonic()
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    took = time.monotonic() - signalled
    out = seen + rest
    assert proc.returncode == 2, out[-4000:]
    assert "interrupted: attach mode; nothing was deleted" in out
    assert "Traceback" not in out
    assert took < DRIFT_SECONDS - 4, f"the run ended {took:.1f} s after the signal: it waited for drift detection"
