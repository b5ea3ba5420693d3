"""Data-plane probes started one check early, so that their network waits overlap other checks.

A data-plane check (an HTTP GET through the load balancer, the S3 write probe) spends its time
waiting on the network, every other check spends CPU. When pytest is about to run a check and
the next one in this process is a data-plane check, the plugin starts that check's probe in the
background; the check then takes the result (or the exception) the probe ended with, as if it
had run the probe itself. The probe reads only what the controller prepared (the run state,
the inventory, the environment's session), never another check's outcome.

A check declares its probe with ``@pytest.mark.data_plane(probe=fn)``: ``fn(ctx)`` receives a
:class:`ProbeContext`; the check calls its ``data_plane`` fixture to get the result. A probe
that writes (``writes=True``) is waited for before the process ends, whatever happens, so its
clean-up always runs; a read-only probe is abandoned at exit. A check that runs without a
prefetched probe (the first of a process, ``-p no:...``, a re-run) runs the probe itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.inventory import Inventory
from core.aws import AwsSession

if TYPE_CHECKING:  # conformance.state holds the Prefetcher's stash key: no import at run time
    from conformance.state import RunState

# A writing probe left running when the process ends is waited for at most this long: its own
# calls are bounded (botocore timeouts, 5 attempts), this only caps a probe stuck past them.
WRITE_PROBE_EXIT_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class ProbeContext:
    env_name: str
    inv: Inventory
    aws: AwsSession
    run_state: RunState

    @property
    def emulated(self) -> bool:
        return self.run_state.emulated


Probe = Callable[[ProbeContext], Any]


@dataclass
class _Started:
    future: Future[Any]
    writes: bool


class Prefetcher:
    """The probes started ahead of their checks in this process, by check node id."""

    def __init__(self) -> None:
        self._started: dict[str, _Started] = {}
        self._lock = threading.Lock()

    def start(self, key: str, probe: Probe, ctx: ProbeContext, *, writes: bool) -> bool:
        """Start ``probe`` for check ``key`` in a daemon thread (once); False if already started."""
        with self._lock:
            if key in self._started:
                return False
            started = _Started(Future(), writes)
            self._started[key] = started

        def run() -> None:
            if not started.future.set_running_or_notify_cancel():
                return
            try:
                started.future.set_result(probe(ctx))
            except BaseException as exc:  # handed to the check, which raises it as its own
                started.future.set_exception(exc)

        threading.Thread(target=run, name=f"prefetch {key}", daemon=True).start()
        return True

    def result(self, key: str, probe: Probe, ctx: Callable[[], ProbeContext]) -> Any:
        """The probe's result for check ``key``: the prefetched one, else the probe run now."""
        with self._lock:
            started = self._started.pop(key, None)
        if started is None:
            return probe(ctx())
        return started.future.result()

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._started)

    def close(self, timeout: float = WRITE_PROBE_EXIT_WAIT_SECONDS) -> list[str]:
        """Wait for the writing probes no check has taken (interrupted, ``-x``); return their keys.

        They clean up after themselves (the write probe removes its object in every case); a
        read-only probe is not waited for.
        """
        with self._lock:
            left = dict(self._started)
            self._started.clear()
        for started in left.values():
            if started.writes:
                with contextlib.suppress(Exception):  # a timeout: the probe is abandoned
                    started.future.exception(timeout=timeout)
        return sorted(left)
