"""A one-environment offline run (the embedded emulator) of the template and consistency suites,
then its report: the consistency checks are *not applicable* (nothing to compare), never
"conforms"; the run's identity is in the JUnit properties, environment.properties, the control
matrix and the single file; and the run starts from an empty results folder (a stale result
planted there beforehand is gone)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from selftests.report.conftest import REPO, clean_env


def test_single_environment_run_reports_consistency_not_applicable_and_names_itself(tmp_path: Path) -> None:
    results, junit, report = tmp_path / "allure-results", tmp_path / "junit.xml", tmp_path / "report"
    results.mkdir()
    stale = results / "00000000-stale-result.json"
    stale.write_text(json.dumps({"uuid": "stale", "name": "from an earlier run", "status": "passed"}))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "--emulator", "--env", "staging",
         f"--alluredir={results}", f"--junitxml={junit}", f"--run-dir={tmp_path / 'run'}", "-rs",
         "tests/consistency", "tests/template"],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "not applicable: fewer than two environments" in output
    assert not stale.exists(), "a result of an earlier run was left in the results folder"

    props = {p.get("name", ""): p.get("value", "") for p in ET.parse(junit).getroot().iter("property")}
    for key in ("EMULATOR", "run.id", "run.started.utc", "run.finished.utc", "git.commit", "template.sha256",
                "suite.version", "staging.account", "staging.region"):  # fmt: skip
        assert props.get(key), f"JUnit property {key} is missing: {props}"
    assert props["EMULATOR"] == "a rehearsal, not audit evidence"
    environment = (results / "environment.properties").read_text()
    assert f"run.id={props['run.id']}" in environment and "EMULATOR=" in environment
    assert "staging.account=000000000000" in environment

    built = subprocess.run([sys.executable, "-m", "conformance.report", f"--results={results}", f"--out={report}"],
                           cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert str(report / "conformance-report.html") in built.stdout, "make report must say where the one file is"
    assert f"report: 1 run(s): {props['run.id']}" in built.stdout, built.stdout
    assert "from an earlier run" not in (report / "conformance-report.html").read_text()
    summary = (report / "summary.md").read_text()
    assert "| run-wide (template, consistency) |" in summary and "EMULATOR" in summary, summary
    rows = list(csv.DictReader((report / "control-matrix.csv").open()))
    consistency = {r["status staging"] for r in rows if r["suite"] == "consistency"}
    template = {r["status staging"] for r in rows if r["suite"] == "template"}
    assert consistency == {"not applicable"}, consistency
    assert template == {"conforms"}, template
    for page in (report / "control-matrix.html", report / "conformance-report.html"):
        text = page.read_text()
        for expected in ("EMULATOR: a rehearsal, not audit evidence", props["run.id"], props["template.sha256"],
                         props["run.started.utc"], "account 000000000000, region us-east-1"):  # fmt: skip
            assert expected in text, f"{expected!r} is not on {page.name}"
