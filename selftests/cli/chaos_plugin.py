"""A test-only pytest plugin that breaks a conformance run on purpose (never loaded by the suite itself).

The self-tests load it into the real ``pytest`` command with ``-p selftests.cli.chaos_plugin``
and choose what it does through the environment; with none of these variables set it does
nothing:

* ``CONFORMANCE_CHAOS_CRASH=<text>``: the process running the check whose node id contains
  ``<text>`` dies on the spot (``os._exit``), the way a worker killed by the OOM killer does.
* ``CONFORMANCE_CHAOS_HOLD=<path>``: the first check of the process writes ``<path>.reached``
  and waits until ``<path>`` exists (at most 120 s): the run is held in the middle of its
  checks, after the platform was prepared, while the self-test does something to it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HOLD_LIMIT_SECONDS = 120.0
_held: list[bool] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    crash = os.environ.get("CONFORMANCE_CHAOS_CRASH")
    if crash and crash in item.nodeid:
        os._exit(17)
    hold = os.environ.get("CONFORMANCE_CHAOS_HOLD")
    if hold and not _held:
        _held.append(True)
        release = Path(hold)
        Path(f"{hold}.reached").write_text(f"{os.getpid()} {item.nodeid}\n")
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    endpoint = os.environ.get("CONFORMANCE_CHAOS_FILL_BUCKETS")
    if not endpoint or hasattr(session.config, "workerinput"):
        return
    import boto3

    s3 = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test"
    )
    for bucket in s3.list_buckets().get("Buckets", []):
        if "-txlogs-" in bucket["Name"]:
            s3.put_object(Bucket=bucket["Name"], Key="left-by-selftest.log", Body=b"a transaction log")


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    seconds = os.environ.get("CONFORMANCE_CHAOS_UNCONFIGURE_SECONDS")
    if not seconds or hasattr(config, "workerinput"):
        return
    print("chaos: unconfiguring", file=sys.__stderr__, flush=True)
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:  # a signal's handler runs between the sleeps
        time.sleep(0.05)
