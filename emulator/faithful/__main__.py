"""Serve MiniStack with the faithful extensions installed, on 127.0.0.1 only.

Run inside the emulator's venv:  PYTHONPATH=<repo>/emulator .venv-emulator/bin/python -m faithful --port P
It exits when its parent process dies (no emulator is ever left behind).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import sys
import threading
import time


def _die_with_parent(parent: int) -> None:
    """Linux: ask the kernel for SIGTERM when the parent dies; elsewhere poll the parent pid."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(1.0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(prog="faithful")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--dns-port", type=int, default=0, help="UDP port of the RDS endpoints' DNS (default: --port)")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("faithful: refusing to bind a non-loopback address")
    os.environ["BIND_HOST"] = args.host
    os.environ["GATEWAY_PORT"] = str(args.port)
    os.environ["FAITHFUL_DNS_PORT"] = str(args.dns_port or args.port)  # faithful/dns.py
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.parent_pid:
        _die_with_parent(args.parent_pid)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    import faithful
    from faithful import leftovers
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    installed = faithful.install_all()
    logging.getLogger("faithful").info("extensions: %s", ", ".join(installed))
    from ministack.app import app  # after the extensions: one may wrap it (aws_timing.py)

    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.keep_alive_timeout = 75
    config.loglevel = "WARNING"
    shutdown = asyncio.Event()

    def stop(*_: object) -> None:
        loop.call_soon_threadsafe(shutdown.set)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    loop.run_until_complete(serve(app, config, shutdown_trigger=shutdown.wait))
    leftovers.clean_up()  # Lambda workers and this emulator's TMPDIR, whoever stopped it


if __name__ == "__main__":
    main()
