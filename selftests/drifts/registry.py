"""Drift registry: what breaks, how, and which check must notice."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.aws import AwsSession
from core.outputs import StackOutputs
from core.spec import EnvironmentSpec


@dataclass
class DriftContext:
    """What a drift may use: the environment's spec, its outputs and a session on the emulator."""

    env: str
    spec: EnvironmentSpec
    outputs: StackOutputs
    aws: AwsSession
    workdir: Path

    def client(self, service: str) -> Any:
        return self.aws.client(service)


def stack_name(ctx: DriftContext) -> str:
    """The default of a drift's ``names``: the drifted environment's stack name.

    Every name the stack gives a resource starts with it (``payments-dev-drift-...``); a drift
    whose check names the resource by an id (``vpc-...``, ``sg-...``) says so with ``names``.
    """
    return ctx.spec.stack_name


@dataclass(frozen=True)
class Drift:
    id: str
    check: str  # the check id (test function name) that must turn red
    description: str  # one line: what is broken
    apply: Callable[[DriftContext], None] | None = None  # through the AWS API on a deployed stack
    env: str = "dev"
    # what the failure message must contain, computed from the drifted environment (default: its
    # stack name, see stack_name); a static drift (deploy=False) has no environment and must give it
    names: Callable[[DriftContext], str] = stack_name
    # variant parameters (deployed instead of the environment's) for what the API cannot change
    parameters: dict[str, Any] = field(default_factory=dict)
    # variant template: a function from the template document to a changed one
    template: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # extra pytest arguments (e.g. the suite folder) for the run against the drifted stack
    pytest_args: tuple[str, ...] = ()
    deploy: bool = True  # False for static drifts (template suite) that need no stack
    # the environment the drift is applied to (default: the first of ``env``), for multi-environment drifts
    apply_env: str | None = None


DRIFTS: dict[str, Drift] = {}

# Probes the emulator cannot serve (skipped there with the reason in the report): they run,
# and can fail, only against AWS, so no offline drift can turn them red. Listed, not hidden.
AWS_ONLY_CHECKS: dict[str, str] = {}


def drift(
    check: str,
    description: str,
    *,
    id: str | None = None,
    env: str = "dev",
    names: Callable[[DriftContext], str] | None = None,
    parameters: dict[str, Any] | None = None,
    template: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    pytest_args: tuple[str, ...] = (),
    deploy: bool = True,
    apply_env: str | None = None,
) -> Callable[[Callable[[DriftContext], None]], Callable[[DriftContext], None]]:
    """Register the decorated function as a drift that must turn ``check`` red."""

    def register(fn: Callable[[DriftContext], None]) -> Callable[[DriftContext], None]:
        did = id or fn.__name__.removeprefix("drift_").replace("_", "-")
        if did in DRIFTS:
            raise ValueError(f"drift id {did} is registered twice")
        if names is None and not deploy:
            raise ValueError(f"drift {did} deploys no stack, so it must say what the failure names (names=)")
        DRIFTS[did] = Drift(
            id=did, check=check, description=description, apply=fn, env=env, names=names or stack_name,
            parameters=dict(parameters or {}), template=template, pytest_args=pytest_args, deploy=deploy,
            apply_env=apply_env,
        )  # fmt: skip
        return fn

    return register


def noop(ctx: DriftContext) -> None:
    """For drifts that are wholly a variant template or parameters."""


def load_all() -> dict[str, Drift]:
    """Import every drift module of this package; return the registry."""
    package = Path(__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        if info.name not in ("registry", "runner") and not info.name.startswith(("_", "test_", "conftest")):
            importlib.import_module(f"selftests.drifts.{info.name}")
    return DRIFTS
