"""emulator/faithful/flowlogs.py (with vpc.py's handler): a VPC flow log, from CloudFormation or
the API, is reported by describe_flow_logs as AWS reports it; deletes work."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)
TAGS = [{"Key": "Name", "Value": "fl-test"}, {"Key": "Environment", "Value": "dev"}]
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.6.0.0/16"}},
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "fl-test-flow-logs"}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "fl-test-role",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                        }
                    ],
                },
            },
        },
        "FlowLog": {
            "Type": "AWS::EC2::FlowLog",
            "Properties": {
                "ResourceType": "VPC",
                "ResourceId": {"Ref": "Vpc"},
                "TrafficType": "ALL",
                "LogDestinationType": "cloud-watch-logs",
                "LogDestination": {"Fn::GetAtt": ["Group", "Arn"]},
                "DeliverLogsPermissionArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "MaxAggregationInterval": 60,
                "Tags": TAGS,
            },
        },
        "ByName": {
            "Type": "AWS::EC2::FlowLog",
            "Properties": {
                "ResourceType": "VPC",
                "ResourceId": {"Ref": "Vpc"},
                "TrafficType": "REJECT",
                "LogGroupName": "fl-test-rejects",
                "DeliverLogsPermissionArn": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
    },
    "Outputs": {"FlowLogId": {"Value": {"Ref": "FlowLog"}}, "Id": {"Value": {"Fn::GetAtt": ["FlowLog", "Id"]}}},
}


def _create(cfn, template: dict) -> dict:
    cfn.create_stack(StackName="fl", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName="fl", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="fl")["StackResources"]
    }


@pytest.fixture
def stack(emulator, aws):
    emulator.reset()
    return _create(aws("cloudformation"), TEMPLATE)


def test_cloudformation_flow_log_is_reported_as_on_aws(stack, aws):
    ec2, cfn = aws("ec2"), aws("cloudformation")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="fl")["Stacks"][0]["Outputs"]}
    assert outputs["FlowLogId"] == outputs["Id"] == stack["FlowLog"]
    assert stack["FlowLog"].startswith("fl-")
    (flow,) = ec2.describe_flow_logs(FlowLogIds=[stack["FlowLog"]])["FlowLogs"]
    group_arn = aws("logs").describe_log_groups(logGroupNamePrefix="fl-test-flow-logs")["logGroups"][0]["arn"]
    role_arn = aws("iam").get_role(RoleName="fl-test-role")["Role"]["Arn"]
    user_tags = [t for t in flow.pop("Tags") if not t["Key"].startswith("aws:")]  # system tags may follow
    assert user_tags == TAGS
    assert {k: v for k, v in flow.items() if k != "CreationTime"} == {
        "FlowLogId": stack["FlowLog"],
        "ResourceId": stack["Vpc"],
        "TrafficType": "ALL",
        "FlowLogStatus": "ACTIVE",
        "DeliverLogsStatus": "SUCCESS",
        "LogDestinationType": "cloud-watch-logs",
        "LogDestination": group_arn,
        "LogGroupName": "fl-test-flow-logs",
        "DeliverLogsPermissionArn": role_arn,
        "MaxAggregationInterval": 60,
        "LogFormat": DEFAULT_FORMAT,
    }
    (by_name,) = ec2.describe_flow_logs(FlowLogIds=[stack["ByName"]])["FlowLogs"]
    assert (by_name["LogGroupName"], by_name["TrafficType"], by_name["MaxAggregationInterval"]) == (
        "fl-test-rejects",
        "REJECT",
        600,
    )


def test_describe_flow_logs_applies_its_filters(stack, aws):
    ec2 = aws("ec2")

    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        flows = ec2.describe_flow_logs(Filters=[{"Name": n, "Values": v} for n, v in filters])["FlowLogs"]
        return {f["FlowLogId"] for f in flows}

    both = {stack["FlowLog"], stack["ByName"]}
    assert ids(("resource-id", [stack["Vpc"]])) == both
    assert ids(("resource-id", ["vpc-0123456789abcdef0"])) == set()
    assert ids(("flow-log-id", [stack["FlowLog"]])) == {stack["FlowLog"]}
    assert ids(("traffic-type", ["REJECT"])) == {stack["ByName"]}
    assert ids(("log-group-name", ["fl-test-flow-logs"])) == {stack["FlowLog"]}
    assert ids(("log-destination-type", ["cloud-watch-logs"]), ("deliver-log-status", ["SUCCESS"])) == both
    assert ids(("tag:Name", ["fl-test"])) == {stack["FlowLog"]}
    with pytest.raises(ClientError) as err:
        ec2.describe_flow_logs(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_api_delete_is_a_drift_and_stack_delete_still_succeeds(stack, aws):
    ec2, cfn = aws("ec2"), aws("cloudformation")
    assert ec2.delete_flow_logs(FlowLogIds=[stack["FlowLog"]])["Unsuccessful"] == []
    assert (
        ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [stack["Vpc"]]}])["FlowLogs"][0]["FlowLogId"]
        == stack["ByName"]
    )
    (missing,) = ec2.delete_flow_logs(FlowLogIds=[stack["FlowLog"]])["Unsuccessful"]
    assert missing["ResourceId"] == stack["FlowLog"] and missing["Error"]["Code"] == "InvalidFlowLogId.NotFound"
    cfn.delete_stack(StackName="fl")
    cfn.get_waiter("stack_delete_complete").wait(StackName="fl", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert ec2.describe_flow_logs()["FlowLogs"] == []


def test_api_created_flow_log_keeps_what_was_asked(stack, aws):
    ec2 = aws("ec2")
    role = aws("iam").get_role(RoleName="fl-test-role")["Role"]["Arn"]
    created = ec2.create_flow_logs(
        ResourceIds=[stack["Vpc"]],
        ResourceType="VPC",
        TrafficType="ACCEPT",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="fl-test-api",
        DeliverLogsPermissionArn=role,
        MaxAggregationInterval=60,
        TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "Owner", "Value": "drift"}]}],
    )
    (fl_id,) = created["FlowLogIds"]
    (flow,) = ec2.describe_flow_logs(FlowLogIds=[fl_id])["FlowLogs"]
    assert flow["LogGroupName"] == "fl-test-api"
    assert flow["LogDestination"] == "arn:aws:logs:us-east-1:000000000000:log-group:fl-test-api"
    assert flow["DeliverLogsPermissionArn"] == role and flow["MaxAggregationInterval"] == 60
    assert flow["TrafficType"] == "ACCEPT" and flow["LogFormat"] == DEFAULT_FORMAT
    assert flow["Tags"] == [{"Key": "Owner", "Value": "drift"}]


def test_stack_update_of_traffic_type_replaces_the_flow_log(stack, aws):
    cfn, ec2 = aws("cloudformation"), aws("ec2")
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["FlowLog"]["Properties"]["TrafficType"] = "REJECT"
    cfn.update_stack(StackName="fl", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_update_complete").wait(StackName="fl", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    new_id = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="fl")["StackResources"]
    }["FlowLog"]
    flows = ec2.describe_flow_logs(Filters=[{"Name": "log-group-name", "Values": ["fl-test-flow-logs"]}])["FlowLogs"]
    assert [(f["FlowLogId"], f["TrafficType"]) for f in flows] == [(new_id, "REJECT")]
