"""How the run's failed checks divide, for its exit status (docs/exit-codes.md).

Counted in the controller (``conformance.controller``), where the exit status is decided, from
every check's report, with or without xdist: a non-conformance (exit 1) only when something was
observed and found wrong; probe errors and checks lost with a crashed worker are "could not
observe" (exit 3).
"""

from __future__ import annotations

import pytest

from conformance.scheduling import is_crash_report


class Outcomes:
    """Counts failed checks by kind where the exit code is decided (with or without xdist)."""

    def __init__(self) -> None:
        self.failures = 0
        self.probe_errors = 0
        self.crashed: list[str] = []  # checks whose xdist worker died while running them

    def count(self, report: pytest.TestReport) -> None:
        if not report.failed:
            return
        if is_crash_report(report):
            self.crashed.append(report.nodeid)
        elif ("conformance_outcome", "probe-error") in report.user_properties:
            self.probe_errors += 1
        else:
            self.failures += 1

    @property
    def unobserved(self) -> int:
        """Failed checks that observed nothing: probe errors and checks lost with a crashed worker."""
        return self.probe_errors + len(self.crashed)
