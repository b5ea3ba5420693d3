"""emulator/faithful/aws_timing.py: AWS-like drift detection time, latency and throttling, only on request.

A real emulator process started with FAITHFUL_AWS_TIMING (a short drift detection, a small
bucket), real boto3 calls; and the session's emulator, started without it, shows that nothing
changes unless the variable is set.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from emulator.launcher import Emulator

STATS = "/_faithful/aws-timing"


@pytest.fixture(scope="module")
def timed() -> Iterator[Emulator]:
    with pytest.MonkeyPatch.context() as mp:
        # drift 2 s, 80 ms median latency, buckets at 5 % (EC2 non-mutating: 5 tokens, 1 per second)
        mp.setenv("FAITHFUL_AWS_TIMING", "drift_seconds=2,latency_ms=80,throttle_scale=0.05")
        emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()


def _client(url: str, service: str, attempts: int = 1) -> Any:
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=url, aws_access_key_id="test",
        aws_secret_access_key="test", config=config,
    )  # fmt: skip


def test_latency_is_lognormal_around_the_median(timed):
    sts = _client(timed.endpoint_url, "sts", attempts=3)
    took = []
    for _ in range(4):  # within the small bucket: none throttled
        t0 = time.perf_counter()
        sts.get_caller_identity()
        took.append(time.perf_counter() - t0)
    assert 0.05 < statistics.median(took) < 0.3, took


def test_ec2_describes_are_throttled_when_the_bucket_is_empty(timed):
    ec2 = _client(timed.endpoint_url, "ec2")
    codes = []
    for _ in range(12):
        try:
            ec2.describe_vpcs()
            codes.append("ok")
        except botocore.exceptions.ClientError as exc:
            codes.append(f"{exc.response['Error']['Code']} {exc.response['ResponseMetadata']['HTTPStatusCode']}")
    assert "RequestLimitExceeded 503" in codes and codes[0] == "ok", codes
    stats = requests.get(timed.endpoint_url + STATS, timeout=5).json()
    assert stats["throttled"].get("ec2 non-mutating", 0) >= 1, stats


def test_drift_detection_takes_the_configured_time(timed):
    cfn = _client(timed.endpoint_url, "cloudformation", attempts=5)
    cfn.create_stack(
        StackName="timing", TemplateBody='{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while cfn.describe_stacks(StackName="timing")["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    t0 = time.monotonic()
    detection = cfn.detect_stack_drift(StackName="timing")["StackDriftDetectionId"]
    first = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    assert first["DetectionStatus"] == "DETECTION_IN_PROGRESS", first
    while True:
        status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            break
        assert time.monotonic() - t0 < 10, status
        time.sleep(0.2)
    assert time.monotonic() - t0 >= 2.0
    assert status["DetectionStatus"] == "DETECTION_COMPLETE" and status["StackDriftStatus"] == "IN_SYNC", status
    stats = requests.get(timed.endpoint_url + STATS, timeout=5).json()
    assert any(s >= 2.0 for s in stats["drift_detection_seconds"]), stats


def test_off_without_the_variable(emulator, aws):
    """The session's emulator (no FAITHFUL_AWS_TIMING): no stats page, no throttling, drift at once."""
    assert '"calls"' not in requests.get(emulator.endpoint_url + STATS, timeout=5).text  # MiniStack's S3 answers
    ec2 = _client(emulator.endpoint_url, "ec2")
    for _ in range(30):
        ec2.describe_vpcs()
