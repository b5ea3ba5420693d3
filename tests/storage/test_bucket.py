"""Storage suite: the transaction-logs bucket's configuration, as S3 reports it."""

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from tests.storage.policy import tls_deny_coverage

PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
LOG_RETENTION_FLOOR_DAYS = 365  # PCI DSS 10.5.1: audit log history for at least twelve months


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:3.5.1",
            "The store of transaction records is encrypted by default with the environment's customer-managed key.",
        ),
    ],
    rationale="Transaction logs are encrypted at rest with the environment's customer-managed key.",
)
def test_transaction_bucket_encrypts_with_environment_key(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    storage = inv.storage
    storage.require("s3:GetBucketEncryption", "kms:DescribeKey", "kms:ListAliases")
    evidence.attach("GetBucketEncryption", storage.encryption)
    sse = storage.default_encryption
    key = inv.outputs.KMSKeyArn
    assert sse.get("SSEAlgorithm") == "aws:kms" and storage.is_environment_key(sse.get("KMSMasterKeyID")), (
        f"bucket {storage.bucket} encrypts with {sse.get('SSEAlgorithm') or 'nothing'} "
        f"({sse.get('KMSMasterKeyID') or 'no key'}), expected aws:kms with {key}"
    )


@check(
    severity="low",
    operational="cost: an S3 bucket key bounds KMS request volume; it changes no protection of the data",
    rationale="An S3 bucket key keeps the environment key's use (and its CloudTrail volume) bounded.",
)
def test_transaction_bucket_uses_bucket_key(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    storage = inv.storage
    evidence.attach("GetBucketEncryption", storage.encryption)
    assert storage.bucket_key_enabled, (
        f"bucket {storage.bucket} has BucketKeyEnabled {storage.bucket_key_enabled} in its default encryption, "
        "expected true (an S3 bucket key for SSE-KMS)"
    )


@check(
    severity="medium",
    operational=(
        "recoverability: transaction records survive an overwrite or delete; PCI DSS sets no versioning requirement"
    ),
    rationale="Versioning keeps every transaction log recoverable after an overwrite or delete.",
)
def test_transaction_bucket_versioning_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    evidence.attach("GetBucketVersioning", inv.storage.versioning)
    status = inv.storage.versioning.get("Status") or "never enabled"
    assert status == "Enabled", f"bucket {inv.storage.bucket} has versioning {status}, expected Enabled"


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.4",
            "S3 is reachable from the internet; the four public-access blocks keep the card-data bucket from ever "
            "being opened to it.",
        ),
        primary("CIS-AWS-3.0:2.1.4", "CIS 2.1.4: S3 buckets are configured with Block Public Access."),
    ],
    rationale="All four public-access blocks keep the bucket from ever being made public.",
)
def test_transaction_bucket_blocks_all_public_access(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    block = inv.storage.public_access_block
    evidence.attach("GetPublicAccessBlock", block)
    off = [k for k in PUBLIC_ACCESS_BLOCKS if block.get(k) is not True]
    observed = ", ".join(f"{k}={block.get(k, 'unset')}" for k in off)
    assert not off, (
        f"bucket {inv.storage.bucket} has {observed or 'no public access block'}, "
        f"expected all four public-access blocks true"
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:4.2.1",
            "S3's endpoints are reached over public networks; the policy refuses every request to the card-data "
            "bucket that is not over TLS.",
        ),
        primary("CIS-AWS-3.0:2.1.1", "CIS 2.1.1: the bucket policy denies HTTP requests (aws:SecureTransport false)."),
    ],
    rationale="The bucket policy explicitly denies every request, on bucket and objects, made without TLS.",
)
def test_transaction_bucket_policy_denies_insecure_transport(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    storage = inv.storage
    partition = inv.outputs.KMSKeyArn.split(":")[1] if inv.outputs.KMSKeyArn.count(":") > 1 else "aws"
    bucket_arn = f"arn:{partition}:s3:::{storage.bucket}"
    coverage = tls_deny_coverage(storage.policy, bucket_arn)
    evidence.attach("GetBucketPolicy", storage.policy)
    evidence.attach("TLS-only deny coverage", {"bucket": coverage.bucket, "objects": coverage.objects,
                                               "statements": list(coverage.statements)})  # fmt: skip
    missing = [part for part, ok in (("the bucket", coverage.bucket), ("its objects", coverage.objects)) if not ok]
    observed = (
        "no bucket policy" if not storage.policy
        else f"a policy with statements {[s.get('Sid') or s.get('Effect') for s in _statements(storage.policy)]}"
    )  # fmt: skip
    assert not missing, (
        f"bucket {storage.bucket} has {observed} that does not deny requests without TLS on "
        f"{' and '.join(missing)}, expected an explicit Deny of s3:* for Principal * on {bucket_arn} and "
        f"{bucket_arn}/* when aws:SecureTransport is false"
    )


def _statements(policy: dict) -> list[dict]:
    st = policy.get("Statement", [])
    return [s for s in (st if isinstance(st, list) else [st]) if isinstance(s, dict)]


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.1",
            "With ACLs disabled, only IAM and the bucket policy grant access to the records: one access model, the "
            "reviewed one.",
        ),
    ],
    rationale="The bucket owner owns every object and ACLs are disabled, so only policies grant access.",
)
def test_transaction_bucket_owner_enforced(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    rules = inv.storage.ownership
    evidence.attach("GetBucketOwnershipControls", rules)
    owners = [r.get("ObjectOwnership") for r in rules]
    assert owners == ["BucketOwnerEnforced"], (
        f"bucket {inv.storage.bucket} has object ownership {owners or 'not set'}, expected BucketOwnerEnforced"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:3.2.1",
            "Superseded versions of stored records expire after a bounded time instead of being kept forever.",
        ),
    ],
    rationale="Enabled lifecycle rules bound how long superseded log versions are kept and age old data out.",
)
def test_transaction_bucket_lifecycle_rules_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    rules = inv.storage.lifecycle
    evidence.attach("GetBucketLifecycleConfiguration", rules)
    status = {str(r.get("ID") or f"rule {i}"): r.get("Status") for i, r in enumerate(rules)}
    enabled = [r for r in rules if r.get("Status") == "Enabled"]
    disabled = sorted(k for k, v in status.items() if v != "Enabled")
    noncurrent = [r.get("ID") for r in enabled if r.get("NoncurrentVersionExpiration")]
    ageing = [r.get("ID") for r in enabled if r.get("Transitions") or r.get("NoncurrentVersionTransitions")]
    assert rules and not disabled and noncurrent and ageing, (
        f"bucket {inv.storage.bucket} has lifecycle rules {status or 'none'} (noncurrent-version expiration in "
        f"{noncurrent or 'none'}, transitions in {ageing or 'none'}), expected every rule Enabled, with "
        "noncurrent-version expiration and storage-class transitions"
    )


@check(
    severity="medium",
    operational=(
        "record keeping: transaction records are kept a year; PCI DSS's 12-month rule (10.5.1) is for audit logs, "
        "which live in CloudWatch Logs here"
    ),
    rationale="No lifecycle rule deletes current transaction logs before twelve months.",
)
def test_transaction_bucket_lifecycle_keeps_logs_a_year(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    rules = inv.storage.lifecycle
    evidence.attach("GetBucketLifecycleConfiguration", rules)
    early = {}
    for i, rule in enumerate(r for r in rules if r.get("Status") == "Enabled"):
        expiration = rule.get("Expiration") or {}
        if expiration.get("Date") is not None:
            early[str(rule.get("ID") or f"rule {i}")] = f"on {expiration['Date']}"
        elif expiration.get("Days") is not None and int(expiration["Days"]) < LOG_RETENTION_FLOOR_DAYS:
            early[str(rule.get("ID") or f"rule {i}")] = f"after {expiration['Days']} day(s)"
    assert not early, (
        f"bucket {inv.storage.bucket} has lifecycle rules that expire current objects "
        f"{', '.join(f'{k} {v}' for k, v in early.items())}, expected no expiry before "
        f"{LOG_RETENTION_FLOOR_DAYS} days"
    )
