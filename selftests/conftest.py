"""Fixtures of the self-tests: a real emulator process and boto3 clients bound to it.

Self-tests never touch real AWS: every botocore request is checked before it is sent and
refused unless it goes to 127.0.0.1 (Prowler's test conftest does the same).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from emulator.launcher import Emulator, free_port

REPO = Path(__file__).resolve().parents[1]

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _refuse_real_aws(request: Any, **_: Any) -> None:
    host = urlsplit(request.url).hostname or ""
    if host not in LOOPBACK:
        raise RuntimeError(f"self-test tried to reach {host}: self-tests must never call real AWS")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """A started emulator for this test process (one per xdist worker), stopped at the end."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def running_emulator() -> Iterator[str]:
    """`python -m emulator` started as a user starts it (its own process), for attach-mode runs; stopped after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith("emulator ready at")
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


@pytest.fixture(scope="session")
def aws(emulator: Emulator) -> Callable[[str], Any]:
    """aws("ec2") → a boto3 client on the emulator (us-east-1, test credentials)."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=30)
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            c = session.client(service, endpoint_url=emulator.endpoint_url, config=config)
            c.meta.events.register("before-send.*.*", _refuse_real_aws)
            clients[service] = c
        return clients[service]

    return client


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The drift catalogue's kill rate (drifts caught / drifts), at the end of the self-tests."""
    reports = [
        r
        for r in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        if "test_drift_is_caught[" in r.nodeid and r.when == "call"
    ]
    if not reports:
        return
    caught = sum(1 for r in reports if r.passed)
    total = len(reports)
    terminalreporter.write_sep("=", "drift catalogue")
    terminalreporter.write_line(f"drift kill rate: {caught}/{total} drifts caught ({100 * caught / total:.0f}%)")
    for r in reports:
        if not r.passed:
            terminalreporter.write_line(f"  missed: {r.nodeid.split('[', 1)[1].rstrip(']')}")
