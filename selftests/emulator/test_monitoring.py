"""Self-tests of ``emulator/faithful/monitoring.py``: alarms, the alarm topic, log groups.

Real emulator process, real boto3. CloudWatch is read twice: with boto3 1.44's own protocol
(smithy-rpc-v2-cbor) and with the query protocol, which older SDKs, the AWS CLI v1 and
scanners use: for that, a botocore session loads CloudWatch's own service model with its
protocol set to ``query``, so botocore's query serializer and XML parser do the work.
"""

from __future__ import annotations

import copy
import json
import os
import uuid

import boto3
import botocore.session
import pytest
from botocore.loaders import Loader

from selftests.emulator.platform import settled_stack

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Name: {Type: String}
  Retention: {Type: Number, Default: 30}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'}
            Action: 'kms:*'
            Resource: '*'
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${Name}-alarms'
      KmsMasterKeyId: !Ref Key
  Email:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Topic, Protocol: email, Endpoint: oncall@example.com}
  AppLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub '/payments/${Name}/app'
      RetentionInDays: !Ref Retention
      KmsKeyId: !GetAtt Key.Arn
  DbCpu:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub '${Name}-db-cpu'
      AlarmDescription: Aurora CPU high
      Namespace: AWS/RDS
      MetricName: CPUUtilization
      Dimensions: [{Name: DBClusterIdentifier, Value: !Sub '${Name}-aurora'}]
      Statistic: Average
      Period: 300
      EvaluationPeriods: 2
      DatapointsToAlarm: 2
      Threshold: 80
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref Topic]
      OKActions: [!Ref Topic]
  Alb5xx:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub '${Name}-alb-5xx'
      Namespace: AWS/ApplicationELB
      MetricName: HTTPCode_ELB_5XX_Count
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 5
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref Topic]
Outputs:
  Topic: {Value: !Ref Topic}
  KeyId: {Value: !Ref Key}
  KeyArn: {Value: !GetAtt Key.Arn}
"""


@pytest.fixture(scope="module")
def stack(aws):
    name = f"fcw{uuid.uuid4().hex[:8]}"
    cf = aws("cloudformation")
    cf.create_stack(
        StackName=name, TemplateBody=TEMPLATE, Parameters=[{"ParameterKey": "Name", "ParameterValue": name}]
    )
    created = settled_stack(cf, name)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]}
    outputs["Name"] = name
    return outputs


@pytest.fixture(scope="module")
def cw_query(emulator, tmp_path_factory):
    """A real botocore CloudWatch client that speaks the query protocol."""
    model = copy.deepcopy(Loader().load_service_model("cloudwatch", "service-2"))
    model["metadata"]["protocol"] = "query"
    model["metadata"]["protocols"] = ["query"]
    root = tmp_path_factory.mktemp("models")
    folder = root / "cloudwatch" / model["metadata"]["apiVersion"]
    os.makedirs(folder)
    (folder / "service-2.json").write_text(json.dumps(model))
    core = botocore.session.Session()
    core.get_component("data_loader").search_paths.insert(0, str(root))
    session = boto3.Session(
        botocore_session=core, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    client = session.client("cloudwatch", endpoint_url=emulator.endpoint_url)
    assert client.meta.service_model.protocol == "query"
    return client


def _check_db_cpu(alarm: dict, stack: dict) -> None:
    assert alarm["AlarmActions"] == [stack["Topic"]]
    assert alarm["OKActions"] == [stack["Topic"]]
    assert alarm["InsufficientDataActions"] == []
    assert alarm["ActionsEnabled"] is True
    assert alarm["AlarmDescription"] == "Aurora CPU high"
    assert alarm["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": f"{stack['Name']}-aurora"}]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/RDS",
        "CPUUtilization",
        "Average",
    )
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (300, 2, 2)
    assert alarm["Threshold"] == 80.0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateUpdatedTimestamp"].year >= 2024


def test_describe_alarms_query_protocol_has_actions(cw_query, stack):
    found = cw_query.describe_alarms(AlarmNames=[f"{stack['Name']}-db-cpu"])
    assert [a["AlarmName"] for a in found["MetricAlarms"]] == [f"{stack['Name']}-db-cpu"]
    _check_db_cpu(found["MetricAlarms"][0], stack)
    by_prefix = cw_query.describe_alarms(AlarmNamePrefix=stack["Name"])["MetricAlarms"]
    assert {a["AlarmName"]: a["AlarmActions"] for a in by_prefix} == {
        f"{stack['Name']}-db-cpu": [stack["Topic"]],
        f"{stack['Name']}-alb-5xx": [stack["Topic"]],
    }
    paged = cw_query.describe_alarms(AlarmNamePrefix=stack["Name"], MaxRecords=1)
    assert len(paged["MetricAlarms"]) == 1
    assert paged["NextToken"]


def test_describe_alarms_for_metric_query_protocol(cw_query, stack):
    alarms = cw_query.describe_alarms_for_metric(Namespace="AWS/RDS", MetricName="CPUUtilization")["MetricAlarms"]
    mine = [a for a in alarms if a["AlarmName"] == f"{stack['Name']}-db-cpu"]
    assert len(mine) == 1
    _check_db_cpu(mine[0], stack)


def test_describe_alarms_default_protocol(aws, stack):
    found = aws("cloudwatch").describe_alarms(AlarmNames=[f"{stack['Name']}-db-cpu"])["MetricAlarms"]
    _check_db_cpu(found[0], stack)


def test_action_drift_visible_in_query_protocol(aws, cw_query, stack):
    name = f"{stack['Name']}-alb-5xx"
    aws("cloudwatch").disable_alarm_actions(AlarmNames=[name])
    try:
        assert cw_query.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    finally:
        aws("cloudwatch").enable_alarm_actions(AlarmNames=[name])


def test_topic_reports_template_kms_key(aws, stack):
    sns = aws("sns")
    assert sns.get_topic_attributes(TopicArn=stack["Topic"])["Attributes"]["KmsMasterKeyId"] == stack["KeyId"]
    sns.set_topic_attributes(TopicArn=stack["Topic"], AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns")
    try:
        assert sns.get_topic_attributes(TopicArn=stack["Topic"])["Attributes"]["KmsMasterKeyId"] == "alias/aws/sns"
    finally:
        sns.set_topic_attributes(TopicArn=stack["Topic"], AttributeName="KmsMasterKeyId", AttributeValue=stack["KeyId"])


def test_email_subscription_pending_confirmation(aws, stack):
    sns = aws("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=stack["Topic"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in subs] == [
        ("email", "oncall@example.com", "PendingConfirmation")
    ]
    everywhere = [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == stack["Topic"]]
    assert [s["SubscriptionArn"] for s in everywhere] == ["PendingConfirmation"]
    attrs = sns.get_topic_attributes(TopicArn=stack["Topic"])["Attributes"]
    assert (attrs["SubscriptionsPending"], attrs["SubscriptionsConfirmed"]) == ("1", "0")
    physical = aws("cloudformation").describe_stack_resource(StackName=stack["Name"], LogicalResourceId="Email")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=physical)["Attributes"]
    assert sub_attrs["PendingConfirmation"] == "true"


def test_api_email_subscribe_pending(aws, stack):
    sns = aws("sns")
    reply = sns.subscribe(TopicArn=stack["Topic"], Protocol="email", Endpoint="second@example.com")
    assert reply["SubscriptionArn"] == "pending confirmation"
    arn = sns.subscribe(
        TopicArn=stack["Topic"],
        Protocol="email-json",
        Endpoint="third@example.com",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    assert arn.startswith(stack["Topic"] + ":")
    try:
        listed = {
            s["Endpoint"]: s["SubscriptionArn"]
            for s in sns.list_subscriptions_by_topic(TopicArn=stack["Topic"])["Subscriptions"]
        }
        assert listed["second@example.com"] == listed["third@example.com"] == "PendingConfirmation"
        assert sns.get_topic_attributes(TopicArn=stack["Topic"])["Attributes"]["SubscriptionsPending"] == "3"
    finally:
        sns.unsubscribe(SubscriptionArn=arn)


def test_log_group_kms_and_retention(aws, stack):
    logs = aws("logs")
    prefix = f"/payments/{stack['Name']}/"
    group = logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"][0]
    assert group["retentionInDays"] == 30
    assert group["kmsKeyId"] == stack["KeyArn"]
    logs.put_retention_policy(logGroupName=group["logGroupName"], retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"][0]["retentionInDays"] == 7
    logs.disassociate_kms_key(logGroupName=group["logGroupName"])
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"][0]
    logs.associate_kms_key(logGroupName=group["logGroupName"], kmsKeyId=stack["KeyArn"])
    assert logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"][0]["kmsKeyId"] == stack["KeyArn"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.disassociate_kms_key(logGroupName=f"{prefix}missing")
