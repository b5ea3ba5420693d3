"""Tags of the stack's resources, as the Resource Groups Tagging API lists them.

One paginated ``tag:GetResources`` per environment, narrowed to the resources CloudFormation made
for this stack (the ``aws:cloudformation:stack-id`` tag, which no user can remove; by stack name
when the stack was not described), instead of one tags call per resource and service. AWS's
GetResources lists no IAM users and roles: the stack's roles (from its resource list) are read
with ``iam:ListRoleTags``, concurrently, once the stack section has listed them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from conformance.inventory.base import Section, attempt, concurrently, paginate, reads
from core.aws import AwsSession

if TYPE_CHECKING:
    from conformance.inventory.stack import StackSection

STACK_ID_TAG = "aws:cloudformation:stack-id"
STACK_NAME_TAG = "aws:cloudformation:stack-name"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"


class TagsSection(Section):
    # ARN → tags, for every resource GetResources lists as made by this stack
    resources: Annotated[dict[str, dict[str, str]], reads("tag:GetResources")] = Field(default_factory=dict)
    # the stack's IAM roles: role name (their physical id) → tags
    roles: Annotated[dict[str, dict[str, str]], reads("iam:ListRoleTags", "cloudformation:ListStackResources")] = Field(
        default_factory=dict
    )

    def by_logical_id(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Logical id of the template → (ARN, tags) of the resource CloudFormation made for it."""
        return {tags[LOGICAL_ID_TAG]: (arn, tags) for arn, tags in self.resources.items() if LOGICAL_ID_TAG in tags}


def not_collected() -> TagsSection:
    """The section of an inventory saved before the suite read tags this way (``--from-run``)."""
    why = "not in this saved inventory (written before the section existed)"
    return TagsSection(errors={"tag:GetResources": why, "iam:ListRoleTags": why})


def collect_tags(
    aws: AwsSession,
    stack_name: str,
    described: dict[str, Any] | None = None,
    stack: Callable[[], StackSection] | None = None,
) -> TagsSection:
    """``stack``: waits for the stack section (its resource list names the roles)."""
    section = TagsSection()
    client = aws.client("resourcegroupstaggingapi")
    stack_id = (described or {}).get("StackId")
    key, value = (STACK_ID_TAG, stack_id) if stack_id else (STACK_NAME_TAG, stack_name)
    tag_filter = {"Key": key, "Values": [value]}
    section.resources = attempt(
        section,
        "tag:GetResources",
        lambda: {
            str(m["ResourceARN"]): {str(t["Key"]): str(t.get("Value", "")) for t in m.get("Tags", [])}
            for m in paginate(client, "get_resources", "ResourceTagMappingList", TagFilters=[tag_filter])
        },
        {},
    )
    if stack is not None:
        section.roles = _role_tags(aws, section, stack())
    return section


def _role_tags(aws: AwsSession, section: TagsSection, stack: StackSection) -> dict[str, dict[str, str]]:
    if "cloudformation:ListStackResources" in stack.errors:
        section.errors["cloudformation:ListStackResources"] = stack.errors["cloudformation:ListStackResources"]
        return {}
    iam = aws.client("iam")
    names = sorted(
        str(r.get("PhysicalResourceId")) for r in stack.resources
        if r.get("ResourceType") == "AWS::IAM::Role" and r.get("PhysicalResourceId")
    )  # fmt: skip

    def read(name: str) -> Callable[[], dict[str, str]]:
        return lambda: attempt(
            section,
            "iam:ListRoleTags",
            lambda: {str(t["Key"]): str(t["Value"]) for t in paginate(iam, "list_role_tags", "Tags", RoleName=name)},
            {},
        )

    return dict(zip(names, concurrently(*(read(n) for n in names)), strict=True))
