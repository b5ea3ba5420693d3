"""emulator/faithful/securityhub.py: the hub, AWS's standards ARNs, subscriptions, and InvalidAccessException."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

PCI_401 = "arn:aws:securityhub:us-east-1::standards/pci-dss/v/4.0.1"
CIS_300 = "arn:aws:securityhub:us-east-1::standards/cis-aws-foundations-benchmark/v/3.0.0"
FSBP = "arn:aws:securityhub:us-east-1::standards/aws-foundational-security-best-practices/v/1.0.0"


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_no_hub_is_invalid_access(emulator, aws):
    emulator.reset()
    sh = aws("securityhub")
    for call in (sh.describe_hub, sh.get_enabled_standards, sh.disable_security_hub):
        with pytest.raises(ClientError) as caught:
            call()
        assert _code(caught) == "InvalidAccessException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_hub_default_standards_and_batch_enable_disable(emulator, aws):
    emulator.reset()
    sh = aws("securityhub")
    sh.enable_security_hub()  # EnableDefaultStandards defaults to true, as on AWS
    hub = sh.describe_hub()
    assert hub["HubArn"] == "arn:aws:securityhub:us-east-1:000000000000:hub/default"
    enabled = {s["StandardsArn"]: s for s in sh.get_enabled_standards()["StandardsSubscriptions"]}
    assert set(enabled) == {FSBP, "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0"}
    assert all(s["StandardsStatus"] == "READY" for s in enabled.values())
    with pytest.raises(ClientError) as again:
        sh.enable_security_hub()
    assert _code(again) == "ResourceConflictException"

    catalogue = {s["StandardsArn"] for s in sh.describe_standards()["Standards"]}
    assert {PCI_401, CIS_300, "arn:aws:securityhub:us-east-1::standards/pci-dss/v/3.2.1", FSBP} <= catalogue
    answered = sh.batch_enable_standards(
        StandardsSubscriptionRequests=[{"StandardsArn": PCI_401}, {"StandardsArn": CIS_300}]
    )["StandardsSubscriptions"]
    arns = [s["StandardsSubscriptionArn"] for s in answered]
    assert arns == [
        "arn:aws:securityhub:us-east-1:000000000000:subscription/pci-dss/v/4.0.1",
        "arn:aws:securityhub:us-east-1:000000000000:subscription/cis-aws-foundations-benchmark/v/3.0.0",
    ]
    assert {s["StandardsStatus"] for s in answered} == {"PENDING"}
    ready = sh.get_enabled_standards(StandardsSubscriptionArns=arns)["StandardsSubscriptions"]
    assert [(s["StandardsArn"], s["StandardsStatus"]) for s in ready] == [(PCI_401, "READY"), (CIS_300, "READY")]
    with pytest.raises(ClientError) as unknown:
        sh.batch_enable_standards(StandardsSubscriptionRequests=[{"StandardsArn": PCI_401.replace("4.0.1", "9")}])
    assert _code(unknown) == "InvalidInputException"

    gone = sh.batch_disable_standards(StandardsSubscriptionArns=arns[:1])["StandardsSubscriptions"]
    assert gone[0]["StandardsStatus"] == "DELETING"
    left = {s["StandardsArn"] for s in sh.get_enabled_standards()["StandardsSubscriptions"]}
    assert PCI_401 not in left and CIS_300 in left
    sh.disable_security_hub()
    with pytest.raises(ClientError) as off:
        sh.describe_hub()
    assert _code(off) == "InvalidAccessException"
