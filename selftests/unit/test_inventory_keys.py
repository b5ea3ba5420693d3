"""Every response key a check or collector reads exists in botocore's output shapes.

mypy holds the keys read from typed answers to the AWS SDK's stubs (conformance/inventory/shapes.py
and its plugin); this guard also covers the reads mypy cannot see (a value typed ``Any``, a stub
older or newer than botocore): it walks the source of the checks (tests/) and the collectors
(conformance/inventory/) for string subscripts and ``.get("Key")`` calls, and requires each key
to be a member of an output shape (nested at any depth) of an operation the suite reads, as the
installed botocore's service models define them. A key that is no API member (a policy document,
a setting name, what the suite makes itself) is listed in ``NOT_API`` with the reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import botocore.session
from botocore import xform_name
from botocore.model import Shape

import conformance.inventory.account  # noqa: F401 - every section registered, the account's too
from conformance.inventory.base import Section

ROOT = Path(__file__).resolve().parents[2]
# the template suite reads the template document, not API answers; shapes and the plugin hold no reads
SKIP = ("tests/template/", "conformance/inventory/shapes.py", "conformance/inventory/mypy_plugin.py")
# the IAM service prefix of an operation name -> botocore's service name
SERVICES = {
    "application-autoscaling": "application-autoscaling", "cloudformation": "cloudformation",
    "cloudwatch": "cloudwatch", "ec2": "ec2", "ecr": "ecr", "ecs": "ecs", "elasticloadbalancing": "elbv2", "iam": "iam",
    "kms": "kms", "lambda": "lambda", "logs": "logs", "rds": "rds", "s3": "s3", "secretsmanager": "secretsmanager",
    "sns": "sns", "acm": "acm", "s3control": "s3control",
    "cloudtrail": "cloudtrail", "guardduty": "guardduty", "securityhub": "securityhub",
    "access-analyzer": "accessanalyzer",
    "tag": "resourcegroupstaggingapi", "wafv2": "wafv2",
}  # fmt: skip
NOT_API = {
    # IAM policy grammar (bucket and role policy documents; its "Statement" is a WAFv2 shape member too)
    "Effect": "policy document", "Resource": "policy document",
    "Sid": "policy document", "Condition": "policy document", "AWS": "policy document principal",
    "NotAction": "policy document",
    "aws:sourceaccount": "policy condition key", "aws:sourcearn": "policy condition key",
    # values of API maps and lists, named by AWS but not shape members
    "KmsMasterKeyId": "an SNS topic attribute name (GetTopicAttributes' Attributes map)",
    "containerInsights": "an ECS cluster setting name (settings[].name)",
    "awslogs-group": "an awslogs log driver option (logConfiguration.options map)",
    "awslogs-region": "an awslogs log driver option (logConfiguration.options map)",
    "require_secure_transport": "a parameter name of the cluster parameter group (DescribeDBClusterParameters)",
    "server_audit_logging": "a parameter name of the cluster parameter group (DescribeDBClusterParameters)",
    "server_audit_events": "a parameter name of the cluster parameter group (DescribeDBClusterParameters)",
    "restore": "a DB cluster snapshot attribute name (DescribeDBClusterSnapshotAttributes' AttributeName)",
    "deletion_protection.enabled": "a load balancer attribute key (DescribeLoadBalancerAttributes' Attributes[].Key)",
    "AccountMFAEnabled": "a key of GetAccountSummary's SummaryMap (a map: its keys are no shape members)",
    "AccountAccessKeysPresent": "a key of GetAccountSummary's SummaryMap (a map: its keys are no shape members)",
    "eventCategory": "an advanced event selector's field name (FieldSelectors[].Field value)",
    "resources.type": "an advanced event selector's field name (FieldSelectors[].Field value)",
    "resources.ARN": "an advanced event selector's field name (FieldSelectors[].Field value)",
    # pytest's own
    "inventories": "a fixture's name in pytest's item.funcargs (tests/consistency/conftest.py)",
    # botocore's own response envelope
    "ResponseMetadata": "botocore response metadata", "RetryAttempts": "botocore response metadata",
    "Error": "botocore ClientError response",
    # the template document, read by the consistency suite beside the inventory
    "Mappings": "template section", "EnvironmentConfig": "template mapping",
    "DBConnectionsAlarmThreshold": "template mapping key",
    # what the suite makes itself
    "Kind": "RolePolicy (shapes.py)", "container": "SecretFinding (shapes.py)",
    "cloudformation:ListStackResources": "a section's errors: operation -> message",
    "errors": "Section internals", "_sealed": "Section internals", "loc": "a pydantic validation error",
}  # fmt: skip


def sources() -> dict[str, str]:
    files = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("conformance/inventory/*.py")]
    named = {str(f.relative_to(ROOT)): f for f in files}
    return {name: f.read_text() for name, f in sorted(named.items()) if not name.startswith(SKIP)}


def keys_read(source: str) -> Iterable[tuple[str, int]]:
    """(key, line) of every ``x["Key"]`` read and ``x.get("Key", ...)`` call."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key: ast.expr | None = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            key = node.args[0] if node.args else None
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value, node.lineno


def _members(shape: Shape | None, into: set[str], seen: set[str]) -> None:
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            into.add(name)
            _members(member, into, seen)
    elif shape.type_name == "list":
        _members(shape.member, into, seen)
    elif shape.type_name == "map":
        _members(shape.value, into, seen)


def api_members(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """The member names of the output shapes of the operations the sources read, and those operations.

    The operations: every one a section field declares (``reads(...)``), and every one of those
    services whose boto3 method name the sources call or name (``ec2.describe_vpcs(...)``,
    ``paginate(ec2, "describe_subnets", ...)``).
    """
    named: set[str] = set()
    for text in texts:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute):
                named.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.add(node.value)
    declared = {op.split("(")[0] for cls in Section.__subclasses__() for ops in cls.field_reads.values() for op in ops}
    session = botocore.session.get_session()
    members: set[str] = set()
    operations: set[str] = set()
    for prefix, service in SERVICES.items():
        model = session.get_service_model(service)
        for op in model.operation_names:
            if f"{prefix}:{op}" in declared or xform_name(op) in named:
                operations.add(f"{prefix}:{op}")
                _members(model.operation_model(op).output_shape, members, set())
    return members, operations


def unknown_keys(texts: dict[str, str], members: set[str]) -> dict[str, list[str]]:
    """Keys read that are neither a member of those output shapes nor in NOT_API: key -> where."""
    unknown: dict[str, list[str]] = {}
    for name, text in texts.items():
        for key, line in keys_read(text):
            if key not in members and key not in NOT_API:
                unknown.setdefault(key, []).append(f"{name}:{line}")
    return unknown


def test_every_key_read_is_in_a_botocore_output_shape():
    texts = sources()
    members, operations = api_members(texts.values())
    read = {key for text in texts.values() for key, _ in keys_read(text)}
    guarded = read & members
    assert len(operations) >= 55 and len(guarded) >= 250, (len(operations), len(guarded))  # the guard guards
    unknown = unknown_keys(texts, members)
    assert not unknown, f"keys read that no output shape of the suite's operations defines: {unknown}"


def test_a_misspelt_key_is_caught():
    texts = sources()
    members, _ = api_members(texts.values())
    misspelt = {
        "tests/database/test_typo.py": (
            'def test_typo(inv):\n'
            '    members = inv.database.cluster.get("DBClusterMembrs", [])\n'
            '    return [g["GroupIdd"] for g in inv.network.security_groups], members\n'
        )
    }  # fmt: skip
    assert unknown_keys(misspelt, members) == {
        "DBClusterMembrs": ["tests/database/test_typo.py:2"],
        "GroupIdd": ["tests/database/test_typo.py:3"],
    }
    assert not unknown_keys({"ok.py": 'c.get("DBClusterMembers"); g["GroupId"]'}, members)


def test_every_exception_is_read_and_no_api_member():
    texts = sources()
    members, _ = api_members(texts.values())
    read = {key for text in texts.values() for key, _ in keys_read(text)}
    assert not set(NOT_API) - read, f"NOT_API lists keys nothing reads: {sorted(set(NOT_API) - read)}"
    assert not set(NOT_API) & members, f"NOT_API lists API members: {sorted(set(NOT_API) & members)}"


# fields filled from the stack outputs or the stack's name, not by a read that can fail
NOT_READ = {("NetworkSection", "public_subnet_ids"), ("NetworkSection", "private_subnet_ids"),
            ("NetworkSection", "region"), ("StorageSection", "bucket"), ("StorageSection", "log_bucket"),
            ("StackSection", "name")}  # fmt: skip
OPERATION = re.compile(r"^(?P<prefix>[a-z0-9-]+):(?P<op>[A-Z][A-Za-z0-9]+)(\((?P<arg>\w+)\))?$")


def test_every_section_field_declares_the_reads_that_fill_it():
    sections = Section.__subclasses__()
    assert len(sections) == 7
    undeclared = {
        (cls.__name__, name) for cls in sections for name in cls.model_fields if name not in cls.field_reads
    } - {(cls.__name__, "errors") for cls in sections}
    assert undeclared == NOT_READ


def test_every_operation_is_botocore_s_and_every_failure_recorded_is_declared():
    """A read's failure is recorded under its operation name: the name must be a real operation,
    and some field must declare it, or a check reading what it fills would not be told."""
    declared = {op for cls in Section.__subclasses__() for ops in cls.field_reads.values() for op in ops}
    session = botocore.session.get_session()
    for op in declared:
        m = OPERATION.match(op)
        assert m and m["prefix"] in SERVICES, op
        assert m["op"] in session.get_service_model(SERVICES[m["prefix"]]).operation_names, op
    recorded = {
        node.value
        for name, text in sources().items()
        if name.startswith("conformance/inventory/")
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and OPERATION.match(node.value)
        and OPERATION.match(node.value)["prefix"] in SERVICES  # type: ignore[index]
    }  # fmt: skip
    assert len(recorded) >= 45, sorted(recorded)
    assert not recorded - declared, f"failures recorded under operations no field declares: {recorded - declared}"
