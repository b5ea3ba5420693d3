"""Run the real conformance suite against a drifted stack and read back each check's outcome."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CheckResult:
    name: str  # test id as in the report, e.g. test_vpc_cidr_matches_environment[dev]
    outcome: str  # passed, failed, error, skipped
    message: str


def clean_env() -> dict[str, str]:
    """The environment for a suite run on the emulator: no real AWS settings can leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent")
    return env


def run_suite(
    *,
    endpoint_url: str,
    envs: list[str],
    suffix: str,
    workdir: Path,
    extra_args: tuple[str, ...] = (),
    template: Path | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, CheckResult], str]:
    """Run the conformance suites in attach mode; return exit code, results by test id, output."""
    workdir.mkdir(parents=True, exist_ok=True)
    junit = workdir / "junit.xml"
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:pytest_httpserver", "-o", "addopts=",
        "-n", "0", "-q",
        f"--endpoint-url={endpoint_url}", f"--suffix={suffix}", f"--junitxml={junit}",
        f"--run-dir={workdir / 'run'}",
    ]  # fmt: skip
    # every option in --opt=value form: pytest's rootdir detection would take a bare path value for a test path
    cmd += [f"--env={env}" for env in envs]
    if template is not None:
        cmd.append(f"--template={template}")
    cmd += list(extra_args)
    proc = subprocess.run(
        cmd, cwd=REPO, env={**clean_env(), **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    return proc.returncode, parse_junit(junit), proc.stdout + proc.stderr


def parse_junit(path: Path) -> dict[str, CheckResult]:
    if not path.exists():
        return {}
    results: dict[str, CheckResult] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (el.get("message") or "") + "\n" + (el.text or "")
                break
        results[name] = CheckResult(name=name, outcome=outcome, message=message)
    return results
