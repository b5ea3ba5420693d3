"""Bad input: one clear sentence, a documented exit code, nothing created, changed or deleted.

Each case runs the real command (``pytest`` on the conformance suites, ``python -m deploy``)
as a subprocess, the way a user would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from selftests.emulator.platform import settled_stack

REPO = Path(__file__).resolve().parents[2]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0"]
DEPLOY = [sys.executable, "-m", "deploy"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def _run(cmd: list[str], timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=_env(**env), capture_output=True, text=True, timeout=timeout)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bad_environments(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "deploy/environments/dev.yaml").read_text())
    data["parameters"]["VpcCidr"] = "10.2.0.0/8"
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_pytest_unknown_environment_exits_4_before_any_call():
    started = time.monotonic()
    r = _run([*PYTEST, "--env", "qa"])
    assert r.returncode == 4, r.stdout + r.stderr
    assert "unknown environment 'qa'" in r.stderr and "qa.yaml" in r.stderr
    assert "emulator: ready" not in r.stdout
    assert time.monotonic() - started < 30


def test_pytest_malformed_environment_file_exits_4_naming_file_and_field(bad_environments):
    r = _run([*PYTEST, "--env", "dev"], PAYMENTS_ENVIRONMENTS_DIR=str(bad_environments))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "dev.yaml" in r.stderr and "parameters.VpcCidr" in r.stderr


def test_pytest_unreachable_endpoint_exits_3_within_10_seconds_naming_the_url():
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    r = _run([*PYTEST, "--env", "dev", "--endpoint-url", url])
    elapsed = time.monotonic() - started
    assert r.returncode == 3, r.stdout + r.stderr
    assert url in r.stdout + r.stderr
    assert elapsed < 10 + 5  # 10 s budget for the probe, plus interpreter start-up


def test_pytest_missing_credentials_exits_3_with_one_sentence():
    r = _run([*PYTEST, "--env", "dev"])
    assert r.returncode == 3, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "no AWS credentials found" in out
    assert "Traceback" not in out


def test_deploy_unknown_environment_exits_4():
    r = _run([*DEPLOY, "up", "--env", "qa", "--endpoint-url", "http://127.0.0.1:1"])
    assert r.returncode == 4
    assert r.stderr.startswith("deploy: error: unknown environment 'qa'")
    assert r.stderr.count("\n") == 1


def test_deploy_malformed_environment_file_exits_4(bad_environments):
    r = _run([*DEPLOY, "up", "--env", "dev"], PAYMENTS_ENVIRONMENTS_DIR=str(bad_environments))
    assert r.returncode == 4
    assert "dev.yaml" in r.stderr and "parameters.VpcCidr" in r.stderr


def test_deploy_unreachable_endpoint_exits_3_naming_the_url():
    url = f"http://127.0.0.1:{_closed_port()}"
    r = _run([*DEPLOY, "up", "--env", "dev", "--endpoint-url", url], timeout=20)
    assert r.returncode == 3
    assert url in r.stderr


def test_deploy_missing_credentials_exits_3():
    r = _run([*DEPLOY, "status", "--env", "dev"])
    assert r.returncode == 3
    assert "no AWS credentials found" in r.stderr


def test_rollback_complete_stack_is_refused_by_pytest_and_deploy(emulator, aws):
    """Attach mode and the deployer both refuse a failed stack; neither deletes it."""
    emulator.reset()
    cfn = aws("cloudformation")
    template = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n  B:\n    Type: AWS::SNS::Topic\n" \
               "    Properties:\n      TopicName: !GetAtt T.NoSuchAttribute\n"  # fmt: skip
    cfn.create_stack(StackName="payments-dev-main", TemplateBody=template)
    assert settled_stack(cfn, "payments-dev-main")["StackStatus"] == "ROLLBACK_COMPLETE"
    r = _run([*PYTEST, "--env", "dev", "--endpoint-url", emulator.endpoint_url])
    assert r.returncode == 3, r.stdout + r.stderr
    assert "ROLLBACK_COMPLETE" in r.stdout + r.stderr
    r = _run([*DEPLOY, "up", "--env", "dev", "--endpoint-url", emulator.endpoint_url])
    assert r.returncode == 3
    assert "ROLLBACK_COMPLETE" in r.stderr and "delete-stack" in r.stderr
    assert cfn.describe_stacks(StackName="payments-dev-main")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"


def test_teardown_of_prod_is_refused_before_any_call():
    r = _run([*PYTEST, "--env", "prod", "--endpoint-url", "http://127.0.0.1:1", "--teardown"])
    assert r.returncode == 4, r.stdout + r.stderr
    assert "--teardown never deletes prod" in r.stderr
    assert "cannot reach" not in r.stdout + r.stderr  # refused before even probing the endpoint


def test_deploy_down_of_prod_is_refused_with_zero_delete_calls(emulator, aws):
    """python -m deploy down --env prod: exit 4, the stack untouched."""
    emulator.reset()
    up = _run([*DEPLOY, "up", "--env", "prod", f"--endpoint-url={emulator.endpoint_url}"])
    assert up.returncode == 0, up.stderr
    down = _run([*DEPLOY, "down", "--env", "prod", f"--endpoint-url={emulator.endpoint_url}"])
    assert down.returncode == 4
    assert "never deletes prod" in down.stderr
    assert aws("cloudformation").describe_stacks(StackName="payments-prod-main")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
