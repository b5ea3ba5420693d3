"""Nothing left behind (issue 15): after a run of the emulator, clean or interrupted, no temp folder and
no process of the emulator's remains.

The run gets a temp folder of its own (``TMPDIR``), so that what it leaves there is told apart from
what other processes of the machine leave in the system's; the emulator's processes are its session
(the launcher starts it with ``start_new_session``: the session id is the emulator's pid, printed by
the run), counted in /proc when the run has ended. Dev's deployment runs a Lambda-backed custom
resource, so MiniStack starts a Lambda worker and writes its code to the temp folder.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--emulator", "--env=dev", "-n", "0"]
CMD += ["-k", "test_stack"]


def _session(sid: int) -> list[str]:
    """The processes of session ``sid`` still running (pid and command)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(f"{entry} {cmdline[:120]}")
    return found


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    env.update(TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp))
    return env


def _emulator_pid(output: str) -> int:
    match = re.search(r"emulator: ready at \S+ \(pid (\d+)\)", output)
    assert match, output[-3000:]
    return int(match.group(1))


def test_a_clean_run_leaves_no_temp_folder_and_no_process(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = subprocess.run(CMD, cwd=REPO, env=_env(tmp), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    pid = _emulator_pid(r.stdout)
    assert _session(pid) == []
    assert sorted(p.name for p in tmp.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_temp_folder_and_no_process(tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(CMD, cwd=REPO, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        # the stack is being created and the Lambda-backed custom resource has been reached
        if "CREATE_IN_PROGRESS" in line and list(tmp.glob("payments-emulator-*/*")):
            break
    assert list(tmp.glob("payments-emulator-*/*")), "".join(lines)[-3000:]  # the emulator was using it
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 2, output[-3000:]
    assert _session(_emulator_pid(output)) == []
    assert sorted(p.name for p in tmp.iterdir()) == []
