"""The stack itself: status, protection, tags, parameters, resources, and CloudFormation's drift detection."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import botocore.exceptions
from pydantic import Field

from conformance.inventory.base import Raw, Section, attempt, concurrently, paginate
from core.aws import AwsSession

# Drift detection: CloudFormation compares each resource with its template (minutes on a large
# stack on AWS, at once on the emulator). Polled with a deadline; past it the check that needs
# the answer is a probe error, never a pass.
DRIFT_POLL_SECONDS = {True: 0.1, False: 2.0}  # by "is the target emulated"
DRIFT_DEADLINE_SECONDS = {True: 30.0, False: 300.0}
DRIFT_KEYS = (
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceType",
    "StackResourceDriftStatus",
    "PropertyDifferences",
)


class StackSection(Section):
    name: str = ""
    status: str = ""
    status_reason: str = ""
    termination_protection: bool = False
    tags: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, str] = Field(default_factory=dict)
    resources: list[Raw] = Field(default_factory=list)
    # DescribeStackDriftDetectionStatus's answer: StackDriftStatus, DetectionStatus, reason, count
    drift_detection: Raw = Field(default_factory=dict)
    # the resources drift detection found MODIFIED or DELETED, with their property differences
    drifted_resources: list[Raw] = Field(default_factory=list)
    # sha256 of the template body as deployed (GetTemplate, TemplateStage=Original)
    template_sha256: str = ""

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r["ResourceType"]] = counts.get(r["ResourceType"], 0) + 1
        return dict(sorted(counts.items()))

    def physical_ids(self, resource_type: str) -> list[str]:
        return [r.get("PhysicalResourceId", "") for r in self.resources if r["ResourceType"] == resource_type]


def collect_stack(aws: AwsSession, stack_name: str, described: dict[str, Any] | None = None) -> StackSection:
    """``described``: the stack as the deployer just described it (DescribeStacks is not repeated)."""
    cfn = aws.client("cloudformation")
    section = StackSection(name=stack_name)

    def description() -> None:
        stacks: list[dict[str, Any]] = (
            [described]
            if described
            else attempt(
                section,
                "cloudformation:DescribeStacks",
                lambda: cfn.describe_stacks(StackName=stack_name)["Stacks"],
                [],
            )
        )
        if stacks:
            s = stacks[0]
            section.status = s["StackStatus"]
            section.status_reason = s.get("StackStatusReason", "")
            section.termination_protection = bool(s.get("EnableTerminationProtection", False))
            section.tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
            section.parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])}

    def resources() -> None:
        section.resources = attempt(
            section,
            "cloudformation:ListStackResources",
            lambda: [
                {k: r.get(k, "") for k in ("LogicalResourceId", "PhysicalResourceId", "ResourceType", "ResourceStatus")}
                for r in paginate(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack_name)
            ],
            [],
        )

    def drift() -> None:
        section.drift_detection = attempt(
            section, "cloudformation:DetectStackDrift", lambda: _detect_drift(cfn, stack_name, aws.is_emulated), {}
        )
        if section.drift_detection.get("StackDriftStatus") == "DRIFTED":
            section.drifted_resources = attempt(
                section,
                "cloudformation:DescribeStackResourceDrifts",
                lambda: [{k: d.get(k) for k in DRIFT_KEYS} for d in _resource_drifts(cfn, stack_name)],
                [],
            )

    def template() -> None:
        section.template_sha256 = attempt(
            section,
            "cloudformation:GetTemplate",
            lambda: template_digest(cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]),
            "",
        )

    concurrently(description, resources, drift, template)
    return section


def template_digest(body: str | dict[str, Any]) -> str:
    """sha256 of a template body; botocore hands a JSON body back parsed, so it is serialised canonically."""
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _resource_drifts(cfn: Any, stack_name: str) -> list[Raw]:
    """DescribeStackResourceDrifts has no boto3 paginator: follow NextToken by hand."""
    found: list[Raw] = []
    kwargs: dict[str, Any] = {"StackName": stack_name, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]}
    while True:
        page = cfn.describe_stack_resource_drifts(**kwargs)
        found.extend(page.get("StackResourceDrifts", []))
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def _detect_drift(cfn: Any, stack_name: str, emulated: bool) -> Raw:
    detection_id = cfn.detect_stack_drift(StackName=stack_name)["StackDriftDetectionId"]
    deadline = time.monotonic() + DRIFT_DEADLINE_SECONDS[emulated]
    while True:
        status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        if status.get("DetectionStatus") != "DETECTION_IN_PROGRESS":
            keys = ("StackDriftStatus", "DetectionStatus", "DetectionStatusReason", "DriftedStackResourceCount")
            return {k: status[k] for k in keys if k in status}
        if time.monotonic() > deadline:
            waited = DRIFT_DEADLINE_SECONDS[emulated]
            raise botocore.exceptions.WaiterError(
                name="StackDriftDetection",
                reason=f"drift detection of {stack_name} still in progress after {waited:.0f} s",
                last_response=status,
            )
        time.sleep(DRIFT_POLL_SECONDS[emulated])
