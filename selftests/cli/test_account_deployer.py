"""``python -m deploy account``: the account baseline's life cycle on the emulator, its protections and its
refusals (one sentence, the documented exit code, nothing created or deleted by accident)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = [sys.executable, "-m", "deploy", "account"]
STACK = "payments-account-baseline"


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/nonexistent", AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint)
    return env


def _run(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACCOUNT, *args], cwd=REPO, env=_env(endpoint), capture_output=True, text=True, timeout=300)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _clean(r: subprocess.CompletedProcess[str]) -> str:
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out[-3000:]
    return out


def test_bad_input_is_refused_before_any_call():
    closed = _closed_port_url()  # any call would end in exit 3 (cannot be reached)
    r = _run(closed, "up", "--env", "nope")
    out = _clean(r)
    assert r.returncode == 4 and "unknown environment 'nope'" in out, out


def test_life_cycle_protections_and_preflight(emulator, aws):
    emulator.reset()
    url = emulator.endpoint_url
    up = _run(url, "up", "--env", "dev", "--env", "staging")
    assert up.returncode == 0, _clean(up)[-3000:]
    outputs = json.loads(up.stdout[up.stdout.index("{") :])
    assert outputs["TrailArn"].endswith(":trail/payments-account-trail")
    assert outputs["AnalyzerArn"].endswith(":analyzer/payments-account-analyzer")
    selectors = aws("cloudtrail").get_event_selectors(TrailName="payments-account-trail")["AdvancedEventSelectors"]
    starts = [
        v for s in selectors for f in s["FieldSelectors"] if f["Field"] == "resources.ARN" for v in f["StartsWith"]
    ]
    # the environments named first, then every other environment file of the account: the trail records them all
    assert starts == [
        "arn:aws:s3:::payments-dev-main-txlogs-",
        "arn:aws:s3:::payments-staging-main-txlogs-",
        "arn:aws:s3:::payments-prod-main-txlogs-",
    ]

    again = _run(url, "up", "--env", "dev", "--env", "staging")
    assert again.returncode == 0 and "no changes; nothing to do" in again.stdout, _clean(again)[-3000:]
    status = _run(url, "status")
    assert status.returncode == 0 and "termination protection: off" in status.stdout, _clean(status)

    # termination protection (what `up` sets on AWS): down refuses, and never turns it off
    cfn = aws("cloudformation")
    cfn.update_termination_protection(StackName=STACK, EnableTerminationProtection=True)
    refused = _run(url, "down")
    assert refused.returncode == 4 and "termination protection is on" in _clean(refused), refused.stderr
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["EnableTerminationProtection"] is True
    cfn.update_termination_protection(StackName=STACK, EnableTerminationProtection=False)

    down = _run(url, "down", "--purge-retained")
    assert down.returncode == 0, _clean(down)[-3000:]
    assert "purged retained bucket payments-account-trail-" in down.stdout, down.stdout
    assert "purged retained bucket payments-account-trail-access-" in down.stdout, down.stdout

    # one AWS Config recorder per region: one made outside the stack makes `up` refuse, nothing created
    config = aws("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::000000000000:role/x"}
    )
    recorded = _run(url, "up")
    out = _clean(recorded)
    assert recorded.returncode == 4 and "AWS Config recorder default" in out, out[-3000:]
    config.delete_configuration_recorder(ConfigurationRecorderName="default")

    # one detector per region: a detector made outside the stack makes `up` refuse, nothing created
    detector = aws("guardduty").create_detector(Enable=True)["DetectorId"]
    blocked = _run(url, "up")
    out = _clean(blocked)
    assert blocked.returncode == 4 and f"GuardDuty detector {detector}" in out, out[-3000:]
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == STACK and
                s["StackStatus"] != "DELETE_COMPLETE"]  # fmt: skip
    emulator.reset()


def test_a_second_region_records_config_and_widens_the_home_trail(emulator, aws, tmp_path):
    """An account's second region: its baseline records AWS Config (regional types) delivering to the home
    region's trail bucket, and the home trail, deployed before that region's environments existed, is updated
    to record their transaction buckets too."""
    import boto3
    import yaml

    emulator.reset()
    url = emulator.endpoint_url
    shipped = REPO / "deploy" / "environments"
    (tmp_path / "dev.yaml").write_text((shipped / "dev.yaml").read_text())
    env = {**_env(url), "PAYMENTS_ENVIRONMENTS_DIR": str(tmp_path)}
    run = lambda *a: subprocess.run([*ACCOUNT, *a], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
    home = run("up")
    assert home.returncode == 0, _clean(home)[-3000:]

    # a region added later: dev-b in us-east-2, its environment file with it
    data = yaml.safe_load((shipped / "dev.yaml").read_text())
    data["name"], data["region"] = "dev-b", "us-east-2"
    data["parameters"] |= {"EnvironmentSuffix": "b", "VpcCidr": "10.12.0.0/16"}
    (tmp_path / "dev-b.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    second = run("up", "--region", "us-east-2", "--env", "dev-b")
    out = _clean(second)
    assert second.returncode == 0, out[-3000:]
    assert "lives in us-east-1" in out and "updating the baseline there" in out, out[-3000:]

    selectors = aws("cloudtrail").get_event_selectors(TrailName="payments-account-trail")["AdvancedEventSelectors"]
    starts = [
        v for s in selectors for f in s["FieldSelectors"] if f["Field"] == "resources.ARN" for v in f["StartsWith"]
    ]
    assert sorted(starts) == ["arn:aws:s3:::payments-dev-b-txlogs-", "arn:aws:s3:::payments-dev-main-txlogs-"]
    there = boto3.client(
        "config", region_name="us-east-2", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test"
    )
    [recorder] = there.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is False  # global types: the home region only
    [channel] = there.describe_delivery_channels()["DeliveryChannels"]
    assert channel["s3BucketName"] == "payments-account-trail-000000000000-us-east-1", channel
    assert there.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]["recording"] is True
    [home_recorder] = aws("config").describe_configuration_recorders()["ConfigurationRecorders"]
    assert home_recorder["recordingGroup"]["includeGlobalResourceTypes"] is True

    again = run("up", "--region", "us-east-2", "--env", "dev-b")
    assert again.returncode == 0 and "updating the baseline there" not in _clean(again), _clean(again)[-3000:]
    emulator.reset()
