"""emulator/faithful/accesslogs.py and storage.py's logging: access logs are turned on only where AWS delivers.

Real emulator, real boto3: a load balancer turns access logging on into a bucket whose policy
lets Elastic Load Balancing deliver (accepted), one whose policy does not, one that does not
exist and one encrypted with SSE-KMS (each refused as AWS refuses: InvalidConfigurationRequest,
"Access Denied for bucket"); and a bucket's server access logging through the API and a template.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from emulator.faithful.accesslogs import ELB_SERVICE
from selftests.emulator.platform import settled_stack


def _subnets(ec2) -> list[str]:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]


def _bucket(s3, policy_for: str | None) -> str:
    name = f"logs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    if policy_for:
        statement = {
            "Effect": "Allow", "Principal": {"Service": policy_for}, "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{name}/alb/AWSLogs/000000000000/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}},
        }  # fmt: skip
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    return name


def _enable(elb, lb: str, bucket: str) -> None:
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb,
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": bucket},
            {"Key": "access_logs.s3.prefix", "Value": "alb"},
        ],
    )


@pytest.fixture(scope="module")
def lb(aws):
    elb = aws("elbv2")
    name = f"al{uuid.uuid4().hex[:8]}"
    return elb.create_load_balancer(Name=name, Subnets=_subnets(aws("ec2")))["LoadBalancers"][0]["LoadBalancerArn"]


def _attributes(elb, arn: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}


def test_access_logging_into_a_bucket_that_lets_elb_deliver_is_accepted(aws, lb):
    bucket = _bucket(aws("s3"), ELB_SERVICE)
    _enable(aws("elbv2"), lb, bucket)
    seen = _attributes(aws("elbv2"), lb)
    assert (seen["access_logs.s3.enabled"], seen["access_logs.s3.bucket"]) == ("true", bucket)


@pytest.mark.parametrize("case", ["no policy", "another principal", "no such bucket", "SSE-KMS"])
def test_access_logging_aws_could_not_deliver_is_refused(aws, lb, case):
    s3, elb = aws("s3"), aws("elbv2")
    before = _attributes(elb, lb)
    if case == "no such bucket":
        bucket = f"missing-{uuid.uuid4().hex[:8]}"
    else:
        bucket = _bucket(
            s3, {"no policy": None, "another principal": "logging.s3.amazonaws.com"}.get(case, ELB_SERVICE)
        )
    if case == "SSE-KMS":
        key = aws("kms").create_key()["KeyMetadata"]["Arn"]
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
            },
        )
    with pytest.raises(ClientError) as refused:
        _enable(elb, lb, bucket)
    assert refused.value.response["Error"]["Code"] == "InvalidConfigurationRequest"
    assert f"Access Denied for bucket: {bucket}" in refused.value.response["Error"]["Message"]
    assert _attributes(elb, lb) == before  # nothing of the refused request was stored


def test_server_access_logging_into_a_missing_bucket_is_refused(aws):
    s3 = aws("s3")
    source = _bucket(s3, None)
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_logging(
            Bucket=source,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": f"missing-{source}", "TargetPrefix": "s3/"}},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidTargetBucketForLogging"


TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
Resources:
  Logs:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub '${Name}-logs'}
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub '${Name}-data'
      LoggingConfiguration: {DestinationBucketName: !Ref Logs, LogFilePrefix: s3/}
"""


def test_a_template_bucket_logs_where_it_declares(aws):
    cf, name = aws("cloudformation"), f"sal{uuid.uuid4().hex[:8]}"
    cf.create_stack(
        StackName=name, TemplateBody=TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": name}]
    )
    stack = settled_stack(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    enabled = aws("s3").get_bucket_logging(Bucket=f"{name}-data")["LoggingEnabled"]
    assert enabled == {"TargetBucket": f"{name}-logs", "TargetPrefix": "s3/"}
