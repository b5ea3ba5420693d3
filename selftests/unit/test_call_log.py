"""The call log's "identical request" count (the benchmark's no-repeated-request budget)."""

from __future__ import annotations

import socket

import boto3
import botocore.config
import botocore.exceptions
import pytest

from core.aws import CallLog


@pytest.fixture
def s3_to_nowhere():
    """A real S3 client whose requests are built and signed, then refused at once (a closed local port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )


def _send(client, **params):
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        client.get_bucket_encryption(**params)


def test_the_same_read_of_two_buckets_is_not_a_repeat(s3_to_nowhere):
    log = CallLog()
    s3_to_nowhere.meta.events.register("before-call.*.*", log._before_call)
    _send(s3_to_nowhere, Bucket="payments-dev-main-transaction-logs")
    _send(s3_to_nowhere, Bucket="payments-dev-main-accesslogs")
    assert log.repeated() == {}  # S3 keeps the bucket out of url_path: the old key counted this as 1
    _send(s3_to_nowhere, Bucket="payments-dev-main-accesslogs")
    assert log.repeated() == {"s3:GetBucketEncryption": 1}
