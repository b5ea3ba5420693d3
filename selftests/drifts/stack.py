"""Drifts for the stack suite (tests/stack/): the stack's status, protection and sync with its template."""

from __future__ import annotations

import json

from core.template import load_template
from deploy.artifacts import ArtifactsBucket
from selftests.drifts.registry import DriftContext, drift
from selftests.emulator.platform import settled_stack


def _stack(ctx: DriftContext) -> str:
    return ctx.spec.stack_name


@drift(
    "test_stack_status_is_complete",
    "an update whose new resource cannot be created fails and rolls back: UPDATE_ROLLBACK_COMPLETE",
    id="stack-update-rolled-back",
    names=_stack,
)
def drift_update_rolled_back(ctx: DriftContext) -> None:
    cfn = ctx.client("cloudformation")
    doc = json.loads(json.dumps(load_template()))
    doc["Resources"]["BrokenTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::GetAtt": ["VPC", "NoSuchAttribute"]}},
    }
    described = cfn.describe_stacks(StackName=_stack(ctx))["Stacks"][0]
    # compact JSON by TemplateURL, as the deployer sends it (deploy/artifacts.py)
    url = ArtifactsBucket(ctx.aws, out=lambda _: None).upload_template(json.dumps(doc, separators=(",", ":")))
    cfn.update_stack(
        StackName=_stack(ctx),
        TemplateURL=url,
        Parameters=[{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in described["Parameters"]],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    status = settled_stack(cfn, _stack(ctx))["StackStatus"]
    assert status == "UPDATE_ROLLBACK_COMPLETE", f"the broken update left {_stack(ctx)} {status}"


@drift(
    "test_stack_termination_protection_as_specified",
    "staging's termination protection is turned off",
    id="stack-termination-protection-off",
    env="staging",
    names=_stack,
)
def drift_termination_protection_off(ctx: DriftContext) -> None:
    ctx.client("cloudformation").update_termination_protection(StackName=_stack(ctx), EnableTerminationProtection=False)


@drift(
    "test_stack_in_sync_with_its_template",
    "the application log group's retention is cut to 1 day outside CloudFormation",
    id="stack-drifted-log-retention",
    names=lambda ctx: f"{ctx.spec.stack_name}-app-logs",
)
def drift_log_retention_out_of_band(ctx: DriftContext) -> None:
    ctx.client("logs").put_retention_policy(logGroupName=f"{ctx.spec.stack_name}-app-logs", retentionInDays=1)


def _alb_group(ctx: DriftContext) -> dict:
    groups = ctx.client("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}])
    (alb,) = [g for g in groups["SecurityGroups"] if g["GroupName"].endswith("-alb-sg")]
    return alb


@drift(
    "test_stack_in_sync_with_its_template",
    "a rule is added to the load balancer's security group through the EC2 API, not by the stack",
    id="stack-sg-rule-out-of-band",
    names=lambda ctx: f"AlbSecurityGroup (AWS::EC2::SecurityGroup {_alb_group(ctx)['GroupId']})",
)
def drift_sg_rule_out_of_band(ctx: DriftContext) -> None:
    ctx.client("ec2").authorize_security_group_ingress(
        GroupId=_alb_group(ctx)["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
