"""The stack itself: status, protection, tags, parameters, resources, and CloudFormation's drift detection."""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Annotated, Any, cast

import botocore.exceptions
from pydantic import Field

from conformance.inventory.base import Section, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import DriftDetection, ResourceDrift, StackResource
from core.aws import AwsSession

if TYPE_CHECKING:
    from types_boto3_cloudformation.client import CloudFormationClient
    from types_boto3_cloudformation.literals import StackResourceDriftStatusType
    from types_boto3_cloudformation.type_defs import (
        StackResourceDriftTypeDef,
        StackResourceSummaryTypeDef,
        StackTypeDef,
    )

# Drift detection: CloudFormation compares each resource with its template (minutes on a large
# stack on AWS, at once on the emulator). Polled with a deadline; past it the check that needs
# the answer is a probe error, never a pass.
DRIFT_POLL_SECONDS = {True: 0.1, False: 2.0}  # by "is the target emulated"
DRIFT_DEADLINE_SECONDS = {True: 30.0, False: 300.0}


class StackSection(Section):
    name: str = ""
    status: Annotated[str, reads("cloudformation:DescribeStacks")] = ""
    status_reason: Annotated[str, reads("cloudformation:DescribeStacks")] = ""
    termination_protection: Annotated[bool, reads("cloudformation:DescribeStacks")] = False
    tags: Annotated[dict[str, str], reads("cloudformation:DescribeStacks")] = Field(default_factory=dict)
    parameters: Annotated[dict[str, str], reads("cloudformation:DescribeStacks")] = Field(default_factory=dict)
    resources: Annotated[list[StackResource], reads("cloudformation:ListStackResources")] = Field(default_factory=list)
    # DescribeStackDriftDetectionStatus's answer: StackDriftStatus, DetectionStatus, reason, count
    drift_detection: Annotated[DriftDetection, reads("cloudformation:DetectStackDrift")] = Field(
        default_factory=nothing
    )
    # the resources drift detection found MODIFIED or DELETED, with their property differences
    drifted_resources: Annotated[
        list[ResourceDrift], reads("cloudformation:DetectStackDrift", "cloudformation:DescribeStackResourceDrifts")
    ] = Field(default_factory=list)
    # sha256 of the template body as deployed (GetTemplate, TemplateStage=Original)
    template_sha256: Annotated[str, reads("cloudformation:GetTemplate")] = ""

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r["ResourceType"]] = counts.get(r["ResourceType"], 0) + 1
        return dict(sorted(counts.items()))

    def physical_ids(self, resource_type: str) -> list[str]:
        return [r.get("PhysicalResourceId", "") for r in self.resources if r["ResourceType"] == resource_type]


def collect_stack(aws: AwsSession, stack_name: str, described: dict[str, Any] | None = None) -> StackSection:
    """``described``: the stack as the deployer just described it (DescribeStacks is not repeated)."""
    cfn: CloudFormationClient = aws.client("cloudformation")
    section = StackSection(name=stack_name)

    def description() -> None:
        stacks: list[StackTypeDef] = (
            [cast("StackTypeDef", described)]
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
                _resource(r)
                for r in paginate(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack_name)
            ],
            [],
        )

    def drift() -> None:
        section.drift_detection = attempt(
            section,
            "cloudformation:DetectStackDrift",
            lambda: _detect_drift(cfn, stack_name, aws.is_emulated),
            DriftDetection(),
        )
        if section.drift_detection.get("StackDriftStatus") == "DRIFTED":
            section.drifted_resources = attempt(
                section,
                "cloudformation:DescribeStackResourceDrifts",
                lambda: [_drift(d) for d in _resource_drifts(cfn, stack_name)],
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


def _resource(summary: StackResourceSummaryTypeDef) -> StackResource:
    """The four keys of a StackResourceSummary the inventory keeps ('' when absent)."""
    return {
        "LogicalResourceId": summary.get("LogicalResourceId", ""),
        "PhysicalResourceId": summary.get("PhysicalResourceId", ""),
        "ResourceType": summary.get("ResourceType", ""),
        "ResourceStatus": summary.get("ResourceStatus", ""),
    }


def _drift(drift: StackResourceDriftTypeDef) -> ResourceDrift:
    """The keys of a StackResourceDrift the inventory keeps (None when absent)."""
    return {
        "LogicalResourceId": drift.get("LogicalResourceId"),
        "PhysicalResourceId": drift.get("PhysicalResourceId"),
        "ResourceType": drift.get("ResourceType"),
        "StackResourceDriftStatus": drift.get("StackResourceDriftStatus"),
        "PropertyDifferences": drift.get("PropertyDifferences"),
    }


def _resource_drifts(cfn: CloudFormationClient, stack_name: str) -> list[StackResourceDriftTypeDef]:
    """DescribeStackResourceDrifts has no boto3 paginator: follow NextToken by hand."""
    found: list[StackResourceDriftTypeDef] = []
    drifted: list[StackResourceDriftStatusType] = ["MODIFIED", "DELETED"]
    token = ""
    while True:
        page = (
            cfn.describe_stack_resource_drifts(StackName=stack_name, StackResourceDriftStatusFilters=drifted)
            if not token
            else cfn.describe_stack_resource_drifts(
                StackName=stack_name, StackResourceDriftStatusFilters=drifted, NextToken=token
            )
        )
        found.extend(page.get("StackResourceDrifts", []))
        token = page.get("NextToken", "")
        if not token:
            return found


def _detect_drift(cfn: CloudFormationClient, stack_name: str, emulated: bool) -> DriftDetection:
    detection_id = cfn.detect_stack_drift(StackName=stack_name)["StackDriftDetectionId"]
    deadline = time.monotonic() + DRIFT_DEADLINE_SECONDS[emulated]
    while True:
        status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        if status.get("DetectionStatus") != "DETECTION_IN_PROGRESS":
            kept = DriftDetection()
            if "StackDriftStatus" in status:
                kept["StackDriftStatus"] = status["StackDriftStatus"]
            if "DetectionStatus" in status:
                kept["DetectionStatus"] = status["DetectionStatus"]
            if "DetectionStatusReason" in status:
                kept["DetectionStatusReason"] = status["DetectionStatusReason"]
            if "DriftedStackResourceCount" in status:
                kept["DriftedStackResourceCount"] = status["DriftedStackResourceCount"]
            return kept
        if time.monotonic() > deadline:
            waited = DRIFT_DEADLINE_SECONDS[emulated]
            raise botocore.exceptions.WaiterError(
                name="StackDriftDetection",
                reason=f"drift detection of {stack_name} still in progress after {waited:.0f} s",
                last_response=status,
            )
        time.sleep(DRIFT_POLL_SECONDS[emulated])
