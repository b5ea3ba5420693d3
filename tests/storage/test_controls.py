"""Storage suite: bucket controls, the live encryption round trip, the key, the topic, the log groups."""

from __future__ import annotations

import uuid

import pytest

from conformance.checks import check
from conformance.keys import names_key


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: dict, bucket: str) -> bool:
    """An explicit Deny of every S3 action for everyone when aws:SecureTransport is false, on bucket and objects."""
    wanted = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    for st in _as_list(policy.get("Statement", [])):
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        principal = st.get("Principal")
        if not (principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))):
            continue
        if not {"s3:*", "*"} & set(_as_list(st.get("Action", []))):
            continue
        if not wanted <= set(_as_list(st.get("Resource", []))) and "*" not in _as_list(st.get("Resource", [])):
            continue
        for operator in ("Bool", "BoolIfExists"):
            value = (st.get("Condition") or {}).get(operator, {}).get("aws:SecureTransport")
            if value is not None and {str(v).lower() for v in _as_list(value)} == {"false"}:
                return True
    return False


@check(
    severity="high",
    controls=["PCI-DSS-4.0:10.5.1", "PCI-DSS-4.0:12.10.1"],
    rationale="Versioning keeps every transaction log recoverable after an overwrite or delete.",
)
def test_transaction_bucket_versioning_enabled(env_name, inv, evidence):
    inv.storage.require("s3:GetBucketVersioning")
    evidence.attach("GetBucketVersioning", inv.storage.versioning)
    status = inv.storage.versioning.get("Status", "never enabled")
    assert status == "Enabled", f"bucket {inv.storage.bucket} has versioning {status}, expected Enabled"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:1.3.1", "CIS-AWS-3.0:2.1.4"],
    rationale="All four public-access blocks keep the bucket from ever being made public.",
)
def test_transaction_bucket_blocks_all_public_access(env_name, inv, evidence):
    inv.storage.require("s3:GetPublicAccessBlock")
    block = inv.storage.public_access_block
    evidence.attach("GetPublicAccessBlock", block)
    off = [
        k
        for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        if not block.get(k)
    ]
    assert not off, f"bucket {inv.storage.bucket} does not set {', '.join(off)}, expected all four public-access blocks"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:4.2.1", "CIS-AWS-3.0:2.1.1"],
    rationale="The bucket policy denies every request that does not use TLS.",
)
def test_transaction_bucket_policy_denies_insecure_transport(env_name, inv, evidence):
    inv.storage.require("s3:GetBucketPolicy")
    evidence.attach("GetBucketPolicy", inv.storage.policy)
    assert denies_insecure_transport(inv.storage.policy, inv.storage.bucket), (
        f"bucket {inv.storage.bucket} has no policy statement denying s3:* to everyone when aws:SecureTransport is "
        "false, on the bucket and its objects"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:7.2.1", "CIS-AWS-3.0:2.1.4"],
    rationale="The bucket owner owns every object and ACLs are disabled.",
)
def test_transaction_bucket_owner_enforced(env_name, inv, evidence):
    inv.storage.require("s3:GetBucketOwnershipControls")
    rules = inv.storage.ownership
    evidence.attach("GetBucketOwnershipControls", rules)
    owners = [r.get("ObjectOwnership") for r in rules]
    assert owners == ["BucketOwnerEnforced"], (
        f"bucket {inv.storage.bucket} has object ownership {owners}, expected BucketOwnerEnforced"
    )


@check(
    severity="medium",
    controls=["PCI-DSS-4.0:3.2.1", "PCI-DSS-4.0:10.5.1"],
    rationale="Lifecycle rules bound how long log versions are kept and move old data to cheaper storage.",
)
def test_transaction_bucket_lifecycle_rules_enabled(env_name, inv, evidence):
    inv.storage.require("s3:GetBucketLifecycleConfiguration")
    rules = inv.storage.lifecycle
    evidence.attach("GetBucketLifecycleConfiguration", rules)
    enabled = [r.get("ID") for r in rules if r.get("Status") == "Enabled"]
    assert enabled, f"bucket {inv.storage.bucket} has no enabled lifecycle rule (rules: {[r.get('ID') for r in rules]})"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:3.5.1", "CIS-AWS-3.0:2.1.1"],
    rationale="An object written without encryption headers is stored encrypted with the environment key (live probe).",
)
@pytest.mark.xdist_group("s3-write-probe")
def test_transaction_bucket_stores_new_objects_with_environment_key(env_name, inv, aws, run_state, evidence):
    s3 = aws.client("s3")
    bucket = inv.storage.bucket
    key = f"conformance-probe/{run_state.run_id}/{uuid.uuid4()}"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"conformance probe: no secret here")
        head = s3.head_object(Bucket=bucket, Key=key)
    finally:
        versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
        ]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
    observed = {k: head.get(k) for k in ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")}
    evidence.attach("HeadObject (probe object, since removed with its versions)", observed)
    assert observed["ServerSideEncryption"] == "aws:kms" and names_key(
        observed["SSEKMSKeyId"], inv.storage.key, inv.storage.key_aliases
    ), (
        f"bucket {bucket} stored a new object with {observed['ServerSideEncryption'] or 'no encryption'} "
        f"({observed['SSEKMSKeyId'] or 'no key'}), expected aws:kms with {inv.outputs.KMSKeyArn}"
    )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:3.6.1", "PCI-DSS-4.0:3.7.1", "CIS-AWS-3.0:3.6"],
    rationale="The environment key is an enabled, customer-managed symmetric key with rotation and its alias.",
)
def test_kms_key_enabled_customer_managed_with_rotation(env_name, inv, evidence):
    st = inv.storage
    st.require("kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:ListAliases")
    facts = {
        "KeyState": st.key.get("KeyState"), "KeyManager": st.key.get("KeyManager"), "KeyUsage": st.key.get("KeyUsage"),
        "KeySpec": st.key.get("KeySpec", st.key.get("CustomerMasterKeySpec")), "rotation": st.key_rotation,
        "aliases": st.key_aliases,
    }  # fmt: skip
    evidence.attach("key", facts)
    want = f"alias/payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}-key"
    ok = (facts["KeyState"], facts["KeyManager"], facts["KeyUsage"], facts["rotation"]) == (
        "Enabled", "CUSTOMER", "ENCRYPT_DECRYPT", True,
    ) and facts["KeySpec"] == "SYMMETRIC_DEFAULT" and want in facts["aliases"]  # fmt: skip
    assert ok, (
        f"KMS key {inv.outputs.KMSKeyArn} is {facts}, expected an Enabled CUSTOMER ENCRYPT_DECRYPT symmetric key "
        f"with rotation on and alias {want}"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:3.5.1", "PCI-DSS-4.0:12.10.1"],
    rationale="The alarm topic is encrypted with the environment key and reaches the on-call address.",
)
def test_alarm_topic_encrypted_and_subscribed(env_name, inv, spec, evidence):
    st = inv.storage
    st.require("sns:GetTopicAttributes", "sns:ListSubscriptionsByTopic")
    topic = inv.outputs.AlarmTopicArn
    evidence.attach("topic", {"KmsMasterKeyId": st.topic.get("KmsMasterKeyId"), "subscriptions": st.subscriptions})
    assert names_key(st.topic.get("KmsMasterKeyId"), st.key, st.key_aliases), (
        f"SNS topic {topic} is encrypted with {st.topic.get('KmsMasterKeyId') or 'nothing'}, "
        f"expected {inv.outputs.KMSKeyArn}"
    )
    emails = [s.get("Endpoint") for s in st.subscriptions if s.get("Protocol") == "email"]
    assert spec.parameters.AlarmEmail in emails, (
        f"SNS topic {topic} mails {emails}, expected {spec.parameters.AlarmEmail}"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:10.5.1", "PCI-DSS-4.0:3.5.1", "CIS-AWS-3.0:3.5"],
    rationale="The application and flow-log groups are encrypted with the environment key and keep logs as specified.",
)
def test_log_groups_encrypted_with_specified_retention(env_name, inv, spec, evidence):
    st = inv.storage
    st.require("logs:DescribeLogGroups")
    prefix = f"payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}"
    groups = {g["logGroupName"]: g for g in st.log_groups}
    evidence.attach("DescribeLogGroups", st.log_groups)
    for name in (f"{prefix}-app-logs", f"{prefix}-flow-logs"):
        group = groups.get(name)
        assert group, f"log group {name} does not exist"
        assert names_key(group.get("kmsKeyId"), st.key, st.key_aliases), (
            f"log group {name} is encrypted with {group.get('kmsKeyId') or 'nothing'}, expected {inv.outputs.KMSKeyArn}"
        )
        days = group.get("retentionInDays")
        assert days == spec.expectations.log_retention_days, (
            f"log group {name} keeps logs {days or 'forever'} day(s), expected {spec.expectations.log_retention_days}"
        )
