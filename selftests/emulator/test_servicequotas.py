"""emulator/faithful/servicequotas.py: the EIP quota served per region, and AllocateAddress refusing past it."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest


def _client(emulator, service: str, region: str):
    return boto3.client(
        service, region_name=region, endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


def test_eip_quota_is_aws_default_in_every_region(emulator):
    for region in ("us-east-1", "us-west-2"):
        sq = _client(emulator, "service-quotas", region)
        quota = sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]
        # the emulated account stands in for the three environments' accounts: 3 x AWS's default
        assert quota["Value"] == 15.0 and quota["QuotaName"] == "EC2-VPC Elastic IPs"
        assert f":{region}:" in quota["QuotaArn"]
        default = sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]
        assert default["Value"] == 5.0
    listed = {q["QuotaCode"]: q["Value"] for q in sq.list_service_quotas(ServiceCode="ec2")["Quotas"]}
    assert listed == {"L-0263D0A3": 15.0}
    nat = sq.get_aws_default_service_quota(ServiceCode="vpc", QuotaCode="L-FE5A380F")["Quota"]
    assert nat["Value"] == 5.0 and nat["QuotaName"] == "NAT gateways per Availability Zone"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-NOPE")
    assert caught.value.response["Error"]["Code"] == "NoSuchResourceException"


def test_addresses_are_per_region_and_run_out_at_the_quota(emulator):
    emulator.reset()
    east, west = _client(emulator, "ec2", "us-east-1"), _client(emulator, "ec2", "us-west-2")
    for _ in range(15):
        east.allocate_address(Domain="vpc")
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        east.allocate_address(Domain="vpc")
    assert caught.value.response["Error"]["Code"] == "AddressLimitExceeded"
    assert len(east.describe_addresses()["Addresses"]) == 15
    assert west.describe_addresses()["Addresses"] == []
    west.allocate_address(Domain="vpc")  # another region has its own quota
    emulator.reset()
