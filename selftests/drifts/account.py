"""Drifts for the account suite (tests/account): trail, its bucket, GuardDuty, Security Hub, root, analyzer, Config.

Each is applied, through the AWS API, to the account baseline the drift self-test deploys beside
the environment (selftests/drifts/test_drifts.py), as someone with the account's rights would.
"""

from __future__ import annotations

import json
from typing import Any

from core.account import ANALYZER_NAME, CONFIG_CHANNEL_NAME, CONFIG_RECORDER_NAME, TRAIL_NAME, trail_bucket_name
from selftests.drifts.registry import DriftContext, drift


def _account(ctx: DriftContext) -> str:
    return str(ctx.client("sts").get_caller_identity()["Account"])


def _where(ctx: DriftContext) -> str:
    """What a failure about the account itself names: the account and region."""
    return f"account {_account(ctx)} ({ctx.aws.region})"


def _trail(ctx: DriftContext) -> str:
    return TRAIL_NAME


def _trail_bucket(ctx: DriftContext) -> str:
    return trail_bucket_name(_account(ctx), ctx.aws.region)


def _transaction_bucket(ctx: DriftContext) -> str:
    return ctx.outputs.TransactionLogsBucket


def _detector(ctx: DriftContext) -> str:
    return str(ctx.client("guardduty").list_detectors()["DetectorIds"][0])


def _hub(ctx: DriftContext) -> str:
    return str(ctx.client("securityhub").describe_hub()["HubArn"])


def _cloudtrail(ctx: DriftContext) -> Any:
    return ctx.client("cloudtrail")


# --------------------------------------------------------------------------- the trail


@drift(
    "test_account_trail_multi_region_and_logging",
    "the account trail stops logging (StopLogging)",
    id="acct-trail-stop-logging",
    names=_trail,
)
def drift_trail_stop_logging(ctx: DriftContext) -> None:
    _cloudtrail(ctx).stop_logging(Name=TRAIL_NAME)


@drift(
    "test_account_trail_multi_region_and_logging",
    "the account trail is made single-region (UpdateTrail IsMultiRegionTrail false)",
    id="acct-trail-single-region",
    names=_trail,
)
def drift_trail_single_region(ctx: DriftContext) -> None:
    _cloudtrail(ctx).update_trail(Name=TRAIL_NAME, IsMultiRegionTrail=False)


@drift(
    "test_account_trail_multi_region_and_logging",
    "the account trail no longer records management events (PutEventSelectors: data events only)",
    id="acct-trail-no-management-events",
    names=_trail,
)
def drift_trail_no_management_events(ctx: DriftContext) -> None:
    selectors = _cloudtrail(ctx).get_event_selectors(TrailName=TRAIL_NAME)["AdvancedEventSelectors"]
    data_only = [s for s in selectors if not any("Management" in f.get("Equals", []) for f in s["FieldSelectors"])]
    _cloudtrail(ctx).put_event_selectors(TrailName=TRAIL_NAME, AdvancedEventSelectors=data_only)


@drift(
    "test_account_trail_log_file_validation",
    "log file validation is turned off on the account trail (UpdateTrail EnableLogFileValidation false)",
    id="acct-trail-validation-off",
    names=_trail,
)
def drift_trail_validation_off(ctx: DriftContext) -> None:
    _cloudtrail(ctx).update_trail(Name=TRAIL_NAME, EnableLogFileValidation=False)


@drift(
    "test_account_trail_encrypted_with_kms",
    "the account trail's KMS encryption is removed (UpdateTrail KmsKeyId empty: SSE-S3 only)",
    id="acct-trail-kms-removed",
    names=_trail,
)
def drift_trail_kms_removed(ctx: DriftContext) -> None:
    _cloudtrail(ctx).update_trail(Name=TRAIL_NAME, KmsKeyId="")


@drift(
    "test_account_trail_records_transaction_bucket_data_events",
    "the trail's S3 data events are dropped (PutEventSelectors: management events only)",
    id="acct-trail-no-data-events",
    names=_transaction_bucket,
)
def drift_trail_no_data_events(ctx: DriftContext) -> None:
    management = [
        {"Name": "Management events", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
    ]
    _cloudtrail(ctx).put_event_selectors(TrailName=TRAIL_NAME, AdvancedEventSelectors=management)


@drift(
    "test_account_trail_records_transaction_bucket_data_events",
    "the trail's S3 data events are narrowed to writes (readOnly false): reads of card data go unlogged",
    id="acct-trail-data-events-write-only",
    names=_transaction_bucket,
)
def drift_trail_data_events_write_only(ctx: DriftContext) -> None:
    selectors = _cloudtrail(ctx).get_event_selectors(TrailName=TRAIL_NAME)["AdvancedEventSelectors"]
    for s in selectors:
        if any("Data" in f.get("Equals", []) for f in s["FieldSelectors"]):
            s["FieldSelectors"].append({"Field": "readOnly", "Equals": ["false"]})
    _cloudtrail(ctx).put_event_selectors(TrailName=TRAIL_NAME, AdvancedEventSelectors=selectors)


@drift(
    "test_account_trail_records_transaction_bucket_data_events",
    "the trail's S3 data events are pointed at another environment's buckets only",
    id="acct-trail-data-events-other-bucket",
    names=_transaction_bucket,
)
def drift_trail_data_events_other_bucket(ctx: DriftContext) -> None:
    selectors = _cloudtrail(ctx).get_event_selectors(TrailName=TRAIL_NAME)["AdvancedEventSelectors"]
    for s in selectors:
        for f in s["FieldSelectors"]:
            if f["Field"] == "resources.ARN":
                f["StartsWith"] = ["arn:aws:s3:::payments-prod-main-txlogs-"]
    _cloudtrail(ctx).put_event_selectors(TrailName=TRAIL_NAME, AdvancedEventSelectors=selectors)


# --------------------------------------------------------------------------- the trail's bucket


@drift(
    "test_account_trail_bucket_blocks_public_access",
    "the trail bucket's public access block is deleted",
    id="acct-trail-bucket-public-access-block-deleted",
    names=_trail_bucket,
)
def drift_trail_bucket_pab_deleted(ctx: DriftContext) -> None:
    ctx.client("s3").delete_public_access_block(Bucket=_trail_bucket(ctx))


@drift(
    "test_account_trail_bucket_denies_insecure_transport",
    "the trail bucket's policy loses its TLS-only deny (CloudTrail's own grants kept)",
    id="acct-trail-bucket-allows-http",
    names=_trail_bucket,
)
def drift_trail_bucket_allows_http(ctx: DriftContext) -> None:
    s3 = ctx.client("s3")
    bucket = _trail_bucket(ctx)
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "DenyInsecureTransport"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


@drift(
    "test_account_trail_bucket_access_logging",
    "the trail bucket's server access logging is turned off (PutBucketLogging with no LoggingEnabled)",
    id="acct-trail-bucket-access-logging-off",
    names=_trail_bucket,
)
def drift_trail_bucket_access_logging_off(ctx: DriftContext) -> None:
    ctx.client("s3").put_bucket_logging(Bucket=_trail_bucket(ctx), BucketLoggingStatus={})


# --------------------------------------------------------------------------- GuardDuty, Security Hub


@drift(
    "test_guardduty_monitors_ecs_fargate_runtime",
    "GuardDuty runtime monitoring is turned off (UpdateDetector RUNTIME_MONITORING DISABLED)",
    id="acct-guardduty-runtime-monitoring-off",
    names=_detector,
)
def drift_guardduty_runtime_off(ctx: DriftContext) -> None:
    ctx.client("guardduty").update_detector(
        DetectorId=_detector(ctx), Features=[{"Name": "RUNTIME_MONITORING", "Status": "DISABLED"}]
    )


@drift(
    "test_guardduty_monitors_ecs_fargate_runtime",
    "GuardDuty no longer manages the ECS Fargate agent (ECS_FARGATE_AGENT_MANAGEMENT DISABLED)",
    id="acct-guardduty-fargate-agent-off",
    names=_detector,
)
def drift_guardduty_fargate_agent_off(ctx: DriftContext) -> None:
    ctx.client("guardduty").update_detector(
        DetectorId=_detector(ctx),
        Features=[
            {
                "Name": "RUNTIME_MONITORING",
                "Status": "ENABLED",
                "AdditionalConfiguration": [{"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "DISABLED"}],
            }
        ],
    )


@drift(
    "test_guardduty_monitors_ecs_fargate_runtime",
    "the GuardDuty detector is suspended (UpdateDetector Enable false)",
    id="acct-guardduty-detector-suspended",
    names=_detector,
)
def drift_guardduty_suspended(ctx: DriftContext) -> None:
    ctx.client("guardduty").update_detector(DetectorId=_detector(ctx), Enable=False)


@drift(
    "test_security_hub_pci_dss_standard_ready",
    "the PCI DSS standard is disabled in Security Hub (BatchDisableStandards)",
    id="acct-securityhub-pci-dss-disabled",
    names=_hub,
)
def drift_securityhub_pci_disabled(ctx: DriftContext) -> None:
    hub = ctx.client("securityhub")
    subscriptions = hub.get_enabled_standards()["StandardsSubscriptions"]
    pci = [s["StandardsSubscriptionArn"] for s in subscriptions if "/pci-dss/" in s["StandardsArn"]]
    hub.batch_disable_standards(StandardsSubscriptionArns=pci)


# --------------------------------------------------------------------------- root, Access Analyzer


@drift(
    "test_root_user_has_no_access_keys",
    "an access key is created for the root user (CreateAccessKey called by root, no UserName)",
    id="acct-root-access-key-created",
    names=_where,
)
def drift_root_access_key(ctx: DriftContext) -> None:
    ctx.client("iam").create_access_key()


@drift(
    "test_root_user_has_mfa",
    "the root user's MFA device is deactivated (DeactivateMFADevice called by root)",
    id="acct-root-mfa-deactivated",
    names=_where,
)
def drift_root_mfa_deactivated(ctx: DriftContext) -> None:
    iam = ctx.client("iam")
    root_arn = f"arn:aws:iam::{_account(ctx)}:root"
    devices = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    serial = next(d["SerialNumber"] for d in devices if d.get("User", {}).get("Arn") == root_arn)
    iam.deactivate_mfa_device(SerialNumber=serial)


@drift(
    "test_access_analyzer_active",
    "the account's IAM Access Analyzer is deleted",
    id="acct-access-analyzer-deleted",
    names=_where,
)
def drift_access_analyzer_deleted(ctx: DriftContext) -> None:
    ctx.client("accessanalyzer").delete_analyzer(analyzerName=ANALYZER_NAME)


# --------------------------------------------------------------------------- AWS Config


def _recorder(ctx: DriftContext) -> str:
    return CONFIG_RECORDER_NAME


@drift(
    "test_config_recorder_records_all_resources",
    "AWS Config's recorder is stopped (StopConfigurationRecorder)",
    id="acct-config-recorder-stopped",
    names=_recorder,
)
def drift_config_recorder_stopped(ctx: DriftContext) -> None:
    ctx.client("config").stop_configuration_recorder(ConfigurationRecorderName=CONFIG_RECORDER_NAME)


@drift(
    "test_config_recorder_records_all_resources",
    "AWS Config's recorder is narrowed to two resource types (PutConfigurationRecorder allSupported false)",
    id="acct-config-recorder-narrowed",
    names=_recorder,
)
def drift_config_recorder_narrowed(ctx: DriftContext) -> None:
    config = ctx.client("config")
    [recorder] = config.describe_configuration_recorders(ConfigurationRecorderNames=[CONFIG_RECORDER_NAME])[
        "ConfigurationRecorders"
    ]
    recorder["recordingGroup"] = {
        "allSupported": False,
        "includeGlobalResourceTypes": False,
        "resourceTypes": ["AWS::S3::Bucket", "AWS::EC2::SecurityGroup"],
    }
    config.put_configuration_recorder(ConfigurationRecorder=recorder)


@drift(
    "test_config_recorder_records_all_resources",
    "AWS Config's recorder no longer records global resource types (includeGlobalResourceTypes false)",
    id="acct-config-recorder-no-global-types",
    names=_recorder,
)
def drift_config_recorder_no_global(ctx: DriftContext) -> None:
    config = ctx.client("config")
    [recorder] = config.describe_configuration_recorders(ConfigurationRecorderNames=[CONFIG_RECORDER_NAME])[
        "ConfigurationRecorders"
    ]
    recorder["recordingGroup"] = {"allSupported": True, "includeGlobalResourceTypes": False}
    config.put_configuration_recorder(ConfigurationRecorder=recorder)


@drift(
    "test_config_delivers_to_bucket",
    "AWS Config's delivery channel is deleted (the recorder stopped first, as AWS requires)",
    id="acct-config-delivery-channel-deleted",
    names=_where,
)
def drift_config_channel_deleted(ctx: DriftContext) -> None:
    config = ctx.client("config")
    config.stop_configuration_recorder(ConfigurationRecorderName=CONFIG_RECORDER_NAME)
    config.delete_delivery_channel(DeliveryChannelName=CONFIG_CHANNEL_NAME)


# --------------------------------------------------------------------------- CIS 4.1-4.15 metric filters and alarms


def _trail_log_group(ctx: DriftContext) -> str:
    [trail] = _cloudtrail(ctx).describe_trails(trailNameList=[TRAIL_NAME])["trailList"]
    return str(trail["CloudWatchLogsLogGroupArn"]).split(":")[6]


def _filter(ctx: DriftContext, name: str) -> dict[str, Any]:
    filters = ctx.client("logs").describe_metric_filters(logGroupName=_trail_log_group(ctx))["metricFilters"]
    return dict(next(f for f in filters if f["filterName"] == name))


@drift(
    "test_account_cis_4_4_iam_policy_changes_alarm",
    "the CIS 4.4 metric filter (IAM policy changes) is deleted from the trail's log group",
    id="acct-cis-filter-deleted",
    names=_trail_log_group,
)
def drift_cis_filter_deleted(ctx: DriftContext) -> None:
    ctx.client("logs").delete_metric_filter(logGroupName=_trail_log_group(ctx), filterName="cis-4.4-IamPolicyChanges")


@drift(
    "test_account_cis_4_4_iam_policy_changes_alarm",
    "the CIS 4.4 filter's pattern is weakened: DetachGroupPolicy no longer counted",
    id="acct-cis-filter-pattern-weakened",
    names=_trail_log_group,
)
def drift_cis_filter_weakened(ctx: DriftContext) -> None:
    f = _filter(ctx, "cis-4.4-IamPolicyChanges")
    weakened = str(f["filterPattern"]).replace(" || ($.eventName = DetachGroupPolicy)", "")
    assert weakened != f["filterPattern"]
    ctx.client("logs").put_metric_filter(
        logGroupName=f["logGroupName"],
        filterName=f["filterName"],
        filterPattern=weakened,
        metricTransformations=f["metricTransformations"],
    )


@drift(
    "test_account_cis_4_3_root_usage_alarm",
    "the CIS 4.3 alarm (use of the root user) is deleted",
    id="acct-cis-alarm-deleted",
    names=_trail_log_group,
)
def drift_cis_alarm_deleted(ctx: DriftContext) -> None:
    ctx.client("cloudwatch").delete_alarms(AlarmNames=["cis-4.3-RootUsage"])


@drift(
    "test_account_cis_4_5_cloudtrail_changes_alarm",
    "the CIS 4.5 alarm (CloudTrail changes) loses its SNS action (PutMetricAlarm without AlarmActions)",
    id="acct-cis-alarm-action-removed",
    names=_trail_log_group,
)
def drift_cis_alarm_action_removed(ctx: DriftContext) -> None:
    cw = ctx.client("cloudwatch")
    [alarm] = cw.describe_alarms(AlarmNames=["cis-4.5-CloudTrailChanges"])["MetricAlarms"]
    keep = ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods",
            "Threshold", "ComparisonOperator", "TreatMissingData")  # fmt: skip
    cw.put_metric_alarm(**{k: alarm[k] for k in keep if k in alarm}, AlarmActions=[])


# The items the drifts above leave uncovered: each loses its metric filter, and its own check turns red.
# CIS item -> (its check, the baseline's filter, what it monitors)
_FILTER_DELETED: dict[str, tuple[str, str, str]] = {
    "4.1": ("test_account_cis_4_1_unauthorized_api_calls_alarm", "cis-4.1-UnauthorizedApiCalls",
            "unauthorized API calls"),
    "4.2": ("test_account_cis_4_2_console_sign_in_without_mfa_alarm", "cis-4.2-ConsoleSignInWithoutMfa",
            "console sign-in without MFA"),
    "4.6": ("test_account_cis_4_6_console_authentication_failures_alarm", "cis-4.6-ConsoleAuthenticationFailures",
            "console authentication failures"),
    "4.7": ("test_account_cis_4_7_kms_key_disabled_or_deleted_alarm", "cis-4.7-KmsKeyDisabledOrScheduledForDeletion",
            "disabling or scheduled deletion of KMS keys"),
    "4.8": ("test_account_cis_4_8_s3_bucket_policy_changes_alarm", "cis-4.8-S3BucketPolicyChanges",
            "S3 bucket policy changes"),
    "4.9": ("test_account_cis_4_9_config_changes_alarm", "cis-4.9-ConfigChanges", "AWS Config changes"),
    "4.10": ("test_account_cis_4_10_security_group_changes_alarm", "cis-4.10-SecurityGroupChanges",
             "security group changes"),
    "4.11": ("test_account_cis_4_11_network_acl_changes_alarm", "cis-4.11-NetworkAclChanges", "network ACL changes"),
    "4.12": ("test_account_cis_4_12_network_gateway_changes_alarm", "cis-4.12-NetworkGatewayChanges",
             "network gateway changes"),
    "4.13": ("test_account_cis_4_13_route_table_changes_alarm", "cis-4.13-RouteTableChanges", "route table changes"),
    "4.14": ("test_account_cis_4_14_vpc_changes_alarm", "cis-4.14-VpcChanges", "VPC changes"),
    "4.15": ("test_account_cis_4_15_organizations_changes_alarm", "cis-4.15-OrganizationsChanges",
             "AWS Organizations changes"),
}  # fmt: skip


def _register_filter_deleted(cis: str, check: str, filter_name: str, what: str) -> None:
    def apply(ctx: DriftContext) -> None:
        ctx.client("logs").delete_metric_filter(logGroupName=_trail_log_group(ctx), filterName=filter_name)

    apply.__name__ = apply.__qualname__ = f"drift_cis_{cis.replace('.', '_')}_filter_deleted"
    drift(
        check,
        f"the CIS {cis} metric filter ({what}) is deleted from the trail's log group",
        id=f"acct-cis-{cis.replace('.', '-')}-filter-deleted",
        names=_trail_log_group,
    )(apply)


for _cis, (_check, _filter_name, _what) in _FILTER_DELETED.items():
    _register_filter_deleted(_cis, _check, _filter_name, _what)
