"""The consistency suite compares the environments of a run: with fewer than two there is nothing
to compare, and each check is reported *not applicable* (a skip with that reason, shown so in the
report and the control matrix), never as conforming."""

from __future__ import annotations

from typing import Any

import pytest

NOT_APPLICABLE = "not applicable: fewer than two environments in this run ({found}); nothing to compare"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    result = yield
    inventories = getattr(item, "funcargs", {}).get("inventories")
    if isinstance(inventories, dict) and len(inventories) < 2:
        pytest.skip(NOT_APPLICABLE.format(found=", ".join(inventories) or "none"))
    return result
