"""The emulator's own errors and exit codes (``python -m emulator``), independent of the suite.

The numbers are the suite's where they mean the same (docs/exit-codes.md): 0 the emulator ran
and was stopped, 3 it could not be installed, started or kept running.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CANNOT_START = 3  # the suite's "could not observe": nothing to observe with


class EmulatorError(Exception):
    """The embedded emulator could not be installed, started or stopped: one sentence and the fix."""

    exit_code: ExitCode = ExitCode.CANNOT_START
