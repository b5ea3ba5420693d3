"""Bad input, refused before any AWS call: one sentence with the fix, exit 4 (docs/exit-codes.md).

The conformance run (``pytest``, from the plugin's ``pytest_configure``) and the deployer
(``python -m deploy``) call these same functions, so one mistake gives one code and one
sentence from either: a template that is missing, unreadable, binary or not a CloudFormation
template; an endpoint URL that is not http(s) with a host; an ``--env`` that names no
environment; a run directory that cannot be written; a ``--from-run`` directory whose
``state.json`` is not a run's state.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conformance.aws import read_timeout_setting
from conformance.endpoint import check_endpoint_url, observation_seconds
from conformance.errors import UsageError

if TYPE_CHECKING:
    from conformance.run import RunSettings

__all__ = ["check_endpoint_url", "check_run_dir", "check_saved_runs", "check_template", "validate_run"]


def check_template(path: Path, option: str = "--template") -> None:
    """A usage error unless ``path`` is a readable UTF-8 YAML or JSON CloudFormation template
    (a mapping with a ``Resources`` mapping)."""
    from conformance.template import load_template

    shown = f"{option} {path}"
    fix = "pass a YAML or JSON CloudFormation template such as deploy/template.yaml"
    if not path.is_file():
        raise UsageError(f"{shown}: no such file; {fix}.")
    try:
        path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{shown} cannot be read ({exc.strerror}); fix its permissions or {fix}.") from None
    except UnicodeDecodeError:
        raise UsageError(f"{shown} is not a text file (not UTF-8); {fix}.") from None
    try:
        doc: Any = load_template(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsageError(f"{shown} is not valid YAML{where}; fix the template and run again.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict) or not doc["Resources"]:
        raise UsageError(f"{shown} has no Resources mapping: it is not a CloudFormation template; {fix}.")


def check_run_dir(path: Path, option: str = "--run-dir") -> None:
    """A usage error unless the run directory can be created and written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{option} {path} cannot be written ({reason}); pass a directory you can write to.") from None


def check_saved_runs(run_dirs: list[Path]) -> None:
    """A usage error unless every ``--from-run`` directory holds a run's ``state.json``."""
    from conformance.run import RunState

    for d in run_dirs:
        state = d / "state.json"
        if not state.is_file():
            raise UsageError(f"--from-run {d}: no state.json there; pass a run directory, build/run/<run-id>/.")
        try:
            RunState.load(state)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError, AttributeError):
            raise UsageError(
                f"--from-run {d}: state.json is not the state of a conformance run (unreadable or malformed); "
                "pass a run directory written by a run of the suite."
            ) from None


def validate_run(settings: RunSettings, from_run: list[str] | None = None) -> None:
    """Everything a conformance run is given, checked before it starts anything."""
    if not settings.environments.value:
        raise UsageError("--env names no environment; pass e.g. --env dev (or --env all), or no --env at all.")
    if settings.endpoint_url.value:
        check_endpoint_url(settings.endpoint_url.value, settings.endpoint_url.source)
    check_template(Path(settings.template.value))
    observation_seconds()  # $PAYMENTS_OBSERVATION_SECONDS and $PAYMENTS_READ_TIMEOUT, when set, are numbers
    read_timeout_setting()
    if from_run:
        check_saved_runs([Path(d) for d in from_run])
    check_run_dir(settings.run_dir)
