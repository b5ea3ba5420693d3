"""emulator/faithful/configservice.py: AWS Config's order of recorder and channel, deletes, CloudFormation types."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from selftests.emulator.platform import settled_stack

ROLE = "arn:aws:iam::000000000000:role/config"
ALL = {"allSupported": True, "includeGlobalResourceTypes": True}


def _code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def test_recorder_and_channel_in_aws_order(emulator, aws):
    emulator.reset()
    cfg = aws("config")
    with pytest.raises(ClientError) as no_recorder:
        cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "b"})
    assert _code(no_recorder) == "NoAvailableConfigurationRecorderException"
    cfg.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": ROLE, "recordingGroup": ALL})
    with pytest.raises(ClientError) as second:
        cfg.put_configuration_recorder(ConfigurationRecorder={"name": "other", "roleARN": ROLE})
    assert _code(second) == "MaxNumberOfConfigurationRecordersExceededException"
    with pytest.raises(ClientError) as no_channel:
        cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    assert _code(no_channel) == "NoAvailableDeliveryChannelException"
    with pytest.raises(ClientError) as no_bucket:
        cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": ""})
    assert _code(no_bucket) == "NoSuchBucketException"
    cfg.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "b", "s3KeyPrefix": "config"})
    cfg.start_configuration_recorder(ConfigurationRecorderName="default")
    assert cfg.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]["recording"] is True
    with pytest.raises(ClientError) as running:
        cfg.delete_delivery_channel(DeliveryChannelName="default")
    assert _code(running) == "LastDeliveryChannelDeleteFailedException"
    cfg.stop_configuration_recorder(ConfigurationRecorderName="default")
    cfg.delete_delivery_channel(DeliveryChannelName="default")
    assert cfg.describe_delivery_channels()["DeliveryChannels"] == []
    with pytest.raises(ClientError) as gone:
        cfg.delete_delivery_channel(DeliveryChannelName="default")
    assert _code(gone) == "NoSuchDeliveryChannelException"
    cfg.delete_configuration_recorder(ConfigurationRecorderName="default")
    assert cfg.describe_configuration_recorders()["ConfigurationRecorders"] == []
    emulator.reset()


TEMPLATE = """
Resources:
  Recorder:
    Type: AWS::Config::ConfigurationRecorder
    Properties:
      RoleARN: arn:aws:iam::000000000000:role/config
      RecordingGroup:
        AllSupported: true
        IncludeGlobalResourceTypes: true
  Channel:
    Type: AWS::Config::DeliveryChannel
    DependsOn: Recorder
    Properties:
      S3BucketName: some-bucket
      S3KeyPrefix: config
      ConfigSnapshotDeliveryProperties:
        DeliveryFrequency: TwentyFour_Hours
Outputs:
  Recorder:
    Value: !Ref Recorder
"""


def test_stack_records_everything_and_starts_the_recorder(emulator, aws):
    emulator.reset()
    cf, cfg, name = aws("cloudformation"), aws("config"), f"cfg{uuid.uuid4().hex[:8]}"
    cf.create_stack(StackName=name, TemplateBody=TEMPLATE)
    stack = settled_stack(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    assert stack["Outputs"][0]["OutputValue"] == "default"
    [recorder] = cfg.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["roleARN"] == ROLE
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is True
    [status] = cfg.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True and status["lastStatus"] == "Success"
    [channel] = cfg.describe_delivery_channels()["DeliveryChannels"]
    assert (channel["s3BucketName"], channel["s3KeyPrefix"]) == ("some-bucket", "config")
    assert channel["configSnapshotDeliveryProperties"] == {"deliveryFrequency": "TwentyFour_Hours"}
    cf.delete_stack(StackName=name)
    settled_stack(cf, name)
    assert cfg.describe_configuration_recorders()["ConfigurationRecorders"] == []
    assert cfg.describe_delivery_channels()["DeliveryChannels"] == []
    emulator.reset()


def test_each_region_has_its_recorder_and_a_channel_may_name_another_regions_bucket(emulator, aws):
    """AWS Config is per region (one recorder each), and a delivery channel may write to a bucket of
    another region, as the account baseline's second region does (its home region's trail bucket)."""
    import boto3

    emulator.reset()
    home = "trail-bucket-us-east-1"
    aws("s3").create_bucket(Bucket=home)
    here, there = aws("config"), boto3.client(
        "config", region_name="us-east-2", endpoint_url=emulator.endpoint_url,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    here.put_configuration_recorder(ConfigurationRecorder={"name": "rec", "roleARN": ROLE, "recordingGroup": ALL})
    regional = {"allSupported": True, "includeGlobalResourceTypes": False}
    there.put_configuration_recorder(ConfigurationRecorder={"name": "rec", "roleARN": ROLE, "recordingGroup": regional})
    for cfg in (here, there):
        cfg.put_delivery_channel(DeliveryChannel={"name": "ch", "s3BucketName": home, "s3KeyPrefix": "config"})
        cfg.start_configuration_recorder(ConfigurationRecorderName="rec")
    [mine] = here.describe_configuration_recorders()["ConfigurationRecorders"]
    [theirs] = there.describe_configuration_recorders()["ConfigurationRecorders"]
    assert mine["recordingGroup"]["includeGlobalResourceTypes"] is True
    assert theirs["recordingGroup"]["includeGlobalResourceTypes"] is False
    assert there.describe_delivery_channels()["DeliveryChannels"][0]["s3BucketName"] == home
    assert there.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]["recording"] is True
    emulator.reset()
