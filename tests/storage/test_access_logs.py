"""Storage suite: access logs. The load balancer's access logs and the transaction bucket's server
access logs land in the access-logs bucket, and that bucket is kept like audit evidence: private,
versioned, TLS-only, a year of retention, written only by the two log deliveries."""

from __future__ import annotations

from typing import Any

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.storage import LOG_BUCKET
from conformance.policies import PolicyError, parse
from core.logdelivery import ELB_LOG_DELIVERY_SERVICE, elb_log_delivery_account
from tests.storage.policy import tls_deny_coverage

LOG_RETENTION_FLOOR_DAYS = 365  # PCI DSS 10.5.1: twelve months of audit log history
PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ALB_PREFIX = "alb"
S3_PREFIX = "s3/"
S3_LOGGING_SERVICE = "logging.s3.amazonaws.com"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1",
            "The public entry point of the CDE logs every request (client, time, path, status) into the environment's"
            " log bucket.",
        ),
    ],
    rationale="Every request to the payment entry point is recorded: the load balancer's access logs go to the "
    "environment's access-logs bucket.",
)
def test_load_balancer_access_logs_into_log_bucket(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    attributes = inv.compute.load_balancer_attributes
    keys = ("access_logs.s3.enabled", "access_logs.s3.bucket", "access_logs.s3.prefix")
    seen = {k: attributes.get(k) for k in keys}
    evidence.attach("DescribeLoadBalancerAttributes", seen)
    lb = inv.compute.load_balancer.get("LoadBalancerName") or inv.outputs.LoadBalancerArn
    expected = {keys[0]: "true", keys[1]: inv.outputs.AccessLogsBucket, keys[2]: ALB_PREFIX}
    assert seen == expected, (
        f"load balancer {lb} has {', '.join(f'{k}={v}' for k, v in seen.items())}, "
        f"expected {', '.join(f'{k}={v}' for k, v in expected.items())}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1.1",
            "S3 server access logs record each request to the card-data bucket's objects, with requester and time.",
        ),
        supporting("PCI-DSS-4.0:10.2.1", "The data store's own audit log is enabled and delivered."),
    ],
    rationale="Every access to the transaction logs is recorded: S3 server access logging of the transaction "
    "bucket delivers into the access-logs bucket.",
)
def test_transaction_bucket_server_access_logs_into_log_bucket(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    st = inv.storage
    logging = st.server_access_logging
    evidence.attach("GetBucketLogging", logging)
    seen = (logging.get("TargetBucket"), logging.get("TargetPrefix"))
    expected = (inv.outputs.AccessLogsBucket, S3_PREFIX)
    observed = f"into {seen[0]} prefix {seen[1]}" if logging else "off"
    assert seen == expected, (
        f"bucket {st.bucket} has server access logging {observed}, expected into {expected[0]} prefix {expected[1]}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.2",
            "Versioning keeps every delivered log recoverable after an overwrite or delete, and the public-access "
            "blocks and TLS-only deny keep others from altering it.",
        ),
        supporting("PCI-DSS-4.0:10.3.1", "No public path can read the access logs."),
    ],
    rationale="The access logs cannot be made public, overwritten unnoticed or read without TLS: all four public "
    "access blocks, versioning, owner-enforced objects, default encryption and a TLS-only policy.",
)
def test_log_bucket_private_versioned_tls_only(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    bucket = st.log_bucket
    evidence.attach("GetPublicAccessBlock", st.log_bucket_public_access_block)
    evidence.attach("GetBucketVersioning", st.log_bucket_versioning)
    evidence.attach("GetBucketOwnershipControls", st.log_bucket_ownership)
    evidence.attach("GetBucketEncryption", st.log_bucket_encryption)
    problems = []
    off = [k for k in PUBLIC_ACCESS_BLOCKS if st.log_bucket_public_access_block.get(k) is not True]
    if off:
        problems.append(f"public access blocks {', '.join(off)} not on")
    if (status := st.log_bucket_versioning.get("Status") or "never enabled") != "Enabled":
        problems.append(f"versioning {status}")
    owners = [r.get("ObjectOwnership") for r in st.log_bucket_ownership]
    if owners != ["BucketOwnerEnforced"]:
        problems.append(f"object ownership {owners or 'not set'}")
    # SSE-S3: the only default encryption ALB access logs support on their bucket
    sse = st.log_bucket_encryption[0].get("ApplyServerSideEncryptionByDefault", {}) if st.log_bucket_encryption else {}
    if sse.get("SSEAlgorithm") not in ("AES256",):
        problems.append(f"default encryption {sse.get('SSEAlgorithm') or 'none'}")
    partition = inv.outputs.KMSKeyArn.split(":")[1] if inv.outputs.KMSKeyArn.count(":") > 1 else "aws"
    coverage = tls_deny_coverage(st.log_bucket_policy, f"arn:{partition}:s3:::{bucket}")
    if not coverage.complete:
        problems.append("no policy statement denying requests without TLS on the bucket and its objects")
    assert not problems, (
        f"access-logs bucket {bucket} has {'; '.join(problems)}, expected all four public access blocks, versioning "
        "Enabled, BucketOwnerEnforced, SSE-S3 (AES256) and a TLS-only deny"
    )


@check(
    severity="high",
    links=[
        primary("PCI-DSS-4.0:10.5.1", "No lifecycle rule expires access logs before twelve months."),
    ],
    rationale="Access logs are kept at least twelve months: no enabled lifecycle rule expires them (current or "
    "superseded) sooner.",
)
def test_log_bucket_retains_logs_a_year(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    rules = inv.storage.log_bucket_lifecycle
    evidence.attach("GetBucketLifecycleConfiguration", rules)
    early = {}
    for i, rule in enumerate(r for r in rules if r.get("Status") == "Enabled"):
        name = str(rule.get("ID") or f"rule {i}")
        expiration = rule.get("Expiration") or {}
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        if expiration.get("Date") is not None:
            early[name] = f"expires current objects on {expiration['Date']}"
        elif expiration.get("Days") is not None and int(expiration["Days"]) < LOG_RETENTION_FLOOR_DAYS:
            early[name] = f"expires current objects after {expiration['Days']} day(s)"
        if (
            noncurrent.get("NoncurrentDays") is not None
            and int(noncurrent["NoncurrentDays"]) < LOG_RETENTION_FLOOR_DAYS
        ):
            early[name] = f"expires superseded versions after {noncurrent['NoncurrentDays']} day(s)"
    assert not early, (
        f"access-logs bucket {inv.storage.log_bucket} has lifecycle rules "
        f"{'; '.join(f'{k} {v}' for k, v in early.items())}, expected no expiry before {LOG_RETENTION_FLOOR_DAYS} days"
    )


def delivery_grant_problems(policy: dict[str, Any], bucket_arn: str, account: str, region: str) -> list[str]:
    """What an Allow statement of the access-logs bucket's policy grants beyond the two log deliveries.

    Allowed: s3:PutObject under ``s3/`` for S3 server access logging (logging.s3.amazonaws.com, bound to
    the account by aws:SourceAccount and to its buckets by aws:SourceArn), and s3:PutObject under
    ``alb/AWSLogs/<account>/`` for the Region's Elastic Load Balancing account (or its service principal,
    bound by aws:SourceAccount). Anything else an Allow grants is a problem.
    """
    problems = []
    for index, st in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        sid = str(st.get("Sid") or f"statement {index}")
        actions = [str(a).lower() for a in _as_list(st.get("Action"))]
        resources = [str(r) for r in _as_list(st.get("Resource"))]
        condition = st.get("Condition") or {}
        tests = {
            str(k).lower(): [str(v) for v in _as_list(val)]
            for op, block in condition.items() if str(op) in ("StringEquals", "ArnLike", "ArnEquals")
            and isinstance(block, dict) for k, val in block.items()
        }  # fmt: skip
        bound = tests.get("aws:sourceaccount") == [account]
        principal = st.get("Principal")
        pairs = (
            [(str(k), str(v)) for k, vs in principal.items() for v in _as_list(vs)]
            if isinstance(principal, dict) else [("AWS", str(principal))]
        )  # fmt: skip
        if "NotPrincipal" in st or "NotAction" in st or "NotResource" in st or actions != ["s3:putobject"]:
            problems.append(f"{sid} allows {actions or 'NotAction'} (expected s3:PutObject only)")
            continue
        for kind, value in pairs:
            if kind == "Service" and value == S3_LOGGING_SERVICE:
                prefix = f"{bucket_arn}/{S3_PREFIX}"
                arns = tests.get("aws:sourcearn", [])
                if not bound or not arns or not all(a.startswith("arn:") and ":s3:::" in a for a in arns):
                    problems.append(f"{sid} grants {value} without aws:SourceAccount {account} and aws:SourceArn")
                    continue
            elif (kind == "Service" and value == ELB_LOG_DELIVERY_SERVICE) or (
                kind == "AWS"
                and value.split(":")[4:5] == [elb_log_delivery_account(region) or "-"]
                and value.endswith(":root")
            ):
                prefix = f"{bucket_arn}/{ALB_PREFIX}/AWSLogs/{account}/"
                if kind == "Service" and not bound:
                    problems.append(f"{sid} grants {value} without aws:SourceAccount {account}")
                    continue
            else:
                problems.append(f"{sid} grants {kind}:{value}, which is not a log delivery")
                continue
            wide = [r for r in resources if not (r.startswith(prefix) and r.endswith("*"))]
            if wide:
                problems.append(f"{sid} grants {kind}:{value} on {', '.join(wide)}, beyond {prefix}*")
    return problems


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.2",
            "The bucket policy lets only the AWS log-delivery services write, each bound to this account, so no one "
            "else can add or replace log files.",
        ),
        supporting("PCI-DSS-4.0:10.3.1", "The policy grants no read to anyone outside the account."),
    ],
    rationale="Only the two log deliveries may write into the access-logs bucket, each under its own prefix and "
    "bound to this account: no other principal is granted anything by the bucket policy.",
)
def test_log_bucket_grants_only_log_delivery(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    st.require(f"s3:GetBucketPolicy{LOG_BUCKET}")
    evidence.attach("GetBucketPolicy", st.log_bucket_policy)
    partition = inv.outputs.KMSKeyArn.split(":")[1] if inv.outputs.KMSKeyArn.count(":") > 1 else "aws"
    try:
        policy = parse(st.log_bucket_policy)
    except PolicyError as exc:
        raise AssertionError(f"access-logs bucket {st.log_bucket} has a policy that is not one: {exc}") from None
    problems = delivery_grant_problems(policy, f"arn:{partition}:s3:::{st.log_bucket}", inv.account, inv.region)
    granted = [
        str(s.get("Sid"))
        for s in _as_list(policy.get("Statement"))
        if isinstance(s, dict) and s.get("Effect") == "Allow"
    ]
    assert not problems and granted, (
        f"access-logs bucket {st.log_bucket} has {'; '.join(problems) or 'no delivery grant at all'}, expected "
        f"s3:PutObject only for {S3_LOGGING_SERVICE} (aws:SourceAccount, aws:SourceArn) under {S3_PREFIX} and for "
        f"the Region's Elastic Load Balancing delivery under {ALB_PREFIX}/AWSLogs/{inv.account}/"
    )
