"""Account suite, CloudTrail: the account's trail, its event selectors and its bucket.

The account's trails are judged as CloudTrail reports them from the region in scope (shadow
trails of multi-region trails included), whatever stack or organisation made them: the account
baseline's trail conforms, and so would an organisation trail with the same settings.
"""

from __future__ import annotations

from typing import Any

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory.account import AccountInventory
from conformance.inventory.shapes import Trail
from core.account import partition_of
from tests.account.selectors import BOTH, data_event_kinds, management_kinds
from tests.storage.policy import tls_deny_coverage

PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _name(trail: Trail) -> str:
    return str(trail.get("TrailARN") or trail.get("Name") or "a trail without an ARN")


def _trails_seen(inv: AccountInventory) -> str:
    acct = inv.account_controls
    if not acct.trails:
        return "no trail"
    parts = []
    for t in acct.trails:
        status = acct.status_of(t)
        parts.append(
            f"{_name(t)} (multi-region {bool(t.get('IsMultiRegionTrail'))}, logging {bool(status.get('IsLogging'))})"
        )
    return ", ".join(parts)


def _account_trails(inv: AccountInventory) -> list[Trail]:
    """The trails that record the account everywhere (multi-region, logging); the checks below
    hold every one of them to the same settings."""
    return inv.account_controls.logging_multi_region_trails()


def _where(inv: AccountInventory) -> str:
    return f"account {inv.account} ({inv.region})"


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1",
            "A multi-region trail that is logging records every API call made in the account, in every region.",
        ),
        primary(
            "PCI-DSS-4.0:10.2.1.2",
            "Management events, read and write, include every action taken with administrative access "
            "(root and administrators alike), global services included.",
        ),
        primary("CIS-AWS-3.0:3.1", "CIS 3.1: a multi-region trail, logging, with management events read and write."),
    ],
    rationale="A multi-region trail is logging every management event, read and write, global services included.",
)
def test_account_trail_multi_region_and_logging(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    acct = account_inv.account_controls
    evidence.attach("DescribeTrails", acct.trails)
    evidence.attach("GetTrailStatus", acct.trail_status)
    evidence.attach("GetEventSelectors", acct.event_selectors)
    complete = [
        t
        for t in _account_trails(account_inv)
        if t.get("IncludeGlobalServiceEvents")
        and management_kinds(dict(acct.event_selectors.get(t.get("TrailARN", ""), {}))) >= BOTH
    ]
    assert complete, (
        f"{_where(account_inv)} has {_trails_seen(account_inv)}; expected a multi-region trail that is logging, "
        "includes global service events and records management events read and write"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.4",
            "Log file validation writes signed digests, so any change to or deletion of a delivered log file is "
            "detected.",
        ),
        supporting("PCI-DSS-4.0:10.3.2", "It detects modification of the audit logs; it does not prevent it."),
        primary("CIS-AWS-3.0:3.2", "CIS 3.2: CloudTrail log file validation is enabled."),
    ],
    rationale="Every account trail signs digests of its log files, so a changed or deleted log file is detected.",
)
def test_account_trail_log_file_validation(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
    trails = _account_trails(account_inv)
    evidence.attach("DescribeTrails", account_inv.account_controls.trails)
    assert trails, f"{_where(account_inv)} has {_trails_seen(account_inv)}; expected a multi-region trail, logging"
    off = [_name(t) for t in trails if not t.get("LogFileValidationEnabled")]
    assert not off, f"trail {', '.join(off)} of {_where(account_inv)} has LogFileValidationEnabled false, expected true"


@check(
    severity="medium",
    links=[
        primary("CIS-AWS-3.0:3.5", "CIS 3.5: CloudTrail logs are encrypted at rest with a KMS key (SSE-KMS)."),
        supporting(
            "PCI-DSS-4.0:10.3.1",
            "Reading the log files then also needs kms:Decrypt on the trail's key: a second grant besides S3's.",
        ),
    ],
    rationale="Every account trail encrypts its log files with a KMS key of the account.",
)
def test_account_trail_encrypted_with_kms(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
    trails = _account_trails(account_inv)
    evidence.attach("DescribeTrails", account_inv.account_controls.trails)
    assert trails, f"{_where(account_inv)} has {_trails_seen(account_inv)}; expected a multi-region trail, logging"
    plain = [_name(t) for t in trails if not t.get("KmsKeyId")]
    assert not plain, (
        f"trail {', '.join(plain)} of {_where(account_inv)} has no KmsKeyId (SSE-S3 only), expected its log files "
        "encrypted with a KMS key"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1.1",
            "S3 object-level events, read and write, of each environment's transaction bucket log every "
            "individual access to the card data stored there.",
        ),
        supporting("PCI-DSS-4.0:10.2.1", "The data tier's own audit log, beside the management events."),
        supporting("CIS-AWS-3.0:3.8", "CIS 3.8 asks object-level write events of S3 buckets: here the card-data ones."),
        supporting("CIS-AWS-3.0:3.9", "CIS 3.9 asks object-level read events of S3 buckets: here the card-data ones."),
    ],
    rationale="A logging trail records every object-level read and write of each environment's transaction bucket.",
)
def test_account_trail_records_transaction_bucket_data_events(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    acct = account_inv.account_controls
    evidence.attach("GetEventSelectors", acct.event_selectors)
    evidence.attach("transaction buckets", account_inv.transaction_buckets)
    assert account_inv.transaction_buckets, (
        f"{_where(account_inv)}: no environment of the run reported its transaction bucket; nothing to judge"
    )
    partition = partition_of(account_inv.region)
    logging = [t for t in acct.trails if acct.status_of(t).get("IsLogging")]
    missing: list[str] = []
    for env, bucket in account_inv.transaction_buckets.items():
        kinds: set[str] = set()
        for t in logging:
            selectors: dict[str, Any] = dict(acct.event_selectors.get(t.get("TrailARN", ""), {}))
            kinds |= data_event_kinds(selectors, partition, bucket)
        if kinds < BOTH:
            lacking = " and ".join(sorted(BOTH - kinds))
            missing.append(f"{bucket} ({env}: no {lacking} events)")
    assert not missing, (
        f"no logging trail of {_where(account_inv)} records the S3 object-level events of {', '.join(missing)}; "
        f"trails: {_trails_seen(account_inv)}; expected read and write data events (AWS::S3::Object) on every "
        "object of each transaction bucket"
    )


def _trail_buckets(inv: AccountInventory) -> list[str]:
    return list(dict.fromkeys(str(t["S3BucketName"]) for t in _account_trails(inv) if t.get("S3BucketName")))


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.1",
            "The four public-access blocks keep the audit log files from ever being readable by anyone outside "
            "the account's own grants.",
        ),
        primary("CIS-AWS-3.0:2.1.4", "CIS 2.1.4: S3 buckets are configured with Block Public Access."),
    ],
    rationale="The bucket every account trail delivers to blocks all public access.",
)
def test_account_trail_bucket_blocks_public_access(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    buckets = _trail_buckets(account_inv)
    blocks = account_inv.account_controls.trail_bucket_public_access_block
    evidence.attach("GetPublicAccessBlock", blocks)
    assert buckets, f"{_where(account_inv)} has {_trails_seen(account_inv)}; expected a multi-region trail, logging"
    open_ = []
    for bucket in buckets:
        block = blocks.get(bucket, {})
        off = [k for k in PUBLIC_ACCESS_BLOCKS if block.get(k) is not True]
        if off:
            seen = ", ".join(f"{k}={block.get(k, 'unset')}" for k in off)
            open_.append(f"{bucket} ({seen})")
    assert not open_, (
        f"trail bucket {', '.join(open_)} of {_where(account_inv)}: expected all four public-access blocks true"
    )


@check(
    severity="medium",
    links=[
        primary("CIS-AWS-3.0:2.1.1", "CIS 2.1.1: the bucket policy denies requests made over plain HTTP."),
        supporting(
            "PCI-DSS-4.0:10.3.2", "No request can read or change the audit log files over an unencrypted connection."
        ),
    ],
    rationale="The bucket every account trail delivers to denies every request made without TLS.",
)
def test_account_trail_bucket_denies_insecure_transport(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    buckets = _trail_buckets(account_inv)
    policies = account_inv.account_controls.trail_bucket_policy
    evidence.attach("GetBucketPolicy", policies)
    assert buckets, f"{_where(account_inv)} has {_trails_seen(account_inv)}; expected a multi-region trail, logging"
    partition = partition_of(account_inv.region)
    plain = []
    for bucket in buckets:
        arn = f"arn:{partition}:s3:::{bucket}"
        coverage = tls_deny_coverage(policies.get(bucket, {}), arn)
        if not coverage.complete:
            where = [p for p, ok in (("the bucket", coverage.bucket), ("its objects", coverage.objects)) if not ok]
            plain.append(f"{bucket} (no TLS-only deny on {' and '.join(where)})")
    assert not plain, (
        f"trail bucket {', '.join(plain)} of {_where(account_inv)}: expected an explicit Deny of s3:* for "
        "Principal * on the bucket and its objects when aws:SecureTransport is false"
    )
