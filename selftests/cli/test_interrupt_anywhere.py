"""Ctrl-C or SIGTERM at any moment of a run: exit 2, one line, no traceback, every stack named.

Real processes only: the real ``pytest`` command against the self-tests' emulator (127.0.0.1),
signalled as a terminal or a CI runner does. Besides the fixed cases (the teardown's own wait,
a second Ctrl-C), signals land at random points of every phase of a run: deploying, collecting
the inventory, pytest's collection, the checks, the teardown, the emulator's stop, pytest's
unconfigure. The points come from a seed printed at the start of the test (set it with
CONFORMANCE_INTERRUPT_SEED to replay a run); CONFORMANCE_INTERRUPT_ROUNDS (default 1) repeats
every phase with further points. Each run must end with exit 2, exactly one ``interrupted``
line naming every stack the run created, no traceback, and every such stack deleted or named
in that line as still deleting.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from selftests.cli.test_bad_input import REPO, _env
from selftests.cli.test_interrupt import CHAOS, _own_group_with_default_sigint
from selftests.emulator.platform import settled_stack

SEED_VARIABLE = "CONFORMANCE_INTERRUPT_SEED"
ROUNDS_VARIABLE = "CONFORMANCE_INTERRUPT_ROUNDS"
RUN_TIMEOUT = 120.0


class Run:
    """The real suite in a process group of its own; its output read line by line as it comes."""

    def __init__(self, tmp_path: Path, *args: str, repo: Path = REPO, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *CHAOS, "-n", "0",
             f"--run-dir={tmp_path / 'run'}", f"--alluredir={tmp_path / 'allure'}", *args, "tests/compute"],
            cwd=repo, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_own_group_with_default_sigint,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if re.search(pattern, line):
                    return
            seen = len(self.lines)
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r} (exit {self.proc.poll()}):\n{self.output[-4000:]}")

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def end(self, timeout: float = RUN_TIMEOUT) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def environments_with_dev_b(folder: Path) -> Path:
    """The repository's environment files plus dev-b, a further deployment of the dev tier
    (README, --env): its own suffix and CIDR, stack payments-dev-b."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (REPO / "deploy" / "environments").glob("*.yaml"):
        (folder / source.name).write_text(source.read_text())
    data = yaml.safe_load((REPO / "deploy" / "environments" / "dev.yaml").read_text())
    data["name"] = "dev-b"
    data["parameters"].update(EnvironmentSuffix="b", VpcCidr="10.12.0.0/16")
    (folder / "dev-b.yaml").write_text(yaml.safe_dump(data))
    return folder


def created_stacks(cfn: Any) -> set[str]:
    """Every stack in the emulator since its reset: only the run under test made any."""
    names: set[str] = set()
    for page in cfn.get_paginator("list_stacks").paginate():
        names.update(s["StackName"] for s in page["StackSummaries"])
    return names


def assert_interrupted(run: Run, code: int, *, cfn: Any | None, where: str) -> str:
    """Exit 2, one `interrupted` line, no traceback; against an endpoint, every stack the run
    created named in that line and deleted (or named as still deleting, and deleted soon after)."""
    out = run.output
    context = f"{where}; output:\n{out[-5000:]}"
    assert code == 2, f"exit {code} instead of 2 ({context})"
    assert "Traceback" not in out and "INTERNALERROR" not in out, context
    lines = [line for line in run.lines if line.startswith("interrupted")]
    assert len(lines) == 1, f"{len(lines)} interrupted lines ({context})"
    if cfn is None:
        return lines[0]
    for name in created_stacks(cfn):
        assert name in lines[0], f"{name} (created by the run) not named in {lines[0]!r} ({context})"
        assert f"{name} (deleted)" in lines[0] or f"{name} (still deleting" in lines[0], f"{lines[0]!r} ({context})"
        status = settled_stack(cfn, name)["StackStatus"]
        assert status == "DELETE_COMPLETE", f"{name} is {status} after the run ({context})"
    return lines[0]


def test_sigterm_while_the_teardown_waits_deletes_every_stack_the_run_created(emulator, aws, tmp_path):
    """The reported case: two stacks, SIGTERM as the teardown waits for the first deletion. The
    teardown's own wait stops, the other stack's deletion is started too, and both are named."""
    emulator.reset()
    folder = environments_with_dev_b(tmp_path / "environments")
    run = Run(
        tmp_path, "--env=dev", "--env=dev-b", f"--endpoint-url={emulator.endpoint_url}", "--deploy", "--teardown",
        PAYMENTS_ENVIRONMENTS_DIR=str(folder),
    )  # fmt: skip
    run.wait_for(r"^payments-dev-(b|main): deleting$")
    run.signal(signal.SIGTERM)
    line = assert_interrupted(run, run.end(), cfn=aws("cloudformation"), where="SIGTERM in the teardown")
    assert "payments-dev-main" in line and "payments-dev-b" in line, line


def test_a_second_ctrl_c_abandons_the_deletions_and_names_what_is_left(emulator, aws, tmp_path):
    """Ctrl-C in the checks starts the deletions; a second Ctrl-C while the first DeleteStack is
    on the wire (3 s of latency through a real proxy) starts no other: the line names both stacks
    and their state, and the one whose deletion was never started is still there."""
    from selftests.faults.test_faults import Proxy

    emulator.reset()
    folder = environments_with_dev_b(tmp_path / "environments")
    proxy = Proxy(emulator.endpoint_url)
    try:
        proxy.rules([{"service": "cloudformation", "operation": "DeleteStack", "latency": 3000}])
        hold = tmp_path / "hold"
        run = Run(
            tmp_path, "--env=dev", "--env=dev-b", f"--endpoint-url={proxy.url}", "--deploy", "--teardown",
            PAYMENTS_ENVIRONMENTS_DIR=str(folder), CONFORMANCE_CHAOS_HOLD=str(hold),
        )  # fmt: skip
        run.wait_for(r"^conformance dev-b: stack payments-dev-b")
        deadline = time.monotonic() + 60
        while not Path(f"{hold}.reached").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(run.proc.pid, signal.SIGINT)
        run.wait_for(r"^payments-dev-(b|main): deleting$")
        time.sleep(0.5)  # the first DeleteStack is on the wire
        os.killpg(run.proc.pid, signal.SIGINT)
        code = run.end()
    finally:
        proxy.stop()
    line = assert_interrupted(run, code, cfn=None, where="two Ctrl-C")
    assert line.startswith("interrupted twice: deletion abandoned; left: "), line
    cfn = aws("cloudformation")
    first = "payments-dev-b" if "payments-dev-b: deleting" in run.output else "payments-dev-main"
    other = ({"payments-dev-b", "payments-dev-main"} - {first}).pop()
    assert f"{other} (CREATE_COMPLETE, deletion not started" in line, line
    assert f"{first} (CREATE_COMPLETE, deletion started" in line, line
    assert settled_stack(cfn, other)["StackStatus"] == "CREATE_COMPLETE"  # left, as the line says


@dataclass(frozen=True)
class Phase:
    name: str
    marker: str  # the line after which the signal is sent, after a random delay in [0, spread)
    spread: float
    offline: bool = False  # the run's own emulator (its stop is a phase of its own)


PHASES = (
    Phase("deploy", r"^payments-dev-main: creating", 2.5),
    Phase("inventory", r"^payments-dev-main: CREATE_COMPLETE", 1.0),
    Phase("collection", r"^conformance dev: stack payments-dev-main in ", 0.4),
    Phase("checks", r"^collected \d+ items", 1.5),
    Phase("teardown", r"^payments-dev-main: deleting$", 1.5),
    Phase("emulator stop", r"^emulator: stopping \(pid \d+\)$", 0.5, offline=True),
    Phase("unconfigure", r"^chaos: unconfiguring$", 1.0),
)


def _points() -> tuple[int, list[tuple[Phase, float, signal.Signals]]]:
    seed = int(os.environ.get(SEED_VARIABLE) or random.SystemRandom().randrange(1_000_000))
    rng = random.Random(seed)
    rounds = int(os.environ.get(ROUNDS_VARIABLE) or 1)
    points = [
        (phase, rng.uniform(0, phase.spread), rng.choice([signal.SIGINT, signal.SIGTERM]))
        for _ in range(rounds)
        for phase in PHASES
    ]
    return seed, points


def test_a_signal_at_a_random_point_of_every_phase(emulator, aws, tmp_path):
    seed, points = _points()
    print(f"interrupt points from seed {seed} (replay: {SEED_VARIABLE}={seed})", file=sys.stderr)
    started = time.monotonic()
    for i, (phase, delay, sig) in enumerate(points):
        emulator.reset()
        where = f"seed {seed}, point {i}: {signal.Signals(sig).name} {delay:.2f} s after {phase.name}'s marker"
        print(where, file=sys.stderr, flush=True)
        target = ["--emulator"]
        if not phase.offline:
            target = [f"--endpoint-url={emulator.endpoint_url}", "--deploy", "--teardown"]
        # every run's unconfigure lasts 1.2 s (chaos plugin): a late point still finds the run alive
        run = Run(tmp_path / f"point-{i}", "--env=dev", *target, CONFORMANCE_CHAOS_UNCONFIGURE_SECONDS="1.2")
        run.wait_for(phase.marker)
        time.sleep(delay)
        try:
            run.signal(sig)
            alive = True
        except ProcessLookupError:
            alive = False
        code = run.end()
        assert alive, f"the run had ended before the signal ({where}): exit {code}\n{run.output[-3000:]}"
        assert_interrupted(run, code, cfn=None if phase.offline else aws("cloudformation"), where=where)
    print(f"{len(points)} interrupt points in {time.monotonic() - started:.0f} s (seed {seed})", file=sys.stderr)
