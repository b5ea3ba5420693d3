"""emulator/faithful/ec2_rules.py (with vpc.py's handlers): inline and standalone security group
rules are reported as on AWS; API drifts show up; a duplicate authorize is refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

TEMPLATE: dict[str, Any] = {
    "Parameters": {"AppPort": {"Type": "Number", "Default": "8080"}},
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.5.0.0/16"}},
        # no inline egress: keeps the default allow-all egress
        "LbSg": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupName": "rules-lb",
                "GroupDescription": "lb",
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0", "Description": "HTTP"}
                ],
            },
        },
        # an inline egress list replaces the default allow-all egress
        "AppSg": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupName": "rules-app",
                "GroupDescription": "app",
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": {"Ref": "AppPort"},
                        "ToPort": {"Ref": "AppPort"},
                        "SourceSecurityGroupId": {"Ref": "LbSg"},
                        "Description": "from lb",
                    }
                ],
                "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}],
            },
        },
        "DbSg": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupName": "rules-db", "GroupDescription": "db", "VpcId": {"Ref": "Vpc"}},
        },
        "LbToApp": {
            "Type": "AWS::EC2::SecurityGroupEgress",
            "Properties": {
                "GroupId": {"Ref": "LbSg"},
                "IpProtocol": "tcp",
                "FromPort": {"Ref": "AppPort"},
                "ToPort": {"Ref": "AppPort"},
                "DestinationSecurityGroupId": {"Ref": "AppSg"},
                "Description": "to app",
            },
        },
        "DbFromApp": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Ref": "DbSg"},
                "IpProtocol": "tcp",
                "FromPort": 3306,
                "ToPort": 3306,
                "SourceSecurityGroupId": {"Ref": "AppSg"},
                "Description": "mysql from app",
            },
        },
    },
    "Outputs": {
        "LbToApp": {"Value": {"Ref": "LbToApp"}},
        "DbFromAppId": {"Value": {"Fn::GetAtt": ["DbFromApp", "Id"]}},
    },
}


def _resources(cfn) -> dict:
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="rules")["StackResources"]
    }


@pytest.fixture
def stack(emulator, aws):
    emulator.reset()
    cfn = aws("cloudformation")
    cfn.create_stack(StackName="rules", TemplateBody=json.dumps(TEMPLATE))
    cfn.get_waiter("stack_create_complete").wait(StackName="rules", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return _resources(cfn)


def _groups(aws, res) -> dict:
    gs = aws("ec2").describe_security_groups(GroupIds=[res["LbSg"], res["AppSg"], res["DbSg"]])["SecurityGroups"]
    return {g["GroupName"].removeprefix("rules-"): g for g in gs}


def _rules(aws, group_id: str) -> list[dict]:
    return aws("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"
    ]


ALL_OUT = {
    "IpProtocol": "-1",
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    "Ipv6Ranges": [],
    "PrefixListIds": [],
    "UserIdGroupPairs": [],
}


def test_inline_and_standalone_rules_are_reported(stack, aws):
    g = _groups(aws, stack)
    lb, app, db = g["lb"], g["app"], g["db"]
    pair = lambda gid, desc: [{"GroupId": gid, "UserId": "000000000000", "Description": desc}]  # noqa: E731
    assert lb["IpPermissions"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 80,
            "ToPort": 80,
            "Ipv6Ranges": [],
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP"}],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    # a standalone egress rule leaves the default allow-all egress in place (AWS does the same)
    assert ALL_OUT in lb["IpPermissionsEgress"]
    assert {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "IpRanges": [],
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "UserIdGroupPairs": pair(app["GroupId"], "to app"),
    } in lb["IpPermissionsEgress"]
    assert app["IpPermissions"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 8080,
            "ToPort": 8080,
            "IpRanges": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": pair(lb["GroupId"], "from lb"),
        }
    ]
    # an inline egress list replaces the default allow-all
    assert app["IpPermissionsEgress"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "Ipv6Ranges": [],
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    assert db["IpPermissions"][0]["UserIdGroupPairs"] == pair(app["GroupId"], "mysql from app")
    assert db["IpPermissionsEgress"] == [ALL_OUT]


def test_standalone_rule_physical_id_is_the_ec2_rule_id(stack, aws):
    cfn = aws("cloudformation")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="rules")["Stacks"][0]["Outputs"]}
    assert outputs["LbToApp"] == stack["LbToApp"] and outputs["DbFromAppId"] == stack["DbFromApp"]
    (egress,) = aws("ec2").describe_security_group_rules(SecurityGroupRuleIds=[stack["LbToApp"]])["SecurityGroupRules"]
    assert (egress["GroupId"], egress["IsEgress"], egress["FromPort"], egress["ToPort"]) == (
        stack["LbSg"],
        True,
        8080,
        8080,
    )
    assert egress["ReferencedGroupInfo"]["GroupId"] == stack["AppSg"]
    (ingress,) = [r for r in _rules(aws, stack["DbSg"]) if not r["IsEgress"]]
    assert ingress["SecurityGroupRuleId"] == stack["DbFromApp"]
    assert ingress["ReferencedGroupInfo"]["GroupId"] == stack["AppSg"] and ingress["Description"] == "mysql from app"


def test_api_drifts_show_up_and_duplicates_are_refused(stack, aws):
    ec2 = aws("ec2")
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=stack["AppSg"], IpPermissions=[ssh])
    perms = _groups(aws, stack)["app"]["IpPermissions"]
    assert any(p.get("FromPort") == 22 and p["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}] for p in perms)
    assert any(r.get("FromPort") == 22 and r.get("CidrIpv4") == "0.0.0.0/0" for r in _rules(aws, stack["AppSg"]))
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=stack["AppSg"], IpPermissions=[ssh])
    assert err.value.response["Error"]["Code"] == "InvalidPermission.Duplicate"
    with pytest.raises(ClientError) as err:  # the default allow-all egress is already there
        ec2.authorize_security_group_egress(
            GroupId=stack["DbSg"],
            IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "again"}]}],
        )
    assert err.value.response["Error"]["Code"] == "InvalidPermission.Duplicate"
    ec2.revoke_security_group_ingress(GroupId=stack["AppSg"], IpPermissions=[ssh])
    assert not any(p.get("FromPort") == 22 for p in _groups(aws, stack)["app"]["IpPermissions"])
    # revoking a standalone rule by its id (the stack's physical id)
    ec2.revoke_security_group_egress(GroupId=stack["LbSg"], SecurityGroupRuleIds=[stack["LbToApp"]])
    assert [p["IpProtocol"] for p in _groups(aws, stack)["lb"]["IpPermissionsEgress"]] == ["-1"]


def test_standalone_rules_follow_stack_updates_and_deletes(stack, aws):
    cfn = aws("cloudformation")
    cfn.update_stack(
        StackName="rules",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "AppPort", "ParameterValue": "9090"}],
    )
    cfn.get_waiter("stack_update_complete").wait(StackName="rules", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    res = _resources(cfn)
    lb_out = [p for p in _groups(aws, res)["lb"]["IpPermissionsEgress"] if p["IpProtocol"] == "tcp"]
    assert [(p["FromPort"], p["ToPort"]) for p in lb_out] == [(9090, 9090)]
    assert res["LbToApp"] != stack["LbToApp"]
    assert {
        r["SecurityGroupRuleId"] for r in _rules(aws, res["LbSg"]) if r["IsEgress"] and r.get("FromPort") == 9090
    } == {res["LbToApp"]}
    smaller = copy.deepcopy(TEMPLATE)
    del smaller["Resources"]["LbToApp"], smaller["Resources"]["DbFromApp"]
    smaller["Outputs"] = {}
    cfn.update_stack(StackName="rules", TemplateBody=json.dumps(smaller))
    cfn.get_waiter("stack_update_complete").wait(StackName="rules", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    g = _groups(aws, res)
    assert g["lb"]["IpPermissionsEgress"] == [ALL_OUT]
    assert g["db"]["IpPermissions"] == []


def test_prefix_list_rules_are_authorized_and_revoked_as_on_aws(aws):
    """Gaps 3 and 4: a rule to a prefix list keeps its destination; a revoke by prefix list or by group
    (without the stored descriptions or UserId) removes the rule."""
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="rules-pl", Description="pl", VpcId=vpc)["GroupId"]
    peer = ec2.create_security_group(GroupName="rules-pl-peer", Description="peer", VpcId=vpc)["GroupId"]
    to_s3 = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    s3_list = {"PrefixListId": "pl-63a5400a", "Description": "s3"}
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[{**to_s3, "PrefixListIds": [s3_list]}])
    ec2.authorize_security_group_egress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
                        "UserIdGroupPairs": [{"GroupId": peer, "Description": "db"}]}],
    )  # fmt: skip

    def egress() -> list[dict]:
        rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
        return [r for r in rules if r["IpProtocol"] == "tcp"]

    assert [r["PrefixListIds"] for r in egress() if r["FromPort"] == 443] == [
        [{"PrefixListId": "pl-63a5400a", "Description": "s3"}]
    ]
    with pytest.raises(ClientError, match=r"InvalidPermission\.Duplicate"):
        ec2.authorize_security_group_egress(
            GroupId=group, IpPermissions=[{**to_s3, "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}]}]
        )
    ec2.revoke_security_group_egress(
        GroupId=group, IpPermissions=[{**to_s3, "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}]}]
    )
    to_db = {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": peer}]}
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[to_db])
    assert egress() == []
