"""No secret ever reaches the output: a canary secret is planted in Secrets Manager (the real
emulator) and in a secret-looking environment variable; a real check reads it, logs it at
DEBUG (botocore at DEBUG too), prints it, attaches the whole API response as evidence and
fails with it in its assertion message and in its locals (``-l``), under xdist; the canary is
then searched for in the terminal output, the JUnit XML, the log file and every Allure result.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from selftests.report.conftest import REPO, clean_env

CHECK = """
import logging
import os

import boto3

from conformance.checks import check, primary
from core.aws import AwsSession
from core.redaction import watch_secrets

log = logging.getLogger("payments.canary")


@check(
    severity="critical",
    links=[primary("PCI-DSS-4.0:8.3.2", "Canary: a secret in scope never reaches an output.")],
    rationale="Canary: fails with a secret in scope.",
)
def test_canary_secret_never_leaks(evidence):
    boto3.set_stream_logger("botocore", logging.DEBUG)  # the worst case: botocore's wire log on
    aws = AwsSession(region="us-east-1", endpoint_url=os.environ["CANARY_ENDPOINT"])
    client = aws.client("secretsmanager")
    watch_secrets(client)  # what AwsSession does for every client
    response = client.get_secret_value(SecretId="canary-db-master")
    secret_string = response["SecretString"]
    token = os.environ["PAYMENTS_API_TOKEN"]
    log.debug("read secret %s and token %s", secret_string, token)
    print(f"stdout: {secret_string} {token}")
    evidence.attach("GetSecretValue", response)
    evidence.attach("GetSecretValue (copied)", {"body": dict(response), "value": secret_string})
    evidence.text("as text", f"password={secret_string}")
    try:
        raise RuntimeError(f"wrapped {token}")
    except RuntimeError:
        log.exception("while handling %s", secret_string)
    assert len(secret_string) > 500, f"master secret {secret_string} is too short (token {token})"
"""


def test_canary_is_nowhere_in_the_output(emulator, aws, tmp_path: Path) -> None:
    canary_password = "CANARY-" + secrets.token_hex(12)
    canary_token = "CANARYTOK-" + secrets.token_hex(12)
    aws("secretsmanager").create_secret(
        Name="canary-db-master", SecretString=json.dumps({"username": "payments_admin", "password": canary_password})
    )
    project = tmp_path / "project"
    (project / "tests" / "template").mkdir(parents=True)
    (project / "tests" / "__init__.py").write_text("")
    (project / "tests" / "template" / "__init__.py").write_text("")
    (project / "tests" / "template" / "test_canary.py").write_text(CHECK)
    (project / "conftest.py").write_text('pytest_plugins = ["conformance.plugin", "conformance.reporting"]\n')
    (project / "pytest.ini").write_text(f"[pytest]\npythonpath = {REPO} .\ntestpaths = tests\n")
    results, junit, logfile = tmp_path / "allure-results", tmp_path / "junit.xml", tmp_path / "debug.log"
    env = clean_env() | {"CANARY_ENDPOINT": emulator.endpoint_url, "PAYMENTS_API_TOKEN": canary_token}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-l", "--tb=long", "-rA", "-vv",
         "--log-level=DEBUG", "-o", "log_cli=true", "--log-cli-level=DEBUG", f"--log-file={logfile}",
         "--log-file-level=DEBUG", f"--junitxml={junit}", f"--alluredir={results}", "tests/template"],
        cwd=project, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, f"the canary check should fail (exit 1), got {done.returncode}:\n{output}"
    assert "test_canary_secret_never_leaks" in junit.read_text() and "<failure" in junit.read_text()
    written = {"terminal": output, "junit.xml": junit.read_text(), "debug.log": logfile.read_text()}
    for path in results.iterdir():
        written[f"allure-results/{path.name}"] = path.read_bytes().decode("utf-8", "replace")
    attachments = [v for k, v in written.items() if k.endswith("-attachment.json")]
    assert attachments and all("***redacted***" in a for a in attachments), "the evidence was not attached redacted"
    assert "***redacted***" in written["junit.xml"], "the failure message should show where the secret was"
    leaks = [name for name, text in written.items() for c in (canary_password, canary_token) if c in text]
    assert not leaks, f"the canary leaked into: {sorted(set(leaks))}"
    assert not any(c in str(p) for p in results.iterdir() for c in (canary_password, canary_token))
    assert os.environ.get("PAYMENTS_API_TOKEN") != canary_token  # the canary stayed in the child
