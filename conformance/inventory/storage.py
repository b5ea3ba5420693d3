"""Storage and keys: the transaction-logs bucket, the KMS key, the SNS topic, the log groups."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import (
    BucketVersioning,
    EncryptionRule,
    KeyMetadata,
    LifecycleRule,
    LoggingEnabled,
    LogGroup,
    OwnershipControlsRule,
    PublicAccessBlock,
    Subscription,
)
from conformance.keys import names_key
from core.aws import AwsSession
from core.outputs import StackOutputs

if TYPE_CHECKING:
    from types_boto3_kms.client import KMSClient
    from types_boto3_logs.client import CloudWatchLogsClient
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import ServerSideEncryptionByDefaultTypeDef
    from types_boto3_sns.client import SNSClient


class StorageSection(Section):
    bucket: str = ""
    # ServerSideEncryptionConfiguration.Rules
    encryption: Annotated[list[EncryptionRule], reads("s3:GetBucketEncryption")] = Field(default_factory=list)
    # GetBucketVersioning's answer without its ResponseMetadata
    versioning: Annotated[BucketVersioning, reads("s3:GetBucketVersioning")] = Field(default_factory=nothing)
    public_access_block: Annotated[PublicAccessBlock, reads("s3:GetPublicAccessBlock")] = Field(default_factory=nothing)
    # the bucket policy document (IAM policy grammar, not an API shape)
    policy: Annotated[dict[str, Any], reads("s3:GetBucketPolicy")] = Field(default_factory=dict)
    ownership: Annotated[list[OwnershipControlsRule], reads("s3:GetBucketOwnershipControls")] = Field(
        default_factory=list
    )
    lifecycle: Annotated[list[LifecycleRule], reads("s3:GetBucketLifecycleConfiguration")] = Field(default_factory=list)
    bucket_tags: Annotated[dict[str, str], reads("s3:GetBucketTagging")] = Field(default_factory=dict)
    # GetBucketLogging's LoggingEnabled of the transaction bucket ({} when server access logging is off)
    server_access_logging: Annotated[LoggingEnabled, reads("s3:GetBucketLogging")] = Field(default_factory=nothing)
    # the access-logs bucket (load balancer access logs, the transaction bucket's server access logs)
    log_bucket: str = ""
    log_bucket_encryption: Annotated[list[EncryptionRule], reads("s3:GetBucketEncryption")] = Field(
        default_factory=list
    )
    log_bucket_versioning: Annotated[BucketVersioning, reads("s3:GetBucketVersioning")] = Field(default_factory=nothing)
    log_bucket_public_access_block: Annotated[PublicAccessBlock, reads("s3:GetPublicAccessBlock")] = Field(
        default_factory=nothing
    )
    log_bucket_policy: Annotated[dict[str, Any], reads("s3:GetBucketPolicy")] = Field(default_factory=dict)
    log_bucket_ownership: Annotated[list[OwnershipControlsRule], reads("s3:GetBucketOwnershipControls")] = Field(
        default_factory=list
    )
    log_bucket_lifecycle: Annotated[list[LifecycleRule], reads("s3:GetBucketLifecycleConfiguration")] = Field(
        default_factory=list
    )
    key: Annotated[KeyMetadata, reads("kms:DescribeKey")] = Field(default_factory=nothing)
    key_rotation: Annotated[bool | None, reads("kms:GetKeyRotationStatus")] = None
    key_aliases: Annotated[list[str], reads("kms:ListAliases")] = Field(default_factory=list)
    # GetKeyPolicy(default)'s Policy (JSON text of the IAM policy grammar)
    key_policy: Annotated[str, reads("kms:GetKeyPolicy")] = ""
    # the topic's attributes (GetTopicAttributes' Attributes map: attribute name -> value)
    topic: Annotated[dict[str, str], reads("sns:GetTopicAttributes")] = Field(default_factory=dict)
    subscriptions: Annotated[list[Subscription], reads("sns:ListSubscriptionsByTopic")] = Field(default_factory=list)
    log_groups: Annotated[list[LogGroup], reads("logs:DescribeLogGroups")] = Field(default_factory=list)

    @property
    def default_encryption(self) -> ServerSideEncryptionByDefaultTypeDef:
        """The first rule's default encryption ({} when there is none)."""
        none = cast("ServerSideEncryptionByDefaultTypeDef", {})
        return self.encryption[0].get("ApplyServerSideEncryptionByDefault", none) if self.encryption else none

    @property
    def bucket_key_enabled(self) -> bool:
        return bool(self.encryption[0].get("BucketKeyEnabled", False)) if self.encryption else False

    def is_environment_key(self, reported: str | None) -> bool:
        """True when ``reported`` (key id, key ARN, alias name or alias ARN) names the environment's key.

        The key must exist (DescribeKey answered); an alias counts only if ListAliases lists it for
        this key.
        """
        return names_key(reported, self.key, self.key_aliases)

    def log_group(self, name: str) -> LogGroup | None:
        """The described log group of exactly that name, if it exists."""
        return next((g for g in self.log_groups if g.get("logGroupName") == name), None)

    @property
    def email_endpoints(self) -> list[str]:
        """The addresses of the topic's e-mail subscriptions, confirmed or pending."""
        return [str(s.get("Endpoint")) for s in self.subscriptions if s.get("Protocol") == "email"]


def collect_storage(aws: AwsSession, outputs: StackOutputs) -> StorageSection:
    s3: S3Client = aws.client("s3")
    kms: KMSClient = aws.client("kms")
    sns: SNSClient = aws.client("sns")
    logs: CloudWatchLogsClient = aws.client("logs")
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
        s.versioning = get(
            "s3:GetBucketVersioning",
            lambda: cast("BucketVersioning", _strip(s3.get_bucket_versioning(Bucket=bucket))),
            {},
        )

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

    def server_access_logging() -> None:
        s.server_access_logging = get(
            "s3:GetBucketLogging", lambda: s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {}, {}
        )

    log_bucket = outputs.AccessLogsBucket
    s.log_bucket = log_bucket

    def log_bucket_part() -> None:
        def encryption() -> None:
            s.log_bucket_encryption = get(
                "s3:GetBucketEncryption",
                lambda: s3.get_bucket_encryption(Bucket=log_bucket)["ServerSideEncryptionConfiguration"]["Rules"],
                [], "ServerSideEncryptionConfigurationNotFoundError",
            )  # fmt: skip

        def versioning() -> None:
            s.log_bucket_versioning = get(
                "s3:GetBucketVersioning",
                lambda: cast("BucketVersioning", _strip(s3.get_bucket_versioning(Bucket=log_bucket))),
                {},
            )

        def public_access_block() -> None:
            s.log_bucket_public_access_block = get(
                "s3:GetPublicAccessBlock",
                lambda: s3.get_public_access_block(Bucket=log_bucket)["PublicAccessBlockConfiguration"],
                {}, "NoSuchPublicAccessBlockConfiguration",
            )  # fmt: skip

        def policy() -> None:
            s.log_bucket_policy = get(
                "s3:GetBucketPolicy", lambda: json.loads(s3.get_bucket_policy(Bucket=log_bucket)["Policy"]), {},
                "NoSuchBucketPolicy",
            )  # fmt: skip

        def ownership() -> None:
            s.log_bucket_ownership = get(
                "s3:GetBucketOwnershipControls",
                lambda: s3.get_bucket_ownership_controls(Bucket=log_bucket)["OwnershipControls"]["Rules"],
                [], "OwnershipControlsNotFoundError",
            )  # fmt: skip

        def lifecycle() -> None:
            s.log_bucket_lifecycle = get(
                "s3:GetBucketLifecycleConfiguration",
                lambda: s3.get_bucket_lifecycle_configuration(Bucket=log_bucket)["Rules"],
                [], "NoSuchLifecycleConfiguration",
            )  # fmt: skip

        concurrently(encryption, versioning, public_access_block, policy, ownership, lifecycle)

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
            lambda: [
                group  # the stack's groups, and the WAF's, whose name AWS requires to start with aws-waf-logs-
                for each in (prefix, f"aws-waf-logs-{prefix}")
                for group in paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=each)
            ],
            [],
        )

    # every read stands alone: all at once (the depth of the section is one call)
    concurrently(
        encryption, versioning, public_access_block, policy, ownership, lifecycle, bucket_tags,
        server_access_logging, log_bucket_part,
        key, key_rotation, key_aliases, key_policy, topic, subscriptions, log_groups,
    )  # fmt: skip
    return s


def _strip(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
