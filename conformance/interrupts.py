"""Ctrl-C and SIGTERM at any moment of a run: exit 2, one line, nothing of the run's left unnamed.

The controller process installs one handler for both signals when pytest configures it and keeps
it to the very end of the process (docs/lifecycle.md, "Ctrl-C and SIGTERM: exit 2"):

* while the checks run (pytest's collection and test loop), the first signal raises
  ``KeyboardInterrupt``, as pytest expects: the check in progress stops, pytest reports the
  interruption and calls the session's finish, where the controller tears down;
* at every other moment (configuring, preparing the platform, tearing it down, stopping the
  emulator, pytest's unconfigure) the first signal only records itself: the work in progress
  reaches its next safe point (a poll of a stack, a thread pool's wait), where the controller
  turns to deleting what the run created. An exception raised from a signal handler at an
  arbitrary line lands inside thread pools' locks, in the middle of a deployer's wait, or in
  another plugin's unconfigure, and ends the process with a traceback and Python's 130;
* a second signal abandons the deletions (nothing more is started or awaited); the line then
  says which stacks are left and in which state. Further signals change nothing more;
* after pytest has returned its exit status, a signal ends the process at once with exit 2.

The handler only sets plain attributes (no lock, no ``threading.Event``: a handler that takes a
lock the interrupted line holds deadlocks); waiting code polls :meth:`Interrupts.is_set`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """The controller process's record of Ctrl-C and SIGTERM (one per process: :data:`INTERRUPTS`)."""

    def __init__(self) -> None:
        self.installed = False
        self.count = 0  # signals received
        self.signal_name = ""
        self.raising = False  # the checks run: the first signal raises KeyboardInterrupt
        self.done = False  # pytest has returned: a signal ends the process with exit 2
        self.line_said = False
        self.final_line: Callable[[], str] | None = None  # the controller's one line, for a late signal

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now to the end of the process (main thread only).

        A signal the process was started ignoring (a background job's SIGINT) stays ignored.
        """
        if self.installed or threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, self._handle)
        self.installed = True

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1:
            self.signal_name = signal.Signals(signum).name
        if self.done:
            self._exit_now()
        if self.count == 1 and self.raising:
            self.raising = False
            raise KeyboardInterrupt(self.signal_name)

    def is_set(self) -> bool:
        return self.count > 0

    @property
    def abandoned(self) -> bool:
        """A second signal: stop deleting, say what is left."""
        return self.count > 1

    @contextmanager
    def checks(self) -> Iterator[None]:
        """While the checks run, the first signal raises KeyboardInterrupt (pytest's own handling)."""
        self.raising = not self.is_set()
        try:
            yield
        finally:
            self.raising = False

    def say(self, line: str, out: Callable[[str], None]) -> None:
        """The run's one line about the interruption (only the first is printed)."""
        if self.line_said:
            return
        self.line_said = True
        out(line)

    def finished(self) -> int | None:
        """pytest has returned: 2 when a signal came, else None; from now a signal ends the process."""
        if not self.installed:
            return None
        self.done = True
        if not self.is_set():
            return None
        if not self.line_said and self.final_line is not None:
            self.say(self.final_line(), _stderr_line)
        return 2

    def _exit_now(self) -> None:
        if not self.line_said and self.final_line is not None:
            self.say(self.final_line(), _stderr_line)
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        os._exit(2)

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True at once when abandoned (a second signal)."""
        deadline = time.monotonic() + seconds
        while not self.abandoned:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.1, left))
        return True


class InterruptGuard:
    """Registered by the controller: where in pytest's own work a signal may raise.

    Only while a check runs in this process (its call), or while xdist's controller waits for
    its workers, does the first signal raise KeyboardInterrupt. Raised during pytest's
    collection, it lands in the compiler (``SystemError: AST constructor recursion depth
    mismatch``) or in a weakref callback ("Exception ignored ... KeyboardInterrupt"): there it is
    recorded, and raised once the collection is over, or before the next check.
    """

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> Any:
        INTERRUPTS.raising = False
        result = yield
        if INTERRUPTS.is_set():
            raise KeyboardInterrupt(INTERRUPTS.signal_name)
        INTERRUPTS.raising = True
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        if INTERRUPTS.is_set():
            raise KeyboardInterrupt(INTERRUPTS.signal_name)
        INTERRUPTS.raising = False  # fixtures' setup and teardown, reports: recorded only
        try:
            return (yield)
        finally:
            INTERRUPTS.raising = not INTERRUPTS.is_set()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        if INTERRUPTS.is_set():
            raise KeyboardInterrupt(INTERRUPTS.signal_name)
        INTERRUPTS.raising = True
        try:
            return (yield)
        finally:
            INTERRUPTS.raising = False

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        """Once the checks are over, a signal is only recorded: between the loop's end and the
        session's finish, a KeyboardInterrupt would escape pytest's own handling (a traceback, exit -2)."""
        try:
            return (yield)
        finally:
            INTERRUPTS.raising = False

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        """From the very start of the session's finish (before any plugin's own, pytest's
        terminal summary included), a signal is only recorded."""
        INTERRUPTS.raising = False
        return (yield)


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


INTERRUPTS = Interrupts()
