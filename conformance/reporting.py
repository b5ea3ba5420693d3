"""Report integration: Allure labels, environment properties, categories, redaction of reports.

Loaded by the root ``conftest.py`` next to ``conformance.plugin``.

* Every check's result carries its suite (epic/feature), its id (story), its severity, its
  controls (labels, tags and links to the control text) and its environment (label,
  parameter, and the Suites tab's parent suite), from the same ``CheckMeta`` the tests use.
* Probe errors (the plugin's ``ProbeError``) are *broken* results labelled ``probe-error``;
  emulator limits are skips whose reason starts ``emulator limit:``; ``categories.json``
  tells them apart from non-conformance (failed results).
* The controller writes ``environment.properties``, ``categories.json``, ``executor.json``
  (in CI) and ``conformance-run-<run id>.json`` into the Allure results at session finish.
* Nothing secret is written: log records are redacted as they are created, and each test
  report's exception, long representation and captured output are redacted before the
  terminal, JUnit XML and Allure read them (see ``core.redaction``).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import allure
import pytest

from conformance import __version__
from conformance.checks import meta_of
from conformance.inventory import ProbeError
from conformance.report.controls import control
from conformance.report.metadata import write_results_metadata
from conformance.scheduling import is_crash_report
from conformance.state import SETTINGS, STATE, is_worker
from core.redaction import install_log_redaction, redact_text, register_environment_secrets

EPIC = "payments platform conformance"
CROSS_ENVIRONMENT = "all"
# Allure's severities for the checks' own (critical, high, medium, low)
ALLURE_SEVERITY = {
    "critical": allure.severity_level.BLOCKER,
    "high": allure.severity_level.CRITICAL,
    "medium": allure.severity_level.NORMAL,
    "low": allure.severity_level.MINOR,
}


def environment_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "env_name" in callspec.params:
        return str(callspec.params["env_name"])
    return CROSS_ENVIRONMENT


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    register_environment_secrets()
    install_log_redaction()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each check's rationale as its Allure description. A marker, because Allure sets a test's
    description from its markers (or docstring) once the test's setup has run, over any set
    during it."""
    for item in items:
        meta = meta_of(item)
        if meta is not None:
            item.add_marker(allure.description(meta.rationale))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The check's Allure labels, links and parameters, set as its setup starts.

    A hook rather than an autouse fixture: Allure records every fixture of every test (a
    container file each), and this one would be 245 more files in a three-environment run.
    """
    meta = meta_of(item)
    if meta is None:
        return
    env = environment_of(item)
    allure.dynamic.epic(EPIC)
    allure.dynamic.feature(meta.suite)
    allure.dynamic.story(meta.id)
    allure.dynamic.parent_suite(env)
    allure.dynamic.suite(meta.suite)
    allure.dynamic.sub_suite(meta.module.rsplit(".", 1)[-1])
    allure.dynamic.severity(ALLURE_SEVERITY.get(meta.severity, allure.severity_level.NORMAL))
    allure.dynamic.label("check_severity", meta.severity)
    allure.dynamic.label("check", meta.id)
    allure.dynamic.tag(meta.severity)
    for control_id in meta.controls:
        c = control(control_id)
        allure.dynamic.tag(control_id)
        allure.dynamic.label("control", control_id)
        allure.dynamic.link(c.url, link_type="control", name=f"{c.label}: {c.heading}" if c.heading else c.label)
    allure.dynamic.label("environment", env)
    allure.dynamic.parameter("environment", env)
    if env != CROSS_ENVIRONMENT:  # the same value again, from the parametrisation: shown once
        allure.dynamic.parameter("env_name", env, mode=allure.parameter_mode.HIDDEN)


# ---------------------------------------------------------------- redaction of reports


def _redact_exception(exc: BaseException) -> None:
    try:
        text = str(exc)
    except Exception:
        return
    clean = redact_text(text)
    if clean != text:
        exc.args = (clean,)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    try:
        return (yield)
    except BaseException as exc:
        _redact_exception(exc)
        raise


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Innermost wrapper: redact the report before any other plugin (Allure, JUnit) reads it."""
    report: pytest.TestReport = yield
    if call.excinfo is not None:
        _redact_exception(call.excinfo.value)
        message = call.excinfo.exconly()
        clean = redact_text(message)
        if clean != message:  # an exception whose __str__ ignores args
            call.excinfo.exconly = lambda tryshort=False: clean  # type: ignore[method-assign]
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact_text(text)
        if clean != text:
            report.longrepr = clean
    report.sections = [(title, redact_text(content)) for title, content in report.sections]
    if report.when == "call" and report.failed and call.excinfo is not None and call.excinfo.errisinstance(ProbeError):
        allure.dynamic.label("conformance_outcome", "probe-error")
        allure.dynamic.tag("probe-error")
    return report


# ---------------------------------------------------------------- results metadata


def _git_commit() -> str:
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_facts(config: pytest.Config) -> dict[str, Any] | None:
    """What the run was pointed at, from the run state (None when nothing was prepared)."""
    if STATE not in config.stash:
        return None
    state = config.stash[STATE]
    settings = config.stash.get(SETTINGS, None)
    target = state.mode if not state.endpoint_url else f"{state.mode} {state.endpoint_url}"
    return {
        "run_id": state.run_id,
        "target": target,
        "template_sha256": state.template_sha256,
        "template_version": state.template_version,
        "suite_version": __version__,
        "git_commit": _git_commit(),
        "environments": {
            name: {"stack": e.stack_name, "region": e.region, "account": e.account}
            for name, e in state.environments.items()
        },
        "mode_source": settings.mode.source if settings else "",
    }


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A check lost with a crashed xdist worker has no result of its own (the worker died before
    writing it): the controller writes a *broken* one, so the report names it too."""
    if not is_crash_report(report):
        return
    config = getattr(getattr(report, "node", None), "config", None)  # the dead worker's xdist controller
    alluredir = getattr(getattr(config, "option", None), "allure_report_dir", None)
    if not alluredir:
        return
    path, _, rest = report.nodeid.partition("::")
    name = rest or path
    env = name.rsplit("[", 1)[1].rstrip("]") if name.endswith("]") else CROSS_ENVIRONMENT
    parts = Path(path).parts
    suite = parts[1] if len(parts) > 2 and parts[0] == "tests" else "tests"
    now = int(time.time() * 1000)
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": report.nodeid,
        "fullName": report.nodeid,
        "name": name,
        "status": "broken",
        "statusDetails": {"message": redact_text(str(report.longrepr))},
        "stage": "finished",
        "start": now,
        "stop": now,
        "labels": [
            {"name": "epic", "value": EPIC}, {"name": "feature", "value": suite},
            {"name": "parentSuite", "value": env}, {"name": "suite", "value": suite},
            {"name": "subSuite", "value": Path(path).stem}, {"name": "environment", "value": env},
            {"name": "tag", "value": "worker-crashed"},
        ],
    }  # fmt: skip
    directory = Path(alluredir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{result['uuid']}-result.json").write_text(json.dumps(result, indent=1))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    alluredir = getattr(config.option, "allure_report_dir", None)
    if is_worker(config) or not alluredir:
        return
    facts = run_facts(config)
    path = Path(alluredir)
    if facts is not None:
        path.mkdir(parents=True, exist_ok=True)
        (path / f"conformance-run-{facts['run_id']}.json").write_text(json.dumps(facts, indent=2))
    write_results_metadata(path, [facts] if facts else [])
