"""The stack lock (core.lock) against the real emulator's SSM: take, refuse, replace stale, release."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from core.aws import AwsSession
from core.lock import LOCK_PREFIX, Holder, LockKeeper, StackLock, StackLocked

STACK = "payments-dev-locktest"


@pytest.fixture
def session(emulator):
    emulator.reset()
    return AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)


def _plant(session: AwsSession, **holder: object) -> None:
    value = {"run_id": "other-run", "user": "someone", "host": socket.gethostname(), "pid": os.getpid(),
             "started": "2026-01-01T00:00:00Z", "expires": "2999-01-01T00:00:00Z", **holder}  # fmt: skip
    session.client("ssm").put_parameter(Name=LOCK_PREFIX + STACK, Value=json.dumps(value), Type="String")


def _holder(session: AwsSession) -> Holder:
    return Holder.parse(session.client("ssm").get_parameter(Name=LOCK_PREFIX + STACK)["Parameter"]["Value"])


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_take_and_release(session):
    lock = StackLock(session, STACK, "run-a", out=lambda _l: None)
    lock.acquire()
    assert _holder(session).run_id == "run-a" and _holder(session).pid == os.getpid()
    LockKeeper([lock]).stop()
    assert session.client("ssm").get_parameters_by_path(Path=LOCK_PREFIX)["Parameters"] == []


def test_a_live_holder_is_named_and_nothing_is_overwritten(session):
    _plant(session)
    with pytest.raises(StackLocked) as refused:
        StackLock(session, STACK, "run-b", out=lambda _l: None).acquire()
    message = str(refused.value)
    assert "run other-run by someone@" in message and f"(pid {os.getpid()})" in message
    assert "started 2026-01-01T00:00:00Z" in message and "aws ssm delete-parameter" in message
    assert refused.value.exit_code == 4
    assert _holder(session).run_id == "other-run"


@pytest.mark.parametrize(
    "stale",
    [{"pid": "dead"}, {"host": "elsewhere", "expires": "2020-01-01T00:00:00Z"}],
    ids=["pid-gone-on-this-host", "expired-on-another-host"],
)
def test_a_stale_lock_is_replaced_and_said_so(session, stale):
    _plant(session, **{k: (_dead_pid() if v == "dead" else v) for k, v in stale.items()})
    lines: list[str] = []
    StackLock(session, STACK, "run-c", out=lines.append).acquire()
    assert _holder(session).run_id == "run-c"
    assert len(lines) == 1 and "replaced the stale lock of run other-run" in lines[0]


def test_a_live_lock_on_another_host_is_not_stale_until_it_expires(session):
    _plant(session, host="elsewhere", pid=1)
    with pytest.raises(StackLocked):
        StackLock(session, STACK, "run-d", out=lambda _l: None).acquire()


def test_release_never_removes_another_runs_lock(session):
    lock = StackLock(session, STACK, "run-e", out=lambda _l: None)
    lock.acquire()
    session.client("ssm").delete_parameter(Name=LOCK_PREFIX + STACK)
    _plant(session)  # taken over meanwhile (say, after this run stalled past the expiry)
    lock.renew()
    lock.release()
    assert _holder(session).run_id == "other-run"


def test_the_keeper_renews_ahead_and_releases(session):
    lock = StackLock(session, STACK, "run-f", out=lambda _l: None, ttl_seconds=600)
    lock.acquire()
    first = _holder(session).expires
    version = session.client("ssm").get_parameter(Name=LOCK_PREFIX + STACK)["Parameter"]["Version"]
    keeper = LockKeeper([lock], every_seconds=0.2).start()
    time.sleep(1.5)  # the expiry has a resolution of one second
    renewed = session.client("ssm").get_parameter(Name=LOCK_PREFIX + STACK)["Parameter"]
    assert renewed["Version"] > version and _holder(session).expires > first
    assert keeper.stop() == []
    assert session.client("ssm").get_parameters_by_path(Path=LOCK_PREFIX)["Parameters"] == []
