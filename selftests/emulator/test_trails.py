"""emulator/faithful/trails.py: AWS's bucket refusals for a trail, delivery seen by GetTrailStatus, the drift calls."""

from __future__ import annotations

import gzip
import json

import pytest
from botocore.exceptions import ClientError

BUCKET = "trail-selftest-logs"


def _policy(bucket: str, prefix: str = "") -> str:
    logs = f"arn:aws:s3:::{bucket}/{prefix + '/' if prefix else ''}AWSLogs/000000000000/*"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": logs, "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
    ]})  # fmt: skip


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_trail_refused_without_bucket_or_policy(emulator, aws):
    emulator.reset()
    s3, ct = aws("s3"), aws("cloudtrail")
    with pytest.raises(ClientError) as missing:
        ct.create_trail(Name="t", S3BucketName=BUCKET)
    assert _code(missing) == "S3BucketDoesNotExistException"
    s3.create_bucket(Bucket=BUCKET)
    with pytest.raises(ClientError) as no_policy:
        ct.create_trail(Name="t", S3BucketName=BUCKET)
    assert _code(no_policy) == "InsufficientS3BucketPolicyException"
    s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy(BUCKET))
    with pytest.raises(ClientError) as other_prefix:  # the policy grants AWSLogs/ at the root only
        ct.create_trail(Name="t", S3BucketName=BUCKET, S3KeyPrefix="audit")
    assert _code(other_prefix) == "InsufficientS3BucketPolicyException"
    ct.create_trail(Name="t", S3BucketName=BUCKET)
    with pytest.raises(ClientError) as update:
        ct.update_trail(Name="t", S3KeyPrefix="audit")
    assert _code(update) == "InsufficientS3BucketPolicyException"
    emulator.reset()


def test_tls_only_bucket_policy_admits_cloudtrail(emulator, aws):
    """CloudTrail writes over HTTPS: a TLS-only deny (aws:SecureTransport false) beside its grants does not
    refuse it, as on AWS (the account baseline's trail bucket has one)."""
    emulator.reset()
    s3, ct = aws("s3"), aws("cloudtrail")
    s3.create_bucket(Bucket=BUCKET)
    policy = json.loads(_policy(BUCKET))
    policy["Statement"].insert(0, {
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })  # fmt: skip
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    ct.create_trail(Name="t", S3BucketName=BUCKET)
    emulator.reset()


def test_logging_trail_delivers_and_the_drift_calls_show(emulator, aws):
    emulator.reset()
    s3, ct = aws("s3"), aws("cloudtrail")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy(BUCKET))
    group = "arn:aws:logs:us-east-1:000000000000:log-group:trail:*"
    role = "arn:aws:iam::000000000000:role/trail-to-logs"
    created = ct.create_trail(Name="t", S3BucketName=BUCKET, IsMultiRegionTrail=True, EnableLogFileValidation=True,
                              CloudWatchLogsLogGroupArn=group, CloudWatchLogsRoleArn=role)  # fmt: skip
    assert created["CloudWatchLogsLogGroupArn"] == group
    assert ct.get_trail_status(Name="t")["IsLogging"] is False
    assert "LatestDeliveryTime" not in ct.get_trail_status(Name="t")
    ct.start_logging(Name="t")
    status = ct.get_trail_status(Name="t")
    assert status["IsLogging"] is True and status["LatestDeliveryTime"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("AWSLogs/000000000000/CloudTrail/us-east-1/")
    assert keys[0].endswith(".json.gz")
    records = json.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read()))["Records"]
    assert records[0]["eventName"] == "StartLogging"
    trail = ct.describe_trails(trailNameList=["t"])["trailList"][0]
    assert (trail["IsMultiRegionTrail"], trail["LogFileValidationEnabled"]) == (True, True)
    assert trail["CloudWatchLogsLogGroupArn"] == group and trail["CloudWatchLogsRoleArn"] == role

    data_events = [
        {"Name": "Management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {"Name": "Objects", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{BUCKET}/"]},
        ]},
    ]  # fmt: skip
    for refused in (
        [{"Name": "no category", "FieldSelectors": [{"Field": "eventName", "Equals": ["PutObject"]}]}],
        [{"Name": "no type", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}],
    ):
        with pytest.raises(ClientError) as caught:
            ct.put_event_selectors(TrailName="t", AdvancedEventSelectors=refused)
        assert _code(caught) == "InvalidEventSelectorsException"
    ct.put_event_selectors(TrailName="t", AdvancedEventSelectors=data_events)
    assert ct.get_event_selectors(TrailName="t")["AdvancedEventSelectors"] == data_events
    # the drifts a suite uses: validation and multi-Region off, logging stopped, data events dropped
    ct.update_trail(Name="t", EnableLogFileValidation=False, IsMultiRegionTrail=False)
    ct.stop_logging(Name="t")
    ct.put_event_selectors(TrailName="t", AdvancedEventSelectors=data_events[:1])
    trail = ct.describe_trails(trailNameList=["t"])["trailList"][0]
    assert (trail["IsMultiRegionTrail"], trail["LogFileValidationEnabled"]) == (False, False)
    assert ct.get_trail_status(Name="t")["IsLogging"] is False
    assert ct.get_event_selectors(TrailName="t")["AdvancedEventSelectors"] == data_events[:1]

    s3.delete_bucket_policy(Bucket=BUCKET)  # the bucket no longer lets CloudTrail write
    ct.start_logging(Name="t")
    assert ct.get_trail_status(Name="t")["LatestDeliveryError"] == "AccessDenied"
    emulator.reset()


def test_trail_key_must_exist_and_let_cloudtrail_encrypt(emulator, aws):
    emulator.reset()
    s3, ct, kms = aws("s3"), aws("cloudtrail"), aws("kms")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy(BUCKET))
    missing = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as no_key:
        ct.create_trail(Name="t", S3BucketName=BUCKET, KmsKeyId=missing)
    assert _code(no_key) == "KmsKeyNotFoundException"
    default_policy_key = kms.create_key()["KeyMetadata"]["Arn"]  # the default key policy names no service
    with pytest.raises(ClientError) as no_grant:
        ct.create_trail(Name="t", S3BucketName=BUCKET, KmsKeyId=default_policy_key)
    assert _code(no_grant) == "InsufficientEncryptionPolicyException"
    trail_arn = "arn:aws:cloudtrail:us-east-1:000000000000:trail/t"
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*",
         "Resource": "*", "Condition": {
             "StringEquals": {"aws:SourceArn": trail_arn},
             "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:000000000000:trail/*"}}},
    ]}  # fmt: skip
    key = kms.create_key(Policy=json.dumps(grant))["KeyMetadata"]
    created = ct.create_trail(Name="t", S3BucketName=BUCKET, KmsKeyId=key["KeyId"])
    assert created["KmsKeyId"] == key["Arn"]
    with pytest.raises(ClientError) as update:
        ct.update_trail(Name="t", KmsKeyId=default_policy_key)
    assert _code(update) == "InsufficientEncryptionPolicyException"
    emulator.reset()
