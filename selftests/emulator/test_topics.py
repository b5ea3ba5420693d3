"""Self-tests of ``emulator/faithful/topics.py`` and of the resource policies the checks read.

Real emulator process, real boto3: SNS's default topic policy (API and CloudFormation), a
topic policy set and removed by a stack update, and the other resource policies the storage
check reads (KMS key policy, secret resource policy, bucket policy) as CloudFormation sets
them and as the API replaces them.
"""

from __future__ import annotations

import json
import uuid

import pytest

from selftests.emulator.platform import settled_stack

ACCOUNT = "000000000000"
ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]
OPEN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
  WithPolicy: {Type: String, Default: 'yes'}
Conditions:
  Policy: !Equals [!Ref WithPolicy, 'yes']
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: Root
            Effect: Allow
            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}
            Action: 'kms:*'
            Resource: '*'
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Ref Name
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Condition: Policy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Sid: AlarmsOnly
            Effect: Allow
            Principal: {Service: cloudwatch.amazonaws.com}
            Action: sns:Publish
            Resource: !Ref Topic
            Condition: {StringEquals: {'aws:SourceAccount': !Ref 'AWS::AccountId'}}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref Name
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Sid: TlsOnly
            Effect: Deny
            Principal: '*'
            Action: 's3:*'
            Resource: [!GetAtt Bucket.Arn, !Sub '${Bucket.Arn}/*']
            Condition: {Bool: {'aws:SecureTransport': 'false'}}
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Ref Name
      SecretString: not-a-secret
Outputs:
  TopicArn: {Value: !Ref Topic}
  KeyArn: {Value: !GetAtt Key.Arn}
  SecretArn: {Value: !Ref Secret}
"""


def _deploy(cf, name: str, with_policy: str, update: bool = False) -> dict:
    call = cf.update_stack if update else cf.create_stack
    call(
        StackName=name,
        TemplateBody=TEMPLATE,
        Parameters=[
            {"ParameterKey": "Name", "ParameterValue": name},
            {"ParameterKey": "WithPolicy", "ParameterValue": with_policy},
        ],
    )
    stack = settled_stack(cf, name)
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.fixture(scope="module")
def stack(aws):
    name = f"ftp{uuid.uuid4().hex[:8]}"
    outputs = _deploy(aws("cloudformation"), name, "yes")
    outputs["Name"] = name
    return outputs


def _topic_policy(aws, arn: str) -> dict:
    return json.loads(aws("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])


def _assert_default(policy: dict, arn: str) -> None:
    (statement,) = policy["Statement"]
    assert policy["Id"] == "__default_policy_ID"
    assert statement["Principal"] == {"AWS": "*"} and statement["Action"] == ACTIONS
    assert statement["Resource"] == arn
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}


def test_create_topic_gets_aws_default_policy(aws):
    arn = aws("sns").create_topic(Name=f"ftp-api-{uuid.uuid4().hex[:8]}")["TopicArn"]
    _assert_default(_topic_policy(aws, arn), arn)


def test_create_topic_keeps_a_policy_given_at_creation(aws):
    arn = aws("sns").create_topic(Name=f"ftp-api-{uuid.uuid4().hex[:8]}", Attributes={"Policy": json.dumps(OPEN)})[
        "TopicArn"
    ]
    assert _topic_policy(aws, arn) == OPEN


def test_topic_policy_set_by_cloudformation_then_default_again_when_removed(aws):
    cf = aws("cloudformation")
    name = f"ftp{uuid.uuid4().hex[:8]}"
    arn = _deploy(cf, name, "yes")["TopicArn"]
    assert [s["Sid"] for s in _topic_policy(aws, arn)["Statement"]] == ["AlarmsOnly"]
    _deploy(cf, name, "no", update=True)  # the TopicPolicy resource goes away
    _assert_default(_topic_policy(aws, arn), arn)
    cf.delete_stack(StackName=name)
    settled_stack(cf, name)


def test_set_topic_attributes_replaces_the_policy(aws, stack):
    aws("sns").set_topic_attributes(TopicArn=stack["TopicArn"], AttributeName="Policy", AttributeValue=json.dumps(OPEN))
    assert _topic_policy(aws, stack["TopicArn"]) == OPEN


def test_key_policy_as_cloudformation_set_it_and_as_put_key_policy_replaces_it(aws, stack):
    kms = aws("kms")
    policy = json.loads(kms.get_key_policy(KeyId=stack["KeyArn"], PolicyName="default")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["Root"]
    kms.put_key_policy(KeyId=stack["KeyArn"], PolicyName="default", Policy=json.dumps(OPEN))
    assert json.loads(kms.get_key_policy(KeyId=stack["KeyArn"], PolicyName="default")["Policy"]) == OPEN


def test_bucket_policy_as_cloudformation_set_it_and_as_put_bucket_policy_replaces_it(aws, stack):
    s3 = aws("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=stack["Name"])["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["TlsOnly"]
    s3.put_bucket_policy(Bucket=stack["Name"], Policy=json.dumps(OPEN))
    assert json.loads(s3.get_bucket_policy(Bucket=stack["Name"])["Policy"]) == OPEN


def test_secret_has_no_resource_policy_until_one_is_put(aws, stack):
    sm = aws("secretsmanager")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=stack["SecretArn"])
    sm.put_resource_policy(SecretId=stack["SecretArn"], ResourcePolicy=json.dumps(OPEN))
    assert json.loads(sm.get_resource_policy(SecretId=stack["SecretArn"])["ResourcePolicy"]) == OPEN
