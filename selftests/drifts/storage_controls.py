"""Drifts for tests/storage/test_controls.py."""

from __future__ import annotations

import json

from selftests.drifts.registry import DriftContext, drift, noop


def _s3(ctx: DriftContext):
    return ctx.client("s3")


def _bucket(ctx: DriftContext) -> str:
    return ctx.outputs.TransactionLogsBucket


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
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )


@drift(
    "test_transaction_bucket_policy_denies_insecure_transport",
    "the bucket policy is replaced by one without the TLS-only deny",
    id="sto-policy-without-tls-deny",
    names=_bucket,
)
def drift_policy_without_tls(ctx: DriftContext) -> None:
    bucket = _bucket(ctx)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "DenyDeleteBucket", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
                       "Resource": f"arn:aws:s3:::{bucket}"}],
    }  # fmt: skip
    _s3(ctx).put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


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
    "test_transaction_bucket_stores_new_objects_with_environment_key",
    "the bucket's default encryption is switched to a different KMS key",
    id="sto-other-kms-key",
    names=_bucket,
)
def drift_other_kms_key(ctx: DriftContext) -> None:
    other = ctx.client("kms").create_key(Description="not the environment key")["KeyMetadata"]["Arn"]
    _s3(ctx).put_bucket_encryption(
        Bucket=_bucket(ctx),
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other},
                       "BucketKeyEnabled": True}]
        },
    )  # fmt: skip


@drift(
    "test_kms_key_enabled_customer_managed_with_rotation",
    "key rotation is disabled",
    id="sto-rotation-off",
    names=lambda ctx: ctx.outputs.KMSKeyArn,
)
def drift_rotation_off(ctx: DriftContext) -> None:
    ctx.client("kms").disable_key_rotation(KeyId=ctx.outputs.KMSKeyArn)


@drift(
    "test_alarm_topic_encrypted_and_subscribed",
    "the topic's server-side encryption is removed",
    id="sto-topic-unencrypted",
    names=lambda ctx: ctx.outputs.AlarmTopicArn,
)
def drift_topic_unencrypted(ctx: DriftContext) -> None:
    ctx.client("sns").set_topic_attributes(
        TopicArn=ctx.outputs.AlarmTopicArn, AttributeName="KmsMasterKeyId", AttributeValue=""
    )


def _without_subscription(doc: dict) -> dict:
    # a pending e-mail subscription has no ARN to unsubscribe (on AWS too): the variant template drops it
    doc["Resources"].pop("AlarmEmailSubscription")
    return doc


drift(
    "test_alarm_topic_encrypted_and_subscribed",
    "the on-call e-mail subscription is missing",
    id="sto-topic-unsubscribed",
    template=_without_subscription,
    names=lambda ctx: ctx.outputs.AlarmTopicArn,
)(noop)


@drift(
    "test_log_groups_encrypted_with_specified_retention",
    "the application log group's retention is cut to one day",
    id="sto-log-retention-one-day",
    names=lambda ctx: "app-logs",
)
def drift_log_retention(ctx: DriftContext) -> None:
    name = f"payments-{ctx.env}-drift-app-logs"
    ctx.client("logs").put_retention_policy(logGroupName=name, retentionInDays=1)
