"""emulator/faithful/wafv2.py: a web ACL's association and logging, through CloudFormation and the API."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from selftests.emulator.platform import settled_stack

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
  LogGroupName: {Type: String}
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.8.0.0/16}}
  SubnetA: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.8.0.0/24, AvailabilityZone: us-east-1a}}
  SubnetB: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.8.1.0/24, AvailabilityZone: us-east-1b}}
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Name: !Ref Name, Subnets: [!Ref SubnetA, !Ref SubnetB]}
  Acl:
    Type: AWS::WAFv2::WebACL
    Properties:
      Name: !Ref Name
      Scope: REGIONAL
      DefaultAction: {Allow: {}}
      VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: acl}
      Rules:
        - Name: AWSManagedRulesSQLiRuleSet
          Priority: 0
          OverrideAction: {None: {}}
          Statement: {ManagedRuleGroupStatement: {VendorName: AWS, Name: AWSManagedRulesSQLiRuleSet}}
          VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: sqli}
  Association:
    Type: AWS::WAFv2::WebACLAssociation
    Properties: {ResourceArn: !Ref Lb, WebACLArn: !GetAtt Acl.Arn}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: !Ref LogGroupName}
  Logging:
    Type: AWS::WAFv2::LoggingConfiguration
    Properties:
      ResourceArn: !GetAtt Acl.Arn
      LogDestinationConfigs: [!Sub 'arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Logs}']
Outputs:
  Lb: {Value: !Ref Lb}
  Acl: {Value: !GetAtt Acl.Arn}
"""


def _deploy(aws, name: str, log_group: str) -> dict:
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name, TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Name", "ParameterValue": name},
                    {"ParameterKey": "LogGroupName", "ParameterValue": log_group}],
    )  # fmt: skip
    return settled_stack(cf, name)


@pytest.fixture(scope="module")
def stack(aws):
    name = f"waf{uuid.uuid4().hex[:8]}"
    stack = _deploy(aws, name, f"aws-waf-logs-{name}")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} | {"Name": name}


def test_the_template_associates_the_web_acl_and_turns_logging_on(aws, stack):
    waf = aws("wafv2")
    assert waf.get_web_acl_for_resource(ResourceArn=stack["Lb"])["WebACL"]["ARN"] == stack["Acl"]
    logging = waf.get_logging_configuration(ResourceArn=stack["Acl"])["LoggingConfiguration"]
    assert logging["ResourceArn"] == stack["Acl"]
    assert logging["LogDestinationConfigs"][0].endswith(f":log-group:aws-waf-logs-{stack['Name']}")


def test_disassociated_load_balancer_answers_without_a_web_acl(aws, stack):
    waf = aws("wafv2")
    waf.disassociate_web_acl(ResourceArn=stack["Lb"])
    try:
        assert "WebACL" not in waf.get_web_acl_for_resource(ResourceArn=stack["Lb"])
    finally:
        waf.associate_web_acl(WebACLArn=stack["Acl"], ResourceArn=stack["Lb"])
    assert waf.get_web_acl_for_resource(ResourceArn=stack["Lb"])["WebACL"]["ARN"] == stack["Acl"]


def test_logging_is_refused_to_a_group_not_named_aws_waf_logs(aws, stack):
    waf = aws("wafv2")
    with pytest.raises(ClientError) as refused:
        waf.put_logging_configuration(
            LoggingConfiguration={
                "ResourceArn": stack["Acl"],
                "LogDestinationConfigs": ["arn:aws:logs:us-east-1:000000000000:log-group:payments-app-logs"],
            }
        )
    assert refused.value.response["Error"]["Code"] == "WAFInvalidParameterException"


def test_deleted_logging_is_gone_and_a_second_delete_is_refused(aws, stack):
    waf = aws("wafv2")
    kept = waf.get_logging_configuration(ResourceArn=stack["Acl"])["LoggingConfiguration"]
    waf.delete_logging_configuration(ResourceArn=stack["Acl"])
    for call in (waf.get_logging_configuration, waf.delete_logging_configuration):
        with pytest.raises(ClientError) as missing:
            call(ResourceArn=stack["Acl"])
        assert missing.value.response["Error"]["Code"] == "WAFNonexistentItemException"
    waf.put_logging_configuration(
        LoggingConfiguration={
            "ResourceArn": kept["ResourceArn"],
            "LogDestinationConfigs": kept["LogDestinationConfigs"],
        }
    )


def test_associating_a_load_balancer_that_does_not_exist_is_refused(aws, stack):
    arn = stack["Lb"].rsplit("/", 1)[0] + "/0000000000000000"
    with pytest.raises(ClientError) as refused:
        aws("wafv2").associate_web_acl(WebACLArn=stack["Acl"], ResourceArn=arn)
    assert refused.value.response["Error"]["Code"] == "WAFNonexistentItemException"


def test_a_template_logging_to_a_misnamed_group_fails_to_create(aws):
    name = f"wafbad{uuid.uuid4().hex[:6]}"
    stack = _deploy(aws, name, f"{name}-logs")
    assert stack["StackStatus"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED"), stack["StackStatus"]
    events = aws("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "Logging"]
    assert any("aws-waf-logs-" in r for r in reasons), reasons
