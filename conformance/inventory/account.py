"""The account inventory: the account-level controls of one account and region, collected once.

Whatever stack made them (the account baseline, an organisation's own trail, the console), the
account suite judges what the account has: every trail visible from the region (shadow trails of
multi-region trails included) with its status and event selectors, the buckets those trails
deliver to, the GuardDuty detectors, Security Hub and its enabled standards, IAM's account
summary (root MFA, root access keys), the IAM Access Analyzer analyzers and AWS Config's
recorder and delivery channel. It is collected by
the controller once per account and region (``core.account``), however many environments share
them, and written to the run directory beside the environments' inventories.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import (
    AnalyzerSummary,
    BucketVersioning,
    ConfigRecorder,
    ConfigRecorderStatus,
    DeliveryChannel,
    Detector,
    Hub,
    LoggingEnabled,
    MetricAlarm,
    MetricFilter,
    PublicAccessBlock,
    StandardsSubscription,
    Trail,
    TrailEventSelectors,
    TrailStatus,
)
from conformance.inventory.storage import read_bucket
from core.aws import AwsSession

if TYPE_CHECKING:
    from types_boto3_accessanalyzer.client import AccessAnalyzerClient
    from types_boto3_cloudtrail.client import CloudTrailClient
    from types_boto3_cloudwatch.client import CloudWatchClient
    from types_boto3_config.client import ConfigServiceClient
    from types_boto3_guardduty.client import GuardDutyClient
    from types_boto3_iam.client import IAMClient
    from types_boto3_logs.client import CloudWatchLogsClient
    from types_boto3_s3.client import S3Client
    from types_boto3_securityhub.client import SecurityHubClient


class AccountSection(Section):
    # DescribeTrails(includeShadowTrails=True): the trails of this account visible from the region
    trails: Annotated[list[Trail], reads("cloudtrail:DescribeTrails")] = Field(default_factory=list)
    # trail ARN -> GetTrailStatus's answer (without ResponseMetadata)
    trail_status: Annotated[dict[str, TrailStatus], reads("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus")] = (
        Field(default_factory=dict)
    )
    # trail ARN -> GetEventSelectors' answer (EventSelectors or AdvancedEventSelectors)
    event_selectors: Annotated[
        dict[str, TrailEventSelectors], reads("cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors")
    ] = Field(default_factory=dict)
    # the buckets the trails deliver to: bucket -> PublicAccessBlockConfiguration ({} when none)
    trail_bucket_public_access_block: Annotated[
        dict[str, PublicAccessBlock], reads("cloudtrail:DescribeTrails", "s3:GetPublicAccessBlock")
    ] = Field(default_factory=dict)
    # bucket -> its policy document (IAM policy grammar; {} when it has none)
    trail_bucket_policy: Annotated[
        dict[str, dict[str, Any]], reads("cloudtrail:DescribeTrails", "s3:GetBucketPolicy")
    ] = Field(default_factory=dict)
    # bucket -> GetBucketLogging's LoggingEnabled ({} when server access logging is off)
    trail_bucket_logging: Annotated[
        dict[str, LoggingEnabled], reads("cloudtrail:DescribeTrails", "s3:GetBucketLogging")
    ] = Field(default_factory=dict)
    trail_bucket_versioning: Annotated[
        dict[str, BucketVersioning], reads("cloudtrail:DescribeTrails", "s3:GetBucketVersioning")
    ] = Field(default_factory=dict)
    # detector id -> GetDetector's answer (without ResponseMetadata)
    detectors: Annotated[dict[str, Detector], reads("guardduty:ListDetectors", "guardduty:GetDetector")] = Field(
        default_factory=dict
    )
    # DescribeHub's answer ({} when Security Hub is not enabled in the region)
    hub: Annotated[Hub, reads("securityhub:DescribeHub")] = Field(default_factory=nothing)
    standards: Annotated[list[StandardsSubscription], reads("securityhub:GetEnabledStandards")] = Field(
        default_factory=list
    )
    # GetAccountSummary's SummaryMap (AccountMFAEnabled, AccountAccessKeysPresent, ...)
    account_summary: Annotated[dict[str, int], reads("iam:GetAccountSummary")] = Field(default_factory=dict)
    analyzers: Annotated[list[AnalyzerSummary], reads("access-analyzer:ListAnalyzers")] = Field(default_factory=list)
    # the trails' CloudWatch Logs groups in this region: group name -> its metric filters
    trail_metric_filters: Annotated[
        dict[str, list[MetricFilter]], reads("cloudtrail:DescribeTrails", "logs:DescribeMetricFilters")
    ] = Field(default_factory=dict)
    # every metric alarm of the region (the CIS 4.x alarms are found by the filters' metrics)
    metric_alarms: Annotated[list[MetricAlarm], reads("cloudwatch:DescribeAlarms")] = Field(default_factory=list)
    # AWS Config in the region: its recorder (at most one), the recorder's status, its delivery channel
    config_recorders: Annotated[list[ConfigRecorder], reads("config:DescribeConfigurationRecorders")] = Field(
        default_factory=list
    )
    config_recorder_status: Annotated[
        list[ConfigRecorderStatus], reads("config:DescribeConfigurationRecorderStatus")
    ] = Field(default_factory=list)
    config_delivery_channels: Annotated[list[DeliveryChannel], reads("config:DescribeDeliveryChannels")] = Field(
        default_factory=list
    )

    def status_of(self, trail: Trail) -> TrailStatus:
        return self.trail_status.get(trail.get("TrailARN", ""), cast("TrailStatus", {}))

    def logging_multi_region_trails(self) -> list[Trail]:
        """The trails that are multi-region and logging: what records the account's activity everywhere."""
        return [t for t in self.trails if t.get("IsMultiRegionTrail") and self.status_of(t).get("IsLogging")]


class AccountInventory(BaseModel):
    """One account and region's inventory (written as account-<key>.json in the run directory)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    account: str
    region: str
    environments: list[str]
    # environment -> the name of its transaction bucket (its stack's output), whose object-level
    # events the account trail must record
    transaction_buckets: dict[str, str]
    account_controls: AccountSection
    collected_seconds: float = 0.0
    collected_at: str = ""
    api_calls: dict[str, int] = Field(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self.account_controls.seal()


def collect_account(
    *, key: str, account: str, aws: AwsSession, environments: list[str], transaction_buckets: dict[str, str]
) -> AccountInventory:
    """Describe the account-level controls once, the independent reads concurrently."""
    from conformance.inventory import scrub_section

    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    before = dict(aws.call_log.calls)
    section = _collect(aws)
    scrub_section(section)
    calls = {k: v - before.get(k, 0) for k, v in aws.call_log.calls.items() if v - before.get(k, 0)}
    return AccountInventory(
        key=key,
        account=account,
        region=aws.region,
        environments=environments,
        transaction_buckets=transaction_buckets,
        account_controls=section,
        collected_seconds=round(time.perf_counter() - started, 3),
        collected_at=started_at,
        api_calls=calls,
    )


def log_group_in(arn: str, region: str) -> str:
    """The name of the log group ``arn`` (arn:<partition>:logs:<region>:<account>:log-group:<name>[:*])
    when it is in ``region``, else ''."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[3] != region or parts[5] != "log-group":
        return ""
    return parts[6]


def _strip(response: Any) -> Any:
    return {k: v for k, v in dict(response).items() if k != "ResponseMetadata"}


def _collect(aws: AwsSession) -> AccountSection:
    cloudtrail: CloudTrailClient = aws.client("cloudtrail")
    s3: S3Client = aws.client("s3")
    guardduty: GuardDutyClient = aws.client("guardduty")
    securityhub: SecurityHubClient = aws.client("securityhub")
    iam: IAMClient = aws.client("iam")
    analyzer: AccessAnalyzerClient = aws.client("accessanalyzer")
    config: ConfigServiceClient = aws.client("config")
    logs: CloudWatchLogsClient = aws.client("logs")
    cloudwatch: CloudWatchClient = aws.client("cloudwatch")
    s = AccountSection()

    def get(op: str, fn: Any, default: Any, *absent: str) -> Any:
        return attempt(s, op, lambda: absent_on(absent, fn, default), default)

    def trails() -> None:
        s.trails = get(
            "cloudtrail:DescribeTrails", lambda: cloudtrail.describe_trails(includeShadowTrails=True)["trailList"], []
        )
        arns = [t["TrailARN"] for t in s.trails if t.get("TrailARN")]
        buckets = list(dict.fromkeys(t["S3BucketName"] for t in s.trails if t.get("S3BucketName")))

        def status(arn: str) -> None:
            s.trail_status[arn] = get(
                "cloudtrail:GetTrailStatus", lambda: _strip(cloudtrail.get_trail_status(Name=arn)), {}
            )

        def selectors(arn: str) -> None:
            s.event_selectors[arn] = get(
                "cloudtrail:GetEventSelectors", lambda: _strip(cloudtrail.get_event_selectors(TrailName=arn)), {}
            )

        def bucket(name: str) -> None:
            pab, policy, versioning, logging = concurrently(
                *(
                    partial(read_bucket, s3, s, op, name)
                    for op in (
                        "s3:GetPublicAccessBlock",
                        "s3:GetBucketPolicy",
                        "s3:GetBucketVersioning",
                        "s3:GetBucketLogging",
                    )
                )
            )
            s.trail_bucket_public_access_block[name], s.trail_bucket_policy[name] = pab, policy
            s.trail_bucket_versioning[name], s.trail_bucket_logging[name] = versioning, logging

        groups = list(
            dict.fromkeys(
                g for t in s.trails if (g := log_group_in(str(t.get("CloudWatchLogsLogGroupArn") or ""), aws.region))
            )
        )

        def filters(group: str) -> None:
            s.trail_metric_filters[group] = get(
                "logs:DescribeMetricFilters",
                lambda: paginate(logs, "describe_metric_filters", "metricFilters", logGroupName=group),
                [], "ResourceNotFoundException",
            )  # fmt: skip

        concurrently(
            *[lambda g=g: filters(g) for g in groups],
            *[lambda a=a: status(a) for a in arns],
            *[lambda a=a: selectors(a) for a in arns],
            *[lambda b=b: bucket(b) for b in buckets],
        )

    def detectors() -> None:
        ids: list[str] = get(
            "guardduty:ListDetectors", lambda: paginate(guardduty, "list_detectors", "DetectorIds"), []
        )

        def one(detector_id: str) -> None:
            s.detectors[detector_id] = get(
                "guardduty:GetDetector", lambda: _strip(guardduty.get_detector(DetectorId=detector_id)), {}
            )

        concurrently(*[lambda d=d: one(d) for d in ids])

    def hub() -> None:
        # Security Hub not enabled: DescribeHub answers InvalidAccessException (data: no hub)
        s.hub = get("securityhub:DescribeHub", lambda: _strip(securityhub.describe_hub()), {}, "InvalidAccessException")
        if s.hub:
            s.standards = get(
                "securityhub:GetEnabledStandards",
                lambda: paginate(securityhub, "get_enabled_standards", "StandardsSubscriptions"),
                [],
            )

    def summary() -> None:
        s.account_summary = get("iam:GetAccountSummary", lambda: dict(iam.get_account_summary()["SummaryMap"]), {})

    def analyzers() -> None:
        s.analyzers = get(
            "access-analyzer:ListAnalyzers", lambda: paginate(analyzer, "list_analyzers", "analyzers"), []
        )

    def recorders() -> None:
        s.config_recorders = get(
            "config:DescribeConfigurationRecorders",
            lambda: config.describe_configuration_recorders()["ConfigurationRecorders"],
            [],
        )
        s.config_recorder_status = get(
            "config:DescribeConfigurationRecorderStatus",
            lambda: config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"],
            [],
        )

    def channels() -> None:
        s.config_delivery_channels = get(
            "config:DescribeDeliveryChannels", lambda: config.describe_delivery_channels()["DeliveryChannels"], []
        )

    def alarms() -> None:
        s.metric_alarms = get(
            "cloudwatch:DescribeAlarms",
            lambda: paginate(cloudwatch, "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"]),
            [],
        )

    concurrently(trails, detectors, hub, summary, analyzers, recorders, channels, alarms)
    return s
