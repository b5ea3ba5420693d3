"""An offline run stops its emulator when interrupted (Ctrl-C or SIGTERM) and exits 2."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from selftests.cli.test_bad_input import REPO, _env
from selftests.emulator.test_launcher import _wait_dead


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
