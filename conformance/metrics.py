"""The run's measurement files in its run directory (``build/run/<run id>/``), read by the benchmark.

* ``api-calls.json``: API calls by operation made by the controller (deploy, inventory, locks,
  teardown), written after the preparation and again at the end of the run;
* ``api-retries.json``: attempts botocore retried, by operation;
* ``api-repeats.json``: identical requests sent again during the observation, by environment
  and operation (the "no repeated request" budget of docs/performance.md);
* ``timings.json``: emulator start, each environment's deploy and inventory, the whole preparation,
  the emulator's peak memory; written again at the end with ``drift:<env>``, the time of each
  drift detection that was published after its inventory;
* ``api-calls-<process>.json``: the calls of each process's data-plane probes (``probes`` for the
  controller, ``gw0``, ``gw1``, ... for xdist workers).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

from core.aws import AwsSession, CallLog


def _write(path: Path, data: dict[str, int] | dict[str, float]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def peak_rss_mb(pid: int | None) -> float:
    """The peak resident memory of a process (Linux /proc), in MB; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class RunMetrics:
    """What the controller measures while it prepares the platform (environments concurrently)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.call_log = CallLog()  # every environment's preparation, summed
        self.repeated: dict[str, int] = {}  # environment + operation -> identical requests sent again
        self._lock = threading.Lock()

    def timed(self, name: str, seconds: float) -> None:
        with self._lock:
            self.timings[name] = seconds

    def add_environment(self, env: str, calls: CallLog, *, observed_since: Counter[str]) -> None:
        """An environment's calls; its repeats counted from ``observed_since`` (a copy of its
        requests taken when the observation began: a read before the deploy and the same read
        after it observe different states)."""
        with self._lock:
            for op, n in calls.calls.items():
                self.call_log.calls[op] += n
            for op, n in calls.retries.items():
                self.call_log.retries[op] += n
            for op, n in calls.repeated(since=observed_since).items():
                self.repeated[f"{env} {op}"] = n

    def write_prepared(self, run_dir: Path) -> None:
        """The files of the preparation; ``timings`` should hold ``prepare_total`` by now."""
        _write(run_dir / "api-calls.json", dict(self.call_log.calls))
        (run_dir / "timings.json").write_text(json.dumps({k: round(v, 3) for k, v in self.timings.items()}, indent=1))
        _write(run_dir / "api-retries.json", dict(self.call_log.retries))
        _write(run_dir / "api-repeats.json", self.repeated)

    def summary(self) -> str:
        retried = ", ".join(f"{op} ×{n}" for op, n in sorted(self.call_log.retries.items())) or "none"
        return f"API calls: {self.call_log.total}; retried by botocore: {retried}"


def write_final_calls(run_dir: Path, sessions: list[AwsSession]) -> None:
    """``api-calls.json`` again at the end: the run's calls including teardown and locks."""
    if not sessions or not run_dir.is_dir():
        return
    calls: dict[str, int] = {}
    for aws in sessions:
        for op, n in aws.call_log.calls.items():
            calls[op] = calls.get(op, 0) + n
    _write(run_dir / "api-calls.json", calls)


def write_process_calls(run_dir: Path, process: str, calls: CallLog) -> None:
    """``api-calls-<process>.json``: the AWS operations this process's data-plane probes made."""
    if calls.total:
        _write(run_dir / f"api-calls-{process}.json", dict(calls.calls))
