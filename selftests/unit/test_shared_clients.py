"""Sessions share botocore clients where they would build identical ones, and each still counts
exactly its own calls (core.aws): a real emulator, real calls, paginated ones included."""

from __future__ import annotations

from typing import Any

from core import aws as aws_module
from core.aws import AwsSession, CallLog


def _shared(session: AwsSession, service: str) -> Any:
    return session.client(service)._client


def test_sessions_of_one_region_share_clients_and_count_their_own_calls(emulator: Any) -> None:
    before = dict(aws_module.UNATTRIBUTED.calls)
    dev = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url, call_log=CallLog())
    prod = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url, call_log=CallLog())
    other_region = AwsSession(region="us-east-2", endpoint_url=emulator.endpoint_url, call_log=CallLog())
    assert _shared(dev, "ec2") is _shared(prod, "ec2")
    assert _shared(dev, "ec2") is not _shared(other_region, "ec2")

    dev.client("ec2").describe_vpcs()
    for _ in dev.client("ec2").get_paginator("describe_subnets").paginate():
        pass
    prod.client("sts").get_caller_identity()
    prod.client("ec2").describe_vpcs()
    other_region.client("ec2").describe_vpcs()

    assert dict(dev.call_log.calls) == {"ec2:DescribeVpcs": 1, "ec2:DescribeSubnets": 1}
    assert dict(prod.call_log.calls) == {"sts:GetCallerIdentity": 1, "ec2:DescribeVpcs": 1}
    assert dict(other_region.call_log.calls) == {"ec2:DescribeVpcs": 1}
    assert dict(aws_module.UNATTRIBUTED.calls) == before


def test_a_session_with_its_own_configuration_gets_its_own_client(emulator: Any) -> None:
    default = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    patient = AwsSession(
        region="us-east-1", endpoint_url=emulator.endpoint_url, config=aws_module.client_config(read_timeout=99.0)
    )
    assert _shared(default, "s3") is not _shared(patient, "s3")
    assert _shared(patient, "s3").meta.config.read_timeout == 99.0
