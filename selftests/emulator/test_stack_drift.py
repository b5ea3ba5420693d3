"""emulator/faithful/stack_drift.py: DetectStackDrift compares security groups, as AWS does."""

from __future__ import annotations

import json
import time
from typing import Any

from selftests.emulator.platform import deploy_platform, settled_stack


def _detect(cfn: Any, stack: str) -> tuple[str, dict[str, dict[str, Any]]]:
    detection = cfn.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
    deadline = time.monotonic() + 30
    while True:
        status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    drifts = cfn.describe_stack_resource_drifts(StackName=stack)["StackResourceDrifts"]
    return status["StackDriftStatus"], {d["LogicalResourceId"]: d for d in drifts}


def test_platform_security_groups_in_sync_until_a_rule_is_added_out_of_band(emulator, aws):
    emulator.reset()  # a fresh account: the worker's earlier platforms hold its Elastic IP quota
    outputs = deploy_platform(emulator.endpoint_url, suffix="sgdrift")
    cfn, ec2 = aws("cloudformation"), aws("ec2")
    stack = "payments-dev-sgdrift"
    status, drifts = _detect(cfn, stack)
    groups = {k: d for k, d in drifts.items() if d["ResourceType"] == "AWS::EC2::SecurityGroup"}
    assert groups and all(d["StackResourceDriftStatus"] == "IN_SYNC" for d in groups.values()), {
        k: (d["StackResourceDriftStatus"], d.get("PropertyDifferences")) for k, d in groups.items()
    }
    assert status == "IN_SYNC", {k: d["StackResourceDriftStatus"] for k, d in drifts.items()}
    by_name = {
        g["GroupName"].rsplit("-", 2)[-2]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [outputs.VPCId]}])["SecurityGroups"]
        if g["GroupName"] != "default"
    }
    # alb-sg sets its ingress inline: a rule added through the API is drift
    ec2.authorize_security_group_ingress(
        GroupId=by_name["alb"]["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    # db-sg sets no inline ingress (its rule is DbFromAppIngress): as on AWS, that direction is not compared
    ec2.authorize_security_group_ingress(
        GroupId=by_name["db"]["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": "10.2.0.0/16"}]}
        ],
    )
    status, drifts = _detect(cfn, stack)
    assert status == "DRIFTED"
    assert drifts["AlbSecurityGroup"]["StackResourceDriftStatus"] == "MODIFIED"
    (diff,) = drifts["AlbSecurityGroup"]["PropertyDifferences"]
    assert diff["DifferenceType"] == "ADD" and '"FromPort": 8443' in diff["ActualValue"], diff
    assert diff["PropertyPath"].startswith("/SecurityGroupIngress/"), diff
    assert drifts["DbSecurityGroup"]["StackResourceDriftStatus"] == "IN_SYNC"
    # a revoked inline rule is drift too (REMOVE): app-sg's egress to S3's prefix list
    ec2.revoke_security_group_egress(
        GroupId=by_name["app"]["GroupId"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}]}
        ],
    )
    status, drifts = _detect(cfn, stack)
    app = drifts["AppSecurityGroup"]
    assert app["StackResourceDriftStatus"] == "MODIFIED"
    assert [d["DifferenceType"] for d in app["PropertyDifferences"]] == ["REMOVE"], app["PropertyDifferences"]


def test_standalone_rule_in_a_direction_set_inline_is_drift_as_on_aws(emulator, aws):
    """aws-cloudformation/cloudformation-coverage-roadmap#1198: AWS reports it; so does the emulator."""
    cfn, ec2 = aws("cloudformation"), aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    rule = {"IpProtocol": "tcp", "CidrIp": "10.0.0.0/8"}
    template = {
        "Resources": {
            "Sg": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupName": "drift-mixed",
                    "GroupDescription": "inline plus standalone",
                    "VpcId": vpc_id,
                    "SecurityGroupIngress": [{**rule, "FromPort": 80, "ToPort": 80}],
                },
            },
            "Extra": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {"GroupId": {"Ref": "Sg"}, **rule, "FromPort": 443, "ToPort": 443},
            },
        }
    }  # fmt: skip
    cfn.create_stack(StackName="drift-mixed", TemplateBody=json.dumps(template))
    assert settled_stack(cfn, "drift-mixed")["StackStatus"] == "CREATE_COMPLETE"
    status, drifts = _detect(cfn, "drift-mixed")
    assert status == "DRIFTED" and drifts["Sg"]["StackResourceDriftStatus"] == "MODIFIED", drifts["Sg"]


def test_platform_endpoints_in_sync_until_changed_out_of_band(emulator, aws):
    """AWS::EC2::VPCEndpoint is compared (MiniStack 1.5.33 left it NOT_CHECKED): IN_SYNC as deployed,
    MODIFIED after private DNS is switched off or the policy replaced through the API."""
    emulator.reset()  # a fresh account: the worker's earlier platforms hold its Elastic IP quota
    outputs = deploy_platform(emulator.endpoint_url, suffix="vpcedrift")
    cfn, ec2 = aws("cloudformation"), aws("ec2")
    stack = "payments-dev-vpcedrift"
    status, drifts = _detect(cfn, stack)
    endpoints = {k: d for k, d in drifts.items() if d["ResourceType"] == "AWS::EC2::VPCEndpoint"}
    assert len(endpoints) == 5 and all(d["StackResourceDriftStatus"] == "IN_SYNC" for d in endpoints.values()), {
        k: (d["StackResourceDriftStatus"], d.get("PropertyDifferences")) for k, d in endpoints.items()
    }
    by_service = {
        e["ServiceName"].rsplit(".", 1)[-1]: e["VpcEndpointId"]
        for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [outputs.VPCId]}])["VpcEndpoints"]
    }
    ec2.modify_vpc_endpoint(VpcEndpointId=by_service["dkr"], PrivateDnsEnabled=False)
    open_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",
                                                           "Resource": "*"}]}  # fmt: skip
    ec2.modify_vpc_endpoint(VpcEndpointId=by_service["s3"], PolicyDocument=json.dumps(open_policy))
    status, drifts = _detect(cfn, stack)
    assert status == "DRIFTED"
    (dns,) = drifts["EcrDkrEndpoint"]["PropertyDifferences"]
    assert dns["PropertyPath"] == "/PrivateDnsEnabled" and dns["DifferenceType"] == "NOT_EQUAL", dns
    paths = [d["PropertyPath"] for d in drifts["S3GatewayEndpoint"]["PropertyDifferences"]]
    assert paths and all(p.startswith("/PolicyDocument/") for p in paths), paths
    assert drifts["LogsEndpoint"]["StackResourceDriftStatus"] == "IN_SYNC"
