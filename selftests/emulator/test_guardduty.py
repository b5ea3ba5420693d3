"""emulator/faithful/guardduty.py: the detector API with AWS's defaults, one detector per Region, and its refusals."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError


def _features(detector: dict) -> dict[str, str]:
    return {f["Name"]: f["Status"] for f in detector["Features"]}


def test_detector_defaults_features_and_one_per_region(emulator, aws):
    emulator.reset()
    gd = aws("guardduty")
    assert gd.list_detectors()["DetectorIds"] == []
    runtime = {
        "Name": "RUNTIME_MONITORING",
        "Status": "ENABLED",
        "AdditionalConfiguration": [{"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "ENABLED"}],
    }
    detector_id = gd.create_detector(Enable=True, Features=[runtime])["DetectorId"]
    assert gd.list_detectors()["DetectorIds"] == [detector_id]
    detector = gd.get_detector(DetectorId=detector_id)
    assert detector["Status"] == "ENABLED" and detector["FindingPublishingFrequency"] == "SIX_HOURS"
    features = _features(detector)
    # AWS's defaults for a detector created through the API, the request's feature on top
    assert features["S3_DATA_EVENTS"] == features["CLOUD_TRAIL"] == "ENABLED"
    assert features["RUNTIME_MONITORING"] == "ENABLED" and features["EKS_RUNTIME_MONITORING"] == "DISABLED"
    rm = next(f for f in detector["Features"] if f["Name"] == "RUNTIME_MONITORING")
    extras = {c["Name"]: c["Status"] for c in rm["AdditionalConfiguration"]}
    assert extras == {"ECS_FARGATE_AGENT_MANAGEMENT": "ENABLED", "EKS_ADDON_MANAGEMENT": "DISABLED",
                      "EC2_AGENT_MANAGEMENT": "DISABLED"}  # fmt: skip
    assert detector["DataSources"]["S3Logs"]["Status"] == "ENABLED"

    with pytest.raises(ClientError) as second:
        gd.create_detector(Enable=True)
    assert second.value.response["Error"]["Code"] == "BadRequestException"
    assert "already exists" in second.value.response["Error"]["Message"]

    gd.update_detector(DetectorId=detector_id, Features=[{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}])
    detector = gd.get_detector(DetectorId=detector_id)
    assert _features(detector)["S3_DATA_EVENTS"] == "DISABLED"
    assert detector["DataSources"]["S3Logs"]["Status"] == "DISABLED"
    gd.update_detector(DetectorId=detector_id, Enable=False)
    assert gd.get_detector(DetectorId=detector_id)["Status"] == "DISABLED"

    with pytest.raises(ClientError) as unknown:
        gd.update_detector(DetectorId=detector_id, Features=[{"Name": "CLOUD_TRAIL", "Status": "DISABLED"}])
    assert unknown.value.response["Error"]["Code"] == "BadRequestException"

    west = boto3.client("guardduty", region_name="us-west-2", endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    assert west.list_detectors()["DetectorIds"] == []  # a Region has its own detector
    gd.delete_detector(DetectorId=detector_id)
    assert gd.list_detectors()["DetectorIds"] == []
    with pytest.raises(ClientError) as gone:
        gd.get_detector(DetectorId=detector_id)
    assert gone.value.response["Error"]["Code"] == "BadRequestException"
    emulator.reset()
