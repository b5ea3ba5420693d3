"""The nightly workflow's contract: the suite installed without the emulator, the history cache
restored whatever happened before, the verdict in the job summary, a failure notification with
the least permission, Pages publication only when the repository opts in (actionlint, run by
`make lint`, checks the syntax)."""

from __future__ import annotations

from typing import Any

import yaml

from selftests.report.conftest import REPO

NIGHTLY = REPO / ".github" / "workflows" / "nightly.yml"


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(NIGHTLY.read_text())


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def test_nightly_installs_no_emulator_and_restores_history_always() -> None:
    jobs = _workflow()["jobs"]
    runs = " ".join(str(step.get("run", "")) for job in jobs.values() for step in _steps(job))
    assert "make setup" not in runs and "make suite" in runs, "the nightly must not install the emulator"
    restore = [s for s in _steps(jobs["report"]) if "cache/restore" in str(s.get("uses", ""))]
    assert restore and restore[0].get("if") == "always()", restore


def test_nightly_writes_the_verdict_to_the_job_summary() -> None:
    step = [s for s in _steps(_workflow()["jobs"]["report"]) if "GITHUB_STEP_SUMMARY" in str(s.get("run", ""))]
    assert step and step[0].get("if") == "always()"
    assert "build/report/summary.md" in step[0]["run"] and "RUN_URL" in step[0]["run"]


def test_failure_notification_uses_gh_with_issues_write_only_on_its_job() -> None:
    wf = _workflow()
    assert wf["permissions"] == {"contents": "read"}
    notify = wf["jobs"]["notify"]
    assert notify["if"] == "failure()" and set(notify["needs"]) == {"conformance", "report"}
    assert notify["permissions"] == {"issues": "write"}
    assert "gh issue create" in notify["steps"][0]["run"] and "gh issue comment" in notify["steps"][0]["run"]
    others = [name for name, job in wf["jobs"].items() if name != "notify" and "issues" in job.get("permissions", {})]
    assert not others, f"issues permission outside the notify job: {others}"


def test_pages_publication_is_opt_in() -> None:
    jobs = _workflow()["jobs"]
    publish = jobs["publish"]
    assert "vars.CONFORMANCE_PUBLISH_PAGES == 'true'" in publish["if"]
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert "pages" not in jobs["report"].get("permissions", {})
    uploads = [s for s in _steps(jobs["report"]) if "upload-artifact" in str(s.get("uses", ""))]
    assert uploads and "conformance-report.html" in uploads[0]["with"]["path"]
