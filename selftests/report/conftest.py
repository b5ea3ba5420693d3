"""A real attach-mode run for the report self-tests, built once per session.

The emulator runs on 127.0.0.1; dev, staging and prod are deployed into it with the deployer's
CLI (outside the recorded run, as the nightly attaches to stacks that exist); a real drift
(dev's transaction bucket stops blocking public policies) gives the report a non-conformance with
evidence, under a PCI DSS requirement the check is primary for (the bucket's versioning is suspended
too: a change CloudFormation's drift detection reports, so the run reads the drifted resources);
then the suite runs in attach mode (the nightly's read-only mode) with Allure results, JUnit
XML and its run directory, and ``python -m conformance.report`` builds the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from emulator.launcher import Emulator

REPO = Path(__file__).resolve().parents[2]
ENVS = ("dev", "staging", "prod")
DRIFTED_CHECK = "test_transaction_bucket_blocks_all_public_access"
DRIFTED_CONTROL = "PCI DSS v4.0 1.4.4"  # the requirement it is primary for


@dataclass(frozen=True)
class AttachRun:
    endpoint_url: str
    results: Path
    junit: Path
    run_dir: Path  # build/run-like folder: <run-id>/state.json, api-calls*.json
    report: Path  # build/report-like folder
    returncode: int
    output: str


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent")
    return env


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def attach_run(tmp_path_factory: pytest.TempPathFactory) -> AttachRun:
    if not (REPO / "node_modules" / ".bin" / "allure").exists():  # a fresh machine: npm ci (+ Java 17)
        tools = _run(["make", "--no-print-directory", "report-tools"], timeout=900)
        assert tools.returncode == 0, f"make report-tools failed:\n{tools.stdout}\n{tools.stderr}"
    work = tmp_path_factory.mktemp("attach-run")
    with Emulator(log_path=work / "emulator.log") as emu:
        url = emu.endpoint_url
        # the account baseline the account suite judges, first (deployed once, as an account's administrator does)
        done = _run([sys.executable, "-m", "deploy", "account", "up", "--endpoint-url", url], timeout=300)
        assert done.returncode == 0, f"deploy account up failed:\n{done.stdout}\n{done.stderr}"
        for env in ENVS:
            done = _run([sys.executable, "-m", "deploy", "up", "--env", env, "--endpoint-url", url], timeout=300)
            assert done.returncode == 0, f"deploy up {env} failed:\n{done.stdout}\n{done.stderr}"
        outputs = _run([sys.executable, "-m", "deploy", "outputs", "--env", "dev", "--endpoint-url", url], timeout=60)
        bucket = json.loads(outputs.stdout)["TransactionLogsBucket"]
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
        blocks = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
                  "RestrictPublicBuckets": True}  # fmt: skip
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=blocks)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
        results, junit, run_dir = work / "allure-results", work / "junit.xml", work / "run"
        suite = _run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", f"--endpoint-url={url}",
             *[f"--env={e}" for e in ENVS], f"--alluredir={results}", f"--junitxml={junit}", f"--run-dir={run_dir}"],
            timeout=600,
        )  # fmt: skip
    report = work / "report"
    built = _run([sys.executable, "-m", "conformance.report", f"--results={results}", f"--out={report}"], timeout=300)
    assert built.returncode == 0, f"report build failed:\n{built.stdout}\n{built.stderr}"
    return AttachRun(url, results, junit, run_dir, report, suite.returncode, suite.stdout + suite.stderr)
