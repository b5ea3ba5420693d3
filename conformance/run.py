"""One conformance run: where it points, what it deploys, what it collects, what it cleans up.

The controller process (the only process without xdist, the xdist controller with it) calls
:meth:`Run.prepare` once: start the embedded emulator if the run is offline, check the
endpoint and credentials, deploy or attach to each environment's stack (concurrently),
collect each environment's inventory (concurrently) and write everything to the run
directory. Workers only read that directory. :meth:`Run.finish` tears down what this run
created, when asked, and stops the emulator.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import botocore.exceptions

from conformance.aws import AwsSession, CallLog, ensure_reachable
from conformance.endpoint import raise_if_gone
from conformance.errors import ConformanceError, UsageError
from conformance.inventory import Inventory, collect
from conformance.lock import LockKeeper, StackLock
from conformance.spec import KNOWN_ENVIRONMENTS, REPO_ROOT, TEMPLATE_PATH, EnvironmentSpec, load_environment, tier_of
from conformance.template import template_sha256, template_version
from deploy.deployer import Deployer, new_run_id

AUTO_REGION = "auto"  # --region auto: deploy/preflight.py picks a candidate region with room

Mode = Literal["emulator", "endpoint", "aws"]
Printer = Callable[[str], None]
DEFAULT_RUN_DIR = REPO_ROOT / "build" / "run"
# After Ctrl-C or SIGTERM, how long the run watches the deletions it started before it exits.
INTERRUPT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str

    def show(self) -> str:
        value = ", ".join(self.value) if isinstance(self.value, list | tuple) else self.value
        return f"{value} (from {self.source})"


@dataclass
class RunSettings:
    environments: Setting
    mode: Setting
    endpoint_url: Setting
    deploy: Setting
    teardown: Setting
    template: Setting
    suffix: str | None = None
    region: str | None = None
    run_id: str = field(default_factory=new_run_id)
    run_dir: Path = DEFAULT_RUN_DIR

    @classmethod
    def resolve(
        cls,
        *,
        envs: list[str] | None,
        emulator: bool,
        endpoint_url: str | None,
        deploy: bool,
        teardown: bool,
        suffix: str | None = None,
        region: str | None = None,
        run_dir: Path | None = None,
        template: Path | None = None,
        environ: dict[str, str] | None = None,
    ) -> RunSettings:
        environ = dict(os.environ) if environ is None else environ
        if envs:
            names: list[str] = []
            for e in envs:
                names.extend(n.strip() for n in e.split(",") if n.strip())
            if "all" in names:
                names = list(KNOWN_ENVIRONMENTS)
            environments = Setting(list(dict.fromkeys(names)), "--env")
        else:
            environments = Setting(list(KNOWN_ENVIRONMENTS), "default: no --env given")
        if region == AUTO_REGION and not (deploy or emulator or not envs):
            raise UsageError("--region auto chooses where to deploy: pass it with --deploy, or name the region.")
        if teardown and any(tier_of(n) == "prod" for n in environments.value):
            raise UsageError("--teardown never deletes prod; drop --teardown or leave prod out of --env.")
        if emulator and endpoint_url:
            raise UsageError("--emulator and --endpoint-url exclude each other; pass one of them.")
        env_endpoint = environ.get("AWS_ENDPOINT_URL")
        if emulator:
            mode, endpoint = Setting("emulator", "--emulator"), Setting(None, "started by this run")
        elif endpoint_url:
            mode, endpoint = Setting("endpoint", "--endpoint-url"), Setting(endpoint_url, "--endpoint-url")
        elif env_endpoint:
            mode, endpoint = (
                Setting("endpoint", "AWS_ENDPOINT_URL"),
                Setting(env_endpoint, "AWS_ENDPOINT_URL"),
            )
        elif not envs:
            mode = Setting("emulator", "default: no --env given, offline rehearsal")
            endpoint = Setting(None, "started by this run")
        else:
            mode, endpoint = Setting("aws", "--env without --emulator/--endpoint-url"), Setting(None, "AWS")
        if mode.value == "emulator":
            deploy_s = Setting(True, "offline rehearsal deploys into its own emulator")
            teardown_s = Setting(False, "the emulator is discarded at the end")
        else:
            deploy_s = Setting(deploy, "--deploy" if deploy else "default: attach to the existing stack")
            teardown_s = Setting(teardown, "--teardown" if teardown else "default: delete nothing")
        return cls(
            environments=environments,
            mode=mode,
            endpoint_url=endpoint,
            deploy=deploy_s,
            teardown=teardown_s,
            template=Setting(template.resolve(), "--template") if template else Setting(TEMPLATE_PATH, "default"),
            suffix=suffix,
            region=region,
            run_dir=(run_dir or DEFAULT_RUN_DIR),
        )

    def specs(self) -> dict[str, EnvironmentSpec]:
        """Load and validate every environment of the run (no AWS call)."""
        specs = {
            name: load_environment(name).with_overrides(
                suffix=self.suffix, region=None if self.region == AUTO_REGION else self.region
            )
            for name in self.environments.value
        }
        seen: dict[tuple[str, str], str] = {}
        for name, spec in specs.items():
            other = seen.setdefault((spec.region, spec.stack_name), name)
            if other != name:
                raise UsageError(
                    f"environments {other} and {name} would both be stack {spec.stack_name} in {spec.region}; "
                    "give one of them its own EnvironmentSuffix (and drop --suffix)."
                )
        return specs


@dataclass
class EnvState:
    name: str
    stack_name: str
    region: str
    account: str
    inventory_path: str
    deployed_by_run: bool


@dataclass
class RunState:
    """What the controller hands to every worker (JSON in the run directory)."""

    run_id: str
    mode: Mode
    endpoint_url: str | None
    template_sha256: str
    template_version: str
    template_path: str
    environments: dict[str, EnvState]
    suffix: str | None = None
    region: str | None = None

    @property
    def emulated(self) -> bool:
        """Against an emulator (embedded or at an endpoint), not AWS."""
        return self.mode != "aws"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RunState:
        data = json.loads(path.read_text())
        data["environments"] = {k: EnvState(**v) for k, v in data["environments"].items()}
        return cls(**data)

    @classmethod
    def merge_saved(cls, run_dirs: list[Path]) -> RunState:
        """One state over the saved run directories of earlier runs (their inventories, read in place)."""
        states: list[RunState] = []
        for d in run_dirs:
            if not (d / "state.json").is_file():
                raise UsageError(f"--from-run {d}: no state.json there; pass a run directory, build/run/<run-id>/.")
            state = cls.load(d / "state.json")
            for name, env in state.environments.items():
                env.inventory_path = str((d / f"inventory-{name}.json").resolve())
                if not Path(env.inventory_path).is_file():
                    raise UsageError(f"--from-run {d}: inventory-{name}.json is missing.")
            states.append(state)
        environments: dict[str, EnvState] = {}
        for state in states:
            environments.update(state.environments)
        first = states[0]
        return cls(
            run_id=first.run_id, mode=first.mode, endpoint_url=None, template_sha256=first.template_sha256,
            template_version=first.template_version, template_path=first.template_path,
            environments=environments, suffix=first.suffix, region=first.region,
        )  # fmt: skip

    def inventory(self, env: str) -> Inventory:
        return Inventory.model_validate_json(Path(self.environments[env].inventory_path).read_text())

    def session(self, env: str, call_log: CallLog | None = None) -> AwsSession:
        e = self.environments[env]
        return AwsSession(region=e.region, endpoint_url=self.endpoint_url, profile=_profile(env), call_log=call_log)


@contextmanager
def _deferred_interrupts() -> Iterator[threading.Event]:
    """While the platform is prepared, Ctrl-C and SIGTERM only set a flag, checked at safe points.

    Raised from a signal handler at an arbitrary line, KeyboardInterrupt can land inside the
    thread pool's own locks and corrupt them (an INTERNALERROR instead of exit 2). Outside the
    main thread, or for a signal the process ignores, nothing changes.
    """
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in previous.items():
        if handler not in (signal.SIG_IGN, None):
            signal.signal(sig, lambda *_: flag.set())
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            if handler not in (signal.SIG_IGN, None):
                signal.signal(sig, handler)


def _peak_rss_mb(pid: int | None) -> float:
    """The peak resident memory of a process (Linux /proc), in MB; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _profile(env: str) -> str | None:
    try:
        return load_environment(env).profile
    except ConformanceError:
        return None


class Run:
    """The controller's side of a run."""

    def __init__(self, settings: RunSettings, *, out: Printer = print) -> None:
        self.settings = settings
        self._out_lock = threading.Lock()
        self._raw_out = out
        self.specs = settings.specs()
        self.emulator: Any = None
        self.state: RunState | None = None
        self.call_log = CallLog()
        self.repeated: dict[str, int] = {}  # environment + operation -> identical requests sent again
        self._lock = threading.Lock()
        self.deployers: dict[str, Deployer] = {}
        self.sessions: dict[str, AwsSession] = {}
        self.locks: list[StackLock] = []
        self.keeper: LockKeeper | None = None
        self._finished = False

    def out(self, line: str) -> None:
        """Progress lines from concurrent deployments, one whole line at a time."""
        with self._out_lock:
            self._raw_out(line)

    @property
    def state_path(self) -> Path:
        return self.settings.run_dir / self.settings.run_id / "state.json"

    def prepare(self) -> RunState:
        with _deferred_interrupts() as interrupted:
            return self._prepare(interrupted)

    def _prepare(self, interrupted: threading.Event) -> RunState:
        endpoint = self.settings.endpoint_url.value
        timings: dict[str, float] = {}
        started = time.perf_counter()
        if self.settings.mode.value == "emulator":
            from emulator.launcher import Emulator

            self.emulator = Emulator(log_path=self.state_path.parent / "emulator.log")
            endpoint = self.emulator.endpoint_url  # its port is chosen before it starts
        self.sessions = {
            n: AwsSession(region=s.region, endpoint_url=endpoint, profile=s.profile) for n, s in self.specs.items()
        }
        # create the clients the run will use while this process waits (the emulator booting,
        # the first calls on the wire); environments that share a region share them
        warm = threading.Thread(target=self._warm, name="warm-clients", daemon=True)
        warm.start()
        if self.emulator is not None:
            self.emulator.start()
            timings["emulator_start"] = time.perf_counter() - started
            endpoint = self.emulator.endpoint_url
            self.out(f"emulator: ready at {endpoint} (pid {self.emulator.pid})")
            if interrupted.is_set():
                raise KeyboardInterrupt("interrupted while starting the emulator")
        elif endpoint:
            ensure_reachable(endpoint)
        run_dir = self.state_path.parent
        run_dir.mkdir(parents=True, exist_ok=True)
        names = list(self.specs)
        if self.settings.region == AUTO_REGION:
            self._auto_regions(endpoint)
        accounts: dict[str, str] = {}
        if self.settings.deploy.value and self.settings.mode.value != "emulator":
            # before any change: every stack's lock (conformance.lock), or none and exit 4

            def claim(name: str) -> str:
                account = self._credentials(name, self.sessions[name])
                lock = StackLock(self.sessions[name], self.specs[name].stack_name, self.settings.run_id, out=self.out)
                with self._lock:
                    self.locks.append(lock)
                lock.acquire()
                with self._lock:
                    if self._finished:  # interrupted meanwhile: finish() has released the others
                        lock.release()
                return account

            accounts = self._each(names, claim, interrupted, "taking the stacks' locks")
            self.keeper = LockKeeper(self.locks).start()

        def one(name: str) -> EnvState:
            spec = self.specs[name]
            aws = self.sessions[name]
            deployer = Deployer(
                spec,
                aws,
                run_id=self.settings.run_id,
                out=self.out,
                template_path=self.settings.template.value,
            )

            t0 = time.perf_counter()
            if self.settings.deploy.value:
                # before anything that changes the account
                account = accounts[name] if name in accounts else self._credentials(name, aws)
                with self._lock:
                    self.deployers[name] = deployer
                outputs = deployer.up()
            else:
                # attach mode only reads: the stack is described while the credentials are
                # checked, and a credentials problem is still the one reported
                with ThreadPoolExecutor(1, thread_name_prefix=f"attach-{name}") as side:
                    described = side.submit(deployer.outputs)
                    account = self._credentials(name, aws)
                    outputs = described.result()
                with self._lock:
                    self.deployers[name] = deployer
            t1 = time.perf_counter()
            # the observation's own repeats (the budget): a read before the deploy (the Elastic IP
            # preflight) and the same read after it observe different states
            deployed_requests = Counter(aws.call_log.requests)
            aws.budget.start(f"the inventory of {name} ({spec.stack_name})")  # bounded as a whole (endpoint.py)
            inventory = collect(
                environment=name,
                stack_name=spec.stack_name,
                account=account,
                aws=aws,
                outputs=outputs,
                described=deployer.described,
            )
            aws.budget.finish()  # past its deadline: one sentence, exit 3
            with self._lock:
                timings[f"deploy:{name}"] = t1 - t0
                timings[f"inventory:{name}"] = time.perf_counter() - t1
            with self._lock:
                for op, n in aws.call_log.calls.items():
                    self.call_log.calls[op] += n
                for op, n in aws.call_log.retries.items():
                    self.call_log.retries[op] += n
                for op, n in aws.call_log.repeated(since=deployed_requests).items():
                    self.repeated[f"{name} {op}"] = n
            path = run_dir / f"inventory-{name}.json"
            path.write_text(inventory.model_dump_json(indent=1))
            self.out(
                f"{name}: inventory of {spec.stack_name} collected in {inventory.collected_seconds:.2f} s "
                f"({sum(inventory.api_calls.values())} API calls)"
            )
            return EnvState(
                name=name,
                stack_name=spec.stack_name,
                region=spec.region,
                account=account,
                inventory_path=str(path),
                deployed_by_run=deployer.created_stack_id is not None,
            )

        envs = self._each(names, one, interrupted, "deploying and collecting")
        raise_if_gone(endpoint)  # the endpoint stopped answering meanwhile: one sentence, exit 3
        self.state = RunState(
            run_id=self.settings.run_id,
            mode=self.settings.mode.value,
            endpoint_url=endpoint,
            template_sha256=template_sha256(self.settings.template.value),
            template_version=template_version(self.settings.template.value),
            template_path=str(self.settings.template.value),
            environments=envs,
            suffix=self.settings.suffix,
            region=self.settings.region,
        )
        self.state.save(self.state_path)
        (run_dir / "api-calls.json").write_text(json.dumps(dict(self.call_log.calls), indent=1, sort_keys=True))
        timings["prepare_total"] = time.perf_counter() - started
        if self.emulator is not None:
            timings["emulator_peak_rss_mb"] = _peak_rss_mb(self.emulator.pid)
        (run_dir / "timings.json").write_text(json.dumps({k: round(v, 3) for k, v in timings.items()}, indent=1))
        (run_dir / "api-retries.json").write_text(json.dumps(dict(self.call_log.retries), indent=1, sort_keys=True))
        (run_dir / "api-repeats.json").write_text(json.dumps(self.repeated, indent=1, sort_keys=True))
        retried = ", ".join(f"{op} ×{n}" for op, n in sorted(self.call_log.retries.items())) or "none"
        self.out(f"API calls: {self.call_log.total}; retried by botocore: {retried}")
        return self.state

    def _warm(self) -> None:
        for session in list(self.sessions.values()):
            session.warm()

    def _auto_regions(self, endpoint: str | None) -> None:
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
                self.sessions[name] = AwsSession(region=region, endpoint_url=endpoint, profile=spec.profile)

    def _credentials(self, name: str, aws: AwsSession) -> str:
        account = aws.check_credentials()
        spec = self.specs[name]
        if spec.account_id and not aws.is_emulated and account != spec.account_id:
            raise UsageError(
                f"the credentials are for account {account} but {name} lives in {spec.account_id}; "
                f"switch to that account's profile."
            )
        return account

    def _each(self, names: list[str], fn: Callable[[str], Any], interrupted: threading.Event, what: str) -> Any:
        """fn for every environment at once; the first error, or KeyboardInterrupt at the next safe point."""
        pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="prepare")
        try:
            futures = {n: pool.submit(fn, n) for n in names}
            pending = set(futures.values())
            while pending:
                _, pending = wait(pending, timeout=0.2)
                if interrupted.is_set():
                    raise KeyboardInterrupt(f"interrupted while {what}")
            return {n: f.result() for n, f in futures.items()}
        finally:
            # interrupted: stop waiting for work in flight (finish() abandons the deployers' polls)
            pool.shutdown(wait=not interrupted.is_set(), cancel_futures=True)

    def finish(self, *, interrupted: bool = False) -> list[str]:
        """Tear down what this run created when asked, release the locks, stop the emulator.

        Idempotent. Returns problems as sentences. Interrupted (Ctrl-C, SIGTERM), it starts the
        deletion of the stacks this run created (with --teardown) and watches it for at most
        INTERRUPT_GRACE_SECONDS; a stack that existed before the run is never deleted.
        """
        with self._lock:
            if self._finished:
                return []
            self._finished = True
        problems: list[str] = []
        try:
            if interrupted:
                with _deferred_interrupts():
                    problems += self._delete_created_now()
            elif self.settings.teardown.value and self.state is not None:
                for name, deployer in self.deployers.items():
                    if deployer.created_stack_id is None:
                        self.out(f"{deployer.stack_name}: existed before this run; --teardown leaves it")
                        continue
                    try:
                        deployer.down()
                        deployer.left_behind()  # retained or failed resources: one message, exit 3
                    except ConformanceError as exc:
                        problems.append(f"{name}: {exc}")
        finally:
            if self.keeper is not None:
                problems += self.keeper.stop()
            elif self.locks:
                problems += LockKeeper(self.locks).stop()
            self._write_call_counts()
            if self.emulator is not None:
                self.emulator.stop()
                self.emulator = None
        return problems

    def _delete_created_now(self) -> list[str]:
        for deployer in self.deployers.values():
            deployer.abandon()  # polls still running in the prepare threads stop at their next turn
        if self.settings.mode.value == "emulator":
            return []  # the offline rehearsal's emulator is discarded with everything in it
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        for deployer in self.deployers.values():  # a CreateStack still on the wire: wait for its answer
            deployer.create_settled.wait(timeout=max(0.0, deadline - time.monotonic()))
        problems: list[str] = []
        for deployer in self.deployers.values():
            if not deployer.create_settled.is_set():
                problems.append(
                    f"CreateStack for {deployer.stack_name} was still unanswered when the run stopped; "
                    f"see `python -m deploy status --env {deployer.spec.name}` and delete it if it exists"
                )
        created = {n: d for n, d in self.deployers.items() if d.created_stack_id is not None}
        if not created:
            return problems
        if not self.settings.teardown.value:
            names = ", ".join(d.stack_name for d in created.values())
            self.out(f"interrupted: {names} (created by this run) left in place: no --teardown")
            return problems
        started: dict[str, Deployer] = {}
        for name, deployer in created.items():
            try:
                if deployer.start_deleting_created():
                    started[name] = deployer
            except (ConformanceError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                problems.append(f"{name}: could not start deleting {deployer.stack_name}: {exc}")
        gone: set[str] = set()
        deadline = max(deadline, time.monotonic() + 2.0)
        while started.keys() - gone and time.monotonic() < deadline:
            for name in started.keys() - gone:
                try:
                    if started[name].state() is None:
                        gone.add(name)
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                    pass
            time.sleep(0.25)
        if started:
            parts = [
                f"{d.stack_name} ({'deleted' if n in gone else 'still deleting: python -m deploy status --env ' + n})"
                for n, d in started.items()
            ]
            self.out(
                f"interrupted: deletion started for the stacks this run created, not awaited past "
                f"{INTERRUPT_GRACE_SECONDS:.0f} s: {', '.join(parts)}"
            )
        return problems

    def _write_call_counts(self) -> None:
        """api-calls.json again at the end: the run's calls including teardown and locks."""
        run_dir = self.state_path.parent
        if not self.sessions or not run_dir.is_dir():
            return
        calls: dict[str, int] = {}
        for aws in self.sessions.values():
            for op, n in aws.call_log.calls.items():
                calls[op] = calls.get(op, 0) + n
        (run_dir / "api-calls.json").write_text(json.dumps(calls, indent=1, sort_keys=True))
