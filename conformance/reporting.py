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

import datetime as dt
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import allure
import pytest
from _pytest.junitxml import xml_key  # what record_testsuite_property uses: the run's properties

from conformance import __version__
from conformance.checks import meta_of
from conformance.evidence import set_observation
from conformance.inventory import ProbeError
from conformance.report.controls import control
from conformance.report.metadata import EMULATOR_NOTICE, write_results_metadata
from conformance.report.model import ACCOUNT_COLUMN
from conformance.scheduling import is_crash_report
from conformance.state import SETTINGS, STATE, STATE_PATH, is_worker
from core.redaction import (
    install_log_redaction,
    open_sealed_secrets,
    redact_text,
    register_environment_secrets,
    seal_secrets,
    url_has_credentials,
)
from core.spec import REPO_ROOT
from core.template import template_sha256, template_version

EPIC = "payments platform conformance"
CROSS_ENVIRONMENT = "all"
# A check's severity is its own word (critical, high, medium, low), on one scale from the check to
# the report: Allure's own scale (blocker, critical, normal, minor) is not used, since mapping onto
# it shows a high check as "critical" and a critical one as "blocker".


def environment_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "env_name" in callspec.params:
        return str(callspec.params["env_name"])
    if callspec is not None and "account_key" in callspec.params:  # the account suite: its own column
        return f"{ACCOUNT_COLUMN}{callspec.params['account_key']}"
    return CROSS_ENVIRONMENT


STARTED = pytest.StashKey[str]()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    register_environment_secrets()
    install_log_redaction()
    config.stash[STARTED] = utc_now()
    if is_worker(config):
        key = config.workerinput.get(SEALING_KEY)  # type: ignore[attr-defined]
        config.stash[SEALED] = bytes.fromhex(key) if key else b""
    else:
        config.stash[SEALED] = os.urandom(32)
        cleared = clear_results(getattr(config.option, "allure_report_dir", None))
        if cleared:
            config.stash[CLEARED] = cleared


CLEARED = pytest.StashKey[int]()
SEALED = pytest.StashKey[bytes]()  # the key that seals the run's learned secrets for its workers
SEALING_KEY = "payments_conformance_sealing_key"
SEALED_FILE = "secrets.sealed"


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """An endpoint URL with credentials in it (http://user:password@host) is refused: it would be
    printed, saved in the run state and written to the report."""
    for where, url in (("--endpoint-url", getattr(config.option, "conformance_endpoint_url", None)),
                       ("AWS_ENDPOINT_URL", os.environ.get("AWS_ENDPOINT_URL"))):  # fmt: skip
        if url_has_credentials(url):
            raise pytest.UsageError(
                f"{where} {redact_text(str(url))} carries credentials in the URL; pass the endpoint without them "
                "(credentials come from the AWS credential chain: environment, profile or role)."
            )


def pytest_configure_node(node: Any) -> None:
    """xdist: each worker gets the sealing key over xdist's own channel (never written anywhere)."""
    node.workerinput[SEALING_KEY] = node.config.stash[SEALED].hex()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    """Once the controller has prepared the run (and learned its secrets), they are sealed into the
    run directory for the workers, which redact exactly as the controller does."""
    result = yield
    config = session.config
    path = _state_path(config)
    if not is_worker(config) and path is not None and path.parent.is_dir():
        (path.parent / SEALED_FILE).write_bytes(seal_secrets(config.stash[SEALED]))
    return result


def _state_path(config: pytest.Config) -> Path | None:
    """The run's state.json: set by the controller once prepared, handed to each worker by xdist."""
    return config.stash.get(STATE_PATH, None)


_LEARNED = pytest.StashKey[bool]()


def _learn_sealed_secrets(config: pytest.Config) -> None:
    """A worker, before its first check: register what the controller learned."""
    if not is_worker(config) or config.stash.get(_LEARNED, False):
        return
    config.stash[_LEARNED] = True
    path = _state_path(config)
    sealed = path.parent / SEALED_FILE if path is not None else None
    if sealed is not None and sealed.is_file() and config.stash.get(SEALED, b""):
        open_sealed_secrets(sealed.read_bytes(), config.stash[SEALED])


# What a run writes into its Allure results folder; nothing else there is touched (history/ stays).
RESULT_FILES = ("*-result.json", "*-container.json", "*-attachment.*", "conformance-run-*.json",
                "environment.properties", "categories.json", "executor.json")  # fmt: skip


def clear_results(alluredir: str | None) -> int:
    """Every run starts from an empty results folder: the results of earlier runs in it are removed
    by the controller as the session starts (they were merged into the report silently before)."""
    if not alluredir:
        return 0
    folder = Path(alluredir)
    if not folder.is_dir():
        return 0
    count = 0
    for pattern in RESULT_FILES:
        for path in folder.glob(pattern):
            if path.is_file():
                path.unlink()
                count += 1
    return count


def pytest_report_header(config: pytest.Config) -> list[str]:
    cleared = config.stash.get(CLEARED, 0)
    if not cleared:
        return []
    where = config.option.allure_report_dir
    return [f"allure results: {where} cleared of {cleared} files of earlier runs (each run starts empty)"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each check's rationale as its Allure description. A marker, because Allure sets a test's
    description from its markers (or docstring) once the test's setup has run, over any set
    during it."""
    for item in items:
        meta = meta_of(item)
        if meta is not None:
            item.add_marker(allure.description(meta.rationale))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    """The check's Allure labels, links and parameters, set as its setup starts; once its fixtures
    are set up, what it observes (for each evidence attachment's provenance)."""
    _learn_sealed_secrets(item.config)
    _labels(item)
    try:
        return (yield)
    finally:
        set_observation(observation_of(item))


def pytest_runtest_teardown(item: pytest.Item) -> None:
    set_observation(None)


def observation_of(item: pytest.Item) -> dict[str, Any] | None:
    """Where the check's evidence comes from, from its fixtures: the environment's inventory (when
    and by whom it was collected, account, region, stack), every inventory, or the template."""
    args = getattr(item, "funcargs", {})
    # the drift check reads its environment's inventory as ``inv_with_drift`` (once drift detection answered)
    inv = args.get("inv", args.get("inv_with_drift"))
    inventories, template = args.get("inventories"), args.get("template_path")
    if inv is not None and hasattr(inv, "stack_name"):
        return _inventory_observation(inv)
    account_inv = args.get("account_inv")
    if account_inv is not None and hasattr(account_inv, "account_controls"):
        calls = sorted(getattr(account_inv, "api_calls", {}) or {})
        return {
            "environment": f"{ACCOUNT_COLUMN}{account_inv.key}",
            "account": account_inv.account,
            "region": account_inv.region,
            "observed_at_utc": account_inv.collected_at,
            "operation": f"account-level inventory of account {account_inv.account} in {account_inv.region}",
            "resources": [f"arn:aws:iam::{account_inv.account}:root"],
            "collected_by": f"the run's account inventory ({len(calls)} operations: {', '.join(calls)})",
        }
    if isinstance(inventories, dict) and inventories:
        each = [_inventory_observation(i) for i in inventories.values()]
        return {
            "environment": CROSS_ENVIRONMENT,
            "account": ", ".join(dict.fromkeys(o["account"] for o in each)),
            "region": ", ".join(dict.fromkeys(o["region"] for o in each)),
            "observed_at_utc": min((o["observed_at_utc"] for o in each if o["observed_at_utc"]), default=""),
            "operation": "comparison of the environments' inventories",
            "resources": [r for o in each for r in o["resources"]],
        }
    if template is not None:
        path = Path(template).resolve()
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        return {
            "environment": CROSS_ENVIRONMENT,
            "operation": "read the template file",
            "resources": [f"{shown} (sha256 {template_sha256(path)})"],
        }
    return None


def _inventory_observation(inv: Any) -> dict[str, Any]:
    stack = f"arn:aws:cloudformation:{inv.region}:{inv.account}:stack/{inv.stack_name}"
    calls = sorted(getattr(inv, "api_calls", {}) or {})
    return {
        "environment": inv.environment,
        "account": inv.account,
        "region": inv.region,
        "observed_at_utc": getattr(inv, "collected_at", ""),
        "operation": f"inventory of {inv.stack_name}",
        "resources": [stack],
        "collected_by": f"the run's inventory collection ({len(calls)} operations: {', '.join(calls)})",
    }


def _labels(item: pytest.Item) -> None:
    """A hook rather than an autouse fixture: Allure records every fixture of every test (a
    container file each), and this one would be 245 more files in a three-environment run."""
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
    allure.dynamic.label("check_severity", meta.severity)
    allure.dynamic.label("check", meta.id)
    allure.dynamic.tag(f"severity {meta.severity}")
    for link in sorted(meta.links, key=lambda lk: lk.kind != "primary"):
        c = control(link.control)
        allure.dynamic.tag(link.control)
        allure.dynamic.label("control", link.control)
        allure.dynamic.label(f"control_{link.kind}", link.control)
        allure.dynamic.link(c.url, link_type="control", name=f"{c.label} ({link.kind}): {c.title or c.heading}")
    if meta.operational:
        allure.dynamic.tag("operational")
        allure.dynamic.label("operational", meta.operational)
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
    """The suite's commit; ``(modified)`` when the checkout differs from it (a run from a dirty tree)."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True, cwd=root
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10,
            cwd=root,
        )  # fmt: skip
        return out.stdout.strip() + (" (modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_facts(config: pytest.Config) -> dict[str, Any] | None:
    """What the run was pointed at, from the plugin's run state; from its settings when nothing was
    prepared (a template-only run: no environment, the template and the suite are still named)."""
    settings = config.stash.get(SETTINGS, None)
    facts: dict[str, Any] = {
        "started_utc": config.stash.get(STARTED, ""),
        "finished_utc": utc_now(),
        "suite_version": __version__,
        "git_commit": _git_commit(),
        "mode_source": settings.mode.source if settings else "",
    }
    if STATE in config.stash:
        state = config.stash[STATE]
        target = state.mode if not state.endpoint_url else f"{state.mode} {state.endpoint_url}"
        return facts | {
            "run_id": state.run_id,
            "emulated": state.emulated,
            "target": redact_text(target),
            "template_sha256": state.template_sha256,
            "template_version": state.template_version,
            "environments": {
                **{
                    name: {"stack": e.stack_name, "region": e.region, "account": e.account}
                    for name, e in state.environments.items()
                },
                **{  # the account suite's columns: the account-level controls of each account and region
                    f"{ACCOUNT_COLUMN}{key}": {
                        "stack": f"account-level controls of {', '.join(a.environments)}",
                        "region": a.region,
                        "account": a.account,
                    }
                    for key, a in state.accounts.items()
                },
            },
        }
    if settings is None:
        return None
    template = Path(settings.template.value)
    endpoint = settings.endpoint_url.value
    return facts | {
        "run_id": settings.run_id,
        "emulated": settings.mode.value != "aws",
        "target": redact_text(f"{settings.mode.value} {endpoint}" if endpoint else str(settings.mode.value)),
        "template_sha256": template_sha256(template),
        "template_version": template_version(template),
        "environments": {},
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


def junit_properties(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's identity as JUnit test-suite properties."""
    props = [("run.id", facts["run_id"]), ("run.started.utc", facts["started_utc"]),
             ("run.finished.utc", facts["finished_utc"]), ("target", facts["target"]),
             ("git.commit", facts["git_commit"]), ("template.sha256", facts["template_sha256"]),
             ("suite.version", facts["suite_version"])]  # fmt: skip
    if facts.get("emulated"):
        props.insert(0, ("EMULATOR", EMULATOR_NOTICE))
    for name, env in facts["environments"].items():
        props += [(f"{name}.account", env["account"] or ""), (f"{name}.region", env["region"] or ""),
                  (f"{name}.stack", env["stack"] or "")]  # fmt: skip
    return [(k, redact_text(str(v))) for k, v in props]


@pytest.hookimpl(tryfirst=True)  # before junitxml writes its file at session finish
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if is_worker(config):
        return
    path = _state_path(config)
    if path is not None:  # the workers are done with it (and its key is gone with this process)
        (path.parent / SEALED_FILE).unlink(missing_ok=True)
    facts = run_facts(config)
    xml = config.stash.get(xml_key, None)
    if xml is not None and facts is not None:
        for name, value in junit_properties(facts):
            xml.add_global_property(name, value)
    alluredir = getattr(config.option, "allure_report_dir", None)
    if not alluredir:
        return
    path = Path(alluredir)
    if facts is not None:
        path.mkdir(parents=True, exist_ok=True)
        (path / f"conformance-run-{facts['run_id']}.json").write_text(json.dumps(facts, indent=2))
    write_results_metadata(path, [facts] if facts else [])
