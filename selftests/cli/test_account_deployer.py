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
    assert starts == ["arn:aws:s3:::payments-dev-main-txlogs-", "arn:aws:s3:::payments-staging-main-txlogs-"]

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

    # one detector per region: a detector made outside the stack makes `up` refuse, nothing created
    detector = aws("guardduty").create_detector(Enable=True)["DetectorId"]
    blocked = _run(url, "up")
    out = _clean(blocked)
    assert blocked.returncode == 4 and f"GuardDuty detector {detector}" in out, out[-3000:]
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == STACK and
                s["StackStatus"] != "DELETE_COMPLETE"]  # fmt: skip
    emulator.reset()
