"""The run state every process reads, and the typed ``config.stash`` keys that hold it.

The controller prepares the platform and writes :class:`RunState` (JSON) to the run directory;
each xdist worker, the data-plane probes (``conformance.prefetch``) and the report integration
(``conformance.reporting``) read it from there through the keys and helpers below, never from
another module's globals. Nothing here deploys, starts an emulator or imports ``deploy``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from conformance.interrupts import INTERRUPTS
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.account import AccountInventory
from conformance.inventory.stack import drift_deadline
from conformance.prefetch import Prefetcher
from conformance.settings import RunSettings
from core.aws import AwsSession, CallLog
from core.errors import ConformanceError, UsageError
from core.spec import EnvironmentSpec, load_environment

Mode = Literal["emulator", "endpoint", "aws"]


@dataclass
class EnvState:
    name: str
    stack_name: str
    region: str
    account: str
    inventory_path: str
    deployed_by_run: bool


@dataclass
class AccountState:
    """One account and region in scope (core.account): its inventory, collected once."""

    key: str
    account: str
    region: str
    environments: list[str]
    inventory_path: str
    baseline_deployed_by_run: bool = False


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
    # account key -> its account-level inventory (absent from states saved before the account suite)
    accounts: dict[str, AccountState] = field(default_factory=dict)

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
        data["accounts"] = {k: AccountState(**v) for k, v in (data.get("accounts") or {}).items()}
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
            for key, acct in state.accounts.items():
                acct.inventory_path = str((d / f"account-{key}.json").resolve())
            states.append(state)
        environments: dict[str, EnvState] = {}
        accounts: dict[str, AccountState] = {}
        for state in states:
            environments.update(state.environments)
            accounts.update(state.accounts)
        first = states[0]
        return cls(
            run_id=first.run_id, mode=first.mode, endpoint_url=None, template_sha256=first.template_sha256,
            template_version=first.template_version, template_path=first.template_path,
            environments=environments, suffix=first.suffix, region=first.region, accounts=accounts,
        )  # fmt: skip

    def inventory(self, env: str) -> Inventory:
        return Inventory.model_validate_json(Path(self.environments[env].inventory_path).read_text())

    def account_inventory(self, key: str) -> AccountInventory:
        return AccountInventory.model_validate_json(Path(self.accounts[key].inventory_path).read_text())

    def session(self, env: str, call_log: CallLog | None = None) -> AwsSession:
        e = self.environments[env]
        return AwsSession(region=e.region, endpoint_url=self.endpoint_url, profile=_profile(env), call_log=call_log)


def _profile(env: str) -> str | None:
    try:
        return load_environment(env).profile
    except ConformanceError:
        return None


# ---------------------------------------------------------------- the stash keys (one set per process)

SETTINGS = pytest.StashKey[RunSettings]()  # the command line, resolved (every process)
STATE_PATH = pytest.StashKey[Path]()  # the run's state.json: set by the controller, handed to each worker
STATE = pytest.StashKey[RunState]()  # the run state: prepared by the controller, loaded once by a worker
PROCESS = pytest.StashKey[str]()  # this process in the run's file names: "probes" (controller) or "gw0", ...
CALLS = pytest.StashKey[CallLog]()  # the AWS calls this process's data-plane probes made
PREFETCH = pytest.StashKey[Prefetcher]()  # the data-plane probes started one check early
SPECS = pytest.StashKey[dict[str, EnvironmentSpec]]()  # environment files as the run deployed them
INVENTORIES = pytest.StashKey[dict[str, Inventory]]()  # inventories read from the run directory
ACCOUNT_INVENTORIES = pytest.StashKey[dict[str, AccountInventory]]()  # account inventories, likewise
SESSIONS = pytest.StashKey[dict[str, AwsSession]]()  # one session per environment for the probes

WORKER_INPUT_KEY = "payments_conformance_state"  # xdist's workerinput: the path of state.json


def is_worker(config: pytest.Config) -> bool:
    """An xdist worker (the controller is the only process without ``workerinput``)."""
    return hasattr(config, "workerinput")


def current_state(config: pytest.Config) -> RunState:
    """The run state: the controller's own, or read once from ``state.json`` in this process."""
    if STATE not in config.stash:
        path = config.stash.get(STATE_PATH, None)
        if path is None or not path.exists():
            raise ConformanceError("the run state is missing: the controller did not prepare the platform")
        config.stash[STATE] = RunState.load(path)
    return config.stash[STATE]


def spec_of(config: pytest.Config, env_name: str) -> EnvironmentSpec:
    """The environment's file as the run deployed it, loaded once per process (specs are frozen).

    The region is the one the run's state names for it (--region auto chooses one per environment).
    """
    specs = config.stash.setdefault(SPECS, {})
    if env_name not in specs:
        state = current_state(config)
        env = state.environments.get(env_name)
        region = env.region if env is not None else state.region
        specs[env_name] = load_environment(env_name).with_overrides(suffix=state.suffix, region=region)
    return specs[env_name]


def inventory_of(config: pytest.Config, env_name: str) -> Inventory:
    """The environment's inventory, read from the run directory once per process."""
    inventories = config.stash.setdefault(INVENTORIES, {})
    if env_name not in inventories:
        inventories[env_name] = current_state(config).inventory(env_name)
    return inventories[env_name]


def session_of(config: pytest.Config, env_name: str) -> AwsSession:
    """The environment's session for the data-plane probes, counting its calls in this process's log."""
    sessions = config.stash.setdefault(SESSIONS, {})
    if env_name not in sessions:
        sessions[env_name] = current_state(config).session(env_name, call_log=config.stash[CALLS])
    return sessions[env_name]


def account_inventory_of(config: pytest.Config, key: str) -> AccountInventory:
    """The account inventory of one account and region, read from the run directory once per process."""
    inventories = config.stash.setdefault(ACCOUNT_INVENTORIES, {})
    if key not in inventories:
        state = current_state(config)
        if key not in state.accounts:
            raise ProbeError(f"no account inventory for {key}: the run collected {', '.join(state.accounts) or 'none'}")
        inventories[key] = state.account_inventory(key)
    return inventories[key]


# How long the drift check waits for drift detection's answer beyond drift detection's own deadline
# (the controller's poll gives up then and publishes the failure): the publication itself.
DRIFT_PUBLISH_GRACE_SECONDS = 30.0
DRIFT_WAIT_POLL_SECONDS = 0.05


def drift_marker(inventory_path: Path, name: str) -> Path:
    """The file whose appearance says that ``inventory_path`` now holds drift detection's answer."""
    return inventory_path.with_name(f"drift-{name}.json")


def drift_of(config: pytest.Config, env_name: str) -> Inventory:
    """The environment's inventory with drift detection's answer in it: at once when it was complete
    when published, else once the controller publishes it (the drift check waits here while every
    other check runs; a saved run's inventory is never waited for)."""
    inv = inventory_of(config, env_name)
    if not inv.stack.drift_pending or config.getoption("conformance_from_run", None):
        return inv
    state = current_state(config)
    path = Path(state.environments[env_name].inventory_path)
    wait = drift_deadline(state.emulated) + DRIFT_PUBLISH_GRACE_SECONDS
    until = time.monotonic() + wait
    while not drift_marker(path, env_name).exists():
        if time.monotonic() > until:
            raise ProbeError(
                f"drift detection of stack {inv.stack_name} was not published within {wait:.0f} s of this "
                "check's start; expected its answer within drift detection's own deadline"
            )
        # Ctrl-C or SIGTERM: the controller's handler only records it while a fixture is set up
        # (conformance.interrupts); this wait is a safe point to stop at. A worker raises at the signal.
        if INTERRUPTS.is_set():
            raise KeyboardInterrupt(INTERRUPTS.signal_name)
        time.sleep(DRIFT_WAIT_POLL_SECONDS)
    config.stash[INVENTORIES][env_name] = done = state.inventory(env_name)
    return done
