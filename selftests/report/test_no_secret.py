"""No secret in any output, by construction: three canaries are planted on a real platform (the
embedded emulator, dev and staging deployed with the deployer's CLI): the DB master secret's
value, a task definition's plain environment variable, and the AWS secret access key the suite
runs with. The suite then runs in attach mode under xdist (``-n 2``) with ``--showlocals``,
``--tb=long``, DEBUG logs to a file, JUnit XML and Allure results, one check failing on the
planted variable; the report is built. No canary is in stdout/stderr, the JUnit XML, the log,
any Allure result, the report, or the run folder (state, inventories, API-call counts).

An endpoint URL with credentials in it is refused (exit 4), its password masked in the refusal.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import boto3

from emulator.launcher import Emulator
from selftests.report.conftest import REPO, clean_env


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_planted_canaries_reach_no_output(tmp_path: Path) -> None:
    db_canary = "CanaryDb!" + secrets.token_hex(10)
    td_canary = "CanaryTd#" + secrets.token_hex(10)
    key_canary = "CanaryKey" + secrets.token_hex(14)
    env = clean_env() | {"AWS_ACCESS_KEY_ID": "AKIDCANARYTEST", "AWS_SECRET_ACCESS_KEY": key_canary}
    results, junit, run_dir, log = tmp_path / "allure", tmp_path / "junit.xml", tmp_path / "run", tmp_path / "debug.log"
    with Emulator(log_path=tmp_path / "emulator.log") as emu:
        url = emu.endpoint_url
        for name in ("dev", "staging"):
            done = _run([sys.executable, "-m", "deploy", "up", "--env", name, "--endpoint-url", url], env, 300)
            assert done.returncode == 0, done.stdout + done.stderr
        outputs = json.loads(_run([sys.executable, "-m", "deploy", "outputs", "--env", "dev", "--endpoint-url", url],
                                  env, 60).stdout)  # fmt: skip
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        document = json.dumps({"username": "payments_admin", "password": db_canary})
        session.client("secretsmanager", endpoint_url=url).put_secret_value(
            SecretId=outputs["DBSecretArn"], SecretString=document
        )
        ecs = session.client("ecs", endpoint_url=url)
        cluster, service = outputs["ECSClusterName"], outputs["ECSServiceName"]
        current = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
        td = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
        keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "cpu", "memory",
                "requiresCompatibilities")  # fmt: skip
        spec = {k: td[k] for k in keep if td.get(k)}
        spec["containerDefinitions"][0].setdefault("environment", []).append(
            {"name": "DB_MASTER_PASSWORD", "value": td_canary}
        )
        arn = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)

        suite = _run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--showlocals", "--tb=long", "-rA",
             "-vv", f"--endpoint-url={url}", "--env=dev", "--env=staging", f"--alluredir={results}",
             f"--junitxml={junit}", f"--run-dir={run_dir}", "--log-level=DEBUG", f"--log-file={log}",
             "--log-file-level=DEBUG"],
            env, 600,
        )  # fmt: skip
    output = suite.stdout + suite.stderr
    assert suite.returncode == 1, f"the planted variable should make a check fail (exit 1):\n{output[-3000:]}"
    assert "test_task_definition_environment_holds_no_secrets[dev]" in output and "DB_MASTER_PASSWORD" in output
    report = tmp_path / "report"
    built = _run([sys.executable, "-m", "conformance.report", f"--results={results}", f"--out={report}"], env, 300)
    assert built.returncode == 0, built.stdout + built.stderr

    written = {"stdout+stderr": output, "report build output": built.stdout + built.stderr}
    for folder in (results, run_dir, report, tmp_path):
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "emulator.log":  # the emulator's own log is the platform's
                written[str(path.relative_to(tmp_path))] = path.read_bytes().decode("utf-8", "replace")
    assert any(name.endswith("junit.xml") for name in written) and any("inventory-dev.json" in n for n in written)
    assert any(name.endswith("debug.log") for name in written)
    leaks = sorted({name for name, text in written.items() for c in (db_canary, td_canary, key_canary) if c in text})
    assert not leaks, f"a canary leaked into {len(leaks)} output(s): {leaks[:10]}"
    inventory = (next(run_dir.rglob("inventory-dev.json"))).read_text()
    assert f"<redacted: {len(td_canary)} characters, salted sha256 " in inventory, "the variable's marker is missing"


def test_endpoint_url_with_credentials_is_refused() -> None:
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--env=dev",
                 "--endpoint-url=http://operator:CanaryUrlPass42@127.0.0.1:9"], clean_env(), 120)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert "carries credentials in the URL" in output and "CanaryUrlPass42" not in output


def test_sealed_secrets_open_only_with_the_key() -> None:
    """What the controller learned reaches its workers sealed: the file holds no secret, and only
    the key handed over xdist's channel opens it."""
    from core import redaction as evidence

    canary = "CanarySealed" + secrets.token_hex(8)
    evidence.register_secret(canary)
    key = secrets.token_bytes(32)
    blob = evidence.seal_secrets(key)
    assert canary.encode() not in blob
    with evidence._lock:
        evidence._known_secrets.discard(canary)
    assert canary not in evidence.known_secrets()
    assert evidence.open_sealed_secrets(blob, key) >= 1
    assert canary in evidence.known_secrets()
    assert evidence.redact_text(f"x {canary} y") == f"x {evidence.REDACTED} y"
