"""Kill rate of the drift catalogue, printed at the end of the self-tests."""

from __future__ import annotations

import pytest

_KEY = pytest.StashKey[dict[str, bool]]()


@pytest.fixture
def drift_outcomes(pytestconfig: pytest.Config) -> dict[str, bool]:
    return pytestconfig.stash.setdefault(_KEY, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    reports = [
        r
        for r in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        if "test_drift_is_caught[" in r.nodeid and r.when == "call"
    ]
    if not reports:
        return
    caught = sum(1 for r in reports if r.passed)
    total = len(reports)
    terminalreporter.write_sep("=", "drift catalogue")
    terminalreporter.write_line(f"drift kill rate: {caught}/{total} drifts caught ({100 * caught / total:.0f}%)")
    for r in reports:
        if not r.passed:
            terminalreporter.write_line(f"  missed: {r.nodeid.split('[', 1)[1].rstrip(']')}")
