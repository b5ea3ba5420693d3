"""The emulator launcher: a child process on 127.0.0.1 that always stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from emulator.errors import EmulatorError
from emulator.launcher import Emulator, free_port

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _listening_addresses(port: int) -> set[str]:
    """Addresses with a listening TCP socket on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for name in ("tcp", "tcp6"):
        path = Path(f"/proc/net/{name}")
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                if len(address) == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found


def _wait_dead(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_start_health_stop_on_loopback():
    with Emulator() as emu:
        assert emu.endpoint_url.startswith("http://127.0.0.1:")
        assert requests.get(emu.endpoint_url + "/_ministack/health", timeout=5).ok
        pid = emu.pid
        assert pid is not None
        assert _listening_addresses(emu.port) == {"127.0.0.1"}
    assert _wait_dead(pid)
    emu.stop()  # idempotent


def test_port_in_use_is_refused_with_a_sentence():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"port {port} .* already in use"):
            Emulator(port=port).start()


def test_emulator_dies_with_its_parent():
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from emulator.launcher import Emulator
        emu = Emulator().start()
        print(emu.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait()
    assert _wait_dead(child, 10), "the emulator outlived its parent"


def test_python_m_emulator_prints_endpoint_and_stops_on_sigterm():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == f"emulator ready at http://127.0.0.1:{port}"
    assert requests.get(f"http://127.0.0.1:{port}/_ministack/health", timeout=5).ok
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the port is still served after SIGTERM"
