"""emulator/faithful/accesslogs.py and storage.py's logging: access logs are turned on only where AWS delivers.

Real emulator, real boto3: a load balancer turns access logging on into a bucket whose policy
lets Elastic Load Balancing deliver as AWS documents it for the Region (accepted: the Region's ELB
account in us-east-1, opened before August 2022; the service principal in ap-southeast-5, opened
after), one whose policy grants the other form or another account, no policy, a bucket that does
not exist and one encrypted with SSE-KMS (each refused as AWS refuses: InvalidConfigurationRequest,
"Access Denied for bucket"); and a bucket's server access logging through the API and a template.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from core.logdelivery import ELB_LOG_DELIVERY_ACCOUNTS
from emulator.faithful.accesslogs import ELB_ACCOUNTS, ELB_SERVICE
from selftests.emulator.platform import settled_stack

US_EAST_1_ELB = {"AWS": "arn:aws:iam::127311923021:root"}
NEW_REGION = "ap-southeast-5"  # opened after August 2022: ELB delivers as its service principal


def _subnets(ec2, region: str = "us-east-1") -> list[str]:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]


def _bucket(s3, principal: dict[str, Any] | None) -> str:
    name = f"logs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    if principal:
        statement = {
            "Effect": "Allow", "Principal": principal, "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{name}/alb/AWSLogs/000000000000/*",
        }  # fmt: skip
        if "Service" in principal:
            statement["Condition"] = {"StringEquals": {"aws:SourceAccount": "000000000000"}}
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


@pytest.fixture(scope="module")
def new_region(emulator):
    """aws("elbv2") in NEW_REGION, and a load balancer there."""
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=NEW_REGION)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=emulator.endpoint_url)

    name = f"al{uuid.uuid4().hex[:8]}"
    arn = client("elbv2").create_load_balancer(Name=name, Subnets=_subnets(client("ec2"), NEW_REGION))
    return client, arn["LoadBalancers"][0]["LoadBalancerArn"]


def _attributes(elb, arn: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}


def test_the_regions_elb_account_table_is_the_suites():
    assert dict(ELB_LOG_DELIVERY_ACCOUNTS) == ELB_ACCOUNTS


@pytest.mark.parametrize("principal", [US_EAST_1_ELB, {"AWS": "127311923021"}])
def test_access_logging_into_a_bucket_that_lets_the_regions_elb_account_deliver_is_accepted(aws, lb, principal):
    bucket = _bucket(aws("s3"), principal)
    _enable(aws("elbv2"), lb, bucket)
    seen = _attributes(aws("elbv2"), lb)
    assert (seen["access_logs.s3.enabled"], seen["access_logs.s3.bucket"]) == ("true", bucket)


def test_in_a_later_region_the_service_principal_delivers_and_an_elb_account_does_not(aws, new_region):
    client, arn = new_region
    _enable(client("elbv2"), arn, _bucket(aws("s3"), {"Service": ELB_SERVICE}))
    assert _attributes(client("elbv2"), arn)["access_logs.s3.enabled"] == "true"
    refused_bucket = _bucket(aws("s3"), US_EAST_1_ELB)
    with pytest.raises(ClientError) as refused:
        _enable(client("elbv2"), arn, refused_bucket)
    assert f"Access Denied for bucket: {refused_bucket}" in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "case",
    [
        "no policy", "another principal", "the service principal in a Region opened before August 2022",
        "another Region's ELB account", "no such bucket", "SSE-KMS",
    ],
)  # fmt: skip
def test_access_logging_aws_could_not_deliver_is_refused(aws, lb, case):
    s3, elb = aws("s3"), aws("elbv2")
    before = _attributes(elb, lb)
    if case == "no such bucket":
        bucket = f"missing-{uuid.uuid4().hex[:8]}"
    else:
        principal = {
            "no policy": None,
            "another principal": {"Service": "logging.s3.amazonaws.com"},
            "the service principal in a Region opened before August 2022": {"Service": ELB_SERVICE},
            "another Region's ELB account": {"AWS": "arn:aws:iam::797873946194:root"},  # us-west-2's
        }.get(case, US_EAST_1_ELB)
        bucket = _bucket(s3, principal)
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
