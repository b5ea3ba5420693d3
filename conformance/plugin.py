"""The pytest plugin of the conformance suite (loaded by the root ``conftest.py``).

Options, the run's life cycle, fixtures, parametrisation by environment and report labels
live here; state lives in ``config.stash``, never in module globals.

* ``pytest``: offline rehearsal: embedded emulator, deploy dev+staging+prod, check them.
* ``pytest --env staging``: real AWS, attach to the existing stack, create/delete nothing
  unless ``--deploy`` / ``--teardown``.
* ``--emulator``: rehearse named environments offline; ``--endpoint-url URL`` (or
  ``AWS_ENDPOINT_URL``): attach to an endpoint started elsewhere.

With xdist the controller deploys and collects once; workers read the run directory.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.aws import AwsSession, CallLog
from conformance.checks import meta_of
from conformance.cmdline import hand_workers_joined_options
from conformance.endpoint import AWS_FAILURES, observation_error
from conformance.errors import ConformanceError, ExitCode
from conformance.evidence import Evidence
from conformance.inputs import validate_run
from conformance.inventory import Inventory, ProbeError
from conformance.outputs import StackOutputs
from conformance.prefetch import Prefetcher, Probe, ProbeContext
from conformance.run import Run, RunSettings, RunState, Setting
from conformance.scheduling import CrashOnceLoadGroupScheduling, is_crash_report
from conformance.spec import EnvironmentSpec, load_environment
from conformance.template import template_sha256, template_version

SETTINGS = pytest.StashKey[RunSettings]()
RUN = pytest.StashKey[Run]()
STATE = pytest.StashKey[RunState]()
CACHE = pytest.StashKey[dict[str, Any]]()
WORKER_KEY = "payments_conformance_state"
OUTCOMES = pytest.StashKey["Outcomes"]()
PREFETCH = pytest.StashKey[Prefetcher]()
CALLS = pytest.StashKey[CallLog]()


class Outcomes:
    """Counts failed checks by kind where the exit code is decided (with or without xdist)."""

    def __init__(self) -> None:
        self.failures = 0
        self.probe_errors = 0
        self.crashed: list[str] = []  # checks whose xdist worker died while running them

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
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


LIVE_SUITES = ("network", "database", "compute", "storage")


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
        "--run-dir",
        dest="conformance_run_dir",
        metavar="DIR",
        help="where run state and inventories go (build/run)",
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


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
    config.addinivalue_line("markers", "data_plane: probes the deployed platform directly (HTTP, S3 write)")
    config.stash[CACHE] = {}
    config.stash[OUTCOMES] = Outcomes()
    config.stash[CALLS] = CallLog()
    config.stash[PREFETCH] = Prefetcher()
    config.pluginmanager.register(config.stash[OUTCOMES], "conformance-outcomes")
    if _is_worker(config):
        state_path = Path(config.workerinput[WORKER_KEY])  # type: ignore[attr-defined]
        config.stash[SETTINGS] = RunSettings.resolve(
            envs=config.option.conformance_envs, emulator=config.option.conformance_emulator,
            endpoint_url=config.option.conformance_endpoint_url, deploy=False, teardown=False,
            suffix=config.option.conformance_suffix, region=config.option.conformance_region,
            template=Path(config.option.conformance_template) if config.option.conformance_template else None,
        )  # fmt: skip
        config.stash[CACHE]["state_path"] = state_path
        return
    try:
        settings = RunSettings.resolve(
            envs=config.option.conformance_envs,
            emulator=config.option.conformance_emulator,
            endpoint_url=config.option.conformance_endpoint_url,
            deploy=config.option.conformance_deploy,
            teardown=config.option.conformance_teardown,
            suffix=config.option.conformance_suffix,
            region=config.option.conformance_region,
            run_dir=Path(config.option.conformance_run_dir) if config.option.conformance_run_dir else None,
            template=Path(config.option.conformance_template) if config.option.conformance_template else None,
        )
        settings.specs()  # validate every environment file before anything else happens
        validate_run(settings, config.option.conformance_from_run)  # template, endpoint URL, run dir: exit 4
        if config.option.conformance_from_run:
            saved = RunState.merge_saved([Path(d) for d in config.option.conformance_from_run])
            settings.environments = Setting(list(saved.environments), "--from-run")
            config.stash[CACHE]["saved_state"] = saved
    except ConformanceError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS] = settings
    hand_workers_joined_options(config)  # --run-dir DIR reaches xdist's workers as --run-dir=DIR
    _lower_worker_priority(config)
    if threading_main():
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


# xdist workers start while the controller prepares the platform (deploy, inventory), which they
# then wait for: started at a lower priority, their start-up (about half a second of CPU each)
# takes the CPU the controller leaves, instead of slowing the preparation everyone waits on.
# Measured, interleaved, at 100 ms latency on 2 cores: three environments with -n auto in 3.41 s
# instead of 3.78 s. Only the workers xdist makes from -n; explicit --tx specs are the user's.
WORKER_NICENESS = 10


def _lower_worker_priority(config: pytest.Config) -> None:
    tx = getattr(config.option, "tx", None)
    if tx and all(spec == "popen" for spec in tx):
        config.option.tx = [f"popen//nice={WORKER_NICENESS}"] * len(tx)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


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


def pytest_configure_node(node: Any) -> None:
    """xdist: hand the run-state path to each worker."""
    settings = node.config.stash[SETTINGS]
    node.workerinput[WORKER_KEY] = str(settings.run_dir / settings.run_id / "state.json")


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _is_worker(config) or SETTINGS not in config.stash:
        return []
    s = config.stash[SETTINGS]
    lines = [
        f"conformance environments: {s.environments.show()}",
        f"conformance target: {s.mode.show()}",
    ]
    if s.endpoint_url.value:
        lines.append(f"conformance endpoint: {s.endpoint_url.show()}")
    lines.append(f"conformance deploy: {s.deploy.show()}; teardown: {s.teardown.show()}")
    for name, spec in s.specs().items():
        region_src = "--region" if s.region else f"deploy/environments/{name}.yaml"
        if s.region == "auto":
            region_src = (
                f"--region auto: the first of {', '.join(spec.candidate_regions)} with room, chosen before deploying"
            )
        lines.append(
            f"conformance {name}: stack {spec.stack_name}, region {spec.region} (from {region_src}), "
            f"account {spec.account_id or 'from the credentials'}"
            + (f", profile {spec.profile}" if spec.profile else "")
        )
    lines.append(
        f"conformance template: {s.template.value} version {template_version(s.template.value)}, "
        f"sha256 {template_sha256(s.template.value)[:16]} (from {s.template.source})"
    )
    lines.append(f"conformance run id: {s.run_id}")
    return lines


STATIC_SUITES = ("template",)


def _wants_platform(session: pytest.Session) -> bool:
    """False for --collect-only and for runs that select only static suites (no stack needed)."""
    config = session.config
    if config.option.collectonly:
        return False
    tests_dir = Path(str(config.rootpath)) / "tests"
    args = [Path(a.split("::", 1)[0]).resolve() for a in config.args]
    static = [tests_dir / s for s in STATIC_SUITES]
    return not args or not all(any(a == s or s in a.parents for s in static) for a in args)


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    result = yield
    config = session.config
    if _is_worker(config) or not _wants_platform(session):
        return result
    saved = config.stash[CACHE].get("saved_state")
    if saved is not None:  # --from-run: judge saved inventories, deploy and collect nothing
        settings = config.stash[SETTINGS]
        saved.run_id = settings.run_id
        path = settings.run_dir / settings.run_id / "state.json"
        saved.save(path)
        config.stash[STATE] = saved
        config.stash[CACHE]["state_path"] = path
        return result
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")

    def out(line: str) -> None:
        if reporter is not None:
            with capman.global_and_fixture_disabled() if capman else _null():
                reporter.write_line(line)
        else:
            print(line, file=sys.stderr, flush=True)

    run = Run(config.stash[SETTINGS], out=out)
    config.stash[RUN] = run
    try:
        try:
            state = run.prepare()
        except AWS_FAILURES as exc:  # not turned into a sentence by any step: what the endpoint did
            endpoint = getattr(run.emulator, "endpoint_url", run.settings.endpoint_url.value)
            raise observation_error(exc, endpoint) from None
    except ConformanceError as exc:
        for problem in run.finish():
            out(f"teardown: {problem}")
        pytest.exit(f"conformance: {exc}", returncode=int(exc.exit_code))
    except KeyboardInterrupt:
        # pytest calls no pytest_sessionfinish for an interrupt during pytest_sessionstart
        for problem in run.finish(interrupted=True):
            out(f"teardown: {problem}")
        raise
    config.stash[STATE] = state
    config.stash[CACHE]["state_path"] = run.state_path
    for name, env in state.environments.items():
        out(f"conformance {name}: stack {env.stack_name} in {env.region}, account {env.account} (from sts)")
    return result


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    # probes started for checks that did not run (interrupted, -x): writing ones are waited for,
    # so that they have removed what they wrote and their calls are counted
    config.stash[PREFETCH].close()
    _write_call_log(config)
    if _is_worker(config) or RUN not in config.stash:
        return
    run = config.stash[RUN]
    problems = run.finish(interrupted=session.exitstatus == ExitCode.INTERRUPTED)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for problem in problems:
        if reporter is not None:
            reporter.write_line(f"conformance teardown: {problem}", red=True)
    if problems and session.exitstatus == ExitCode.OK:
        session.exitstatus = ExitCode.CANNOT_OBSERVE
    outcomes = config.stash[OUTCOMES]
    if outcomes.unobserved and not outcomes.failures and session.exitstatus == ExitCode.NON_CONFORMANT:
        session.exitstatus = ExitCode.CANNOT_OBSERVE


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` without re-running a check that crashed its worker (the default
    ``--dist load`` does not re-run it either; it sends checks in batches, measured faster)."""
    if config.getvalue("dist") == "loadgroup":
        return CrashOnceLoadGroupScheduling(config, log)
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    crashed = config.stash[OUTCOMES].crashed if OUTCOMES in config.stash else []
    if crashed:
        terminalreporter.write_sep("=", "checks lost with a crashed worker (not observed)", yellow=True)
        for nodeid in crashed:
            terminalreporter.write_line(f"worker crashed: {nodeid}: not judged, run it again")


def _write_call_log(config: pytest.Config) -> None:
    """Each process records the AWS operations it made (data-plane probes, in workers)."""
    calls = config.stash[CALLS]
    path = config.stash[CACHE].get("state_path")
    if not calls.total or path is None:
        return
    who = config.workerinput["workerid"] if _is_worker(config) else "probes"  # type: ignore[attr-defined]
    (Path(path).parent / f"api-calls-{who}.json").write_text(json.dumps(dict(calls.calls), indent=1, sort_keys=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(ProbeError):
        report.user_properties.append(("conformance_outcome", "probe-error"))
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


@pytest.hookimpl(trylast=True)  # after pytest has grouped the checks by environment
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        meta = meta_of(item)
        if meta is not None:
            item.add_marker(pytest.mark.suite(meta.suite))
    # The data-plane probes wait on the network (the S3 write probe's three calls, an HTTP GET through
    # the load balancer): run them first, the longest (writing) ones first, so that under xdist they
    # overlap each other (each is started while the check before it runs, conformance.prefetch) and
    # the other checks, instead of being what the last worker is still waiting on. The order of
    # everything else is kept; no check depends on another's order.
    items.sort(key=_schedule_rank)


def _schedule_rank(item: pytest.Item) -> int:
    mark = item.get_closest_marker("data_plane")
    if mark is None:
        return 2
    return 0 if mark.kwargs.get("writes") else 1


# ---------------------------------------------------------------- fixtures


def _state(config: pytest.Config) -> RunState:
    if STATE not in config.stash:
        path = config.stash[CACHE].get("state_path")
        if path is None or not Path(path).exists():
            raise ConformanceError("the run state is missing: the controller did not prepare the platform")
        config.stash[STATE] = RunState.load(Path(path))
    return config.stash[STATE]


@pytest.fixture(scope="session")
def run_state(pytestconfig: pytest.Config) -> RunState:
    """What the controller prepared: target, environments, inventories."""
    return _state(pytestconfig)


@pytest.fixture(scope="session")
def emulated(run_state: RunState) -> bool:
    return run_state.emulated


def _cached(config: pytest.Config, key: str, make: Callable[[], Any]) -> Any:
    """What ``make`` returns, made once per process (fixtures, probes and workers share it)."""
    cache = config.stash[CACHE]
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _spec(config: pytest.Config, run_state: RunState, env_name: str) -> EnvironmentSpec:
    """The environment's file as the run deployed it, loaded once per process (specs are frozen).

    The region is the one the run's state names for it (--region auto chooses one per environment).
    """

    def load() -> EnvironmentSpec:
        env = run_state.environments.get(env_name)
        region = env.region if env is not None else run_state.region
        return load_environment(env_name).with_overrides(suffix=run_state.suffix, region=region)

    return _cached(config, f"spec:{env_name}", load)


@pytest.fixture(scope="session")
def spec(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> EnvironmentSpec:
    return _spec(pytestconfig, run_state, env_name)


def _inventory(config: pytest.Config, env_name: str) -> Inventory:
    return _cached(config, f"inventory:{env_name}", lambda: _state(config).inventory(env_name))


@pytest.fixture(scope="session")
def inv(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> Inventory:
    """The environment's inventory (collected once by the controller)."""
    return _inventory(pytestconfig, env_name)


@pytest.fixture(scope="session")
def inventories(run_state: RunState, pytestconfig: pytest.Config) -> dict[str, Inventory]:
    """Every environment's inventory, for the consistency suite."""
    return {env: _inventory(pytestconfig, env) for env in run_state.environments}


@pytest.fixture(scope="session")
def specs(run_state: RunState, pytestconfig: pytest.Config) -> dict[str, EnvironmentSpec]:
    """Every environment's specification, as the run deployed it (for the consistency suite)."""
    return {env: _spec(pytestconfig, run_state, env) for env in run_state.environments}


@pytest.fixture(scope="session")
def outputs(inv: Inventory) -> StackOutputs:
    return inv.outputs


def _session(config: pytest.Config, env_name: str) -> AwsSession:
    calls = config.stash[CALLS]
    return _cached(config, f"session:{env_name}", lambda: _state(config).session(env_name, call_log=calls))


@pytest.fixture(scope="session")
def aws(env_name: str, run_state: RunState, pytestconfig: pytest.Config) -> AwsSession:
    """A session on the environment's target, for the data-plane probes only."""
    return _session(pytestconfig, env_name)


# ---------------------------------------------------------------- data-plane probes, one check early


def _probe_of(item: pytest.Item) -> tuple[Probe, bool] | None:
    """The probe a data-plane check declared (``@pytest.mark.data_plane(probe=fn, writes=...)``)."""
    mark = item.get_closest_marker("data_plane")
    if mark is None or mark.kwargs.get("probe") is None:
        return None
    return mark.kwargs["probe"], bool(mark.kwargs.get("writes", False))


def _probe_context(item: pytest.Item) -> ProbeContext:
    env_name = item.callspec.params["env_name"]  # type: ignore[attr-defined]
    config = item.config
    return ProbeContext(
        env_name=env_name, inv=_inventory(config, env_name), aws=_session(config, env_name), run_state=_state(config)
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
