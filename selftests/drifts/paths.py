"""Drifts for every path to cardholder data: groups attached in the VPC, resource policies, key identity.

Each breaks the deployed platform the way an attacker with API access (or a careless
operator) would, outside the template: a group the stack never declared put on the tasks or
on an instance, a world-open rule, a resource policy opened to everyone or another account,
a resource encrypted with another key.
"""

from __future__ import annotations

import json
from typing import Any

from selftests.drifts.registry import DriftContext, drift, noop

OTHER_ACCOUNT = "111122223333"
ROGUE_GROUP = "drift-rogue-web"


def _stack(ctx: DriftContext) -> str:
    return f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}"


def _ec2(ctx: DriftContext) -> Any:
    return ctx.client("ec2")


def _group_named(ctx: DriftContext, name: str) -> str:
    groups = _ec2(ctx).describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [ctx.outputs.VPCId]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    return str(groups[0]["GroupId"]) if groups else name


def _new_group(ctx: DriftContext, name: str, *world_ports: int) -> str:
    ec2 = _ec2(ctx)
    group = ec2.create_security_group(GroupName=name, Description="not in the template", VpcId=ctx.outputs.VPCId)
    for port in world_ports:
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"],
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
    return str(group["GroupId"])


def _move_service(ctx: DriftContext, group_id: str) -> None:
    """UpdateService with the service's subnets and only ``group_id``: its tasks are replaced in that group."""
    ecs = ctx.client("ecs")
    service = ecs.describe_services(cluster=ctx.outputs.ECSClusterName, services=[ctx.outputs.ECSServiceName])
    network = service["services"][0]["networkConfiguration"]
    network["awsvpcConfiguration"]["securityGroups"] = [group_id]
    ecs.update_service(
        cluster=ctx.outputs.ECSClusterName, service=ctx.outputs.ECSServiceName, networkConfiguration=network
    )


# ---------------------------------------------------------- attached groups (tests/network/test_security_groups.py)
@drift(
    "test_only_the_load_balancer_group_admits_the_world",
    f"the ECS service is moved (UpdateService) to a new group {ROGUE_GROUP} that admits tcp 80 from 0.0.0.0/0",
    id="net-service-moved-to-world-open-group",
    names=lambda ctx: _group_named(ctx, ROGUE_GROUP),
)
def drift_service_moved_to_world_open_group(ctx: DriftContext) -> None:
    _move_service(ctx, _new_group(ctx, ROGUE_GROUP, 80))


@drift(
    "test_attached_security_groups_are_declared_by_the_stack",
    "the ECS service is moved (UpdateService) to a new group that admits nothing from the world",
    id="net-service-moved-to-undeclared-group",
    names=lambda ctx: _group_named(ctx, "drift-app-copy"),
)
def drift_service_moved_to_undeclared_group(ctx: DriftContext) -> None:
    _move_service(ctx, _new_group(ctx, "drift-app-copy"))


@drift(
    "test_attached_security_groups_are_declared_by_the_stack",
    "an instance is started (RunInstances) in a private subnet with a group the stack does not declare",
    id="net-instance-with-undeclared-group",
    names=lambda ctx: _group_named(ctx, "drift-stray-instance"),
)
def drift_instance_with_undeclared_group(ctx: DriftContext) -> None:
    group = _new_group(ctx, "drift-stray-instance")
    _ec2(ctx).run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        SubnetId=ctx.outputs.PrivateSubnetIds[0],
        SecurityGroupIds=[group],
    )


@drift(
    "test_only_the_load_balancer_group_admits_the_world",
    "the database's group admits tcp 3306 from ::/0",
    id="net-db-group-world-open-v6",
    names=lambda ctx: _group_named(ctx, f"{_stack(ctx)}-db-sg"),
)
def drift_db_group_world_open(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_ingress(
        GroupId=_group_named(ctx, f"{_stack(ctx)}-db-sg"),
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
    )


@drift(
    "test_only_the_load_balancer_group_admits_the_world",
    "the load balancer's group opens tcp 8443 to the world, where no listener is",
    id="net-alb-group-world-open-off-listener",
    names=lambda ctx: _group_named(ctx, f"{_stack(ctx)}-alb-sg"),
)
def drift_alb_group_off_listener(ctx: DriftContext) -> None:
    _ec2(ctx).authorize_security_group_ingress(
        GroupId=_group_named(ctx, f"{_stack(ctx)}-alb-sg"),
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )


# ------------------------------------------------------- resource policies (tests/storage/test_resource_policies.py)
def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _root(ctx: DriftContext) -> str:
    account = ctx.outputs.KMSKeyArn.split(":")[4]
    return f"arn:aws:iam::{account}:root"


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    'the KMS key policy is replaced by one that also grants kms:* to "*"',
    id="sto-key-policy-open-to-everyone",
    names=lambda ctx: ctx.outputs.KMSKeyArn,
)
def drift_key_policy_open(ctx: DriftContext) -> None:
    ctx.client("kms").put_key_policy(
        KeyId=ctx.outputs.KMSKeyArn,
        PolicyName="default",
        Policy=_policy(
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": _root(ctx)}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        ),
    )


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    f"the bucket policy also grants s3:GetObject to account {OTHER_ACCOUNT}",
    id="sto-bucket-policy-other-account",
    names=lambda ctx: ctx.outputs.TransactionLogsBucket,
)
def drift_bucket_policy_other_account(ctx: DriftContext) -> None:
    s3, bucket = ctx.client("s3"), ctx.outputs.TransactionLogsBucket
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"].append(
        {
            "Sid": "PartnerRead",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    'the alarm topic\'s policy lets "*" publish and subscribe',
    id="sto-topic-policy-open-to-everyone",
    names=lambda ctx: ctx.outputs.AlarmTopicArn,
)
def drift_topic_policy_open(ctx: DriftContext) -> None:
    ctx.client("sns").set_topic_attributes(
        TopicArn=ctx.outputs.AlarmTopicArn,
        AttributeName="Policy",
        AttributeValue=_policy(
            {
                "Sid": "Anyone",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["sns:Publish", "sns:Subscribe"],
                "Resource": ctx.outputs.AlarmTopicArn,
            }
        ),
    )


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    f"the master secret gets a resource policy granting GetSecretValue to account {OTHER_ACCOUNT}",
    id="db-secret-policy-other-account",
    names=lambda ctx: ctx.outputs.DBSecretArn,
)
def drift_secret_policy_other_account(ctx: DriftContext) -> None:
    ctx.client("secretsmanager").put_resource_policy(
        SecretId=ctx.outputs.DBSecretArn,
        ResourcePolicy=_policy(
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ),
    )


# ------------------------------------------------------------------- key identity by meaning
def _cluster_with_another_key(doc: dict[str, Any]) -> dict[str, Any]:
    """Variant template: a second key, and the Aurora cluster encrypted with it (set only at creation)."""
    doc["Resources"]["DriftOtherKey"] = {
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Delete",
        "Properties": {"Description": "drift: not the environment key", "EnableKeyRotation": True},
    }
    doc["Resources"]["AuroraCluster"]["Properties"]["KmsKeyId"] = {"Fn::GetAtt": ["DriftOtherKey", "Arn"]}
    return doc


drift(
    "test_aurora_storage_encrypted_with_environment_key",
    "the Aurora cluster is created encrypted with another customer-managed key (not changeable through the API)",
    id="db-aurora-other-key",
    template=_cluster_with_another_key,
    names=lambda ctx: ctx.outputs.AuroraClusterIdentifier,
)(noop)


@drift(
    "test_vpc_flow_log_group_is_kms_encrypted",
    "the flow-logs log group is re-associated with another customer-managed key",
    id="net-flow-log-group-other-key",
    names=lambda ctx: f"{_stack(ctx)}-flow-logs",
)
def drift_flow_log_group_other_key(ctx: DriftContext) -> None:
    other = ctx.client("kms").create_key(Description="drift: not the environment key")["KeyMetadata"]["Arn"]
    ctx.client("logs").associate_kms_key(logGroupName=f"{_stack(ctx)}-flow-logs", kmsKeyId=other)


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    f"the task role's trust policy also lets account {OTHER_ACCOUNT} assume it (the role reads the bucket)",
    id="compute-task-role-trusts-other-account",
    names=lambda ctx: f"{_stack(ctx)}-task-role",
)
def drift_task_role_trusts_other_account(ctx: DriftContext) -> None:
    iam, role = ctx.client("iam"), f"{_stack(ctx)}-task-role"
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    trust["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    )
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    f"account {OTHER_ACCOUNT} may invoke the default-group custom resource (a Delete event restores its rules)",
    id="compute-default-sg-function-invokable-by-other-account",
    names=lambda ctx: f"{_stack(ctx)}-default-sg-restrict",
)
def drift_function_invokable_by_other_account(ctx: DriftContext) -> None:
    ctx.client("lambda").add_permission(
        FunctionName=f"{_stack(ctx)}-default-sg-restrict",
        StatementId="partner-invoke",
        Action="lambda:InvokeFunction",
        Principal=OTHER_ACCOUNT,
    )


# ---------------------------------------------------------- key grants (tests/storage/test_key_grants.py)
@drift(
    "test_key_grants_only_to_the_platforms_services",
    f"a grant (CreateGrant) on the environment key lets account {OTHER_ACCOUNT} decrypt",
    id="key-grant-to-other-account",
    names=lambda ctx: ctx.outputs.KMSKeyArn,
)
def drift_key_grant_to_other_account(ctx: DriftContext) -> None:
    ctx.client("kms").create_grant(
        KeyId=ctx.outputs.KMSKeyArn, GranteePrincipal=f"arn:aws:iam::{OTHER_ACCOUNT}:root", Operations=["Decrypt"]
    )


@drift(
    "test_key_grants_only_to_the_platforms_services",
    "a grant on the environment key lets a new role of the account (not the stack's) decrypt and create grants",
    id="key-grant-to-stray-role",
    names=lambda ctx: ctx.outputs.KMSKeyArn,
)
def drift_key_grant_to_stray_role(ctx: DriftContext) -> None:
    role = ctx.client("iam").create_role(
        RoleName="drift-key-user",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]  # fmt: skip
    ctx.client("kms").create_grant(
        KeyId=ctx.outputs.KMSKeyArn, GranteePrincipal=role, Operations=["Decrypt", "CreateGrant"]
    )
