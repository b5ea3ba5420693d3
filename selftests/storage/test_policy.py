"""The TLS-only deny as IAM reads it: every equivalent form counts, anything narrower does not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.storage.policy import tls_deny_coverage

ARN = "arn:aws:s3:::payments-dev-main-txlogs-0a1b2c3d"
GOOD: dict[str, Any] = {
    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [ARN, f"{ARN}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}  # fmt: skip


def policy(*statements: dict[str, Any], single: bool = False) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements[0] if single else list(statements)}


def variant(**changes: Any) -> dict[str, Any]:
    st = copy.deepcopy(GOOD)
    for k, v in changes.items():
        if v is None:
            st.pop(k, None)
        else:
            st[k] = v
    return st


@pytest.mark.parametrize(
    "doc",
    [
        policy(GOOD),
        policy(GOOD, single=True),
        policy(variant(Principal={"AWS": "*"})),
        policy(variant(Principal={"AWS": ["*"]})),
        policy(variant(Action="*")),
        policy(variant(Action=["S3:*"])),
        policy(variant(Condition={"Bool": {"aws:SecureTransport": False}})),
        policy(variant(Condition={"Bool": {"aws:SecureTransport": ["false"]}})),
        policy(variant(Condition={"BoolIfExists": {"aws:securetransport": "False"}})),
        policy(variant(Resource=f"{ARN}*")),
        policy(variant(Resource="*")),
        policy(variant(Resource=ARN, Sid="bucket"), variant(Resource=f"{ARN}/*", Sid="objects")),
        policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "s3:GetObject",
                "Resource": f"{ARN}/*",
            },
            GOOD,
        ),
    ],
    ids=[
        "as-deployed",
        "single-statement",
        "principal-aws-star",
        "principal-aws-list",
        "action-star",
        "action-case",
        "bool-literal",
        "value-list",
        "bool-if-exists-lower-key",
        "resource-wildcard",
        "resource-star",
        "split-statements",
        "among-others",
    ],
)
def test_equivalent_forms_count(doc):
    coverage = tls_deny_coverage(doc, ARN)
    assert coverage.complete, coverage


@pytest.mark.parametrize(
    ("doc", "bucket", "objects"),
    [
        (policy(), False, False),
        ({}, False, False),
        (policy(variant(Effect="Allow")), False, False),
        (policy(variant(Principal={"AWS": "arn:aws:iam::123456789012:root"})), False, False),
        (policy(variant(Principal={"Service": "*"})), False, False),
        (policy(variant(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::1:root"})), False, False),
        (policy(variant(Action=["s3:GetObject", "s3:PutObject"])), False, False),
        (policy(variant(Action="s3:*Object")), False, False),
        (policy(variant(Condition=None)), False, False),
        (policy(variant(Condition={"Bool": {"aws:SecureTransport": "true"}})), False, False),
        (policy(variant(Condition={"StringEquals": {"aws:SecureTransport": "false"}})), False, False),
        (
            policy(
                variant(
                    Condition={"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:PrincipalAccount": "1"}}
                )
            ),
            False,
            False,
        ),
        (policy(variant(Resource=ARN)), True, False),
        (policy(variant(Resource=f"{ARN}/*")), False, True),
        (policy(variant(Resource=[ARN, f"{ARN}/logs/*"])), True, False),
        (policy(variant(Resource=[ARN, f"{ARN}/?"])), True, False),
        (policy(variant(Resource="arn:aws:s3:::other-bucket/*")), False, False),
    ],
    ids=[
        "no-statement",
        "no-policy",
        "allow",
        "one-principal",
        "service-principal",
        "not-principal",
        "some-actions",
        "object-actions-only",
        "no-condition",
        "secure-true",
        "wrong-operator",
        "narrowed-condition",
        "bucket-only",
        "objects-only",
        "object-prefix-only",
        "single-char-key",
        "other-bucket",
    ],
)
def test_narrower_forms_do_not(doc, bucket, objects):
    coverage = tls_deny_coverage(doc, ARN)
    assert (coverage.bucket, coverage.objects) == (bucket, objects), coverage
    assert not coverage.complete
