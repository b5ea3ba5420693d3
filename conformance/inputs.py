"""A conformance run's input, refused before it starts anything: one sentence with the fix, exit 4.

What the deployer shares (template, endpoint URL, directories, bounds) is core/inputs.py; this adds
what only a run has: ``--env ''`` naming no environment, and ``--from-run`` directories whose
``state.json`` is not a run's state (docs/reliability.md, "Bad input").
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance.settings import RunSettings
from conformance.state import RunState
from core.errors import UsageError
from core.inputs import check_bounds, check_endpoint_url, check_run_dir, check_template


def check_saved_runs(run_dirs: list[Path]) -> None:
    """A usage error unless every ``--from-run`` directory holds a run's ``state.json``."""
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
    check_bounds()
    if from_run:
        check_saved_runs([Path(d) for d in from_run])
    check_run_dir(settings.run_dir)
