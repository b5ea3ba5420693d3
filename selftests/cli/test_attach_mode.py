"""The attach-mode workflow of the README, end to end, as a user runs it.

python -m emulator --port P; python -m deploy up --env dev --endpoint-url ...; pytest --env dev
--endpoint-url ... (and with -n 2); python -m deploy down ... --purge-retained leaves nothing behind
but the account's artifacts bucket.
"""

from __future__ import annotations

import subprocess
import sys

import boto3

from deploy.artifacts import bucket_name
from selftests.cli.test_bad_input import REPO, _env


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *cmd], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)


def test_deploy_check_and_tear_down_against_a_running_emulator(running_emulator, tmp_path):
    url = running_emulator
    # the account baseline first, as on AWS: it holds the image repository the environment pulls from
    # (and the account suite judges it; a run against an endpoint never deploys it)
    account = _run("-m", "deploy", "account", "up", "--env", "dev", f"--endpoint-url={url}")
    assert account.returncode == 0, account.stderr
    up = _run("-m", "deploy", "up", "--env", "dev", f"--endpoint-url={url}")
    assert up.returncode == 0, up.stderr
    assert "CREATE_COMPLETE" in up.stdout

    again = _run("-m", "deploy", "up", "--env", "dev", f"--endpoint-url={url}")
    assert again.returncode == 0 and "no changes" in again.stdout

    for workers in ("0", "2"):
        run = _run(
            "-m", "pytest", "-p", "no:cacheprovider", "-n", workers, "--env=dev", f"--endpoint-url={url}",
            f"--run-dir={tmp_path / workers}", f"--alluredir={tmp_path / 'allure' / workers}",
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert " passed" in run.stdout and "failed" not in run.stdout
        assert "CREATE_COMPLETE" not in run.stdout  # attach mode: nothing deployed

    down = _run("-m", "deploy", "down", "--env", "dev", f"--endpoint-url={url}", "--purge-retained")
    assert down.returncode == 0, down.stderr
    down = _run("-m", "deploy", "account", "down", f"--endpoint-url={url}", "--purge-retained")
    assert down.returncode == 0, down.stderr
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    cfn = session.client("cloudformation", endpoint_url=url)
    live = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == []
    # what is left is the account's artifacts bucket, shared by every environment of the account
    # and region (deploy/artifacts.py: it outlives stacks; its lifecycle expires the templates)
    buckets = [b["Name"] for b in session.client("s3", endpoint_url=url).list_buckets().get("Buckets", [])]
    assert buckets == [bucket_name("000000000000", "us-east-1")]
    ec2 = session.client("ec2", endpoint_url=url)
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    assert vpcs == []
    assert session.client("ecs", endpoint_url=url).list_clusters()["clusterArns"] == []
    assert session.client("rds", endpoint_url=url).describe_db_clusters()["DBClusters"] == []
    assert session.client("rds", endpoint_url=url).describe_db_cluster_snapshots()["DBClusterSnapshots"] == []
    kms = session.client("kms", endpoint_url=url)
    states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    assert states == {"PendingDeletion"}  # the retained key, scheduled once nothing it encrypts is left
