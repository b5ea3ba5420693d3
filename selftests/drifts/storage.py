"""Drifts for the storage suite (tests/storage): bucket, write probe, KMS key, alarm topic, log groups."""

from __future__ import annotations

import json
from typing import Any

from selftests.drifts.registry import DriftContext, drift, noop


def _s3(ctx: DriftContext) -> Any:
    return ctx.client("s3")


def _bucket(ctx: DriftContext) -> str:
    return ctx.outputs.TransactionLogsBucket


def _key(ctx: DriftContext) -> str:
    return ctx.outputs.KMSKeyArn


def _topic(ctx: DriftContext) -> str:
    return ctx.outputs.AlarmTopicArn


def _group(component: str) -> Any:
    def name(ctx: DriftContext) -> str:
        return f"payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}-{component}"

    return name


def _other_key(ctx: DriftContext) -> str:
    """A second customer-managed key in the account: not the environment's."""
    return ctx.client("kms").create_key(Description="drift: not the environment key")["KeyMetadata"]["Arn"]


def _encrypt_bucket(ctx: DriftContext, default: dict[str, str], bucket_key: bool = True) -> None:
    _s3(ctx).put_bucket_encryption(
        Bucket=_bucket(ctx),
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bucket_key}]
        },
    )


def _put_policy(ctx: DriftContext, *statements: dict[str, Any]) -> None:
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    _s3(ctx).put_bucket_policy(Bucket=_bucket(ctx), Policy=json.dumps(policy))


def _tls_deny(ctx: DriftContext, **changes: Any) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{_bucket(ctx)}"
    statement: dict[str, Any] = {
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }  # fmt: skip
    statement.update(changes)
    return statement


def _lifecycle(ctx: DriftContext) -> list[dict[str, Any]]:
    return _s3(ctx).get_bucket_lifecycle_configuration(Bucket=_bucket(ctx))["Rules"]


def _put_lifecycle(ctx: DriftContext, rules: list[dict[str, Any]]) -> None:
    _s3(ctx).put_bucket_lifecycle_configuration(Bucket=_bucket(ctx), LifecycleConfiguration={"Rules": rules})


# --------------------------------------------------------------------------- bucket encryption


@drift(
    "test_transaction_bucket_encrypts_with_environment_key",
    "the bucket's default encryption is switched to another customer-managed KMS key",
    id="sto-bucket-other-kms-key",
    names=_bucket,
)
def drift_bucket_other_kms_key(ctx: DriftContext) -> None:
    _encrypt_bucket(ctx, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _other_key(ctx)})


@drift(
    "test_transaction_bucket_encrypts_with_environment_key",
    "the bucket's default encryption is deleted (S3 falls back to SSE-S3, AES256)",
    id="sto-bucket-encryption-deleted",
    names=_bucket,
)
def drift_bucket_encryption_deleted(ctx: DriftContext) -> None:
    _s3(ctx).delete_bucket_encryption(Bucket=_bucket(ctx))


@drift(
    "test_transaction_bucket_uses_bucket_key",
    "the bucket keeps SSE-KMS with the environment key but turns the S3 bucket key off",
    id="sto-bucket-key-disabled",
    names=_bucket,
)
def drift_bucket_key_disabled(ctx: DriftContext) -> None:
    _encrypt_bucket(ctx, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _key(ctx)}, bucket_key=False)


# --------------------------------------------------------------------------- live write probe


@drift(
    "test_transaction_bucket_stores_new_objects_with_environment_key",
    "new objects are encrypted with another KMS key (the bucket default points at it)",
    id="sto-probe-other-kms-key",
    names=_bucket,
)
def drift_probe_other_kms_key(ctx: DriftContext) -> None:
    _encrypt_bucket(ctx, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _other_key(ctx)})


@drift(
    "test_transaction_bucket_stores_new_objects_with_environment_key",
    "new objects are stored with SSE-S3 (AES256) after the bucket's default encryption is deleted",
    id="sto-probe-encryption-deleted",
    names=_bucket,
)
def drift_probe_encryption_deleted(ctx: DriftContext) -> None:
    _s3(ctx).delete_bucket_encryption(Bucket=_bucket(ctx))


# --------------------------------------------------------------------------- bucket controls


@drift(
    "test_transaction_bucket_versioning_enabled",
    "versioning is suspended",
    id="sto-versioning-suspended",
    names=_bucket,
)
def drift_versioning_suspended(ctx: DriftContext) -> None:
    _s3(ctx).put_bucket_versioning(Bucket=_bucket(ctx), VersioningConfiguration={"Status": "Suspended"})


@drift(
    "test_transaction_bucket_blocks_all_public_access",
    "BlockPublicPolicy is turned off",
    id="sto-public-policy-allowed",
    names=_bucket,
)
def drift_public_policy_allowed(ctx: DriftContext) -> None:
    _s3(ctx).put_public_access_block(
        Bucket=_bucket(ctx),
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )  # fmt: skip


@drift(
    "test_transaction_bucket_blocks_all_public_access",
    "the bucket's public access block is deleted",
    id="sto-public-access-block-deleted",
    names=_bucket,
)
def drift_public_access_block_deleted(ctx: DriftContext) -> None:
    _s3(ctx).delete_public_access_block(Bucket=_bucket(ctx))


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the bucket policy is replaced by one without the TLS-only deny",
    id="sto-policy-without-tls-deny",
    names=_bucket,
)
def drift_policy_without_tls(ctx: DriftContext) -> None:
    _put_policy(ctx, _tls_deny(ctx, Sid="DenyDeleteBucket", Action="s3:DeleteBucket", Condition={}))


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the TLS-only statement is turned into an Allow over TLS (which denies nothing)",
    id="sto-policy-allow-only",
    names=_bucket,
)
def drift_policy_allow_only(ctx: DriftContext) -> None:
    account = ctx.outputs.KMSKeyArn.split(":")[4]
    _put_policy(
        ctx,
        _tls_deny(
            ctx, Sid="AllowSecureTransport", Effect="Allow", Principal={"AWS": f"arn:aws:iam::{account}:root"},
            Condition={"Bool": {"aws:SecureTransport": "true"}},
        ),
    )  # fmt: skip


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the TLS-only deny covers the objects but no longer the bucket itself",
    id="sto-policy-tls-deny-objects-only",
    names=_bucket,
)
def drift_policy_objects_only(ctx: DriftContext) -> None:
    _put_policy(ctx, _tls_deny(ctx, Resource=f"arn:aws:s3:::{_bucket(ctx)}/*"))


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the TLS-only deny only covers GetObject",
    id="sto-policy-tls-deny-one-action",
    names=_bucket,
)
def drift_policy_one_action(ctx: DriftContext) -> None:
    _put_policy(ctx, _tls_deny(ctx, Action=["s3:GetObject"]))


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the TLS-only deny is narrowed by an extra condition (only one principal's plain-HTTP calls are denied)",
    id="sto-policy-tls-deny-narrowed",
    names=_bucket,
)
def drift_policy_narrowed(ctx: DriftContext) -> None:
    condition = {
        "Bool": {"aws:SecureTransport": "false"},
        "StringEquals": {"aws:PrincipalArn": "arn:aws:iam::000000000000:role/nobody"},
    }
    _put_policy(ctx, _tls_deny(ctx, Condition=condition))


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the bucket policy is deleted",
    id="sto-policy-deleted",
    names=_bucket,
)
def drift_policy_deleted(ctx: DriftContext) -> None:
    _s3(ctx).delete_bucket_policy(Bucket=_bucket(ctx))


@drift(
    "test_transaction_bucket_owner_enforced",
    "object ownership is set to ObjectWriter (ACLs back on)",
    id="sto-object-writer",
    names=_bucket,
)
def drift_object_writer(ctx: DriftContext) -> None:
    _s3(ctx).put_bucket_ownership_controls(
        Bucket=_bucket(ctx), OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )


@drift(
    "test_transaction_bucket_lifecycle_rules_enabled",
    "the lifecycle rules are deleted",
    id="sto-lifecycle-deleted",
    names=_bucket,
)
def drift_lifecycle_deleted(ctx: DriftContext) -> None:
    _s3(ctx).delete_bucket_lifecycle(Bucket=_bucket(ctx))


@drift(
    "test_transaction_bucket_lifecycle_rules_enabled",
    "every lifecycle rule is kept but disabled",
    id="sto-lifecycle-disabled",
    names=_bucket,
)
def drift_lifecycle_disabled(ctx: DriftContext) -> None:
    _put_lifecycle(ctx, [{**rule, "Status": "Disabled"} for rule in _lifecycle(ctx)])


@drift(
    "test_transaction_bucket_lifecycle_keeps_logs_a_year",
    "a lifecycle rule now deletes current transaction logs after 30 days",
    id="sto-lifecycle-expires-after-30-days",
    names=_bucket,
)
def drift_lifecycle_expires_early(ctx: DriftContext) -> None:
    rules = _lifecycle(ctx)
    rules.append({"ID": "expire-early", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 30}})
    _put_lifecycle(ctx, rules)


# --------------------------------------------------------------------------- KMS key


@drift("test_kms_key_enabled", "the environment key is disabled", id="sto-key-disabled", names=_key)
def drift_key_disabled(ctx: DriftContext) -> None:
    ctx.client("kms").disable_key(KeyId=_key(ctx))


@drift(
    "test_kms_key_enabled",
    "the environment key is scheduled for deletion",
    id="sto-key-pending-deletion",
    names=_key,
)
def drift_key_pending_deletion(ctx: DriftContext) -> None:
    ctx.client("kms").schedule_key_deletion(KeyId=_key(ctx), PendingWindowInDays=30)


def _hmac_key(doc: dict[str, Any]) -> dict[str, Any]:
    # KeySpec/KeyUsage cannot change on an existing key (on AWS either): a variant template creates
    # an HMAC key instead; HMAC keys cannot rotate, so rotation is off too.
    props = doc["Resources"]["KMSKey"]["Properties"]
    props.update(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", EnableKeyRotation=False)
    return doc


drift(
    "test_kms_key_customer_managed_symmetric",
    "the environment key is an HMAC key (GENERATE_VERIFY_MAC), not a symmetric encryption key",
    id="sto-key-hmac",
    template=_hmac_key,
    names=_key,
)(noop)


@drift("test_kms_key_rotation_enabled", "key rotation is disabled", id="sto-rotation-off", names=_key)
def drift_rotation_off(ctx: DriftContext) -> None:
    ctx.client("kms").disable_key_rotation(KeyId=_key(ctx))


@drift("test_kms_key_has_environment_alias", "the key's alias is deleted", id="sto-alias-deleted", names=_key)
def drift_alias_deleted(ctx: DriftContext) -> None:
    name = f"alias/payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}-key"
    ctx.client("kms").delete_alias(AliasName=name)


@drift(
    "test_kms_key_has_environment_alias",
    "the key's alias is pointed at another key",
    id="sto-alias-moved",
    names=_key,
)
def drift_alias_moved(ctx: DriftContext) -> None:
    name = f"alias/payments-{ctx.outputs.EnvironmentName}-{ctx.outputs.EnvironmentSuffix}-key"
    ctx.client("kms").update_alias(AliasName=name, TargetKeyId=_other_key(ctx))


# --------------------------------------------------------------------------- alarm topic


@drift(
    "test_alarm_topic_encrypted_with_environment_key",
    "the topic's server-side encryption is removed",
    id="sto-topic-unencrypted",
    names=_topic,
)
def drift_topic_unencrypted(ctx: DriftContext) -> None:
    ctx.client("sns").set_topic_attributes(TopicArn=_topic(ctx), AttributeName="KmsMasterKeyId", AttributeValue="")


@drift(
    "test_alarm_topic_encrypted_with_environment_key",
    "the topic is encrypted with another key",
    id="sto-topic-other-key",
    names=_topic,
)
def drift_topic_other_key(ctx: DriftContext) -> None:
    ctx.client("sns").set_topic_attributes(
        TopicArn=_topic(ctx), AttributeName="KmsMasterKeyId", AttributeValue=_other_key(ctx)
    )


def _without_subscription(doc: dict[str, Any]) -> dict[str, Any]:
    # a pending e-mail subscription has no ARN to unsubscribe (on AWS too): the variant template drops it
    doc["Resources"].pop("AlarmEmailSubscription")
    return doc


drift(
    "test_alarm_topic_mails_on_call_address",
    "the on-call e-mail subscription is missing",
    id="sto-topic-unsubscribed",
    template=_without_subscription,
    names=_topic,
)(noop)

drift(
    "test_alarm_topic_mails_on_call_address",
    "the topic mails another address than the environment's on-call address",
    id="sto-topic-mails-other-address",
    parameters={"AlarmEmail": "someone-else@example.com"},
    names=_topic,
)(noop)


# --------------------------------------------------------------------------- log groups


@drift(
    "test_log_groups_exist",
    "the application log group is deleted",
    id="sto-app-log-group-deleted",
    names=_group("app-logs"),
)
def drift_app_log_group_deleted(ctx: DriftContext) -> None:
    ctx.client("logs").delete_log_group(logGroupName=_group("app-logs")(ctx))


@drift(
    "test_log_groups_encrypted_with_environment_key",
    "the flow-log group's KMS key is disassociated",
    id="sto-flow-log-group-key-disassociated",
    names=_group("flow-logs"),
)
def drift_flow_log_group_key_disassociated(ctx: DriftContext) -> None:
    ctx.client("logs").disassociate_kms_key(logGroupName=_group("flow-logs")(ctx))


@drift(
    "test_log_groups_encrypted_with_environment_key",
    "the application log group is encrypted with another key",
    id="sto-app-log-group-other-key",
    names=_group("app-logs"),
)
def drift_app_log_group_other_key(ctx: DriftContext) -> None:
    ctx.client("logs").associate_kms_key(logGroupName=_group("app-logs")(ctx), kmsKeyId=_other_key(ctx))


@drift(
    "test_log_groups_keep_specified_retention",
    "the application log group's retention is cut to one day",
    id="sto-log-retention-one-day",
    names=_group("app-logs"),
)
def drift_log_retention_one_day(ctx: DriftContext) -> None:
    ctx.client("logs").put_retention_policy(logGroupName=_group("app-logs")(ctx), retentionInDays=1)


@drift(
    "test_log_groups_keep_specified_retention",
    "the flow-log group's retention policy is removed (logs kept forever)",
    id="sto-log-retention-removed",
    names=_group("flow-logs"),
)
def drift_log_retention_removed(ctx: DriftContext) -> None:
    ctx.client("logs").delete_retention_policy(logGroupName=_group("flow-logs")(ctx))


@drift(
    "test_log_groups_encrypted_with_environment_key",
    "the CIS 5.4 custom resource's function log group loses its KMS key",
    id="sto-function-log-group-key-disassociated",
    names=_group("default-sg-restrict-logs"),
)
def drift_function_log_group_key_disassociated(ctx: DriftContext) -> None:
    ctx.client("logs").disassociate_kms_key(logGroupName=_group("default-sg-restrict-logs")(ctx))


# ---------------------------------------------------------------- bucket ACLs (tests/storage/test_bucket_acl.py)
@drift(
    "test_bucket_acls_grant_only_the_owner",
    "ACLs re-enabled on the transaction bucket (ObjectWriter) and a READ grant given to another canonical user",
    id="storage-bucket-acl-grant",
    names=lambda ctx: ctx.outputs.TransactionLogsBucket,
)
def drift_bucket_acl_grant(ctx: DriftContext) -> None:
    s3, bucket = ctx.client("s3"), ctx.outputs.TransactionLogsBucket
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    other = "0" * 63 + "1"  # a canonical user id of another account
    s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{owner}"', GrantRead=f'id="{other}"')


# ---------------------------------------------------------------- access points (tests/storage/test_access_points.py)
@drift(
    "test_transaction_bucket_access_points_conform",
    "an access point (CreateAccessPoint) on the transaction bucket, public-access blocks off, lets account "
    "111122223333 read every object (PutAccessPointPolicy)",
    id="storage-open-access-point",
    names=lambda ctx: ctx.outputs.TransactionLogsBucket,
)
def drift_open_access_point(ctx: DriftContext) -> None:
    s3control, account = ctx.client("s3control"), ctx.client("sts").get_caller_identity()["Account"]
    off = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
           "RestrictPublicBuckets": False}  # fmt: skip
    arn = s3control.create_access_point(
        AccountId=account, Name="drift-side-door", Bucket=ctx.outputs.TransactionLogsBucket,
        PublicAccessBlockConfiguration=off,
    )["AccessPointArn"]  # fmt: skip
    other = {"AWS": "arn:aws:iam::111122223333:root"}
    grant = {"Effect": "Allow", "Principal": other, "Action": "s3:GetObject", "Resource": f"{arn}/object/*"}
    policy = {"Version": "2012-10-17", "Statement": [grant]}
    s3control.put_access_point_policy(AccountId=account, Name="drift-side-door", Policy=json.dumps(policy))
