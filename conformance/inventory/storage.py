"""Storage and keys: the transaction-logs bucket, the KMS key, the SNS topic, the log groups."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from conformance.aws import AwsSession
from conformance.inventory.base import Raw, Section, absent_on, attempt, concurrently, paginate
from conformance.keys import names_key
from conformance.outputs import StackOutputs


class StorageSection(Section):
    bucket: str = ""
    encryption: list[Raw] = Field(default_factory=list)  # ServerSideEncryptionConfiguration.Rules
    versioning: Raw = Field(default_factory=dict)
    public_access_block: Raw = Field(default_factory=dict)
    policy: Raw = Field(default_factory=dict)
    ownership: list[Raw] = Field(default_factory=list)
    lifecycle: list[Raw] = Field(default_factory=list)
    bucket_tags: dict[str, str] = Field(default_factory=dict)
    key: Raw = Field(default_factory=dict)
    key_rotation: bool | None = None
    key_aliases: list[str] = Field(default_factory=list)
    key_policy: str = ""  # GetKeyPolicy(default)'s Policy (JSON text)
    topic: Raw = Field(default_factory=dict)
    subscriptions: list[Raw] = Field(default_factory=list)
    log_groups: list[Raw] = Field(default_factory=list)

    @property
    def default_encryption(self) -> Raw:
        return (self.encryption[0] if self.encryption else {}).get("ApplyServerSideEncryptionByDefault", {})

    @property
    def bucket_key_enabled(self) -> bool:
        return bool((self.encryption[0] if self.encryption else {}).get("BucketKeyEnabled", False))

    def is_environment_key(self, reported: str | None) -> bool:
        """True when ``reported`` (key id, key ARN, alias name or alias ARN) names the environment's key.

        The key must exist (DescribeKey answered); an alias counts only if ListAliases lists it for
        this key.
        """
        return names_key(reported, self.key, self.key_aliases)

    def log_group(self, name: str) -> Raw | None:
        """The described log group of exactly that name, if it exists."""
        return next((g for g in self.log_groups if g.get("logGroupName") == name), None)

    @property
    def email_endpoints(self) -> list[str]:
        """The addresses of the topic's e-mail subscriptions, confirmed or pending."""
        return [str(s.get("Endpoint")) for s in self.subscriptions if s.get("Protocol") == "email"]


def collect_storage(aws: AwsSession, outputs: StackOutputs) -> StorageSection:
    s3 = aws.client("s3")
    kms = aws.client("kms")
    sns = aws.client("sns")
    logs = aws.client("logs")
    bucket = outputs.TransactionLogsBucket
    s = StorageSection(bucket=bucket)
    prefix = f"payments-{outputs.EnvironmentName}-{outputs.EnvironmentSuffix}"

    def get(op: str, fn: Any, default: Any, *absent: str) -> Any:
        return attempt(s, op, lambda: absent_on(absent, fn, default), default)

    def encryption() -> None:
        s.encryption = get(
            "s3:GetBucketEncryption",
            lambda: s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
            [], "ServerSideEncryptionConfigurationNotFoundError",
        )  # fmt: skip

    def versioning() -> None:
        s.versioning = get("s3:GetBucketVersioning", lambda: _strip(s3.get_bucket_versioning(Bucket=bucket)), {})

    def public_access_block() -> None:
        s.public_access_block = get(
            "s3:GetPublicAccessBlock",
            lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
            {}, "NoSuchPublicAccessBlockConfiguration",
        )  # fmt: skip

    def policy() -> None:
        s.policy = get(
            "s3:GetBucketPolicy", lambda: json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]), {},
            "NoSuchBucketPolicy",
        )  # fmt: skip

    def ownership() -> None:
        s.ownership = get(
            "s3:GetBucketOwnershipControls",
            lambda: s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
            [], "OwnershipControlsNotFoundError",
        )  # fmt: skip

    def lifecycle() -> None:
        s.lifecycle = get(
            "s3:GetBucketLifecycleConfiguration",
            lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
            [], "NoSuchLifecycleConfiguration",
        )  # fmt: skip

    def bucket_tags() -> None:
        s.bucket_tags = get(
            "s3:GetBucketTagging",
            lambda: {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]},
            {}, "NoSuchTagSet",
        )  # fmt: skip

    def key() -> None:
        s.key = get("kms:DescribeKey", lambda: kms.describe_key(KeyId=outputs.KMSKeyArn)["KeyMetadata"], {})

    def key_rotation() -> None:
        rotation = get("kms:GetKeyRotationStatus", lambda: kms.get_key_rotation_status(KeyId=outputs.KMSKeyArn), {})
        s.key_rotation = rotation.get("KeyRotationEnabled") if rotation else None

    def key_aliases() -> None:
        s.key_aliases = get(
            "kms:ListAliases",
            lambda: [a["AliasName"] for a in paginate(kms, "list_aliases", "Aliases", KeyId=outputs.KMSKeyArn)],
            [],
        )

    def key_policy() -> None:
        s.key_policy = get(
            "kms:GetKeyPolicy",
            lambda: kms.get_key_policy(KeyId=outputs.KMSKeyArn, PolicyName="default")["Policy"],
            "",
        )

    def topic() -> None:
        s.topic = get(
            "sns:GetTopicAttributes",
            lambda: sns.get_topic_attributes(TopicArn=outputs.AlarmTopicArn)["Attributes"],
            {},
        )

    def subscriptions() -> None:
        s.subscriptions = get(
            "sns:ListSubscriptionsByTopic",
            lambda: paginate(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=outputs.AlarmTopicArn),
            [],
        )

    def log_groups() -> None:
        s.log_groups = get(
            "logs:DescribeLogGroups",
            lambda: paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=prefix),
            [],
        )

    # every read stands alone: all at once (the depth of the section is one call)
    concurrently(
        encryption, versioning, public_access_block, policy, ownership, lifecycle, bucket_tags,
        key, key_rotation, key_aliases, key_policy, topic, subscriptions, log_groups,
    )  # fmt: skip
    return s


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
