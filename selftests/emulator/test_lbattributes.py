"""emulator/faithful/lbattributes.py: an ALB's attributes as AWS answers, validates and protects them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from emulator.faithful.lbattributes import DEFAULTS
from selftests.emulator.platform import settled_stack


def _subnets(ec2) -> list[str]:
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]


def _attributes(elb, arn: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}


@pytest.fixture
def lb(emulator, aws):
    emulator.reset()
    elb = aws("elbv2")
    return elb.create_load_balancer(Name="attrs-lb", Subnets=_subnets(aws("ec2")))["LoadBalancers"][0][
        "LoadBalancerArn"
    ]


def test_a_new_load_balancer_answers_every_attribute_at_aws_default(aws, lb):
    assert _attributes(aws("elbv2"), lb) == dict(DEFAULTS)
    assert dict(DEFAULTS)["routing.http.desync_mitigation_mode"] == "defensive"


def test_modify_stores_valid_values_and_refuses_what_aws_refuses(aws, lb):
    elb = aws("elbv2")
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb,
        Attributes=[
            {"Key": "routing.http.desync_mitigation_mode", "Value": "strictest"},
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
        ],
    )
    seen = _attributes(elb, lb)
    assert seen["routing.http.desync_mitigation_mode"] == "strictest"
    assert seen["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert len(seen) == len(DEFAULTS)
    for key, value in (
        ("routing.http.no_such_attribute", "true"),
        ("routing.http.desync_mitigation_mode", "lenient"),
        ("deletion_protection.enabled", "yes"),
        ("idle_timeout.timeout_seconds", "0"),
    ):
        with pytest.raises(ClientError) as refused:
            elb.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[{"Key": key, "Value": value}])
        assert refused.value.response["Error"]["Code"] == "ValidationError", (key, value)
        assert key in refused.value.response["Error"]["Message"]
    assert _attributes(elb, lb) == seen  # nothing of a refused request was stored


def test_deletion_protection_refuses_delete_load_balancer(aws, lb):
    elb = aws("elbv2")
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(ClientError) as refused:
        elb.delete_load_balancer(LoadBalancerArn=lb)
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elb.delete_load_balancer(LoadBalancerArn=lb)
    with pytest.raises(ClientError, match="LoadBalancerNotFound"):
        elb.describe_load_balancers(LoadBalancerArns=[lb])


def _template(subnets: list[str], attributes: list[dict[str, str]]) -> str:
    return json.dumps(
        {
            "Resources": {
                "Alb": {
                    "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "Properties": {"Name": "attrs-cfn-lb", "Subnets": subnets, "LoadBalancerAttributes": attributes},
                }
            },
            "Outputs": {"Arn": {"Value": {"Ref": "Alb"}}},
        }
    )


def test_a_template_declares_attributes_over_the_defaults_create_and_update(emulator, aws):
    emulator.reset()
    cfn, elb = aws("cloudformation"), aws("elbv2")
    subnets = _subnets(aws("ec2"))
    declared = [
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
        {"Key": "routing.http.desync_mitigation_mode", "Value": "strictest"},
    ]
    cfn.create_stack(StackName="attrs", TemplateBody=_template(subnets, declared))
    stack = settled_stack(cfn, "attrs")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    arn = stack["Outputs"][0]["OutputValue"]
    seen = _attributes(elb, arn)
    assert seen == dict(DEFAULTS) | {a["Key"]: a["Value"] for a in declared}
    # an update adds deletion protection; the attributes it no longer declares keep their values
    cfn.update_stack(
        StackName="attrs",
        TemplateBody=_template(subnets, [{"Key": "deletion_protection.enabled", "Value": "true"}]),
    )
    assert settled_stack(cfn, "attrs")["StackStatus"] == "UPDATE_COMPLETE"
    after = _attributes(elb, arn)
    assert after["deletion_protection.enabled"] == "true"
    assert after["routing.http.desync_mitigation_mode"] == "strictest"


def test_a_template_with_an_attribute_aws_refuses_fails_naming_it(emulator, aws):
    emulator.reset()
    cfn = aws("cloudformation")
    bad = [{"Key": "routing.http.desync_mitigation_mode", "Value": "lenient"}]
    cfn.create_stack(StackName="attrs-bad", TemplateBody=_template(_subnets(aws("ec2")), bad))
    assert settled_stack(cfn, "attrs-bad")["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="attrs-bad")["StackEvents"]
        if e["LogicalResourceId"] == "Alb" and e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert reasons and "routing.http.desync_mitigation_mode" in reasons[0], reasons
