"""Hostile endpoints: exit 3, one sentence naming the endpoint and what it did, within seconds.

Real sockets on 127.0.0.1 (selftests/faults/hostile.py), the real commands as subprocesses:
``pytest --env dev --endpoint-url URL`` and ``python -m deploy status|up --env dev --endpoint-url URL``.
The bound (docs/reliability.md, "Hostile endpoints"): the first request to an endpoint has
15 s of wall time; each command here has its interpreter start-up on top, on a loaded machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.aws import AwsSession
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from deploy.deployer import Deployer
from selftests.faults.hostile import DyingProxy, HostileServer

REPO = Path(__file__).resolve().parents[2]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:pytest_httpserver", "-n", "0", "-q"]
DEPLOY = [sys.executable, "-m", "deploy"]
# the first request's wall deadline (core.endpoint.PROBE_SECONDS, 15 s), plus interpreter
# start-up and a loaded machine's slack
BOUND_SECONDS = 15.0 + 15.0

WHAT = {
    "silent": "accepted the connection but sent no answer within 15 s",
    "html": "answered an HTML page (HTTP 200): it is a web server, not an AWS API",
    "close": "closed the connection without answering",
    "drip": "is too slow",
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env


def _run(cmd: list[str], timeout: float = 60.0, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, env=_env(**env), capture_output=True, text=True, timeout=timeout)
    return r, time.monotonic() - started


@pytest.mark.parametrize("kind", list(WHAT))
def test_pytest_against_a_hostile_endpoint_exits_3_naming_it_within_seconds(kind, tmp_path):
    with HostileServer(kind, lifetime=60) as server:
        args = ["--env=dev", f"--endpoint-url={server.url}", f"--run-dir={tmp_path}", "tests/stack"]
        r, seconds = _run([*PYTEST, *args])
    out = r.stdout + r.stderr
    assert r.returncode == 3, out[-3000:]
    assert f"the AWS endpoint {server.url} {WHAT[kind]}" in out, out[-3000:]
    assert "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert seconds < BOUND_SECONDS, seconds


@pytest.mark.parametrize("command", ["status", "up"])
@pytest.mark.parametrize("kind", list(WHAT))
def test_deployer_against_a_hostile_endpoint_exits_3_with_one_line(kind, command):
    with HostileServer(kind, lifetime=60) as server:
        r, seconds = _run([*DEPLOY, command, "--env", "dev", "--endpoint-url", server.url])
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr.startswith(f"deploy: error: the AWS endpoint {server.url} {WHAT[kind]}"), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert seconds < BOUND_SECONDS, seconds


# ---------------------------------------------------------------- an endpoint that dies mid-run

SUFFIX = "hostile"


@pytest.fixture(scope="module")
def deployed(emulator):
    emulator.reset()
    spec = load_environment("dev").with_overrides(suffix=SUFFIX)
    aws = AwsSession(region=spec.region, endpoint_url=emulator.endpoint_url)
    Deployer(with_self_signed_certificate(spec, aws), aws, out=lambda _l: None).up()
    parts = urlsplit(emulator.endpoint_url)
    return (parts.hostname, parts.port)


def test_an_endpoint_that_dies_mid_run_exits_3_with_one_sentence_and_no_verdict(deployed, tmp_path):
    """The endpoint answers the first 30 requests, then closes everything and its port (an emulator
    killed mid-run): no check fails, no probe error per check, one sentence, within seconds."""
    with DyingProxy(deployed, requests=30) as proxy:
        r, seconds = _run(
            [*PYTEST, "--env=dev", f"--suffix={SUFFIX}", f"--endpoint-url={proxy.url}", f"--run-dir={tmp_path}"],
            timeout=120,
        )
        assert proxy.dead.is_set()
    out = r.stdout + r.stderr
    print(f"{seconds:.1f} s:", out.strip().splitlines()[-1])
    assert r.returncode == 3, out[-3000:]
    assert f"the AWS endpoint {proxy.url} stopped answering during the run" in out, out[-3000:]
    assert "asked again, it cannot be reached (Connection refused)" in out, out[-3000:]
    assert " FAILED " not in out and "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert seconds < 60, seconds


def test_an_endpoint_that_starts_dripping_mid_run_is_cut_by_the_call_deadline(deployed, tmp_path):
    """After 30 requests every answer comes one byte each 0.5 s, which resets a 1 s read timeout
    forever: the per-call wall deadline (5 + 2 * 1 + 2 = 9 s) ends the call, the endpoint is named."""
    with DyingProxy(deployed, requests=30, then="drip", drip_seconds=0.5) as proxy:
        r, seconds = _run(
            [*PYTEST, "--env=dev", f"--suffix={SUFFIX}", f"--endpoint-url={proxy.url}", f"--run-dir={tmp_path}"],
            timeout=120,
            PAYMENTS_READ_TIMEOUT="1",
        )
    out = r.stdout + r.stderr
    print(f"{seconds:.1f} s:", out.strip().splitlines()[-1])
    assert r.returncode == 3, out[-3000:]
    assert f"the AWS endpoint {proxy.url} stopped answering during the run" in out, out[-3000:]
    assert "(it gave no complete answer within 9 s (too slow); asked again, it is too slow" in out, out[-3000:]
    assert " FAILED " not in out and "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert seconds < 60, seconds


def test_an_observation_past_its_deadline_exits_3_naming_the_environment(deployed, tmp_path):
    """Every answer held 0.3 s (slow, but each call well within its deadline): dev's inventory as a
    whole is bounded (PAYMENTS_OBSERVATION_SECONDS=1 here, 120 s by default)."""
    with DyingProxy(deployed, requests=10_000, delay=0.3) as proxy:
        r, seconds = _run(
            [*PYTEST, "--env=dev", f"--suffix={SUFFIX}", f"--endpoint-url={proxy.url}", f"--run-dir={tmp_path}"],
            timeout=120,
            PAYMENTS_OBSERVATION_SECONDS="1",
        )
    out = r.stdout + r.stderr
    print(f"{seconds:.1f} s:", out.strip().splitlines()[-1])
    assert r.returncode == 3, out[-3000:]
    assert f"the inventory of dev (payments-dev-{SUFFIX}) did not finish within 1 s" in out, out[-3000:]
    assert " FAILED " not in out and "INTERNALERROR" not in out and "Traceback" not in out, out[-3000:]
    assert seconds < 60, seconds
