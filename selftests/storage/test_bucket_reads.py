"""conformance/inventory/storage.py: one reader of a bucket's configuration, for both of the platform's buckets.

Real emulator, real boto3: the seven reads of each bucket go to that bucket once each; what one
bucket answers fills only its own fields; a read that fails is recorded under the operation for
the transaction bucket and under the operation + LOG_BUCKET for the access-logs bucket, so once
the section is sealed only that bucket's field is unreadable.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest

from conformance.inventory import ProbeError
from conformance.inventory.storage import LOG_BUCKET, StorageSection, read_bucket_configuration

READS = {"GetBucketEncryption", "GetBucketVersioning", "GetPublicAccessBlock", "GetBucketPolicy",
         "GetBucketOwnershipControls", "GetBucketLifecycleConfiguration", "GetBucketAcl"}  # fmt: skip


def _counting(s3) -> Counter[tuple[str, str]]:
    calls: Counter[tuple[str, str]] = Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls[(model.name, params.get("Bucket", ""))] += 1

    s3.meta.events.register("provide-client-params.s3.*", count)
    return calls


def test_each_bucket_is_read_once_per_setting_into_its_own_fields(aws):
    s3 = aws("s3")
    data, logs = f"data-{uuid.uuid4().hex[:8]}", f"logs-{uuid.uuid4().hex[:8]}"
    for name in (data, logs):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=data, VersioningConfiguration={"Status": "Enabled"})
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{logs}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    s3.put_bucket_policy(Bucket=logs, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    calls = _counting(s3)
    section = StorageSection(bucket=data, log_bucket=logs)

    transaction = read_bucket_configuration(s3, section, data)
    access_logs = read_bucket_configuration(s3, section, logs, LOG_BUCKET)

    assert calls == Counter({(op, bucket): 1 for op in READS for bucket in (data, logs)})
    assert transaction.versioning.get("Status") == "Enabled" and transaction.policy == {}
    assert access_logs.versioning.get("Status") is None and access_logs.policy["Statement"] == [deny]
    assert section.errors == {}


def test_a_failed_read_makes_only_its_buckets_field_unreadable(aws):
    s3 = aws("s3")
    data, missing = f"data-{uuid.uuid4().hex[:8]}", f"gone-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=data)
    section = StorageSection(bucket=data, log_bucket=missing)
    c = read_bucket_configuration(s3, section, data)
    section.policy, section.versioning = c.policy, c.versioning
    c = read_bucket_configuration(s3, section, missing, LOG_BUCKET)  # NoSuchBucket: every read fails
    section.log_bucket_policy = c.policy
    assert set(section.errors) == {f"s3:{op}{LOG_BUCKET}" for op in READS}
    assert all(message.startswith("NoSuchBucket") for message in section.errors.values())
    section.seal()
    assert section.policy == {} and section.versioning == {}  # the transaction bucket's: observed
    with pytest.raises(ProbeError, match=r"could not observe s3:GetBucketPolicy\(AccessLogsBucket\): NoSuchBucket"):
        _ = section.log_bucket_policy
    section.require("s3:GetBucketPolicy")  # the transaction bucket's read did not fail
    with pytest.raises(ProbeError):
        section.require(f"s3:GetBucketPolicy{LOG_BUCKET}")
