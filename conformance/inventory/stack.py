"""The stack itself: status, protection, tags, parameters, resources, and CloudFormation's drift detection."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, cast

import botocore.exceptions
from pydantic import Field

from conformance.inventory.base import Section, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import DriftDetection, ResourceDrift, StackResource
from core.aws import AwsSession
from core.endpoint import observation_seconds

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
DETECT_DRIFT = "cloudformation:DetectStackDrift"
DESCRIBE_DRIFTS = "cloudformation:DescribeStackResourceDrifts"
# The inventory is published before drift detection ends (it is the longest chain by far on AWS):
# until the controller publishes the answer, the drift fields read as "could not observe" with this
# reason, never as an empty answer; the check that needs them waits for it (conformance.state.drift_of).
DRIFT_IN_PROGRESS = "drift detection still in progress when the inventory was published"


def drift_deadline(emulated: bool) -> float:
    """How long drift detection is polled: its own deadline, within the environment's observation
    deadline (PAYMENTS_OBSERVATION_SECONDS), which bounded it when it was part of the inventory."""
    return min(DRIFT_DEADLINE_SECONDS[emulated], observation_seconds())


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

    @property
    def drift_pending(self) -> bool:
        """Drift detection had not ended when this inventory was published (its answer comes later)."""
        return self.errors.get(DETECT_DRIFT) == DRIFT_IN_PROGRESS

    def apply_drift(self, drift: StackDrift) -> None:
        """Drift detection's answer, published after the rest of the inventory (replaces the pending mark)."""
        self.errors.pop(DETECT_DRIFT, None)
        self.errors.pop(DESCRIBE_DRIFTS, None)
        self.errors.update(drift.errors)
        self.drift_detection = drift.detection
        self.drifted_resources = drift.drifted_resources

    def resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.resources:
            counts[r["ResourceType"]] = counts.get(r["ResourceType"], 0) + 1
        return dict(sorted(counts.items()))

    def physical_ids(self, resource_type: str) -> list[str]:
        return [r.get("PhysicalResourceId", "") for r in self.resources if r["ResourceType"] == resource_type]


def collect_stack(
    aws: AwsSession, stack_name: str, described: dict[str, Any] | None = None, *, with_drift: bool = True
) -> StackSection:
    """``described``: the stack as the deployer just described it (DescribeStacks is not repeated).
    ``with_drift=False``: without drift detection, which the caller runs (:func:`collect_drift`) and
    applies later (:meth:`StackSection.apply_drift`); until then the section says it is pending."""
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
        section.apply_drift(collect_drift(aws, stack_name))

    def template() -> None:
        section.template_sha256 = attempt(
            section,
            "cloudformation:GetTemplate",
            lambda: template_digest(cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]),
            "",
        )

    if with_drift:
        concurrently(description, resources, drift, template)
    else:
        section.errors[DETECT_DRIFT] = DRIFT_IN_PROGRESS
        concurrently(description, resources, template)
    return section


@dataclass
class StackDrift:
    """Drift detection's answer for one stack: what :meth:`StackSection.apply_drift` fills in."""

    detection: DriftDetection = field(default_factory=DriftDetection)
    drifted_resources: list[ResourceDrift] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def collect_drift(aws: AwsSession, stack_name: str, stop: threading.Event | None = None) -> StackDrift:
    """DetectStackDrift, its status polled until it ends (deadline DRIFT_DEADLINE_SECONDS), and the
    drifted resources' differences when the stack DRIFTED. ``stop``: abandon the polling (interrupted)."""
    started = time.perf_counter()
    cfn: CloudFormationClient = aws.client("cloudformation")
    holder = Section()  # attempt() records a failed read in a section's errors
    out = StackDrift()
    out.detection = attempt(
        holder, DETECT_DRIFT, lambda: _detect_drift(cfn, stack_name, aws.is_emulated, stop), DriftDetection()
    )
    if out.detection.get("StackDriftStatus") == "DRIFTED":
        out.drifted_resources = attempt(
            holder, DESCRIBE_DRIFTS, lambda: [_drift(d) for d in _resource_drifts(cfn, stack_name)], []
        )
    out.errors = dict(holder.errors)
    out.seconds = round(time.perf_counter() - started, 3)
    return out


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


def _detect_drift(
    cfn: CloudFormationClient, stack_name: str, emulated: bool, stop: threading.Event | None = None
) -> DriftDetection:
    detection_id = cfn.detect_stack_drift(StackName=stack_name)["StackDriftDetectionId"]
    waited = drift_deadline(emulated)
    deadline = time.monotonic() + waited
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
            raise botocore.exceptions.WaiterError(
                name="StackDriftDetection",
                reason=f"drift detection of {stack_name} still in progress after {waited:.0f} s",
                last_response=status,
            )
        if stop is None:
            time.sleep(DRIFT_POLL_SECONDS[emulated])
        elif stop.wait(DRIFT_POLL_SECONDS[emulated]):
            raise botocore.exceptions.WaiterError(
                name="StackDriftDetection",
                reason=f"drift detection of {stack_name} abandoned: the run was interrupted",
                last_response=status,
            )
