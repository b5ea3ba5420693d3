"""Two runs at once against the same environment (an endpoint started elsewhere, as on AWS).

Deploy mode: the first run holds the stack's lock (core.lock); the second refuses
before any change, exit 4, naming the first (run id, user@host, pid, start time), and the
first finishes green. Attach mode takes no lock: both read at once and both pass (the S3
write probe writes under a key unique to each run).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from selftests.cli.test_bad_input import REPO, _env
from selftests.cli.test_interrupt import api_calls, deploy_up, start_held_run, wait_held

LOCK = "/payments-conformance/locks/payments-dev-main"


def _second_run(
    tmp_path: Path, *args: str, suites: tuple[str, ...] = ("tests/compute",)
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", f"--run-dir={tmp_path / 'run'}",
         f"--alluredir={tmp_path / 'allure'}", *args, *suites],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_second_deploying_run_is_refused_naming_the_first_which_finishes_green(emulator, aws, tmp_path):
    emulator.reset()
    args = ("--env=dev", f"--endpoint-url={emulator.endpoint_url}", "--deploy", "--teardown")
    hold = tmp_path / "hold"
    first = start_held_run(tmp_path / "first", *args, hold=hold)
    try:
        wait_held(first, hold)
        (first_run_dir,) = (tmp_path / "first" / "run").iterdir()
        holder = json.loads(aws("ssm").get_parameter(Name=LOCK)["Parameter"]["Value"])
        assert holder["run_id"] == first_run_dir.name and holder["pid"] == first.pid

        second = _second_run(tmp_path / "second", *args)
        out = second.stdout + second.stderr
        assert second.returncode == 4, out[-4000:]
        for fact in (first_run_dir.name, f"pid {first.pid}", socket.gethostname(), f"started {holder['started']}"):
            assert fact in out, (fact, out[-3000:])
        assert "Traceback" not in out
        calls = api_calls(tmp_path / "second")
        assert not [op for op in calls if op.startswith("cloudformation:")], calls  # refused before any change
    finally:
        hold.touch()
    rest, _ = first.communicate(timeout=120)
    assert first.returncode == 0, rest[-4000:]
    assert api_calls(tmp_path / "first")["cloudformation:DeleteStack"] == 1
    ssm = aws("ssm")
    assert ssm.get_parameters_by_path(Path="/payments-conformance/locks/", Recursive=True)["Parameters"] == []


def test_two_attach_runs_at_once_both_proceed(emulator, aws, tmp_path):
    emulator.reset()
    url = emulator.endpoint_url
    up = deploy_up(url)
    assert up.returncode == 0, up.stderr
    suites = ("tests/storage",)
    hold = tmp_path / "hold"
    first = start_held_run(tmp_path / "first", "--env=dev", f"--endpoint-url={url}", hold=hold, suites=suites)
    try:
        wait_held(first, hold)
        second = _second_run(tmp_path / "second", "--env=dev", f"--endpoint-url={url}", suites=suites)
        assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    finally:
        hold.touch()
    rest, _ = first.communicate(timeout=120)
    assert first.returncode == 0, rest[-4000:]
    for run in ("first", "second"):
        calls = api_calls(tmp_path / run)
        assert not [op for op in calls if op.startswith("ssm:")], calls  # attach mode takes no lock
    assert aws("cloudformation").describe_stacks(StackName="payments-dev-main")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )


def test_deploy_command_holds_the_same_lock(emulator, aws, tmp_path):
    """python -m deploy up|down refuse while a run holds the stack, and release their own lock."""
    emulator.reset()
    url = emulator.endpoint_url
    ssm = aws("ssm")
    holder = {"run_id": "20260101T000000Z-abcdef", "user": "ci", "host": socket.gethostname(), "pid": os.getpid(),
              "started": "2026-01-01T00:00:00Z", "expires": "2999-01-01T00:00:00Z"}  # fmt: skip
    ssm.put_parameter(Name=LOCK, Value=json.dumps(holder), Type="String")
    up = deploy_up(url)
    assert up.returncode == 4, up.stdout + up.stderr
    assert "run 20260101T000000Z-abcdef by ci@" in up.stderr and f"(pid {os.getpid()})" in up.stderr
    assert aws("cloudformation").list_stacks()["StackSummaries"] == []
    ssm.delete_parameter(Name=LOCK)
    up = deploy_up(url)
    assert up.returncode == 0, up.stderr
    assert ssm.get_parameters_by_path(Path="/payments-conformance/locks/", Recursive=True)["Parameters"] == []
