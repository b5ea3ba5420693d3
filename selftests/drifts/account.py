"""Drifts for the account suite (tests/account): trail, its bucket, GuardDuty, Security Hub, root, analyzer.

Each is applied, through the AWS API, to the account baseline the drift self-test deploys beside
the environment (selftests/drifts/test_drifts.py), as someone with the account's rights would.
"""

from __future__ import annotations

import json
from typing import Any

from core.account import ANALYZER_NAME, TRAIL_NAME, trail_bucket_name
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
