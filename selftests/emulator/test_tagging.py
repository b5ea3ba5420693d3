"""emulator/faithful/tagging.py: tag:GetResources lists the platform's taggable resources with the
tags their own services report, follows tag changes made through those services, and pages."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.spec import load_environment
from selftests.emulator.platform import deploy_platform

STACK = "payments-dev-ext"

# Types of the template that AWS's GetResources lists once tagged. IAM roles are taggable but
# GetResources does not support IAM users and roles; the other types of the template (routes,
# associations, attachments, standalone rules, alias, bucket policy, subscription, secret
# attachment, listener, scaling target and policy) carry no tags of their own in CloudFormation.
LISTED_TYPES = {
    "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::SecurityGroup", "AWS::EC2::FlowLog",
    "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBClusterParameterGroup", "AWS::SecretsManager::Secret",
    "AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::ECS::Cluster", "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
}  # fmt: skip


EXTENDED = ("ec2", "elasticloadbalancing", "logs", "cloudwatch", "rds", "secretsmanager")


def _all(tagging: Any, **kwargs: Any) -> list[dict[str, Any]]:
    pages = tagging.get_paginator("get_resources").paginate(**kwargs)
    return [m for page in pages for m in page["ResourceTagMappingList"]]


def _tags(mapping: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in mapping["Tags"]}


def _by_logical_id(mappings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        _tags(m)["aws:cloudformation:logical-id"]: m
        for m in mappings
        if _tags(m).get("aws:cloudformation:stack-name") == STACK
    }


@pytest.fixture
def platform(emulator):
    emulator.reset()
    return deploy_platform(emulator.endpoint_url)


def test_every_taggable_resource_of_the_platform_is_listed_with_its_tags(platform, aws):
    resources = aws("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    expected = {r["LogicalResourceId"]: r["ResourceType"] for r in resources if r["ResourceType"] in LISTED_TYPES}
    assert len(expected) >= 40, expected  # the whole platform, not a handful of types
    listed = _by_logical_id(_all(aws("resourcegroupstaggingapi")))
    missing = sorted(f"{rtype} {logical}" for logical, rtype in expected.items() if logical not in listed)
    assert not missing, f"GetResources does not list: {missing}"
    platform_tags = load_environment("dev").with_overrides(suffix="ext").platform_tags
    untagged = {
        logical: {k: _tags(listed[logical]).get(k) for k in platform_tags}
        for logical in expected
        if any(_tags(listed[logical]).get(k) != v for k, v in platform_tags.items())
    }
    assert not untagged, f"listed without the platform tags {platform_tags}: {untagged}"
    # IAM roles are not listed (as on AWS)
    assert not [m for m in _all(aws("resourcegroupstaggingapi")) if m["ResourceARN"].startswith("arn:aws:iam:")]


def test_arns_are_spelled_as_aws_spells_them(platform, aws):
    listed = _by_logical_id(_all(aws("resourcegroupstaggingapi")))
    arns = {m["ResourceARN"] for m in listed.values()}
    ec2 = aws("ec2")
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [platform.VPCId]}])["SecurityGroups"]
    assert f"arn:aws:ec2:us-east-1:000000000000:vpc/{platform.VPCId}" in arns
    for g in group:
        if g["GroupName"] != "default":
            assert f"arn:aws:ec2:us-east-1:000000000000:security-group/{g['GroupId']}" in arns
    for address in ec2.describe_addresses()["Addresses"]:
        assert f"arn:aws:ec2:us-east-1:000000000000:elastic-ip/{address['AllocationId']}" in arns
    assert f"arn:aws:logs:us-east-1:000000000000:log-group:{STACK}-app-logs" in arns  # no ':*'
    assert f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{STACK}-db-cpu" in arns
    assert f"arn:aws:rds:us-east-1:000000000000:cluster:{platform.AuroraClusterIdentifier}" in arns
    assert platform.LoadBalancerArn in arns and platform.TargetGroupArn in arns
    # the master secret is RDS's (ManageMasterUserPassword), not a resource of the stack


def test_tags_changed_through_each_service_are_what_get_resources_reports(platform, aws):
    tagging = aws("resourcegroupstaggingapi")
    listed = _by_logical_id(_all(tagging))
    arn = {logical: m["ResourceARN"] for logical, m in listed.items()}
    group_arn = next(a for a in arn.values() if ":security-group/" in a)
    aws("ec2").delete_tags(Resources=[group_arn.rsplit("/", 1)[1]], Tags=[{"Key": "CostCenter"}])
    log_arn = next(a for a in arn.values() if a.endswith(f"log-group:{STACK}-app-logs"))
    aws("logs").untag_resource(resourceArn=log_arn, tagKeys=["Owner"])
    alarm_arn = next(a for a in arn.values() if a.endswith(f"alarm:{STACK}-db-cpu"))
    aws("cloudwatch").untag_resource(ResourceARN=alarm_arn, TagKeys=["Environment"])
    aws("elbv2").remove_tags(ResourceArns=[platform.TargetGroupArn], TagKeys=["Application"])
    cluster_arn = f"arn:aws:rds:us-east-1:000000000000:cluster:{platform.AuroraClusterIdentifier}"
    aws("rds").remove_tags_from_resource(ResourceName=cluster_arn, TagKeys=["ManagedBy"])
    now = {m["ResourceARN"]: _tags(m) for m in _all(tagging)}
    removed = {
        group_arn: "CostCenter", log_arn: "Owner", alarm_arn: "Environment", platform.TargetGroupArn: "Application",
        cluster_arn: "ManagedBy",
    }  # fmt: skip
    assert {a: k in now[a] for a, k in removed.items()} == {a: False for a in removed}
    # the others keep theirs
    vpc_arn = f"arn:aws:ec2:us-east-1:000000000000:vpc/{platform.VPCId}"
    assert now[vpc_arn]["CostCenter"] == load_environment("dev").parameters.CostCenter
    # a tag filter finds exactly the resources that still carry the key
    with_cost_center = {m["ResourceARN"] for m in _all(tagging, TagFilters=[{"Key": "CostCenter"}])}
    assert group_arn not in with_cost_center and vpc_arn in with_cost_center


def test_type_filters_select_the_new_services(platform, aws):
    tagging = aws("resourcegroupstaggingapi")
    groups = _all(tagging, ResourceTypeFilters=["ec2:security-group"])
    assert {m["ResourceARN"].split(":")[5].split("/")[0] for m in groups} == {"security-group"}
    assert len([m for m in groups if _tags(m).get("aws:cloudformation:stack-name") == STACK]) == 4  # alb, app, db, vpce
    rds = _all(tagging, ResourceTypeFilters=["rds:db"])
    names = sorted(m["ResourceARN"].rsplit(":", 1)[1] for m in rds)
    assert names == [f"{STACK}-aurora-reader", f"{STACK}-aurora-writer"]
    logs = _all(tagging, ResourceTypeFilters=["logs"])
    assert {m["ResourceARN"].rsplit(":", 1)[1] for m in logs} >= {f"{STACK}-app-logs", f"{STACK}-flow-logs"}


def test_get_resources_pages_as_aws_does(platform, aws):
    tagging = aws("resourcegroupstaggingapi")
    everything = _all(tagging)
    assert len(everything) > 40
    first = tagging.get_resources(ResourcesPerPage=10)
    assert len(first["ResourceTagMappingList"]) == 10 and first["PaginationToken"]
    paged = _all(tagging, ResourcesPerPage=7)
    assert [m["ResourceARN"] for m in paged] == [m["ResourceARN"] for m in everything]
    default_page = tagging.get_resources()
    assert len(default_page["ResourceTagMappingList"]) == min(100, len(everything))
    with pytest.raises(ClientError) as refused:
        tagging.get_resources(ResourcesPerPage=101)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def test_deleted_resources_leave_the_listing(emulator, aws):
    emulator.reset()
    deploy_platform(emulator.endpoint_url)
    cfn = aws("cloudformation")
    cfn.delete_stack(StackName=STACK)
    cfn.get_waiter("stack_delete_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    # of the services the extension lists, nothing of the stack remains
    left = [m for m in _all(aws("resourcegroupstaggingapi"), ResourceTypeFilters=list(EXTENDED))]
    assert [m["ResourceARN"] for m in left if _tags(m).get("aws:cloudformation:stack-name") == STACK] == []


def test_resources_provisioned_by_the_extensions_carry_the_stack_tags(platform, aws):
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    listed = _by_logical_id(_all(aws("resourcegroupstaggingapi")))
    for logical in ("NatEipA", "NatGatewayB", "VpcFlowLog", "TaskDefinition"):
        tags = _tags(listed[logical])
        assert tags["aws:cloudformation:stack-id"] == stack["StackId"]
        assert {t["Key"]: t["Value"] for t in stack["Tags"]}.items() <= tags.items()
    address = aws("ec2").describe_addresses()["Addresses"][0]
    assert {t["Key"] for t in address["Tags"]} >= {"aws:cloudformation:logical-id", "payments-conformance:run-id"}
