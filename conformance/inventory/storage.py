"""Storage and keys: the transaction-logs bucket, the KMS key, the SNS topic, the log groups."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import (
    AccessPoint,
    BucketAcl,
    BucketVersioning,
    EncryptionRule,
    KeyGrant,
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
    from types_boto3_s3control.client import S3ControlClient
    from types_boto3_sns.client import SNSClient


# the qualifier of the access-logs bucket's reads in a section's errors: "s3:GetBucketPolicy(AccessLogsBucket)"
LOG_BUCKET = "(AccessLogsBucket)"


@dataclass(frozen=True)
class BucketConfiguration:
    """A bucket's configuration as seven reads answer it (each empty when none is configured or it failed)."""

    encryption: list[EncryptionRule]  # ServerSideEncryptionConfiguration.Rules
    versioning: BucketVersioning  # GetBucketVersioning's answer without its ResponseMetadata
    public_access_block: PublicAccessBlock
    policy: dict[str, Any]  # the bucket policy document
    ownership: list[OwnershipControlsRule]
    lifecycle: list[LifecycleRule]
    acl: BucketAcl  # GetBucketAcl's Owner and Grants


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
    # GetBucketAcl's answer without its ResponseMetadata: the owner and every grant of the bucket ACL
    acl: Annotated[BucketAcl, reads("s3:GetBucketAcl")] = Field(default_factory=nothing)
    bucket_tags: Annotated[dict[str, str], reads("s3:GetBucketTagging")] = Field(default_factory=dict)
    # GetBucketLogging's LoggingEnabled of the transaction bucket ({} when server access logging is off)
    server_access_logging: Annotated[LoggingEnabled, reads("s3:GetBucketLogging")] = Field(default_factory=nothing)
    # the access-logs bucket (load balancer access logs, the transaction bucket's server access logs): the
    # same six reads of its configuration, recorded under the operation + LOG_BUCKET (one bucket's failure
    # makes only its own fields unreadable)
    # the transaction bucket's access points (S3 Control ListAccessPoints Bucket=...), each as GetAccessPoint
    # answers it without its ResponseMetadata: access point name -> configuration
    access_points: Annotated[
        dict[str, AccessPoint], reads("s3control:ListAccessPoints", "s3control:GetAccessPoint")
    ] = Field(default_factory=dict)
    # each of those access points' policy (GetAccessPointPolicy, JSON text), "" when it has none
    access_point_policies: Annotated[
        dict[str, str], reads("s3control:ListAccessPoints", "s3control:GetAccessPointPolicy")
    ] = Field(default_factory=dict)
    log_bucket: str = ""
    log_bucket_encryption: Annotated[list[EncryptionRule], reads(f"s3:GetBucketEncryption{LOG_BUCKET}")] = Field(
        default_factory=list
    )
    log_bucket_versioning: Annotated[BucketVersioning, reads(f"s3:GetBucketVersioning{LOG_BUCKET}")] = Field(
        default_factory=nothing
    )
    log_bucket_public_access_block: Annotated[PublicAccessBlock, reads(f"s3:GetPublicAccessBlock{LOG_BUCKET}")] = Field(
        default_factory=nothing
    )
    log_bucket_policy: Annotated[dict[str, Any], reads(f"s3:GetBucketPolicy{LOG_BUCKET}")] = Field(default_factory=dict)
    log_bucket_ownership: Annotated[
        list[OwnershipControlsRule], reads(f"s3:GetBucketOwnershipControls{LOG_BUCKET}")
    ] = Field(default_factory=list)
    log_bucket_lifecycle: Annotated[list[LifecycleRule], reads(f"s3:GetBucketLifecycleConfiguration{LOG_BUCKET}")] = (
        Field(default_factory=list)
    )
    log_bucket_acl: Annotated[BucketAcl, reads(f"s3:GetBucketAcl{LOG_BUCKET}")] = Field(default_factory=nothing)
    key: Annotated[KeyMetadata, reads("kms:DescribeKey")] = Field(default_factory=nothing)
    key_rotation: Annotated[bool | None, reads("kms:GetKeyRotationStatus")] = None
    key_aliases: Annotated[list[str], reads("kms:ListAliases")] = Field(default_factory=list)
    # GetKeyPolicy(default)'s Policy (JSON text of the IAM policy grammar)
    key_policy: Annotated[str, reads("kms:GetKeyPolicy")] = ""
    # every grant on the key (ListGrants): a grant allows its grantee the operations it names, beside the key policy
    key_grants: Annotated[list[KeyGrant], reads("kms:ListGrants")] = Field(default_factory=list)
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


def collect_storage(aws: AwsSession, outputs: StackOutputs, account: str) -> StorageSection:
    s3: S3Client = aws.client("s3")
    s3control: S3ControlClient = aws.client("s3control")
    kms: KMSClient = aws.client("kms")
    sns: SNSClient = aws.client("sns")
    logs: CloudWatchLogsClient = aws.client("logs")
    bucket = outputs.TransactionLogsBucket
    s = StorageSection(bucket=bucket)
    prefix = f"payments-{outputs.EnvironmentName}-{outputs.EnvironmentSuffix}"

    def get(op: str, fn: Any, default: Any, *absent: str) -> Any:
        return attempt(s, op, lambda: absent_on(absent, fn, default), default)

    def transaction_bucket() -> None:
        c = read_bucket_configuration(s3, s, bucket)
        s.encryption, s.versioning, s.public_access_block = c.encryption, c.versioning, c.public_access_block
        s.policy, s.ownership, s.lifecycle, s.acl = c.policy, c.ownership, c.lifecycle, c.acl

    def bucket_tags() -> None:
        s.bucket_tags = get(
            "s3:GetBucketTagging",
            lambda: {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]},
            {}, "NoSuchTagSet",
        )  # fmt: skip

    def server_access_logging() -> None:
        s.server_access_logging = read_bucket(s3, s, "s3:GetBucketLogging", bucket)

    log_bucket = outputs.AccessLogsBucket
    s.log_bucket = log_bucket

    def access_logs_bucket() -> None:
        c = read_bucket_configuration(s3, s, log_bucket, LOG_BUCKET)
        s.log_bucket_encryption, s.log_bucket_versioning = c.encryption, c.versioning
        s.log_bucket_public_access_block, s.log_bucket_policy = c.public_access_block, c.policy
        s.log_bucket_ownership, s.log_bucket_lifecycle, s.log_bucket_acl = c.ownership, c.lifecycle, c.acl

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

    def key_grants() -> None:
        s.key_grants = get(
            "kms:ListGrants", lambda: paginate(kms, "list_grants", "Grants", KeyId=outputs.KMSKeyArn), []
        )

    def access_points() -> None:
        names: list[str] = get(
            "s3control:ListAccessPoints", lambda: _access_point_names(s3control, account, bucket), []
        )
        found = concurrently(
            *[partial(get, "s3control:GetAccessPoint",
                      partial(lambda n: _strip(s3control.get_access_point(AccountId=account, Name=n)), n), {})
              for n in names],
            *[partial(get, "s3control:GetAccessPointPolicy",
                      partial(lambda n: str(s3control.get_access_point_policy(AccountId=account, Name=n)["Policy"]), n),
                      "", "NoSuchAccessPointPolicy")
              for n in names],
        )  # fmt: skip
        s.access_points = {n: cast("AccessPoint", c) for n, c in zip(names, found[: len(names)], strict=True)}
        s.access_point_policies = dict(zip(names, found[len(names) :], strict=True))

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
        transaction_bucket, bucket_tags, server_access_logging, access_logs_bucket,
        key, key_rotation, key_aliases, key_policy, key_grants, access_points, topic, subscriptions, log_groups,
    )  # fmt: skip
    return s


# Each read of a bucket's configuration, once for every bucket that needs it (the transaction and
# access-logs buckets here, the trail buckets in the account inventory): operation -> (the call, given
# the client and the bucket; a factory of the answer when there is none; the error codes meaning none).
BUCKET_READS: dict[str, tuple[Callable[[S3Client, str], Any], Callable[[], Any], tuple[str, ...]]] = {
    "s3:GetBucketEncryption": (
        lambda s3, b: s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"],
        list, ("ServerSideEncryptionConfigurationNotFoundError",),
    ),
    "s3:GetBucketVersioning": (
        lambda s3, b: cast("BucketVersioning", _strip(s3.get_bucket_versioning(Bucket=b))), dict, ()
    ),
    "s3:GetPublicAccessBlock": (
        lambda s3, b: s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"],
        dict, ("NoSuchPublicAccessBlockConfiguration",),
    ),
    "s3:GetBucketPolicy": (
        lambda s3, b: json.loads(s3.get_bucket_policy(Bucket=b)["Policy"]), dict, ("NoSuchBucketPolicy",)
    ),
    "s3:GetBucketOwnershipControls": (
        lambda s3, b: s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"],
        list, ("OwnershipControlsNotFoundError",),
    ),
    "s3:GetBucketLifecycleConfiguration": (
        lambda s3, b: s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"], list, ("NoSuchLifecycleConfiguration",)
    ),
    "s3:GetBucketAcl": (lambda s3, b: cast("BucketAcl", _strip(s3.get_bucket_acl(Bucket=b))), dict, ()),
    "s3:GetBucketLogging": (lambda s3, b: s3.get_bucket_logging(Bucket=b).get("LoggingEnabled") or {}, dict, ()),
}  # fmt: skip


def read_bucket(s3: S3Client, section: Section, operation: str, bucket: str, qualifier: str = "") -> Any:
    """One read of ``bucket``'s configuration (BUCKET_READS); a failure is recorded in ``section`` under the
    operation + ``qualifier``, the answer left empty; an absent configuration is an empty answer."""
    call, empty, absent = BUCKET_READS[operation]
    return attempt(
        section, f"{operation}{qualifier}", lambda: absent_on(absent, lambda: call(s3, bucket), empty()), empty()
    )


def read_bucket_configuration(s3: S3Client, section: Section, bucket: str, qualifier: str = "") -> BucketConfiguration:
    """The seven reads of ``bucket``'s configuration, at once; a failure is recorded in ``section`` under the
    operation + ``qualifier`` (the fields of that bucket declare those names), its answer left empty."""
    operations = (
        "s3:GetBucketEncryption", "s3:GetBucketVersioning", "s3:GetPublicAccessBlock", "s3:GetBucketPolicy",
        "s3:GetBucketOwnershipControls", "s3:GetBucketLifecycleConfiguration", "s3:GetBucketAcl",
    )  # fmt: skip
    answers = concurrently(*(partial(read_bucket, s3, section, op, bucket, qualifier) for op in operations))
    return BucketConfiguration(*answers)


def _access_point_names(s3control: S3ControlClient, account: str, bucket: str) -> list[str]:
    """The names of every access point on ``bucket`` (ListAccessPoints has no paginator: NextToken by hand)."""
    names: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = s3control.list_access_points(AccountId=account, Bucket=bucket, **token)  # type: ignore[arg-type]
        names += [str(p["Name"]) for p in page.get("AccessPointList", [])]
        if not page.get("NextToken"):
            return names
        token = {"NextToken": page["NextToken"]}


def _strip(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
