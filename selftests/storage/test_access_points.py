"""S3 Control on the emulator: the suite's session reaches it without the account host label.

Real emulator, real boto3 through core.aws.AwsSession: botocore addresses S3 Control at
``<account>.<endpoint host>``, which for 127.0.0.1 resolves nowhere; the session drops the label
for an endpoint URL only. Then the reads of conformance/inventory/storage.py answer AWS's shapes:
ListAccessPoints for the bucket, GetAccessPoint (public-access blocks), GetAccessPointPolicy
(NoSuchAccessPointPolicy when there is none).
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from core.aws import AwsSession


def test_access_points_are_read_through_the_suites_session(emulator):
    aws = AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)
    s3, s3control = aws.client("s3"), aws.client("s3control")
    account = aws.client("sts").get_caller_identity()["Account"]
    bucket = f"ap-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    assert s3control.list_access_points(AccountId=account, Bucket=bucket)["AccessPointList"] == []
    arn = s3control.create_access_point(AccountId=account, Name=f"{bucket}-door", Bucket=bucket)["AccessPointArn"]
    assert arn == f"arn:aws:s3:us-east-1:{account}:accesspoint/{bucket}-door"
    listed = s3control.list_access_points(AccountId=account, Bucket=bucket)["AccessPointList"]
    assert [(p["Name"], p["Bucket"], p["NetworkOrigin"]) for p in listed] == [(f"{bucket}-door", bucket, "Internet")]
    point = s3control.get_access_point(AccountId=account, Name=f"{bucket}-door")
    assert point["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    with pytest.raises(ClientError) as error:
        s3control.get_access_point_policy(AccountId=account, Name=f"{bucket}-door")
    assert error.value.response["Error"]["Code"] == "NoSuchAccessPointPolicy"
    grant = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "s3:GetObject",
             "Resource": f"{arn}/object/*"}  # fmt: skip
    s3control.put_access_point_policy(
        AccountId=account, Name=f"{bucket}-door", Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    )
    policy = s3control.get_access_point_policy(AccountId=account, Name=f"{bucket}-door")["Policy"]
    assert json.loads(policy)["Statement"] == [grant]
    assert s3control.list_access_points(AccountId=account, Bucket=f"{bucket}-other")["AccessPointList"] == []


def test_the_label_stays_on_aws(monkeypatch):
    """Without an endpoint URL the request goes to <account>.s3-control.<region>.amazonaws.com, as on AWS
    (stopped before it is signed: nothing is sent)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    aws = AwsSession(region="us-east-1")
    seen: list[str] = []

    def stop(request, **_):
        seen.append(request.url)
        raise RuntimeError("not sent")

    client = aws.client("s3control")
    client.meta.events.register("before-sign.s3-control.*", stop)
    with pytest.raises(RuntimeError, match="not sent"):
        client.list_access_points(AccountId="123456789012", Bucket="b-b-b")
    assert seen and seen[0].startswith("https://123456789012.s3-control.us-east-1.amazonaws.com/")
