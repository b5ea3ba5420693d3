"""Hostile servers on 127.0.0.1 for the self-tests: real sockets, bounded loops that stop by themselves.

* ``silent``: accepts a connection and never answers;
* ``html``: answers every request ``200 OK`` with an HTML page (a web server, not an AWS API);
* ``close``: closes every connection at once;
* ``drip``: answers one byte every ``drip_seconds`` (resetting any read timeout with each byte);
* :class:`DyingProxy`: forwards to a real endpoint (each request held ``delay`` seconds), then
  after ``requests`` requests closes its connections and its port, as an emulator killed mid-run
  would (or, with ``then="drip"``, starts dripping bytes instead of forwarding).

Every server stops when closed, and by itself after ``lifetime`` seconds: no test can leave one
running.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from typing import Literal

Kind = Literal["silent", "html", "close", "drip"]
HTML = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>"


class HostileServer:
    def __init__(self, kind: Kind, *, lifetime: float = 60.0, drip_seconds: float = 5.0) -> None:
        self.kind, self.lifetime, self.drip_seconds = kind, lifetime, drip_seconds
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._until = time.monotonic() + lifetime
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name=f"hostile-{kind}", daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._until

    def _serve(self) -> None:
        while self._running():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
        self._sock.close()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            if self.kind == "close":
                return
            conn.settimeout(0.2)
            if self.kind == "silent":
                while self._running():
                    with contextlib.suppress(TimeoutError):
                        if not conn.recv(65536):
                            return
                return
            _read_request(conn, self._running)
            if self.kind == "html":
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(HTML)}\r\n\r\n"
                conn.sendall(head.encode() + HTML)
                while self._running():  # keep-alive: answer the next request the same way
                    if not _read_request(conn, self._running):
                        return
                    conn.sendall(head.encode() + HTML)
                return
            _drip(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n", self.drip_seconds, self._running)

    def close(self) -> None:
        self._stop.set()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(timeout=5)


def _read_request(conn: socket.socket, running: object) -> bool:
    """Read up to the end of a request's head (the bodies of AWS calls are small); False when closed."""
    data = b""
    while b"\r\n\r\n" not in data and running():  # type: ignore[operator]
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return False
        data += chunk
    return True


def _drip(conn: socket.socket, data: bytes, seconds: float, running: object) -> None:
    for byte in data * 1000:
        if not running():  # type: ignore[operator]
            return
        conn.sendall(bytes([byte]))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and running():  # type: ignore[operator]
            time.sleep(min(0.1, seconds))


class DyingProxy:
    """Forwards TCP to ``upstream`` (host, port); after ``requests`` HTTP requests it dies: every
    connection and its port closed (``then="die"``), or every later answer dripped (``then="drip"``)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        requests: int,
        then: Literal["die", "drip"] = "die",
        lifetime: float = 120.0,
        drip_seconds: float = 0.5,
        delay: float = 0.0,
    ) -> None:
        self.upstream, self.limit, self.then, self.delay = upstream, requests, then, delay
        self.drip_seconds = drip_seconds
        self.seen = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._until = time.monotonic() + lifetime
        self.dead = threading.Event()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="dying-proxy", daemon=True)

    def __enter__(self) -> DyingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._until

    def _serve(self) -> None:
        while self._running() and not (self.dead.is_set() and self.then == "die"):
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()
        self._sock.close()
        self._close_all()

    def _close_all(self) -> None:
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def _count(self, data: bytes) -> None:
        with self._lock:
            self.seen += data.count(b" HTTP/1.1\r\n")
            if self.seen > self.limit:
                if not self.dead.is_set() and self.then == "die":
                    self.dead.set()
                    self._close_all()
                self.dead.set()

    def _client(self, conn: socket.socket) -> None:
        try:
            up = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            conn.close()
            return
        self._conns.append(up)
        with contextlib.suppress(OSError, ValueError), conn, up:  # ValueError: select on a closed socket
            while self._running():
                readable, _, _ = select.select([conn, up], [], [], 0.2)
                if conn in readable:
                    data = conn.recv(65536)
                    if not data:
                        return
                    self._count(data)
                    if self.dead.is_set():
                        if self.then == "drip":
                            _drip(conn, b"HTTP/1.1 200 OK\r\n", self.drip_seconds, self._running)
                        return
                    if self.delay:
                        time.sleep(self.delay)
                    up.sendall(data)
                if up in readable:
                    data = up.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._close_all()
        self._thread.join(timeout=5)
