"""Run the real conformance suite against a drifted stack and read back each check's outcome."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from selftests.drifts.registry import Drift, DriftContext

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CheckResult:
    name: str  # test id as in the report, e.g. test_vpc_cidr_matches_environment[dev]
    outcome: str  # passed, failed (a non-conformance), probe-error (could not observe), error, skipped
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
        # the plugin labels a check that raised ProbeError: a failure in JUnit, but nothing was judged
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        if outcome == "failed" and properties.get("conformance_outcome") == "probe-error":
            outcome = "probe-error"
        results[name] = CheckResult(name=name, outcome=outcome, message=message)
    return results


def assert_caught(d: Drift, code: int, results: dict[str, CheckResult], output: str, ctx: DriftContext | None) -> None:
    """Caught means the intended check judged the platform wrong: it FAILED naming the resource, exit 1.

    A probe error (the check could not observe, exit 3) is not a catch, whatever it says.
    """
    envs = d.env.split(",")
    wanted = [name for name in results if name == d.check or name.startswith(f"{d.check}[")]
    targeted = [n for n in wanted if n == d.check or n == f"{d.check}[{envs[0]}]"] or wanted
    assert targeted, f"drift {d.id}: check {d.check} did not run; output:\n{output[-3000:]}"
    failed = [results[n] for n in targeted if results[n].outcome == "failed"]
    outcomes = "; ".join(f"{n} {results[n].outcome}: {results[n].message.strip()[:300]}" for n in targeted)
    assert failed, f"drift {d.id} ({d.description}) was not caught: {outcomes}"
    if ctx is not None or not d.deploy:
        name = d.names(ctx)  # type: ignore[arg-type]  # a static drift's names ignores the (absent) context
        assert any(name in r.message for r in failed), (
            f"drift {d.id}: {d.check} failed without naming {name}: {failed[0].message.splitlines()[0]}"
        )
    assert code == 1, f"drift {d.id}: exit code {code}, expected 1 (non-conformance); output:\n{output[-3000:]}"
