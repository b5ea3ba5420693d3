"""Nothing left behind when the emulator stops: its Lambda worker processes and its own temp folder.

MiniStack runs Lambda handlers in worker processes of its own and keeps their code and caches in
``tempfile.gettempdir()`` (``ministack-lambda-*``, ``ministack-provided-code-*``); the Lambda SDK
extension (lambda_sdk.py) adds a ``faithful-lambda-sdk-*`` folder there. The launcher
(emulator/launcher.py) starts the emulator in a session of its own with ``TMPDIR`` set to a
folder it owns (named again in ``FAITHFUL_OWN_TMPDIR``) and removes both when it stops the emulator; this
module does the same from inside, when the emulator stops on its own (its parent died, Ctrl-C in
the foreground): every other process of its session is ended and the folder removed.
Self-test: ``selftests/cli/test_nothing_left_behind.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile


def _session_members() -> list[int]:
    """Other processes of this process's session (Linux /proc; none elsewhere)."""
    me, sid = os.getpid(), os.getsid(0)
    found = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid:  # field 6 of stat: the session id
                    found.append(int(entry))
    return found


def clean_up() -> None:
    """End the other processes of this emulator's session and remove its own TMPDIR (when it owns one)."""
    if os.getsid(0) == os.getpid():  # a session of its own (the launcher's start_new_session)
        for pid in _session_members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    own = os.environ.get("FAITHFUL_OWN_TMPDIR", "")
    # only the folder the launcher made for this emulator, and only while it is this process's TMPDIR
    if own and os.path.basename(own).startswith("payments-emulator-") and own == tempfile.gettempdir():
        shutil.rmtree(own, ignore_errors=True)
