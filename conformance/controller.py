"""The controller process's side of a run: prepare the platform once, tear down what it created.

Registered as a plugin by ``conformance.plugin`` in the controller only (the process without
xdist, or xdist's controller), as xdist registers its ``DSession``: workers never import this
module, nor ``deploy`` or ``emulator`` through it. At session start :meth:`Controller.prepare`
starts the embedded emulator if the run is offline, checks the endpoint and credentials, takes
the stacks' locks (deploy mode), deploys or attaches to each environment's stack and collects
its inventory (environments concurrently), and writes everything to the run directory that the
workers read (``conformance.state``). At session finish :meth:`Controller.finish` tears down
what this run created, when asked (``conformance.teardown``), releases the locks and stops the
emulator, and the exit status follows docs/exit-codes.md (``conformance.outcomes``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.interrupts import INTERRUPTS, InterruptGuard
from conformance.inventory import Inventory, collect, scrub_section
from conformance.inventory.account import collect_account
from conformance.inventory.stack import DETECT_DRIFT, StackDrift, collect_drift, drift_deadline
from conformance.metrics import RunMetrics, peak_rss_mb, write_final_calls
from conformance.outcomes import Outcomes
from conformance.scheduling import CrashOnceLoadGroupScheduling
from conformance.settings import AUTO_REGION, RunSettings
from conformance.state import STATE, STATE_PATH, WORKER_INPUT_KEY, AccountState, EnvState, RunState, drift_marker
from conformance.teardown import RunTeardown
from core.account import AccountScope, account_scopes, is_home
from core.aws import AwsSession, ensure_reachable
from core.endpoint import AWS_FAILURES, observation_error, raise_if_gone
from core.errors import ConformanceError, ExitCode, InfrastructureError, UsageError
from core.lock import LockKeeper, StackLock
from core.outputs import StackOutputs
from core.spec import EnvironmentSpec
from core.template import template_sha256, template_version
from deploy.account import AccountDeployer
from deploy.deployer import Deployer

if TYPE_CHECKING:  # imported when the run starts one (offline)
    from emulator.launcher import Emulator

Printer = Callable[[str], None]
# xdist workers start while the controller prepares the platform (deploy, inventory), which they
# then wait for: started at a lower priority, their start-up (about half a second of CPU each)
# takes the CPU the controller leaves, instead of slowing the preparation everyone waits on.
# Measured, interleaved, at 100 ms latency on 2 cores: three environments with -n auto in 3.41 s
# instead of 3.78 s. Only the workers xdist makes from -n; explicit --tx specs are the user's.
WORKER_NICENESS = 10
STATIC_SUITES = ("template",)


class Controller:
    """The run, seen from the controller: its pytest hooks and the platform's preparation and teardown.

    Usable without pytest too (``prepare`` and ``finish``), with a printer for its progress lines.
    """

    def __init__(
        self,
        settings: RunSettings,
        *,
        config: pytest.Config | None = None,
        saved: RunState | None = None,
        out: Printer | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.saved = saved  # --from-run: the saved state to judge, nothing to deploy or collect
        self._out_lock = threading.Lock()
        self._raw_out = out or self._terminal_line
        self.specs = settings.specs()
        self.outcomes = Outcomes()
        self.metrics = RunMetrics()
        self.emulator: Emulator | None = None
        self.endpoint: str | None = settings.endpoint_url.value
        self.state: RunState | None = None
        self._lock = threading.Lock()
        self.accounts: dict[str, str] = {}
        self.deployers: dict[str, Deployer] = {}
        # one per account and region (core.account); keys fixed from the environment files, as the
        # checks' parametrisation computes them
        self.scopes: dict[str, AccountScope] = account_scopes(self.specs)
        self.account_deployers: dict[str, AccountDeployer] = {}
        self._transaction_buckets: dict[str, str] = {}
        self.end = RunTeardown(settings, self.deployers, self.out, lambda: self.was_interrupted)
        self.sessions: dict[str, AwsSession] = {}
        self.locks: list[StackLock] = []
        self.keeper: LockKeeper | None = None
        # drift detection of each environment, published after the rest of its inventory
        self._drift_stop = threading.Event()
        self._drift_published: dict[str, Future[None]] = {}
        self._prepared = False  # pytest_sessionstart prepared the platform: finish it at session finish
        self._finished = False
        self._interrupted = False

    # ------------------------------------------------------------ progress lines

    def _terminal_line(self, line: str) -> None:
        plugins = self.config.pluginmanager if self.config is not None else None
        reporter = plugins.get_plugin("terminalreporter") if plugins else None
        if reporter is None:
            print(line, file=sys.stderr, flush=True)
            return
        capman = plugins.get_plugin("capturemanager") if plugins else None
        with capman.global_and_fixture_disabled() if capman else nullcontext():
            reporter.write_line(line)

    def out(self, line: str) -> None:
        """Progress lines from concurrent deployments, one whole line at a time."""
        with self._out_lock:
            self._raw_out(line)

    @property
    def state_path(self) -> Path:
        return self.settings.run_dir / self.settings.run_id / "state.json"

    # ------------------------------------------------------------ pytest hooks (controller only)

    def pytest_configure(self, config: pytest.Config) -> None:
        _lower_worker_priority(config)
        # Ctrl-C and SIGTERM from now to the end of the process (conformance/interrupts.py)
        INTERRUPTS.install()
        INTERRUPTS.final_line = self.interrupted_line
        config.pluginmanager.register(InterruptGuard(), "conformance-interrupts")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: hand the run-state path to each worker."""
        node.workerinput[WORKER_INPUT_KEY] = str(self.state_path)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """``--dist loadgroup`` without re-running a check that crashed its worker (the default
        ``--dist load`` does not re-run it either; it sends checks in batches, measured faster)."""
        if config.getvalue("dist") == "loadgroup":
            return CrashOnceLoadGroupScheduling(config, log)
        return None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return self.settings.header_lines()

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Any:
        result = yield
        config = session.config
        if not _wants_platform(session) or self.saved is not None:
            if self.saved is not None:  # --from-run: judge saved inventories, deploy and collect nothing
                self.saved.run_id = self.settings.run_id
                self.saved.save(self.state_path)
                config.stash[STATE] = self.saved
                config.stash[STATE_PATH] = self.state_path
            self._start_checks()
            return result
        self._prepared = True
        try:
            try:
                state = self.prepare()
            except AWS_FAILURES as exc:  # not turned into a sentence by any step: what the endpoint did
                raise observation_error(exc, self.endpoint) from None
        except ConformanceError as exc:
            for problem in self.finish():
                self.out(f"teardown: {problem}")
            pytest.exit(f"conformance: {exc}", returncode=int(exc.exit_code))
        except KeyboardInterrupt:
            # pytest calls no pytest_sessionfinish for an interrupt during pytest_sessionstart
            for problem in self.finish(interrupted=True):
                self.out(f"teardown: {problem}")
            raise
        config.stash[STATE] = state
        config.stash[STATE_PATH] = self.state_path
        for name, env in state.environments.items():
            self.out(f"conformance {name}: stack {env.stack_name} in {env.region}, account {env.account} (from sts)")
        try:
            self._start_checks()
        except KeyboardInterrupt:  # a signal after the preparation's last safe point
            for problem in self.finish(interrupted=True):
                self.out(f"teardown: {problem}")
            raise
        return result

    def _start_checks(self) -> None:
        """From here to the session's finish, Ctrl-C raises KeyboardInterrupt (pytest's own handling)."""
        if INTERRUPTS.is_set():
            raise KeyboardInterrupt(INTERRUPTS.signal_name)
        INTERRUPTS.raising = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.outcomes.count(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # a signal from the session's finish on is only recorded (InterruptGuard, registered at configure)
        self._finish_session(session)
        if INTERRUPTS.is_set() or session.exitstatus == ExitCode.INTERRUPTED:
            if not self._prepared:
                INTERRUPTS.say(self.interrupted_line(), self.out)
            session.exitstatus = ExitCode.INTERRUPTED

    def _finish_session(self, session: pytest.Session) -> None:
        if not self._prepared:
            return
        problems = self.finish(interrupted=session.exitstatus == ExitCode.INTERRUPTED)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for problem in problems:
            if reporter is not None:
                reporter.write_line(f"conformance teardown: {problem}", red=True)
        if problems and session.exitstatus == ExitCode.OK:
            session.exitstatus = ExitCode.CANNOT_OBSERVE
        if self.outcomes.unobserved and not self.outcomes.failures and session.exitstatus == ExitCode.NON_CONFORMANT:
            session.exitstatus = ExitCode.CANNOT_OBSERVE

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.outcomes.crashed:
            terminalreporter.write_sep("=", "checks lost with a crashed worker (not observed)", yellow=True)
            for nodeid in self.outcomes.crashed:
                terminalreporter.write_line(f"worker crashed: {nodeid}: not judged, run it again")

    # ------------------------------------------------------------ preparing the platform

    def prepare(self) -> RunState:
        """Start the emulator (offline), deploy or attach and collect; KeyboardInterrupt at the
        first safe point after Ctrl-C or SIGTERM (recorded by conformance/interrupts.py)."""
        started = time.perf_counter()
        self._check_interrupt("configuring")
        if self.settings.mode.value == "emulator":
            from emulator.launcher import Emulator

            self.emulator = Emulator(log_path=self.state_path.parent / "emulator.log")
            self.endpoint = self.emulator.endpoint_url  # its port is chosen before it starts
        self.sessions = {
            n: AwsSession(region=s.region, endpoint_url=self.endpoint, profile=s.profile) for n, s in self.specs.items()
        }
        # create the clients the run will use while this process waits (the emulator booting,
        # the first calls on the wire); environments that share a region share them
        threading.Thread(target=self._warm, name="warm-clients", daemon=True).start()
        if self.emulator is not None:
            self._start_emulator(self.emulator)
            self.metrics.timed("emulator_start", time.perf_counter() - started)
        elif self.endpoint:
            ensure_reachable(self.endpoint)
        run_dir = self.state_path.parent
        run_dir.mkdir(parents=True, exist_ok=True)
        names = list(self.specs)
        if self.settings.region == AUTO_REGION:
            self._auto_regions()
        if self.settings.deploy.value and self.settings.mode.value != "emulator":
            # before any change: every stack's lock (core.lock), or none and exit 4
            self.accounts = self._each(names, self._claim_lock, "taking the stacks' locks")
            self.keeper = LockKeeper(self.locks).start()
        accounts_wanted = self.config is None or _wants_suite(self.config, "account")
        deployed_baselines = self._deploy_baselines() if accounts_wanted else {}
        envs = self._each(names, self._prepare_environment, "deploying and collecting")
        accounts = self._prepare_accounts(envs, deployed_baselines) if accounts_wanted else {}
        raise_if_gone(self.endpoint)  # the endpoint stopped answering meanwhile: one sentence, exit 3
        self.state = RunState(
            run_id=self.settings.run_id,
            mode=self.settings.mode.value,
            endpoint_url=self.endpoint,
            template_sha256=template_sha256(self.settings.template.value),
            template_version=template_version(self.settings.template.value),
            template_path=str(self.settings.template.value),
            environments=envs,
            suffix=self.settings.suffix,
            region=self.settings.region,
            accounts=accounts,
        )
        self.state.save(self.state_path)
        self.metrics.timed("prepare_total", time.perf_counter() - started)
        if self.emulator is not None:
            self.metrics.timed("emulator_peak_rss_mb", peak_rss_mb(self.emulator.pid))
        self.metrics.write_prepared(run_dir)
        self.out(self.metrics.summary())
        return self.state

    # ------------------------------------------------------------ the account baseline and suite

    def _deploy_baselines(self) -> dict[str, bool]:
        """The offline rehearsal (the run's own emulator): the account baseline of each account and region,
        deployed once, before the environments (what is shared by the account's environments lives in
        it), and gone with the emulator. Against AWS or an endpoint a run never deploys it (nor deletes
        it): `python -m deploy account up` does, once, as the account's administrator. Returns scope key
        -> whether this run created it. Each account's home region (its first scope) first: its baseline
        holds the account's trail (recording the transaction buckets of every region) and the trail bucket
        the other regions' AWS Config delivers to; then the other regions at once."""
        if not (self.settings.deploy.value and self.settings.mode.value == "emulator") or not self.scopes:
            return {}
        homes = [k for k in self.scopes if is_home(self.scopes, k)]
        others = [k for k in self.scopes if k not in homes]
        created: dict[str, bool] = self._each(homes, self._deploy_baseline, "deploying the account baseline")
        if others:
            created.update(self._each(others, self._deploy_baseline, "deploying the account baseline"))
        return created

    def _deploy_baseline(self, key: str) -> bool:
        scope = self.scopes[key]
        first = scope.environments[0]
        aws = self.sessions[first]
        scope = self._scope_in_region(scope)
        account = self._credentials(first, aws)
        deployer = AccountDeployer(
            scope, self.specs[first], aws, run_id=self.settings.run_id, out=self.out, stop_when=INTERRUPTS.is_set
        )
        with self._lock:
            self.account_deployers[key] = deployer
        self.out(f"account baseline {key}: {deployer.stack_name} in {aws.region}, account {account}")
        t0 = time.perf_counter()
        deployer.apply()
        self.metrics.timed(f"deploy:account:{key}", time.perf_counter() - t0)
        return deployer.created_stack_id is not None

    def _scope_in_region(self, scope: AccountScope) -> AccountScope:
        """The scope as deployed: its region is its environments' (--region auto may have moved them)."""
        region = self.specs[scope.environments[0]].region
        if region == scope.region:
            return scope
        from dataclasses import replace

        return replace(scope, region=region)

    def _prepare_accounts(self, envs: dict[str, EnvState], deployed: dict[str, bool]) -> dict[str, AccountState]:
        """The account inventory of each account and region, collected once (however many environments share it)."""
        keys = [k for k, scope in self.scopes.items() if any(e in envs for e in scope.environments)]
        if not keys:
            return {}
        with ThreadPoolExecutor(max_workers=len(keys), thread_name_prefix="account") as pool:
            futures = {k: pool.submit(self._collect_account, k, envs, deployed.get(k, False)) for k in keys}
            return {k: f.result() for k, f in futures.items()}

    def _collect_account(self, key: str, envs: dict[str, EnvState], deployed: bool) -> AccountState:
        scope = self.scopes[key]
        members = [e for e in scope.environments if e in envs]
        first = envs[members[0]]
        aws = self.sessions[members[0]]
        t0 = time.perf_counter()
        aws.budget.start(f"the account inventory of {key}")
        inventory = collect_account(
            key=key,
            account=first.account,
            aws=aws,
            environments=members,
            transaction_buckets={e: self._transaction_buckets[e] for e in members if e in self._transaction_buckets},
        )
        aws.budget.finish()
        self.metrics.timed(f"inventory:account:{key}", time.perf_counter() - t0)
        path = self.state_path.parent / f"account-{key}.json"
        path.write_text(inventory.model_dump_json(indent=1))
        self.out(
            f"account {key}: account-level inventory collected in {inventory.collected_seconds:.2f} s "
            f"({sum(inventory.api_calls.values())} API calls), for {', '.join(members)}"
        )
        return AccountState(
            key=key,
            account=first.account,
            region=first.region,
            environments=members,
            inventory_path=str(path),
            baseline_deployed_by_run=deployed,
        )

    def _check_interrupt(self, what: str) -> None:
        if INTERRUPTS.is_set():
            raise KeyboardInterrupt(f"interrupted while {what}")

    def _start_emulator(self, emulator: Emulator) -> None:
        from emulator.errors import EmulatorError

        try:
            emulator.start()
        except EmulatorError as exc:  # the emulator's own error, in the suite's contract: exit 3
            raise InfrastructureError(str(exc)) from None
        self.endpoint = emulator.endpoint_url
        self.out(f"emulator: ready at {self.endpoint} (pid {emulator.pid})")
        self._check_interrupt("starting the emulator")

    def _warm(self) -> None:
        for session in list(self.sessions.values()):
            session.warm()

    def _auto_regions(self) -> None:
        """--region auto (deploy/preflight.py): each environment in the candidate region where its
        stack already is, else the first with room for its Elastic IPs."""
        from deploy.preflight import resolve_auto_region

        for name, spec in list(self.specs.items()):
            self._credentials(name, self.sessions[name])
            region = resolve_auto_region(
                spec, self.sessions[name], out=self.out, template_path=self.settings.template.value
            )
            if region != spec.region:
                self.specs[name] = spec.with_overrides(region=region)
                self.sessions[name] = AwsSession(region=region, endpoint_url=self.endpoint, profile=spec.profile)

    def _claim_lock(self, name: str) -> str:
        """The stack's lock (deploy mode); returns the account the credentials are for."""
        account = self._credentials(name, self.sessions[name])
        lock = StackLock(self.sessions[name], self.specs[name].stack_name, self.settings.run_id, out=self.out)
        with self._lock:
            self.locks.append(lock)
        lock.acquire()
        with self._lock:
            if self._finished:  # interrupted meanwhile: finish() has released the others
                lock.release()
        return account

    def _prepare_environment(self, name: str) -> EnvState:
        """One environment: deploy or attach, then collect its inventory into the run directory."""
        spec = self.specs[name]
        aws = self.sessions[name]
        if aws.is_emulated and self.settings.deploy.value:
            # the embedded emulator or one at --endpoint-url: as `python -m deploy up` does there, so
            # that a stack deployed by either is left unchanged by the other (core.selfsigned)
            spec = self._emulated_certificate(name, spec, aws)
        deployer = Deployer(
            spec,
            aws,
            run_id=self.settings.run_id,
            out=self.out,
            template_path=self.settings.template.value,
            stop_when=INTERRUPTS.is_set,
        )
        t0 = time.perf_counter()
        account, outputs = self._deploy(name, deployer) if self.settings.deploy.value else self._attach(name, deployer)
        t1 = time.perf_counter()
        # the observation's own repeats (the budget): a read before the deploy (the Elastic IP
        # preflight) and the same read after it observe different states
        observed_since = Counter(aws.call_log.requests)
        calls_before = dict(aws.call_log.calls)
        aws.budget.start(f"the inventory of {name} ({spec.stack_name})")  # bounded as a whole (endpoint.py)
        # drift detection first: it is the longest chain (tens of seconds on AWS), and only the drift
        # check needs it, so the rest of the inventory is published without waiting for it
        drift = self._start_drift(name, aws, spec.stack_name)
        inventory = collect(
            environment=name,
            stack_name=spec.stack_name,
            account=account,
            aws=aws,
            outputs=outputs,
            described=deployer.described,
            drift=False,
        )
        path = self.state_path.parent / f"inventory-{name}.json"
        if drift.done():  # ended with the rest (the emulator, a small stack): one inventory, complete
            self._apply_drift(inventory, drift.result(), aws, calls_before)
        aws.budget.finish()  # past its deadline: one sentence, exit 3
        with self._lock:
            self._transaction_buckets[name] = outputs.TransactionLogsBucket
        self.metrics.timed(f"deploy:{name}", t1 - t0)
        self.metrics.timed(f"inventory:{name}", time.perf_counter() - t1)
        self.metrics.add_environment(name, aws.call_log, observed_since=observed_since)
        _write_atomically(path, inventory.model_dump_json(indent=1))
        if inventory.stack.drift_pending:
            self._publish_drift_later(name, inventory, drift, aws, calls_before, path)
        self.out(
            f"{name}: inventory of {spec.stack_name} collected in {inventory.collected_seconds:.2f} s "
            f"({sum(inventory.api_calls.values())} API calls)"
            + ("; drift detection still in progress, published when it ends" if inventory.stack.drift_pending else "")
        )
        return EnvState(
            name=name,
            stack_name=spec.stack_name,
            region=spec.region,
            account=account,
            inventory_path=str(path),
            deployed_by_run=deployer.created_stack_id is not None,
        )

    def _start_drift(self, name: str, aws: AwsSession, stack_name: str) -> Future[StackDrift]:
        """Drift detection of the stack in a thread of its own; its answer (failures recorded in it,
        never raised) in the future. A daemon thread: an interrupted run does not wait for it."""
        future: Future[StackDrift] = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                future.set_result(collect_drift(aws, stack_name, self._drift_stop))
            except BaseException as exc:  # the endpoint gone, a deadline: could not observe, recorded
                future.set_result(StackDrift(errors={DETECT_DRIFT: f"{type(exc).__name__}: {exc}"}))

        threading.Thread(target=run, name=f"drift-{name}", daemon=True).start()
        return future

    def _apply_drift(self, inventory: Inventory, drift: StackDrift, aws: AwsSession, before: dict[str, int]) -> None:
        """Drift detection's answer into the inventory, which then counts its calls and its time."""
        inventory.stack.apply_drift(drift)
        scrub_section(inventory.stack)
        inventory.api_calls = {
            k: v - before.get(k, 0) for k, v in aws.call_log.calls.items() if v - before.get(k, 0)
        }  # fmt: skip
        inventory.collected_seconds = max(inventory.collected_seconds, drift.seconds)

    def _publish_drift_later(
        self, name: str, inventory: Inventory, drift: Future[StackDrift], aws: AwsSession,
        before: dict[str, int], path: Path,
    ) -> None:  # fmt: skip
        """When drift detection ends: the inventory rewritten complete, then ``drift-<env>.json`` (what
        the drift check waits for, conformance.state.drift_of), each replaced atomically."""
        published: Future[None] = Future()
        published.set_running_or_notify_cancel()

        def run() -> None:
            try:
                answer = drift.result()
                if self._drift_stop.is_set():
                    return  # interrupted: the run is ending, nothing waits for it
                self._apply_drift(inventory, answer, aws, before)
                self.metrics.timed(f"drift:{name}", answer.seconds)
                _write_atomically(path, inventory.model_dump_json(indent=1))
                _write_atomically(drift_marker(path, name), json.dumps({"seconds": answer.seconds}))
                self.out(f"{name}: drift detection of {inventory.stack_name} ended in {answer.seconds:.2f} s")
            finally:
                published.set_result(None)

        threading.Thread(target=run, name=f"drift-publish-{name}", daemon=True).start()
        with self._lock:
            self._drift_published[name] = published

    def _settle_drift(self, *, abandon: bool) -> None:
        """Before the end of the run: wait for the drift detections still in progress (each bounded by
        its own deadline), so that the saved inventories are complete; interrupted, abandon them."""
        if abandon:
            self._drift_stop.set()
            return
        with self._lock:
            pending = list(self._drift_published.values())
        wait(pending, timeout=drift_deadline(emulated=False) + 60.0)

    def _emulated_certificate(self, name: str, spec: EnvironmentSpec, aws: AwsSession) -> EnvironmentSpec:
        """The offline rehearsal's HTTPS listener gets a self-signed certificate imported into the
        emulator's ACM (core.selfsigned), overriding the environment file's certificate_arn,
        which names a certificate of the real account; never a template without HTTPS."""
        from core.rehearsalimage import with_rehearsal_image
        from core.selfsigned import with_self_signed_certificate

        spec = with_self_signed_certificate(spec, aws)
        self.out(f"{name}: self-signed certificate imported into the emulator's ACM as {spec.certificate_arn}")
        # nor any of the account's images: a fixed rehearsal image goes into the emulator's ECR repository,
        # the account baseline's (deployed before the environments)
        spec = with_rehearsal_image(spec, aws)
        self.out(f"{name}: rehearsal image published into the emulator's ECR as {spec.container_image}")
        with self._lock:
            self.specs[name] = spec
        return spec

    def _deploy(self, name: str, deployer: Deployer) -> tuple[str, StackOutputs]:
        # before anything that changes the account
        account = self.accounts[name] if name in self.accounts else self._credentials(name, deployer.aws)
        with self._lock:
            self.deployers[name] = deployer
        return account, deployer.up()

    def _attach(self, name: str, deployer: Deployer) -> tuple[str, StackOutputs]:
        # attach mode only reads: the stack is described while the credentials are checked, and
        # a credentials problem is still the one reported
        with ThreadPoolExecutor(1, thread_name_prefix=f"attach-{name}") as side:
            described = side.submit(deployer.outputs)
            account = self._credentials(name, deployer.aws)
            outputs = described.result()
        with self._lock:
            self.deployers[name] = deployer
        return account, outputs

    def _credentials(self, name: str, aws: AwsSession) -> str:
        account = aws.check_credentials()
        spec: EnvironmentSpec = self.specs[name]
        if spec.account_id and not aws.is_emulated and account != spec.account_id:
            raise UsageError(
                f"the credentials are for account {account} but {name} lives in {spec.account_id}; "
                f"switch to that account's profile."
            )
        return account

    def _each(self, names: list[str], fn: Callable[[str], Any], what: str) -> Any:
        """fn for every environment at once; the first error, or KeyboardInterrupt at the next safe point."""
        pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="prepare")
        try:
            futures = {n: pool.submit(fn, n) for n in names}
            pending = set(futures.values())
            while pending:
                _, pending = wait(pending, timeout=0.2)
                self._check_interrupt(what)
            self._check_interrupt(what)  # the deployers' polls stop at a signal: not their error
            return {n: f.result() for n, f in futures.items()}
        finally:
            # interrupted: stop waiting for work in flight (finish() abandons the deployers' polls)
            pool.shutdown(wait=not INTERRUPTS.is_set(), cancel_futures=True)

    # ------------------------------------------------------------ the end of the run

    def finish(self, *, interrupted: bool = False) -> list[str]:
        """Tear down what this run created when asked, release the locks, stop the emulator.

        Idempotent. Returns problems as sentences. Runs to its end whatever signal comes (they are
        recorded, conformance/interrupts.py). Interrupted (Ctrl-C, SIGTERM: before it or at any
        moment of it, the teardown's own waits included), it starts the deletion of every stack
        this run created (with --teardown), watches it for at most INTERRUPT_GRACE_SECONDS and
        prints one line naming each; a second signal abandons that, and the line names what is
        left and in which state. A stack that existed before the run is never deleted.
        """
        with self._lock:
            if self._finished:
                return []
            self._finished = True
        self._interrupted = interrupted  # also a KeyboardInterrupt that was not a signal (no pytest)
        problems: list[str] = []
        self._settle_drift(abandon=self.was_interrupted or self.state is None)
        if self.state is not None:
            self.metrics.write_prepared(self.state_path.parent)  # with each environment's drift time
        try:
            if self.settings.teardown.value and self.state is not None and not self.was_interrupted:
                problems += self.end.delete_created()
            if self.was_interrupted:
                for baseline in self.account_deployers.values():  # the run's own emulator: its poll stops
                    baseline.abandon()
                problems += self.end.delete_created_now()
        finally:
            if self.keeper is not None:
                problems += self.keeper.stop()
            elif self.locks:
                problems += LockKeeper(self.locks).stop()
            write_final_calls(self.state_path.parent, list(self.sessions.values()))
            if self.emulator is not None:
                self.out(f"emulator: stopping (pid {self.emulator.pid})")
                self.emulator.stop()
                self.emulator = None
        if self.was_interrupted:  # before this finish or at any moment of it
            INTERRUPTS.say(self.interrupted_line(), self.out)
        return problems

    @property
    def was_interrupted(self) -> bool:
        return self._interrupted or INTERRUPTS.is_set()

    def interrupted_line(self) -> str:
        """The interrupted run's one line (conformance.teardown.RunTeardown.interrupted_line)."""
        return self.end.interrupted_line()


def _write_atomically(path: Path, text: str) -> None:
    """Readers (xdist workers) see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _lower_worker_priority(config: pytest.Config) -> None:
    tx = getattr(config.option, "tx", None)
    if tx and all(spec == "popen" for spec in tx):
        config.option.tx = [f"popen//nice={WORKER_NICENESS}"] * len(tx)


def _wants_suite(config: pytest.Config, suite: str) -> bool:
    """False when the run's paths select other suites only (``tests/compute``): then the account
    baseline is not deployed nor the account inventory collected. A run of everything, of ``tests``
    or of a path in that suite wants it (``-k`` and the like are not read: the preparation comes first)."""
    tests_dir = Path(str(config.rootpath)) / "tests"
    wanted = tests_dir / suite
    args = [Path(a.split("::", 1)[0]).resolve() for a in config.args]
    return not args or any(a == wanted or wanted in a.parents or a in wanted.parents for a in args)


def _wants_platform(session: pytest.Session) -> bool:
    """False for --collect-only and for runs that select only static suites (no stack needed)."""
    config = session.config
    if config.option.collectonly:
        return False
    tests_dir = Path(str(config.rootpath)) / "tests"
    args = [Path(a.split("::", 1)[0]).resolve() for a in config.args]
    static = [tests_dir / s for s in STATIC_SUITES]
    return not args or not all(any(a == s or s in a.parents for s in static) for a in args)
