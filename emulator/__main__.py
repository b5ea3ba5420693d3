"""python -m emulator [--port P]: run the embedded emulator in the foreground, for attach mode."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from emulator.errors import EmulatorError, ExitCode
from emulator.launcher import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        emu = Emulator(port=args.port).start()
    except EmulatorError as exc:
        print(f"emulator: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    try:
        print(f"emulator ready at {emu.endpoint_url}", flush=True)
        print(f"  logs: {emu.log_path}; stop with Ctrl-C", flush=True)
        while not stop.wait(0.5):
            if emu._proc is None or emu._proc.poll() is not None:
                print("emulator: the emulator process exited; see its log.", file=sys.stderr)
                return ExitCode.CANNOT_START
    finally:
        emu.stop()
    print("emulator stopped", flush=True)
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
