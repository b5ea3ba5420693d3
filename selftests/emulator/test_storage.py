"""Self-tests of ``emulator/faithful/storage.py`` (and the KMS facts ``kms.py`` relies on).

Real emulator process, real boto3: a stack with a customer-managed key, its alias, and the
transaction-logs bucket as the platform declares it (SSE-KMS with bucket key, versioning,
public access blocks, owner-enforced ownership, lifecycle rules, TLS-only policy, tags);
then S3 calls, object writes, API drifts and a stack update.
"""

from __future__ import annotations

import json
import uuid

import pytest

from selftests.emulator.platform import settled_stack

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
  ArchiveDays: {Type: Number, Default: 90}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: payments environment key
      EnableKeyRotation: true
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}
            Action: 'kms:*'
            Resource: '*'
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: !Sub 'alias/${Name}'
      TargetKeyId: !Ref Key
  Bucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties:
      BucketName: !Sub '${Name}-transaction-logs'
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms', KMSMasterKeyID: !GetAtt Key.Arn}
            BucketKeyEnabled: true
      VersioningConfiguration: {Status: Enabled}
      PublicAccessBlockConfiguration:
        {BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}
      OwnershipControls:
        Rules: [{ObjectOwnership: BucketOwnerEnforced}]
      LifecycleConfiguration:
        Rules:
          - Id: archive
            Status: Enabled
            Transitions: [{StorageClass: GLACIER, TransitionInDays: !Ref ArchiveDays}]
            NoncurrentVersionExpiration: {NoncurrentDays: 365}
            AbortIncompleteMultipartUpload: {DaysAfterInitiation: 7}
          - Id: tmp
            Status: Enabled
            Prefix: tmp/
            ExpirationInDays: 1
      Tags:
        - {Key: Application, Value: payments}
        - {Key: ManagedBy, Value: cloudformation}
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Sid: DenyInsecureTransport
            Effect: Deny
            Principal: '*'
            Action: 's3:*'
            Resource: [!GetAtt Bucket.Arn, !Sub '${Bucket.Arn}/*']
            Condition: {Bool: {'aws:SecureTransport': 'false'}}
Outputs:
  Bucket: {Value: !Ref Bucket}
  KeyArn: {Value: !GetAtt Key.Arn}
  KeyId: {Value: !Ref Key}
"""


def _deploy(aws, name: str) -> dict[str, str]:
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name, TemplateBody=TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": name}]
    )
    stack = settled_stack(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    outputs["Name"] = name
    return outputs


@pytest.fixture(scope="module")
def stack(aws):
    return _deploy(aws, f"fs3{uuid.uuid4().hex[:8]}")


def test_bucket_encryption_from_template(aws, stack):
    rules = aws("s3").get_bucket_encryption(Bucket=stack["Bucket"])["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules == [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": stack["KeyArn"],
            },
            "BucketKeyEnabled": True,
        }
    ]


def test_object_without_headers_gets_the_bucket_default(aws, stack):
    s3 = aws("s3")
    put = s3.put_object(Bucket=stack["Bucket"], Key="logs/a.json", Body=b"{}")
    assert put["ServerSideEncryption"] == "aws:kms"
    head = s3.head_object(Bucket=stack["Bucket"], Key="logs/a.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == stack["KeyArn"]
    assert head["BucketKeyEnabled"] is True


def test_explicit_kms_key_id_reported_as_arn(aws, stack):
    s3 = aws("s3")
    s3.put_object(
        Bucket=stack["Bucket"],
        Key="logs/b.json",
        Body=b"{}",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=stack["KeyId"],
        BucketKeyEnabled=False,
    )
    head = s3.head_object(Bucket=stack["Bucket"], Key="logs/b.json")
    assert head["SSEKMSKeyId"] == stack["KeyArn"]
    assert not head.get("BucketKeyEnabled", False)


def test_bucket_settings_from_template(aws, stack):
    s3 = aws("s3")
    bucket = stack["Bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Statement"][0]["Effect"] == "Deny"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["Application"] == "payments"
    assert tags["ManagedBy"] == "cloudformation"
    assert tags["aws:cloudformation:stack-name"] == stack["Name"]


def test_lifecycle_from_template(aws, stack):
    rules = {r["ID"]: r for r in aws("s3").get_bucket_lifecycle_configuration(Bucket=stack["Bucket"])["Rules"]}
    assert rules["archive"]["Status"] == "Enabled"
    assert rules["archive"]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]
    assert rules["archive"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 365
    assert rules["archive"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rules["tmp"]["Filter"] == {"Prefix": "tmp/"}
    assert rules["tmp"]["Expiration"]["Days"] == 1


def test_kms_key_facts(aws, stack):
    kms = aws("kms")
    key = kms.describe_key(KeyId=stack["KeyArn"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert key["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=stack["KeyArn"])["KeyRotationEnabled"] is True
    aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=stack["KeyArn"])["Aliases"]]
    assert aliases == [f"alias/{stack['Name']}"]


def test_drifts_through_the_api(aws):
    out = _deploy(aws, f"fs3{uuid.uuid4().hex[:8]}")
    s3, kms, cf = aws("s3"), aws("kms"), aws("cloudformation")
    bucket = out["Bucket"]

    s3.delete_bucket_encryption(Bucket=bucket)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    s3.put_object(Bucket=bucket, Key="after-delete", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="after-delete")
    assert head["ServerSideEncryption"] == "AES256"  # SSE-S3, every bucket's base level
    assert "SSEKMSKeyId" not in head

    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "Application", "Value": "drifted"}]})
    kms.disable_key_rotation(KeyId=out["KeyArn"])
    assert kms.get_key_rotation_status(KeyId=out["KeyArn"])["KeyRotationEnabled"] is False

    # A stack update that changes only the lifecycle writes only the lifecycle.
    cf.update_stack(
        StackName=out["Name"],
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Name", "UsePreviousValue": True},
            {"ParameterKey": "ArchiveDays", "ParameterValue": "30"},
        ],
    )
    assert settled_stack(cf, out["Name"])["StackStatus"] == "UPDATE_COMPLETE"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["archive"]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER"}]
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "Application", "Value": "drifted"}]
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert enc[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
