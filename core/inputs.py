"""Bad input, refused before any AWS call: one sentence with the fix, exit 4 (docs/exit-codes.md).

The conformance run (``pytest``, through conformance/inputs.py from the plugin's
``pytest_configure``) and the deployer (``python -m deploy``) call these same functions, so one
mistake gives one code and one sentence from either: a template that is missing, unreadable,
binary or not a CloudFormation template; an endpoint URL that is not http(s) with a host; a
directory that cannot be written; a malformed bound in the environment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from core.aws import read_timeout_setting
from core.endpoint import check_endpoint_url, observation_seconds
from core.errors import UsageError
from core.template import load_template

__all__ = ["check_bounds", "check_endpoint_url", "check_run_dir", "check_template"]


def check_template(path: Path, option: str = "--template") -> None:
    """A usage error unless ``path`` is a readable UTF-8 YAML or JSON CloudFormation template
    (a mapping with a ``Resources`` mapping)."""
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


def check_bounds() -> None:
    """$PAYMENTS_OBSERVATION_SECONDS and $PAYMENTS_READ_TIMEOUT, when set, are numbers of seconds."""
    observation_seconds()
    read_timeout_setting()
