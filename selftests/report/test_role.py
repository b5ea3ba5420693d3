"""The nightly's IAM role allows exactly what the suite does: every AWS operation of a real
attach-mode run (recorded by the botocore ``after-call`` hook into ``api-calls*.json``) is
allowed by ``deploy/iam/conformance-role.yaml``, and the role allows no write the suite does not make.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import yaml

from selftests.report.conftest import REPO, AttachRun

ROLE = REPO / "deploy" / "iam" / "conformance-role.yaml"

# botocore service names whose IAM prefix differs
SERVICE_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}
# operations whose IAM action has another name
ACTION_OF = {
    "s3:GetBucketEncryption": ["s3:GetEncryptionConfiguration"],
    "s3:GetBucketLifecycleConfiguration": ["s3:GetLifecycleConfiguration"],
    "s3:GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
    "s3:HeadObject": ["s3:GetObject"],
    "s3:ListObjectVersions": ["s3:ListBucketVersions"],
    # the probe deletes each version of its key by VersionId
    "s3:DeleteObjects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
}
# Needed on real AWS by operations above, not visible as calls of their own.
IMPLICIT = {
    "kms:Decrypt": "GetSecretValue of a secret encrypted with the environment's key",
    "kms:GenerateDataKey": "PutObject into a bucket whose default encryption is the environment's key",
    # tests/storage/probe.py: made only when the probe's PutObject was retried (two versions may
    # exist) or its delete failed; a run without retries never lists the key
    "s3:ListBucketVersions": "the write probe listing its key after a retried write or a failed delete",
}
# CloudFormation's drift detection reads each resource with the caller's permissions: reads the
# role needs on real AWS that no call of the suite's own shows (deploy/iam/conformance-role.yaml,
# Sid DriftDetectionReads).
DRIFT_DETECTION_READS = {
    "cloudwatch:ListTagsForResource", "ec2:DescribeTags", "ecs:ListTagsForResource",
    "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroupAttributes", "iam:GetRole",
    "iam:ListRoleTags", "kms:ListResourceTags", "logs:ListTagsForResource",
    "rds:ListTagsForResource", "s3:GetBucketLogging", "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration", "sns:ListTagsForResource",
}  # fmt: skip
IMPLICIT.update({action: "read by CloudFormation drift detection as the caller" for action in DRIFT_DETECTION_READS})
READ_VERBS = ("Get", "Describe", "List", "Head")
# Starts a drift detection: it changes no resource and no stack setting (AWS's ReadOnlyAccess
# policy grants cloudformation:Detect*), so it is a read here.
READ_ONLY_ACTIONS = {"cloudformation:DetectStackDrift"}


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def role_actions() -> dict[str, list[str]]:
    """action → the Sid of each statement allowing it."""
    doc = yaml.load(ROLE.read_text(), Loader=_CfnLoader)
    allowed: dict[str, list[str]] = {}
    for policy in doc["Resources"]["ConformanceRole"]["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow"
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for action in actions:
                allowed.setdefault(action, []).append(st["Sid"])
    return allowed


def iam_actions(operation: str) -> list[str]:
    service, _, name = operation.partition(":")
    name = name.split("(", 1)[0]  # "ec2:DescribeVpcAttribute(enableDnsSupport)"
    op = f"{service}:{name}"
    if op in ACTION_OF:
        return ACTION_OF[op]
    return [f"{SERVICE_PREFIX.get(service, service)}:{name}"]


def recorded_operations(run_dir: Path) -> set[str]:
    files = list(run_dir.glob("*/api-calls*.json"))
    assert files, f"no api-calls*.json under {run_dir}"
    ops: set[str] = set()
    for f in files:
        ops.update(json.loads(f.read_text()))
    return ops


def is_write(action: str) -> bool:
    if action in READ_ONLY_ACTIONS or action == "sts:GetCallerIdentity":
        return False
    return not action.split(":", 1)[1].startswith(READ_VERBS)


def test_role_has_no_wildcard_actions() -> None:
    wild = [a for a in role_actions() if "*" in a]
    assert not wild, f"the conformance role allows wildcard actions: {wild}"


def test_every_operation_of_a_real_run_is_allowed_by_the_role(attach_run: AttachRun) -> None:
    ops = recorded_operations(attach_run.run_dir)
    assert "sts:GetCallerIdentity" in ops and any(o.startswith("ec2:") for o in ops), f"implausible call log: {ops}"
    allowed = role_actions()
    missing = sorted(
        f"{op} (needs {a})"
        for op in ops
        for a in iam_actions(op)
        if not any(fnmatch.fnmatchcase(a, pattern) for pattern in allowed)
    )
    assert not missing, "the suite made calls the conformance role does not allow:\n" + "\n".join(missing)


def test_role_allows_no_write_the_suite_does_not_make(attach_run: AttachRun) -> None:
    used = {a for op in recorded_operations(attach_run.run_dir) for a in iam_actions(op)}
    extra = sorted(a for a in role_actions() if is_write(a) and a not in used and a not in IMPLICIT)
    assert not extra, f"the conformance role allows writes the suite never makes: {extra}"
    unused_reads = sorted(a for a in role_actions() if not is_write(a) and a not in used and a not in IMPLICIT)
    assert not unused_reads, f"the conformance role allows reads the suite never makes (remove them): {unused_reads}"


def test_writes_are_confined_to_the_probe_prefix() -> None:
    doc = yaml.load(ROLE.read_text(), Loader=_CfnLoader)
    for policy in doc["Resources"]["ConformanceRole"]["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            writes = [a for a in actions if is_write(a) and a not in IMPLICIT]
            if writes:
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                assert all(str(r).endswith("/conformance-probe/*") for r in resources), (st["Sid"], resources)
