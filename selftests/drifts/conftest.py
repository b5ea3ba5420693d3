"""Fixtures of the drift self-tests (the kill rate is printed by selftests/conftest.py)."""

from __future__ import annotations

import pytest

_KEY = pytest.StashKey[dict[str, bool]]()


@pytest.fixture
def drift_outcomes(pytestconfig: pytest.Config) -> dict[str, bool]:
    return pytestconfig.stash.setdefault(_KEY, {})
