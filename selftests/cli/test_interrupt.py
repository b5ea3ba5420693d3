"""Interrupted runs (Ctrl-C or SIGTERM) exit 2 and leave nothing of theirs behind, nothing else touched.

* offline: the run's own emulator is stopped (everything deployed into it goes with it);
* ``--deploy --teardown`` against an endpoint (the AWS path): deletion of exactly the stacks
  this run created is started, watched for a few seconds and named in one line; a stack that
  existed before the run is never deleted;
* attach mode deletes nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from selftests.cli.test_bad_input import DEPLOY, REPO, _env
from selftests.emulator.platform import settled_stack
from selftests.emulator.test_launcher import _wait_dead

CHAOS = ["-p", "selftests.cli.chaos_plugin"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_offline_run_stops_the_emulator(sig, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", f"--run-dir={tmp_path}",
         f"--alluredir={tmp_path / 'allure'}", "tests/compute"],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # a run started from a background job inherits SIGINT as ignored; a terminal's Ctrl-C is not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    pid = None
    deadline = time.monotonic() + 60
    output = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        output.append(line)
        match = re.search(r"emulator: ready at \S+ \(pid (\d+)\)", line)
        if match:
            pid = int(match.group(1))
            break
    assert pid, "".join(output)
    os.kill(proc.pid, sig)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2, "".join(output) + rest
    assert _wait_dead(pid, 10), "the emulator outlived the interrupted run"


def _own_group_with_default_sigint() -> None:
    os.setsid()  # a process group of its own, as a terminal gives a command
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_held_run(
    tmp_path: Path,
    *args: str,
    hold: Path,
    suites: tuple[str, ...] = ("tests/compute",),
    workers: str = "0",
    **env: str,
) -> subprocess.Popen[str]:
    """The real suite, held in its first check (chaos plugin) until ``hold`` exists, in a process
    group of its own (workers included): ``os.killpg`` is a terminal's Ctrl-C."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *CHAOS, "-n", workers,
         f"--run-dir={tmp_path / 'run'}", f"--alluredir={tmp_path / 'allure'}", *args, *suites],
        cwd=REPO, env=_env(CONFORMANCE_CHAOS_HOLD=str(hold), **env), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=_own_group_with_default_sigint,
    )  # fmt: skip


def wait_held(proc: subprocess.Popen[str], hold: Path, timeout: float = 90) -> None:
    reached = Path(f"{hold}.reached")
    deadline = time.monotonic() + timeout
    while not reached.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, _ = proc.communicate(timeout=30)
            raise AssertionError(f"the run never reached its checks (exit {proc.returncode}):\n{out[-4000:]}")
        time.sleep(0.1)


def deploy_up(url: str, env: str = "dev") -> subprocess.CompletedProcess[str]:
    """`python -m deploy up` against an endpoint, as a user runs it."""
    return subprocess.run(
        [*DEPLOY, "up", "--env", env, f"--endpoint-url={url}"], cwd=REPO, env=_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def api_calls(tmp_path: Path) -> dict[str, int]:
    (path,) = (tmp_path / "run").glob("*/api-calls.json")
    return json.loads(path.read_text())


@pytest.fixture
def unprotected_staging(tmp_path: Path) -> Path:
    """Environment files where staging has no termination protection: nothing but the run's own
    rules keeps the suite from deleting a staging stack it tagged."""
    folder = tmp_path / "environments"
    folder.mkdir()
    for source in (REPO / "deploy" / "environments").glob("*.yaml"):
        data = yaml.safe_load(source.read_text())
        if source.stem == "staging":
            data["expectations"]["termination_protection"] = False
        (folder / source.name).write_text(yaml.safe_dump(data))
    return folder


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_deploy_run_deletes_only_the_stack_it_created(sig, emulator, aws, tmp_path, unprotected_staging):
    emulator.reset()
    url = emulator.endpoint_url
    envs = {"PAYMENTS_ENVIRONMENTS_DIR": str(unprotected_staging)}
    before = subprocess.run(
        [*DEPLOY, "up", "--env", "staging", f"--endpoint-url={url}"], cwd=REPO, env=_env(**envs),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert before.returncode == 0, before.stderr  # tagged by the suite, deletable, but not this run's
    hold = tmp_path / "hold"
    proc = start_held_run(
        tmp_path, "--env=dev", "--env=staging", f"--endpoint-url={url}", "--deploy", "--teardown", hold=hold,
        PAYMENTS_ENVIRONMENTS_DIR=envs["PAYMENTS_ENVIRONMENTS_DIR"],
    )  # fmt: skip
    wait_held(proc, hold)
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out[-4000:]
    lines = [line for line in out.splitlines() if line.startswith("interrupted: deletion started")]
    assert len(lines) == 1, out[-4000:]
    assert "payments-dev-main" in lines[0] and "payments-staging-main" not in lines[0]
    calls = api_calls(tmp_path)
    assert calls.get("cloudformation:CreateStack") == 1 and calls.get("cloudformation:DeleteStack") == 1, calls
    cfn = aws("cloudformation")
    assert settled_stack(cfn, "payments-dev-main")["StackStatus"] == "DELETE_COMPLETE"
    staging = cfn.describe_stacks(StackName="payments-staging-main")["Stacks"][0]
    assert staging["StackStatus"] == "CREATE_COMPLETE", staging["StackStatus"]  # no change set, never deleted
    params = aws("ssm").get_parameters_by_path(Path="/payments-conformance/locks/", Recursive=True)["Parameters"]
    assert params == []  # the interrupted run released its locks


def test_interrupted_attach_run_deletes_nothing(emulator, aws, tmp_path):
    emulator.reset()
    url = emulator.endpoint_url
    up = deploy_up(url)
    assert up.returncode == 0, up.stderr
    hold = tmp_path / "hold"
    proc = start_held_run(tmp_path, "--env=dev", f"--endpoint-url={url}", "--teardown", hold=hold)
    wait_held(proc, hold)
    os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out[-4000:]
    assert "deletion started" not in out
    assert "cloudformation:DeleteStack" not in api_calls(tmp_path)
    assert aws("cloudformation").describe_stacks(StackName="payments-dev-main")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )


def test_interrupt_while_create_stack_is_on_the_wire_deletes_the_stack_once_it_answers(emulator, aws, tmp_path):
    """Ctrl-C while deploying (AWS latency on CreateStack through a real proxy): the run waits a few
    seconds for CreateStack's answer, then starts deleting exactly that stack."""
    from selftests.faults.test_faults import Proxy

    emulator.reset()
    proxy = Proxy(emulator.endpoint_url)
    try:
        proxy.rules([{"service": "cloudformation", "operation": "CreateStack", "latency": 2500}])
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", f"--run-dir={tmp_path / 'run'}",
             f"--alluredir={tmp_path / 'allure'}", "--env=dev", f"--endpoint-url={proxy.url}", "--deploy",
             "--teardown", "tests/compute"],
            cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        output = []
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            output.append(line)
            if "payments-dev-main: creating" in line or not line:
                break
        assert "creating" in output[-1], "".join(output)
        time.sleep(0.5)  # CreateStack is on the wire for 2.5 s
        os.kill(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        proxy.stop()
    out = "".join(output) + rest
    assert proc.returncode == 2, out[-4000:]
    assert "interrupted: deletion started for the stacks this run created" in out and "payments-dev-main" in out
    calls = api_calls(tmp_path)
    assert calls.get("cloudformation:CreateStack") == 1 and calls.get("cloudformation:DeleteStack") == 1, calls
    assert settled_stack(aws("cloudformation"), "payments-dev-main")["StackStatus"] == "DELETE_COMPLETE"


def test_ctrl_c_to_the_whole_process_group_under_xdist_deletes_the_created_stack_once(emulator, aws, tmp_path):
    """A terminal's Ctrl-C reaches the controller and every worker at once (-n 2)."""
    emulator.reset()
    hold = tmp_path / "hold"
    proc = start_held_run(
        tmp_path, "--env=dev", f"--endpoint-url={emulator.endpoint_url}", "--deploy", "--teardown", hold=hold,
        workers="2",
    )  # fmt: skip
    wait_held(proc, hold)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out[-4000:]
    assert out.count("interrupted: deletion started") == 1 and "payments-dev-main (deleted)" in out, out[-3000:]
    calls = api_calls(tmp_path)
    assert calls.get("cloudformation:CreateStack") == 1 and calls.get("cloudformation:DeleteStack") == 1, calls
    assert calls.get("ssm:DeleteParameter") == 1  # the lock released
    assert settled_stack(aws("cloudformation"), "payments-dev-main")["StackStatus"] == "DELETE_COMPLETE"
