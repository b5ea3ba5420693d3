"""What the Allure results directory holds besides the results: categories and environment.

Written by the controller at the end of a run (``conformance.reporting``) and again by the report
builder over merged runs (``conformance.report.build``): ``categories.json`` (non-conformance,
probe errors, crashed workers, emulator limits and suite defects told apart),
``environment.properties`` (what each run was pointed at) and ``executor.json`` in CI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.redaction import redact_text

EMULATOR_NOTICE = "a rehearsal, not audit evidence"

CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "Non-conformance (the platform is wrong)",
        "description": "A check observed the platform and it does not conform.",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Probe errors (the suite could not observe)",
        "description": "Throttling, access denied, timeouts, an unreachable endpoint: no verdict on the platform.",
        "matchedStatuses": ["broken"],
        "messageRegex": "(?s).*ProbeError.*",
    },
    {
        "name": "Worker crashed (the suite could not observe)",
        "description": "The xdist worker running the check died (OOM, segfault): the check was not judged.",
        "matchedStatuses": ["broken"],
        "messageRegex": "(?s).*crashed while running.*",
    },
    {
        "name": "Emulator limits",
        "description": "The offline emulator cannot serve this probe; on AWS it runs.",
        "matchedStatuses": ["skipped"],
        "messageRegex": "(?s).*emulator limit:.*",
    },
    {
        "name": "Suite defects",
        "description": "The check itself raised an unexpected error: fix the suite.",
        "matchedStatuses": ["broken"],
        "messageRegex": "(?s)(?!.*ProbeError)(?!.*crashed while running).*",
    },
]


def environment_properties(runs: list[dict[str, Any]]) -> str:
    """Allure's environment.properties for one or more runs (the nightly merges one per environment)."""
    envs: dict[str, dict[str, str]] = {}
    for run in runs:
        envs.update(run["environments"])
    names = list(envs)

    def join(values: list[str]) -> str:
        return ", ".join(dict.fromkeys(v for v in values if v))

    rows = {}
    if any(r.get("emulated") for r in runs):
        rows["EMULATOR"] = EMULATOR_NOTICE
    rows |= {
        "environment": join(names),
        "target": join([r["target"] for r in runs]),
        "region": join([envs[n]["region"] for n in names]),
        "account": join([envs[n]["account"] for n in names]),
        "stack": join([envs[n]["stack"] for n in names]),
        "template.sha256": join([r["template_sha256"] for r in runs]),
        "template.version": join([r["template_version"] for r in runs]),
        "suite.version": join([r["suite_version"] for r in runs]),
        "git.commit": join([r["git_commit"] for r in runs]),
        "run.id": join([r["run_id"] for r in runs]),
        "run.started.utc": min((r.get("started_utc") or "" for r in runs), default=""),
        "run.finished.utc": max((r.get("finished_utc") or "" for r in runs), default=""),
    }
    for n in names:
        rows[f"{n}.stack"] = envs[n]["stack"]
        rows[f"{n}.region"] = envs[n]["region"]
        rows[f"{n}.account"] = envs[n]["account"]
    return "".join(f"{k}={_escape(v)}\n" for k, v in rows.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")


def write_results_metadata(alluredir: Path, runs: list[dict[str, Any]]) -> None:
    alluredir.mkdir(parents=True, exist_ok=True)
    (alluredir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
    if runs:
        (alluredir / "environment.properties").write_text(redact_text(environment_properties(runs)))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        keys = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
        server, repo, run_id = (os.environ.get(k, "") for k in keys)
        executor = {
            "name": "GitHub Actions",
            "type": "github",
            "buildName": f"{os.environ.get('GITHUB_WORKFLOW', '')} #{os.environ.get('GITHUB_RUN_NUMBER', '')}",
            "buildUrl": f"{server}/{repo}/actions/runs/{run_id}",
        }
        (alluredir / "executor.json").write_text(json.dumps(executor, indent=2))
