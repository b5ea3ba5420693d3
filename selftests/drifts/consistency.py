"""Drifts for the consistency suite (tests/consistency): three environments deployed alike, then
one of them changed (``apply_env``) the way AWS allows, or redeployed from a variant template."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.template import load_template
from deploy.deployer import Deployer
from selftests.drifts.registry import DriftContext, drift

ALL = "dev,staging,prod"


def _stack(ctx: DriftContext) -> str:
    return f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}"


def _redeploy(ctx: DriftContext, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Update this environment's stack (through the project's deployer) from a variant of the template."""
    doc = change(json.loads(json.dumps(load_template())))
    path = ctx.workdir / f"variant-{ctx.env}.json"
    path.write_text(json.dumps(doc))
    Deployer(ctx.spec, ctx.aws, out=lambda _line: None, template_path=path).up()


def _group(ctx: DriftContext, component: str) -> str:
    groups = ctx.client("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}])
    return next(g["GroupId"] for g in groups["SecurityGroups"] if g["GroupName"] == f"{_stack(ctx)}-{component}")


@drift(
    "test_every_environment_runs_the_same_template",
    "staging is redeployed from a template with one more output than dev's and prod's",
    env=ALL,
    apply_env="staging",
    names=lambda ctx: "staging",
)
def drift_consistency_template_differs(ctx: DriftContext) -> None:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        doc["Outputs"]["DriftMarker"] = {"Description": "only in staging", "Value": "drift"}
        return doc

    _redeploy(ctx, change)


@drift(
    "test_every_environment_has_the_same_resources",
    "staging's stack holds a second SNS topic that dev's and prod's do not",
    env=ALL,
    apply_env="staging",
    names=lambda ctx: "staging has 2 AWS::SNS::Topic",
)
def drift_consistency_extra_resource(ctx: DriftContext) -> None:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        doc["Resources"]["DriftExtraTopic"] = {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": {"Fn::Sub": "payments-${EnvironmentName}-${EnvironmentSuffix}-extra"}},
        }
        return doc

    _redeploy(ctx, change)


@drift(
    "test_resource_names_follow_the_convention",
    "staging's application security group is renamed (Name tag) outside the convention",
    env=ALL,
    apply_env="staging",
    names=lambda ctx: "'app-sg-staging'",
)
def drift_consistency_name_tag(ctx: DriftContext) -> None:
    ctx.client("ec2").create_tags(Resources=[_group(ctx, "app-sg")], Tags=[{"Key": "Name", "Value": "app-sg-staging"}])


@drift(
    "test_every_resource_carries_the_platform_tags",
    "prod's transaction-log bucket loses its CostCenter tag",
    env=ALL,
    apply_env="prod",
    names=lambda ctx: (
        f"prod: TransactionLogsBucket (arn:aws:s3:::{ctx.outputs.TransactionLogsBucket}) has CostCenter=<missing>"
    ),
)
def drift_consistency_bucket_tag_removed(ctx: DriftContext) -> None:
    s3 = ctx.client("s3")
    bucket = ctx.outputs.TransactionLogsBucket
    tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [t for t in tags if t["Key"] != "CostCenter"]})


@drift(
    "test_security_settings_are_identical_everywhere",
    "staging's application security group admits SSH from its VPC, which dev and prod do not",
    env=ALL,
    apply_env="staging",
    names=lambda ctx: "staging security_groups.app-sg.ingress",
)
def drift_consistency_extra_ingress(ctx: DriftContext) -> None:
    ctx.client("ec2").authorize_security_group_ingress(
        GroupId=_group(ctx, "app-sg"),
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": ctx.outputs.VpcCidr}]}
        ],
    )


@drift(
    "test_environments_differ_only_as_declared",
    "prod's application log group keeps 30 days of logs, where prod.yaml declares 365",
    env=ALL,
    apply_env="prod",
    names=lambda ctx: f"{_stack(ctx)}-app-logs keeps 30",
)
def drift_consistency_log_retention(ctx: DriftContext) -> None:
    ctx.client("logs").put_retention_policy(logGroupName=f"{_stack(ctx)}-app-logs", retentionInDays=30)
