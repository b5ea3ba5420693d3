"""The stack itself: status, protection, tags, parameters, resources."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from conformance.aws import AwsSession
from conformance.inventory.base import Raw, Section, attempt, concurrently, paginate


class StackSection(Section):
    name: str = ""
    status: str = ""
    termination_protection: bool = False
    tags: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, str] = Field(default_factory=dict)
    resources: list[Raw] = Field(default_factory=list)
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
        section.termination_protection = bool(s.get("EnableTerminationProtection", False))
        section.tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        section.parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])}

    def resources() -> list[Raw]:
        return attempt(
            section,
            "cloudformation:ListStackResources",
            lambda: [
                {k: r.get(k, "") for k in ("LogicalResourceId", "PhysicalResourceId", "ResourceType", "ResourceStatus")}
                for r in paginate(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack_name)
            ],
            [],
        )

    def template_sha256() -> str:
        return attempt(
            section,
            "cloudformation:GetTemplate",
            lambda: template_digest(cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]),
            "",
        )

    section.resources, section.template_sha256 = concurrently(resources, template_sha256)
    return section


def template_digest(body: str | dict[str, Any]) -> str:
    """sha256 of a template body; botocore hands a JSON body back parsed, so it is serialised canonically."""
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
