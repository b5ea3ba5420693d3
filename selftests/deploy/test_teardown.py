"""Issue 5, scenario 9: a stack whose bucket holds data when it is torn down.

The template's transaction-log bucket has DeletionPolicy Retain: the stack deletes and the bucket
is kept with its objects. A variant with DeletionPolicy Delete fails to delete (BucketNotEmpty,
DELETE_FAILED). Either way the teardown ends with one message naming each resource left behind
(logical id, physical id, reason) and exit 3, and deletes nothing by force.
"""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest

from core.aws import AwsSession
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from core.template import load_template
from deploy.deployer import Deployer
from deploy.teardown import TeardownIncomplete
from selftests.cli.test_bad_input import REPO, _env


def _s3(url: str):
    return boto3.client(
        "s3", region_name="us-east-1", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test"
    )


def _cfn(url: str):
    return boto3.client(
        "cloudformation", region_name="us-east-1", endpoint_url=url, aws_access_key_id="test",
        aws_secret_access_key="test",
    )  # fmt: skip


def test_delete_failed_lists_the_bucket_and_deletes_nothing_by_force(emulator, tmp_path):
    emulator.reset()
    doc = json.loads(json.dumps(load_template()))
    doc["Resources"]["TransactionLogsBucket"]["DeletionPolicy"] = "Delete"  # a variant: the bucket is not retained
    template = tmp_path / "delete-bucket.json"
    template.write_text(json.dumps(doc))
    session = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    spec = with_self_signed_certificate(load_environment("dev").with_overrides(suffix="td1"), session)
    deployer = Deployer(spec, session, out=lambda _l: None, template_path=template)
    bucket = deployer.up().TransactionLogsBucket
    _s3(emulator.endpoint_url).put_object(Bucket=bucket, Key="tx.log", Body=b"x")
    with pytest.raises(TeardownIncomplete) as caught:
        deployer.down()
    message = str(caught.value)
    assert caught.value.exit_code == 3
    assert f"TransactionLogsBucket (AWS::S3::Bucket) {bucket}: " in message and "BucketNotEmpty" in message, message
    assert "ended DELETE_FAILED" in message and "\n" not in message
    state = deployer.state()
    assert state is not None and state.status == "DELETE_FAILED"
    assert _s3(emulator.endpoint_url).list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert "cloudformation:DeleteStack" in session.call_log.calls
    assert session.call_log.calls["cloudformation:DeleteStack"] == 1  # no second, forced delete
    emulator.reset()


def _run(*cmd: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *cmd], cwd=REPO, env=_env(**env), capture_output=True, text=True, timeout=300
    )


def _txlogs(url: str) -> list[str]:
    return [b["Name"] for b in _s3(url).list_buckets().get("Buckets", []) if "-txlogs-" in b["Name"]]


def test_deploy_down_of_a_stack_whose_retained_bucket_holds_data_exits_3(running_emulator):
    url = running_emulator
    up = _run("-m", "deploy", "up", "--env", "dev", f"--endpoint-url={url}")
    assert up.returncode == 0, up.stderr[-2000:]
    (bucket,) = _txlogs(url)
    _s3(url).put_object(Bucket=bucket, Key="tx.log", Body=b"x")
    down = _run("-m", "deploy", "down", "--env", "dev", f"--endpoint-url={url}")
    assert down.returncode == 3, down.stdout[-2000:] + down.stderr[-2000:]
    (line,) = [ln for ln in down.stderr.splitlines() if ln.strip()]
    assert f"TransactionLogsBucket (AWS::S3::Bucket) {bucket}: retained by DeletionPolicy Retain, holds 1" in line
    assert "ended DELETE_COMPLETE" in line and "--purge-retained" in line
    assert "Traceback" not in down.stderr
    assert _s3(url).list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing deleted by force
    live = [s for s in _cfn(url).list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == []


def test_pytest_deploy_teardown_with_data_left_in_the_bucket_exits_3(running_emulator, tmp_path):
    url = running_emulator
    run = _run(
        "-m", "pytest", "-p", "no:cacheprovider", "-p", "selftests.cli.chaos_plugin", "-n", "0", "--env=dev",
        f"--endpoint-url={url}", "--deploy", "--teardown", f"--run-dir={tmp_path / 'run'}",
        f"--alluredir={tmp_path / 'allure'}", "tests/storage",
        CONFORMANCE_CHAOS_FILL_BUCKETS=url,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 3, out[-4000:]
    assert " passed" in run.stdout and " failed" not in run.stdout  # the checks themselves were green
    (bucket,) = _txlogs(url)
    lines = [ln for ln in out.splitlines() if "conformance teardown:" in ln]
    assert len(lines) == 1, out[-3000:]
    assert f"TransactionLogsBucket (AWS::S3::Bucket) {bucket}: retained by DeletionPolicy Retain" in lines[0]
    assert _s3(url).list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    live = [s for s in _cfn(url).list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == []


def test_pytest_deploy_teardown_of_a_stack_that_fails_to_delete_exits_3(running_emulator, tmp_path):
    """A variant template whose bucket is not retained: the stack ends DELETE_FAILED (BucketNotEmpty)."""
    url = running_emulator
    doc = json.loads(json.dumps(load_template()))
    doc["Resources"]["TransactionLogsBucket"]["DeletionPolicy"] = "Delete"
    template = tmp_path / "delete-bucket.json"
    template.write_text(json.dumps(doc))
    run = _run(
        "-m", "pytest", "-p", "no:cacheprovider", "-p", "selftests.cli.chaos_plugin", "-n", "0", "--env=dev",
        f"--endpoint-url={url}", "--deploy", "--teardown", f"--template={template}", f"--run-dir={tmp_path / 'run'}",
        f"--alluredir={tmp_path / 'allure'}", "tests/storage",
        CONFORMANCE_CHAOS_FILL_BUCKETS=url,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 3, out[-4000:]
    (bucket,) = _txlogs(url)
    lines = [ln for ln in out.splitlines() if "conformance teardown:" in ln]
    assert len(lines) == 1, out[-3000:]
    assert "ended DELETE_FAILED" in lines[0], lines[0]
    assert f"TransactionLogsBucket (AWS::S3::Bucket) {bucket}: " in lines[0] and "BucketNotEmpty" in lines[0]
    assert _s3(url).list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing deleted by force
    (stack,) = [s for s in _cfn(url).list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert stack["StackStatus"] == "DELETE_FAILED"


def test_deploy_down_of_a_stack_that_fails_to_delete_exits_3(running_emulator, tmp_path):
    """The same variant through `python -m deploy up/down --template=PATH`: DELETE_FAILED, one line, exit 3."""
    url = running_emulator
    doc = json.loads(json.dumps(load_template()))
    doc["Resources"]["TransactionLogsBucket"]["DeletionPolicy"] = "Delete"
    template = tmp_path / "delete-bucket.json"
    template.write_text(json.dumps(doc))
    common = ("--env", "dev", f"--endpoint-url={url}", f"--template={template}")
    up = _run("-m", "deploy", "up", *common)
    assert up.returncode == 0, up.stderr[-2000:]
    (bucket,) = _txlogs(url)
    _s3(url).put_object(Bucket=bucket, Key="tx.log", Body=b"x")
    down = _run("-m", "deploy", "down", *common)
    assert down.returncode == 3, down.stdout[-2000:] + down.stderr[-2000:]
    (line,) = [ln for ln in down.stderr.splitlines() if ln.strip()]
    assert "ended DELETE_FAILED" in line, line
    assert f"TransactionLogsBucket (AWS::S3::Bucket) {bucket}: " in line and "BucketNotEmpty" in line, line
    assert "Traceback" not in down.stderr
    assert _s3(url).list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing deleted by force
    (stack,) = [s for s in _cfn(url).list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert stack["StackStatus"] == "DELETE_FAILED"


def _client(url: str, service: str):
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test"
    )


def _key_states(url: str) -> dict[str, str]:
    kms = _client(url, "kms")
    return {k["KeyId"]: kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}


def test_deploy_up_and_down_of_a_rehearsal_stack_leaves_no_key_bucket_or_snapshot(running_emulator):
    """The suite's own stack: the retained bucket (empty) and the final snapshot go, then the retained key's
    deletion is scheduled: no key left usable, no bucket, no snapshot."""
    url = running_emulator
    up = _run("-m", "deploy", "up", "--env", "dev", f"--endpoint-url={url}")
    assert up.returncode == 0, up.stderr[-2000:]
    (key,) = _key_states(url)
    down = _run("-m", "deploy", "down", "--env", "dev", f"--endpoint-url={url}")
    assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]
    assert "deleted the empty retained bucket" in down.stdout and "deleted the final snapshot" in down.stdout
    assert f"scheduled the deletion of the retained key {key}" in down.stdout, down.stdout[-2000:]
    assert _key_states(url) == {key: "PendingDeletion"}
    meta = _client(url, "kms").describe_key(KeyId=key)["KeyMetadata"]
    assert (meta["DeletionDate"] - meta["CreationDate"]).days in (6, 7)  # KEY_PENDING_WINDOW_DAYS
    assert _txlogs(url) == []
    assert _client(url, "rds").describe_db_cluster_snapshots()["DBClusterSnapshots"] == []
    assert _client(url, "rds").describe_db_clusters()["DBClusters"] == []
    live = [s for s in _cfn(url).list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == []


def test_a_teardown_that_keeps_data_keeps_the_key(running_emulator):
    """A retained bucket holding objects is kept (exit 3): so is the key that encrypts it, enabled."""
    url = running_emulator
    up = _run("-m", "deploy", "up", "--env", "dev", f"--endpoint-url={url}")
    assert up.returncode == 0, up.stderr[-2000:]
    (key,) = _key_states(url)
    (bucket,) = _txlogs(url)
    _s3(url).put_object(Bucket=bucket, Key="tx.log", Body=b"x")
    down = _run("-m", "deploy", "down", "--env", "dev", f"--endpoint-url={url}")
    assert down.returncode == 3, down.stdout[-2000:] + down.stderr[-2000:]
    assert f"kept the retained key {key}: it still encrypts bucket {bucket}" in down.stdout, down.stdout[-2000:]
    assert _key_states(url) == {key: "Enabled"}
    assert _s3(url).list_objects_v2(Bucket=bucket)["KeyCount"] == 1
