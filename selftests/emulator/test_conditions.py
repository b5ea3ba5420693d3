"""emulator/faithful/conditions.py: a template's conditions read the pseudo parameters, as on AWS.

Real emulator, real boto3: one template's conditions on ``AWS::Region``, ``AWS::AccountId`` and
``AWS::Partition`` decide an output each and whether a resource exists, created in us-east-1 and
in eu-west-1 (MiniStack compared the pseudo parameter's name, so every such condition was false).
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from selftests.emulator.platform import settled_stack

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Conditions:
  InUsEast1: !Equals [!Ref 'AWS::Region', us-east-1]
  InOneOfTwo: !Or [!Equals [!Ref 'AWS::Region', eu-west-1], !Condition InUsEast1]
  ThisAccount: !Equals [!Ref 'AWS::AccountId', '000000000000']
  Commercial: !Equals [!Ref 'AWS::Partition', aws]
Resources:
  OnlyInUsEast1:
    Type: AWS::SNS::Topic
    Condition: InUsEast1
  Always:
    Type: AWS::SNS::Topic
Outputs:
  InUsEast1: {Value: !If [InUsEast1, 'yes', 'no']}
  InOneOfTwo: {Value: !If [InOneOfTwo, 'yes', 'no']}
  ThisAccount: {Value: !If [ThisAccount, 'yes', 'no']}
  Commercial: {Value: !If [Commercial, 'yes', 'no']}
"""


@pytest.mark.parametrize(("region", "in_us_east_1"), [("us-east-1", "yes"), ("eu-west-1", "no")])
def test_conditions_read_the_region_the_account_and_the_partition(emulator, region, in_us_east_1):
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    cfn = session.client("cloudformation", endpoint_url=emulator.endpoint_url)
    name = f"cond{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE)
    stack = settled_stack(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    assert outputs == {"InUsEast1": in_us_east_1, "InOneOfTwo": "yes", "ThisAccount": "yes", "Commercial": "yes"}
    resources = {r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName=name)["StackResources"]}
    assert resources == ({"OnlyInUsEast1", "Always"} if in_us_east_1 == "yes" else {"Always"})
