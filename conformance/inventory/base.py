"""Shared pieces of the inventory sections."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import botocore.exceptions
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from conformance.aws import error_code
from conformance.errors import ConformanceError, ExitCode

T = TypeVar("T")
Raw = dict[str, Any]


class ProbeError(ConformanceError):
    """The suite could not observe what a check needs (throttled, denied, timed out, failed)."""

    exit_code = ExitCode.CANNOT_OBSERVE


# Which reads fill which field of each section (a read whose input comes from another read lists
# that one too): once sealed, reading a field whose read failed raises
# ProbeError, so no check can mistake "could not observe" for an empty (non-conforming) value.
FIELD_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "StackSection": {
        "status": ("cloudformation:DescribeStacks",), "termination_protection": ("cloudformation:DescribeStacks",),
        "tags": ("cloudformation:DescribeStacks",), "parameters": ("cloudformation:DescribeStacks",),
        "resources": ("cloudformation:ListStackResources",),
        "template_sha256": ("cloudformation:GetTemplate",),
        "status_reason": ("cloudformation:DescribeStacks",),
        "drift_detection": ("cloudformation:DetectStackDrift",),
        "drifted_resources": ("cloudformation:DetectStackDrift", "cloudformation:DescribeStackResourceDrifts"),
    },
    "NetworkSection": {
        "vpc": ("ec2:DescribeVpcs",), "dns_support": ("ec2:DescribeVpcAttribute(enableDnsSupport)",),
        "dns_hostnames": ("ec2:DescribeVpcAttribute(enableDnsHostnames)",), "subnets": ("ec2:DescribeSubnets",),
        "route_tables": ("ec2:DescribeRouteTables",), "internet_gateways": ("ec2:DescribeInternetGateways",),
        "nat_gateways": ("ec2:DescribeNatGateways",), "addresses": ("ec2:DescribeAddresses",),
        "security_groups": ("ec2:DescribeSecurityGroups",), "flow_logs": ("ec2:DescribeFlowLogs",),
        "network_interfaces": ("ec2:DescribeNetworkInterfaces",),
    },
    "DatabaseSection": {
        "cluster": ("rds:DescribeDBClusters",), "instances": ("rds:DescribeDBInstances",),
        "subnet_group": ("rds:DescribeDBSubnetGroups", "rds:DescribeDBClusters"),  # named by the cluster
        "cluster_parameters": ("rds:DescribeDBClusterParameters", "rds:DescribeDBClusters"),  # named by the cluster
        "secret": ("secretsmanager:DescribeSecret",),
    },
    "ComputeSection": {
        "cluster": ("ecs:DescribeClusters",), "service": ("ecs:DescribeServices",),
        "task_definition": ("ecs:DescribeTaskDefinition", "ecs:DescribeServices"),  # named by the service
        "tasks": ("ecs:ListTasks", "ecs:DescribeTasks"),
        "load_balancer": ("elasticloadbalancing:DescribeLoadBalancers",),
        "listeners": ("elasticloadbalancing:DescribeListeners",),
        "target_group": ("elasticloadbalancing:DescribeTargetGroups",),
        "target_health": ("elasticloadbalancing:DescribeTargetHealth",),
        "scalable_targets": ("application-autoscaling:DescribeScalableTargets",),
        "scaling_policies": ("application-autoscaling:DescribeScalingPolicies",),
        "alarms": ("cloudwatch:DescribeAlarms",),
        "scaling_activities": ("application-autoscaling:DescribeScalingActivities",),
        "plaintext_secret_findings": ("ecs:DescribeTaskDefinition", "ecs:DescribeServices"),
        "role_policies": ("iam:GetRolePolicy", "ecs:DescribeTaskDefinition", "ecs:DescribeServices"),
    },
    "StorageSection": {
        "encryption": ("s3:GetBucketEncryption",), "versioning": ("s3:GetBucketVersioning",),
        "public_access_block": ("s3:GetPublicAccessBlock",), "policy": ("s3:GetBucketPolicy",),
        "ownership": ("s3:GetBucketOwnershipControls",), "lifecycle": ("s3:GetBucketLifecycleConfiguration",),
        "bucket_tags": ("s3:GetBucketTagging",), "key": ("kms:DescribeKey",),
        "key_rotation": ("kms:GetKeyRotationStatus",), "key_aliases": ("kms:ListAliases",),
        "topic": ("sns:GetTopicAttributes",), "subscriptions": ("sns:ListSubscriptionsByTopic",),
        "log_groups": ("logs:DescribeLogGroups",),
    },
    "TagsSection": {
        "resources": ("tag:GetResources",), "roles": ("iam:ListRoleTags", "cloudformation:ListStackResources"),
    },
}  # fmt: skip


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    errors: dict[str, str] = Field(default_factory=dict)
    # Sealed once the inventory is complete (and whenever it is loaded): from then on, reading
    # a field whose read failed raises. Collectors, which run before, see the defaults.
    _sealed: bool = PrivateAttr(default=False)

    def seal(self) -> None:
        self._sealed = True

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name != "errors":
            ops = FIELD_OPERATIONS.get(type(self).__name__, {}).get(name)
            private = object.__getattribute__(self, "__pydantic_private__") or {}
            if ops and private.get("_sealed"):
                errors = object.__getattribute__(self, "__dict__").get("errors") or {}
                for op in ops:
                    if op in errors:
                        raise ProbeError(f"could not observe {op}: {errors[op]}")
        return super().__getattribute__(name)

    def require(self, *operations: str) -> None:
        """Raise ProbeError when one of these operations failed during collection."""
        for op in operations or tuple(self.errors):
            if op in self.errors:
                raise ProbeError(f"could not observe {op}: {self.errors[op]}")


def describe_error(exc: BaseException) -> str:
    code = error_code(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{code}: {message}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


def attempt(section: Section, operation: str, fn: Callable[[], Any], default: Any) -> Any:
    """Run one API read; on failure record it in the section and return the default.

    ``NotFound``-style answers are data, not errors: callers handle them by passing
    functions that catch the codes they expect.
    """
    try:
        return fn()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        section.errors[operation] = describe_error(exc)
        return default


def absent_on(codes: tuple[str, ...], fn: Callable[[], T], default: T) -> T:
    """Call fn; return default when AWS answers with one of ``codes`` (e.g. no configuration)."""
    try:
        return fn()
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in codes:
            return default
        raise


def concurrently(*tasks: Callable[[], Any]) -> list[Any]:
    """Run independent reads (a call, or a chain of calls that need each other) at once; results in order.

    On AWS each call waits tens to hundreds of milliseconds on the network, so the depth of the
    longest chain, not the number of calls, sets how long a section takes (docs/performance.md).
    """
    if len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="inventory-read") as pool:
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]


def paginate(client: Any, method: str, key: str, **kwargs: Any) -> list[Raw]:
    items: list[Raw] = []
    for page in client.get_paginator(method).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def tags_of(raw: Raw | None, key: str = "Tags") -> dict[str, str]:
    tags = (raw or {}).get(key) or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t.get("Key", t.get("key", "")): t.get("Value", t.get("value", "")) for t in tags}
