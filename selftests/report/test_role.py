"""The nightly's IAM role allows exactly what the suite does: every AWS operation of a real
attach-mode run (recorded by the botocore ``after-call`` hook into ``api-calls*.json``) is
allowed by ``deploy/iam/conformance-role.yaml``, and the role allows no write the suite does not make.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import yaml

from selftests.report.conftest import REPO, AttachRun

ROLE = REPO / "deploy" / "iam" / "conformance-role.yaml"

# botocore service names whose IAM prefix differs
SERVICE_PREFIX = {
    "elbv2": "elasticloadbalancing",
    "resourcegroupstaggingapi": "tag",
    "accessanalyzer": "access-analyzer",
    "s3control": "s3",
}
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
    "kms:Decrypt": "GetObject of the probe's object, encrypted with the environment's key (through S3 only)",
    "kms:GenerateDataKey": "PutObject into a bucket whose default encryption is the environment's key",
    # tests/storage/probe.py: made only when the probe's PutObject was retried (two versions may
    # exist) or its delete failed; a run without retries never lists the key
    "s3:ListBucketVersions": "the write probe listing its key after a retried write or a failed delete",
    # conformance/inventory/compute.py: the documents of managed policies attached to the task or execution
    # role; the template attaches none, so a run of the good platform never reads one
    "iam:GetPolicy": "the default version of a managed policy attached to a task or execution role",
    "iam:GetPolicyVersion": "the document of a managed policy attached to a task or execution role",
    # conformance/inventory/database.py: read for each manual snapshot of the cluster; a run on a platform with
    # none (the offline rehearsal: the emulator takes no automated snapshots) never makes it
    "rds:DescribeDBClusterSnapshotAttributes": "who may restore each manual snapshot of the cluster",
    # conformance/inventory/storage.py: read for each access point on the transaction bucket; the platform has none
    "s3:GetAccessPoint": "the configuration of each access point on the transaction bucket",
    "s3:GetAccessPointPolicy": "the policy of each access point on the transaction bucket",
}
# CloudFormation's drift detection reads each resource with the caller's permissions: reads the
# role needs on real AWS that no call of the suite's own shows (deploy/iam/conformance-role.yaml,
# Sid DriftDetectionReads).
DRIFT_DETECTION_READS = {
    "cloudwatch:ListTagsForResource", "ec2:DescribeTags", "ecs:ListTagsForResource",
    "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes", "iam:GetRole", "iam:ListRoleTags", "kms:ListResourceTags",
    "logs:ListTagsForResource",
    "rds:ListTagsForResource", "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration", "sns:ListTagsForResource", "wafv2:GetWebACL", "wafv2:ListTagsForResource",
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


def test_role_trusts_only_main_and_the_one_protected_environment() -> None:
    """Who may assume the role: GitHub OIDC tokens of this repository's main branch or of the one
    protected environment named in the docs, by exact subject (no ``environment:*``, no wildcard)."""
    doc = yaml.load(ROLE.read_text(), Loader=_CfnLoader)
    role = doc["Resources"]["ConformanceRole"]["Properties"]
    statements = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1 and statements[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statements[0]["Condition"]
    assert set(conditions) == {"StringEquals"}, f"only exact matches, got {sorted(conditions)}"
    subjects = conditions["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sorted(subjects) == [
        "repo:${GitHubRepository}:environment:${GitHubEnvironment}",
        "repo:${GitHubRepository}:ref:refs/heads/main",
    ], subjects
    assert doc["Parameters"]["GitHubEnvironment"]["Default"] == "conformance"
    assert conditions["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    for text in ("`conformance`", "protected"):
        assert text in (REPO / "docs" / "report.md").read_text(), f"docs/report.md must name the environment ({text})"


# Where a conformance identity's permissions are written: the role, and the workflows that assume it.
PERMISSION_FILES = sorted(
    [*(REPO / "deploy" / "iam").rglob("*.y*ml"), *(REPO / ".github" / "workflows").glob("*.y*ml")]
)


# GetSecretValue by name (any service prefix), or an action wildcard of Secrets Manager that covers it
# (an ARN's "secretsmanager:*:" is a resource, not an action)
GRANTS_SECRET_VALUES = re.compile(r"GetSecretValue|(?<![:\w])secretsmanager:(\*|Get\*|G\*|Batch\w*\*)(?!:)")


def test_no_conformance_identity_may_read_a_secret_value() -> None:
    """No file of the project grants a conformance identity GetSecretValue (or a wildcard covering it)."""
    assert PERMISSION_FILES and ROLE in PERMISSION_FILES
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in PERMISSION_FILES
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if GRANTS_SECRET_VALUES.search(line.split(" #", 1)[0] if not line.lstrip().startswith("#") else "")
    ]
    assert not found, "a conformance identity may read secret values:\n" + "\n".join(found)
    allowed = role_actions()
    reading = sorted(a for a in allowed if fnmatch.fnmatchcase("secretsmanager:GetSecretValue", a))
    assert not reading, f"the conformance role allows {reading}, which covers secretsmanager:GetSecretValue"


def test_the_suite_never_reads_a_secret_value(attach_run: AttachRun) -> None:
    """Neither a clean run's calls nor the suite's code read a secret's value."""
    ops = recorded_operations(attach_run.run_dir)
    assert "secretsmanager:DescribeSecret" in ops, sorted(ops)
    assert not {"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"} & ops, sorted(ops)
    code = [*(REPO / "conformance").rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "deploy").rglob("*.py")]
    calls = [str(p.relative_to(REPO)) for p in code if re.search(r"\.(batch_)?get_secret_value\(", p.read_text())]
    assert not calls, f"the suite's code reads secret values: {calls}"
