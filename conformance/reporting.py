"""Report integration: Allure labels, environment properties, categories (the evidence side).

Loaded by the root ``conftest.py`` next to ``conformance.plugin``.
"""

from __future__ import annotations

import allure
import pytest

from conformance.checks import meta_of


@pytest.fixture(autouse=True)
def _report_labels(request: pytest.FixtureRequest) -> None:
    meta = meta_of(request.node)
    if meta is None:
        return
    env = request.node.callspec.params.get("env_name") if hasattr(request.node, "callspec") else None
    allure.dynamic.epic("payments platform conformance")
    allure.dynamic.feature(meta.suite)
    allure.dynamic.story(meta.id)
    allure.dynamic.severity(
        {"critical": allure.severity_level.CRITICAL, "high": allure.severity_level.CRITICAL}.get(
            meta.severity, allure.severity_level.NORMAL
        )
    )
    allure.dynamic.description(meta.rationale)
    for control in meta.controls:
        allure.dynamic.tag(control)
    if env:
        allure.dynamic.label("environment", env)
        allure.dynamic.parameter("environment", env)
