"""One run at a time may change a stack: a lock per stack, held in SSM Parameter Store.

A run that deploys (``--deploy`` against AWS or an endpoint; ``python -m deploy up|down``)
takes the lock of every stack it may change *before* its first change and keeps it to the
end; a second such run refuses with exit 4, naming the holder (run id, user@host, pid, start
time). Attach runs (no ``--deploy``) take no lock: they only read, and the S3 write probe
writes under a key unique to the run. The offline rehearsal takes none either: its
emulator is its own.

Why SSM: ``PutParameter`` with ``Overwrite=false`` is an atomic create-if-absent on AWS
and on the emulator, and it needs nothing to exist before the first deploy (an S3 lock
object would need a bucket, a DynamoDB item a table). The parameter
``/payments-conformance/locks/<stack name>`` lives in the stack's account and region; its
value is the holder as JSON.

Stale locks. The holder renews its lock every 60 s, each time 10 minutes ahead. A lock is
stale, and is replaced, when that expiry has passed (a run that died on another machine),
or when it was taken on this host by a process that is no longer running. A replaced lock
is read back before the run goes on: of two runs replacing the same stale lock at once,
the one whose write is not the one read back refuses.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import botocore.exceptions

from core.aws import AwsSession, error_code
from core.errors import InfrastructureError, RefusedError

AWS_ERRORS = (InfrastructureError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
LOCK_PREFIX = "/payments-conformance/locks/"
TTL_SECONDS = 600.0
RENEW_SECONDS = 60.0
READ_BACK_SECONDS = 1.0

Printer = Callable[[str], None]


class StackLocked(RefusedError):
    """Another run of the suite holds the stack's lock."""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Holder:
    run_id: str
    user: str
    host: str
    pid: int
    started: str
    expires: str

    def describe(self) -> str:
        return f"run {self.run_id} by {self.user}@{self.host} (pid {self.pid}), started {self.started}"

    def stale_reason(self, now: datetime, host: str) -> str | None:
        """Why this lock no longer protects anything, or None while its run may be alive."""
        try:
            expires = datetime.strptime(self.expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return f"its expiry {self.expires!r} is unreadable"
        if expires < now:
            return f"it expired at {self.expires} (not renewed)"
        if self.host == host and not _pid_alive(self.pid):
            return f"pid {self.pid} is no longer running on {host}"
        return None

    @classmethod
    def parse(cls, value: str) -> Holder:
        try:
            data = json.loads(value)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return cls(run_id="unknown", user="unknown", host="unknown", pid=0, started="unknown", expires="?")


class StackLock:
    """The lock of one stack, for one run."""

    def __init__(
        self,
        aws: AwsSession,
        stack_name: str,
        run_id: str,
        *,
        out: Printer = print,
        ttl_seconds: float = TTL_SECONDS,
    ) -> None:
        self.aws = aws
        self.stack_name = stack_name
        self.run_id = run_id
        self.out = out
        self.ttl = ttl_seconds
        self.started = _iso(_now())
        self.held = False
        self.ssm = aws.client("ssm")

    @property
    def name(self) -> str:
        return LOCK_PREFIX + self.stack_name

    def holder(self) -> Holder:
        return Holder(
            run_id=self.run_id, user=_user(), host=socket.gethostname(), pid=os.getpid(),
            started=self.started, expires=_iso(_now() + timedelta(seconds=self.ttl)),
        )  # fmt: skip

    def _put(self, *, overwrite: bool) -> bool:
        try:
            self.ssm.put_parameter(
                Name=self.name, Value=json.dumps(asdict(self.holder())), Type="String", Overwrite=overwrite,
                Description=f"payments conformance suite: the run changing {self.stack_name}",
            )  # fmt: skip
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ParameterAlreadyExists":
                return False
            raise InfrastructureError(
                f"cannot take the lock {self.name} of {self.stack_name} in SSM ({error_code(exc)}); the deploying "
                "identity needs ssm:PutParameter, ssm:GetParameter and ssm:DeleteParameter on it."
            ) from None
        return True

    def current(self) -> Holder | None:
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise InfrastructureError(
                f"cannot read the lock {self.name} of {self.stack_name} ({error_code(exc)})."
            ) from None
        return Holder.parse(value)

    def _refuse(self, holder: Holder) -> StackLocked:
        return StackLocked(
            f"{self.stack_name} is being changed by another run of the suite: {holder.describe()}, lock "
            f"{self.name} held until {holder.expires} unless renewed; nothing was changed. Wait for that run to "
            f"finish, or, if it is dead, remove the lock: `aws ssm delete-parameter --name {self.name} "
            f"--region {self.aws.region}`."
        )

    def acquire(self) -> None:
        """Take the lock, replace it when stale, or raise :class:`StackLocked` naming the holder."""
        if self._put(overwrite=False):
            self.held = True
            return
        holder = self.current()
        if holder is None:  # released between the two calls: one more try
            if self._put(overwrite=False):
                self.held = True
                return
            holder = self.current() or Holder.parse("")
        if holder.run_id == self.run_id:
            self.held = True
            return
        reason = holder.stale_reason(_now(), socket.gethostname())
        if reason is None:
            raise self._refuse(holder)
        self._put(overwrite=True)
        time.sleep(READ_BACK_SECONDS)  # another run replacing the same stale lock writes within this
        now_held = self.current()
        if now_held is None or now_held.run_id != self.run_id:
            raise self._refuse(now_held or holder)
        self.held = True
        self.out(f"{self.stack_name}: replaced the stale lock of {holder.describe()}: {reason}")

    def renew(self) -> None:
        """Push the expiry ahead, while the lock is still ours."""
        if not self.held:
            return
        current = self.current()
        if current is None or current.run_id != self.run_id:
            self.held = False
            self.out(f"{self.stack_name}: this run's lock {self.name} was taken over or removed")
            return
        self._put(overwrite=True)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        current = self.current()
        if current is not None and current.run_id == self.run_id:
            self.ssm.delete_parameter(Name=self.name)


class LockKeeper:
    """Renews a run's locks in the background until it is stopped; then releases them."""

    def __init__(self, locks: list[StackLock], every_seconds: float = RENEW_SECONDS) -> None:
        self.locks = locks
        self.every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lock-keeper", daemon=True)

    def start(self) -> LockKeeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            for lock in self.locks:
                # a failed renewal is retried at the next tick; the lock stays valid for TTL_SECONDS
                with contextlib.suppress(*AWS_ERRORS):
                    lock.renew()

    def stop(self) -> list[str]:
        """Stop renewing and release every lock; return problems as sentences."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        problems: list[str] = []
        for lock in self.locks:
            try:
                lock.release()
            except AWS_ERRORS as exc:
                problems.append(f"could not release the lock {lock.name}: {exc}; it expires by itself")
        return problems
