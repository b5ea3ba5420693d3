"""The pytest plugin of the conformance suite (loaded by the root ``conftest.py``): every process.

Options, fixtures, parametrisation by environment, probe errors and the data-plane probes
started one check early live here; the run state lives in ``config.stash`` under the keys of
``conformance.state``, never in module globals.

* ``pytest``: offline rehearsal: embedded emulator, deploy dev+staging+prod, check them.
* ``pytest --env staging``: real AWS, attach to the existing stack, create/delete nothing
  unless ``--deploy`` / ``--teardown``.
* ``--emulator``: rehearse named environments offline; ``--endpoint-url URL`` (or
  ``AWS_ENDPOINT_URL``): attach to an endpoint started elsewhere.

The controller (the process without xdist, or xdist's controller) also registers
``conformance.controller.Controller``, which deploys or attaches and collects once; xdist
workers only read the run directory, and never import ``deploy`` or ``emulator``.
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import meta_of
from conformance.cmdline import hand_workers_joined_options
from conformance.evidence import Evidence
from conformance.inputs import validate_run
from conformance.interrupts import INTERRUPTS
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.account import AccountInventory
from conformance.metrics import write_process_calls
from conformance.prefetch import Prefetcher, Probe, ProbeContext
from conformance.settings import RunSettings, Setting
from conformance.state import (
    CALLS,
    PREFETCH,
    PROCESS,
    SETTINGS,
    STATE_PATH,
    WORKER_INPUT_KEY,
    RunState,
    account_inventory_of,
    current_state,
    drift_of,
    inventory_of,
    is_worker,
    session_of,
    spec_of,
)
from core.account import account_scopes
from core.aws import AwsSession, CallLog
from core.errors import ConformanceError
from core.spec import EnvironmentSpec


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "payments platform conformance")
    group.addoption(
        "--env", action="append", dest="conformance_envs", metavar="NAME",
        help="environment to check (dev, staging, prod, or all; repeatable). Default: offline rehearsal of all.",
    )  # fmt: skip
    group.addoption(
        "--emulator", action="store_true", dest="conformance_emulator",
        help="rehearse the named environments offline on the embedded emulator",
    )  # fmt: skip
    group.addoption(
        "--endpoint-url", dest="conformance_endpoint_url", metavar="URL",
        help="attach to an AWS-compatible endpoint started elsewhere (default: $AWS_ENDPOINT_URL)",
    )  # fmt: skip
    group.addoption(
        "--deploy", action="store_true", dest="conformance_deploy",
        help="create or update the stacks before checking (default: attach only)",
    )  # fmt: skip
    group.addoption(
        "--teardown", action="store_true", dest="conformance_teardown",
        help="delete the stacks this run created, at the end (never prod)",
    )  # fmt: skip
    group.addoption("--suffix", dest="conformance_suffix", help="EnvironmentSuffix override (parallel stacks)")
    group.addoption(
        "--region",
        dest="conformance_region",
        help="region override for every environment; `auto` (with --deploy) picks the first of each "
        "environment's candidate_regions with room for its Elastic IPs",
    )
    group.addoption(
        "--template", dest="conformance_template", metavar="PATH",
        help="the template to deploy and to check statically (default: deploy/template.yaml)",
    )  # fmt: skip
    group.addoption(
        "--from-run", action="append", dest="conformance_from_run", metavar="DIR",
        help="judge the saved inventories of earlier runs (DIR: a run directory with state.json and "
        "inventory-<env>.json; repeatable) instead of collecting: no AWS call (the nightly's consistency job)",
    )  # fmt: skip
    group.addoption(
        "--no-write-probe", action="store_true", dest="conformance_no_write_probe",
        help="make no write at all: the S3 write probe (the suite's one write) is not run, and its check "
        "is reported as not run with that reason",
    )  # fmt: skip
    group.addoption(
        "--run-dir",
        dest="conformance_run_dir",
        metavar="DIR",
        help="where run state and inventories go (build/run)",
    )


def _skip_final_collection() -> None:
    """At interpreter exit, leave the heap to the operating system instead of collecting it.

    CPython's finalisation runs one full garbage collection over everything still alive:
    botocore's service models, the inventories, pytest's and Allure's objects. Measured on a
    three-environment run it took about a second of a 7-second run, in every process (the
    controller and each xdist worker). Frozen objects are skipped by that collection; files,
    sockets and the report are already closed by then (atexit, after pytest has finished).
    """
    gc.freeze()


def pytest_configure(config: pytest.Config) -> None:
    atexit.unregister(_skip_final_collection)  # once per process, however many sessions it runs
    atexit.register(_skip_final_collection)
    config.addinivalue_line("markers", "conformance_check(meta): a conformance check with its metadata")
    config.addinivalue_line("markers", "data_plane: probes the deployed platform directly (HTTP, DNS, S3 write)")
    config.stash[CALLS] = CallLog()
    config.stash[PREFETCH] = Prefetcher()
    if is_worker(config):  # the controller prepared the platform: read its run directory
        config.stash[SETTINGS] = RunSettings.from_options(config.option)
        config.stash[STATE_PATH] = Path(config.workerinput[WORKER_INPUT_KEY])  # type: ignore[attr-defined]
        config.stash[PROCESS] = config.workerinput["workerid"]  # type: ignore[attr-defined]
        return
    config.stash[PROCESS] = "probes"
    saved: RunState | None = None
    try:
        settings = RunSettings.from_options(config.option)
        settings.specs()  # validate every environment file before anything else happens
        validate_run(settings, config.option.conformance_from_run)  # template, endpoint URL, run dir: exit 4
        if config.option.conformance_from_run:
            saved = RunState.merge_saved([Path(d) for d in config.option.conformance_from_run])
            settings.environments = Setting(list(saved.environments), "--from-run")
    except ConformanceError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS] = settings
    hand_workers_joined_options(config)  # --run-dir DIR reaches xdist's workers as --run-dir=DIR
    # the controller's own plugin, as xdist registers its DSession: only this process imports it
    from conformance.controller import Controller

    config.pluginmanager.register(Controller(settings, config=config, saved=saved), "conformance-controller")


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: workers only where they pay for themselves (docs/performance.md).

    Each worker costs about half a second of CPU to start (importing boto3, pytest and the
    checks), and the checks themselves make no API calls: on the embedded emulator, where nothing
    waits on a network, every check of three environments runs in about a second in one process,
    so workers only slow the rehearsal down. Against AWS (or any endpoint) the data-plane probes
    wait on the network, and xdist's own choice (one worker per CPU) is kept. An explicit
    ``-n N`` or PYTEST_XDIST_AUTO_NUM_WORKERS always wins.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    try:
        settings = RunSettings.resolve(
            envs=config.option.conformance_envs, emulator=config.option.conformance_emulator,
            endpoint_url=config.option.conformance_endpoint_url, deploy=False, teardown=False,
        )  # fmt: skip
    except ConformanceError:
        return None  # the usage error is reported by pytest_configure
    return 0 if settings.mode.value == "emulator" else None


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Any:
    """pytest's exit status, 2 when Ctrl-C or SIGTERM came at any moment (the controller's record,
    conformance/interrupts.py: its unconfigure included); from here a signal ends the process."""
    code = yield
    interrupted = INTERRUPTS.finished()
    return code if interrupted is None else interrupted


@pytest.hookimpl(tryfirst=True)  # before the controller ends the run: the probes still need the platform
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    # probes started for checks that did not run (interrupted, -x): writing ones are waited for,
    # so that they have removed what they wrote and their calls are counted
    config.stash[PREFETCH].close()
    path = config.stash.get(STATE_PATH, None)
    if path is not None:
        write_process_calls(path.parent, config.stash[PROCESS], config.stash[CALLS])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(ProbeError):
        report.user_properties.append(("conformance_outcome", "probe-error"))
        # the item's too: JUnit XML records the properties of the item's last (teardown) report
        item.user_properties.append(("conformance_outcome", "probe-error"))
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    if report.failed and ("conformance_outcome", "probe-error") in getattr(report, "user_properties", ()):
        return "error", "E", ("PROBE ERROR", {"yellow": True})
    return None


# ---------------------------------------------------------------- parametrisation


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "env_name" in metafunc.fixturenames:
        envs = metafunc.config.stash[SETTINGS].environments.value
        metafunc.parametrize("env_name", envs, ids=envs, scope="session")
    if "account_key" in metafunc.fixturenames:
        # one per account and region of the run's environments, however many share it (core.account)
        keys = list(account_scopes(metafunc.config.stash[SETTINGS].specs()))
        metafunc.parametrize("account_key", keys, ids=keys, scope="session")


@pytest.hookimpl(trylast=True)  # after pytest has grouped the checks by environment
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_write = config.getoption("conformance_no_write_probe", False)
    for item in items:
        meta = meta_of(item)
        if meta is not None:
            item.add_marker(pytest.mark.suite(meta.suite))
        if no_write and _writes(item):
            item.add_marker(pytest.mark.skip(reason=NO_WRITE_PROBE))
    # The data-plane probes wait on the network (the S3 write probe's three calls, an HTTP GET through
    # the load balancer): run them first, the longest (writing) ones first, so that under xdist they
    # overlap each other (each is started while the check before it runs, conformance.prefetch) and
    # the other checks, instead of being what the last worker is still waiting on. The checks that need
    # drift detection's answer (published after the rest of the inventory) run last, so that every other
    # check runs while it is still in progress. The order of everything else is kept; no check depends
    # on another's order.
    items.sort(key=_schedule_rank)


NO_WRITE_PROBE = "not run: --no-write-probe turned the S3 write probe (the suite's one write) off"


def _writes(item: pytest.Item) -> bool:
    mark = item.get_closest_marker("data_plane")
    return mark is not None and bool(mark.kwargs.get("writes"))


def _schedule_rank(item: pytest.Item) -> int:
    if "inv_with_drift" in getattr(item, "fixturenames", ()):
        return 3
    mark = item.get_closest_marker("data_plane")
    if mark is None:
        return 2
    return 0 if mark.kwargs.get("writes") else 1


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def run_state(pytestconfig: pytest.Config) -> RunState:
    """What the controller prepared: target, environments, inventories."""
    return current_state(pytestconfig)


@pytest.fixture(scope="session")
def emulated(run_state: RunState) -> bool:
    return run_state.emulated


@pytest.fixture(scope="session")
def spec(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> EnvironmentSpec:
    return spec_of(pytestconfig, env_name)


@pytest.fixture(scope="session")
def inv(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> Inventory:
    """The environment's inventory (collected once by the controller)."""
    return inventory_of(pytestconfig, env_name)


@pytest.fixture
def inv_with_drift(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> Inventory:
    """The environment's inventory with drift detection's answer: drift detection (the longest chain of
    calls by far on AWS) is published after the rest of the inventory, and this waits for it, within
    drift detection's own deadline (conformance.state.drift_of). Only the checks that judge drift ask."""
    return drift_of(pytestconfig, env_name)


@pytest.fixture(scope="session")
def account_inv(account_key: str, run_state: RunState, pytestconfig: pytest.Config) -> AccountInventory:
    """The account inventory of one account and region (collected once by the controller)."""
    return account_inventory_of(pytestconfig, account_key)


@pytest.fixture(scope="session")
def inventories(run_state: RunState, pytestconfig: pytest.Config) -> dict[str, Inventory]:
    """Every environment's inventory, for the consistency suite."""
    return {env: inventory_of(pytestconfig, env) for env in run_state.environments}


@pytest.fixture(scope="session")
def specs(run_state: RunState, pytestconfig: pytest.Config) -> dict[str, EnvironmentSpec]:
    """Every environment's specification, as the run deployed it (for the consistency suite)."""
    return {env: spec_of(pytestconfig, env) for env in run_state.environments}


@pytest.fixture(scope="session")
def aws(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> AwsSession:
    """A session on the environment's target, for the data-plane probes only."""
    return session_of(pytestconfig, env_name)


# ---------------------------------------------------------------- data-plane probes, one check early


def _probe_of(item: pytest.Item) -> tuple[Probe, bool] | None:
    """The probe a data-plane check declared (``@pytest.mark.data_plane(probe=fn, writes=...)``)."""
    mark = item.get_closest_marker("data_plane")
    if mark is None or mark.kwargs.get("probe") is None:
        return None
    if mark.kwargs.get("writes") and item.config.getoption("conformance_no_write_probe", False):
        return None  # --no-write-probe: never started, not even one check early
    return mark.kwargs["probe"], bool(mark.kwargs.get("writes", False))


def _probe_context(item: pytest.Item) -> ProbeContext:
    env_name = item.callspec.params["env_name"]  # type: ignore[attr-defined]
    config = item.config
    return ProbeContext(
        env_name=env_name,
        inv=inventory_of(config, env_name),
        aws=session_of(config, env_name),
        run_state=current_state(config),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before a check runs: when the next check of this process is a data-plane check, start its
    probe now, so that it waits on the network while this one runs (conformance.prefetch)."""
    if nextitem is None or not hasattr(nextitem, "callspec"):
        return
    declared = _probe_of(nextitem)
    if declared is None:
        return
    probe, writes = declared
    try:
        ctx = _probe_context(nextitem)
    except ConformanceError:
        return  # the check itself reports why its environment cannot be probed
    item.config.stash[PREFETCH].start(nextitem.nodeid, probe, ctx, writes=writes)


@pytest.fixture
def data_plane(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """The check's data-plane probe: call it for the probe's result (started while the previous
    check ran, else run now); the probe's exception, if it raised one, is raised here."""
    item = request.node
    declared = _probe_of(item)
    if declared is None:
        raise ConformanceError(f"{item.nodeid} asks for data_plane but declares no @pytest.mark.data_plane(probe=...)")
    probe = declared[0]
    prefetcher = request.config.stash[PREFETCH]
    return lambda: prefetcher.result(item.nodeid, probe, lambda: _probe_context(item))


@pytest.fixture(scope="session")
def template_path(pytestconfig: pytest.Config) -> Path:
    """The template this run deploys and the template suite reads (--template, else deploy/template.yaml)."""
    return Path(pytestconfig.stash[SETTINGS].template.value)


@pytest.fixture(scope="session")  # stateless: one fixture instance (and Allure container) per run, not per check
def evidence() -> Evidence:
    return Evidence()


def emulator_limit(emulated: bool, reason: str) -> None:
    """Skip one probe on the emulator only, with the reason in the report; on AWS it runs."""
    if emulated:
        pytest.skip(f"emulator limit: {reason}")


__all__ = ["emulator_limit"]
