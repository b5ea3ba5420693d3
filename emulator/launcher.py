"""Start, health-check and stop the embedded emulator as a child process on 127.0.0.1.

Nothing is left behind (docs/reliability.md, "Nothing left behind"): the emulator runs in its own
session with ``TMPDIR`` set to a folder of its own (MiniStack's Lambda code and caches, the Lambda
SDK folder of emulator/faithful/lambda_sdk.py all go there), and :meth:`Emulator.stop` ends the
whole session (the Lambda worker processes too) and removes that folder. An emulator whose
parent died stops by itself and does the same (emulator/faithful/leftovers.py).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from emulator.errors import EmulatorError

REPO_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_DIR = Path(__file__).resolve().parent
VENV_PYTHON = REPO_ROOT / ".venv-emulator" / "bin" / "python"
HEALTH_PATH = "/_ministack/health"
RESET_PATH = "/_ministack/reset"


def udp_free(port: int) -> bool:
    """Whether UDP ``port`` on 127.0.0.1 can be bound (the emulator's DNS server listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port free on 127.0.0.1 for TCP (the gateway) and UDP (its DNS server) alike."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if udp_free(port):
            return port


class Emulator:
    """The embedded AWS emulator (MiniStack plus the faithful extensions), as a context manager."""

    def __init__(self, port: int | None = None, log_path: Path | None = None, start_timeout: float = 30.0) -> None:
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else REPO_ROOT / "build" / "emulator" / f"emulator-{self.port}.log"
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.tmpdir: Path | None = None  # the emulator's own TMPDIR, removed by stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> Emulator:
        if self._proc is not None:
            return self
        if not VENV_PYTHON.exists():
            raise EmulatorError(
                f"the emulator's environment {VENV_PYTHON.parent.parent} is missing; run `make setup` first."
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise EmulatorError(f"port {self.port} on 127.0.0.1 is already in use; choose another with --port.")
        if not udp_free(self.port):
            raise EmulatorError(
                f"UDP port {self.port} on 127.0.0.1 (the emulator's DNS) is already in use; choose another with --port."
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"payments-emulator-{self.port}-"))
        env.update(PYTHONPATH=str(EMULATOR_DIR), BIND_HOST="127.0.0.1", GATEWAY_PORT=str(self.port))
        env.update({name: str(self.tmpdir) for name in ("TMPDIR", "TEMP", "TMP", "FAITHFUL_OWN_TMPDIR")})
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child for its lifetime
        try:
            self._proc = subprocess.Popen(
                [str(VENV_PYTHON), "-m", "faithful", "--host", "127.0.0.1", "--port", str(self.port),
                 "--parent-pid", str(os.getpid())],
                cwd=str(EMULATOR_DIR), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        atexit.register(self.stop)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise EmulatorError(
                    f"the emulator exited with code {self._proc.returncode} while starting; see {self.log_path}: "
                    f"{self._log_tail()}"
                )
            try:
                if requests.get(self.endpoint_url + HEALTH_PATH, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise EmulatorError(
            f"the emulator did not answer {HEALTH_PATH} within {self.start_timeout:.0f} s; see {self.log_path}."
        )

    def _log_tail(self, lines: int = 3) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def reset(self) -> None:
        requests.post(self.endpoint_url + RESET_PATH, timeout=30).raise_for_status()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the emulator and every process of its session (Lambda workers), remove its TMPDIR."""
        proc, self._proc = self._proc, None
        tmpdir, self.tmpdir = self.tmpdir, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            # its session (start_new_session: the group is the emulator's pid): Lambda workers still running
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
