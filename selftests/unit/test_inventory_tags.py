"""The inventory's tags section (tag:GetResources, once per environment): an inventory saved before
the section existed still loads (``--from-run``), and reading its tags is "could not observe",
never an empty (untagged) answer."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from conformance.inventory import Inventory, ProbeError
from conformance.inventory.tags import LOGICAL_ID_TAG, TagsSection
from core.outputs import OUTPUT_KEYS

SECTIONS = ("stack", "network", "database", "compute", "storage")


def _saved(**extra: object) -> dict[str, object]:
    outputs = {key: "x" for key in OUTPUT_KEYS}
    outputs.update(PublicSubnetIds="subnet-a,subnet-b", PrivateSubnetIds="subnet-c,subnet-d")
    doc: dict[str, object] = {
        "environment": "dev", "stack_name": "payments-dev-x", "region": "us-east-1", "account": "000000000000",
        "outputs": outputs, **{section: {} for section in SECTIONS},
    }  # fmt: skip
    doc.update(extra)
    return doc


def test_an_inventory_saved_without_the_section_loads_and_cannot_observe_tags():
    inv = Inventory.model_validate_json(Inventory.model_validate(_saved()).model_dump_json(exclude={"tags"}))
    with pytest.raises(ProbeError, match="tag:GetResources"):
        _ = inv.tags.resources
    with pytest.raises(ProbeError, match="iam:ListRoleTags"):
        _ = inv.tags.roles


def test_an_inventory_saved_with_the_retired_emulated_flag_loads():
    saved = Inventory.model_validate(_saved()).model_dump(mode="json")
    inv = Inventory.model_validate_json(json.dumps({**saved, "emulated": True}))
    assert "emulated" not in inv.model_dump()
    with pytest.raises(ValidationError, match="misspelt"):
        Inventory.model_validate_json(json.dumps({**saved, "emulated": True, "misspelt": 1}))


def test_a_saved_section_round_trips_and_maps_logical_ids():
    arn = "arn:aws:ec2:us-east-1:000000000000:vpc/vpc-1"
    tags = {LOGICAL_ID_TAG: "VPC", "Environment": "dev"}
    role = {"payments-dev-x-task-role": {"Environment": "dev"}}
    inv = Inventory.model_validate(_saved(tags={"resources": {arn: tags}, "roles": role}))
    again = Inventory.model_validate_json(inv.model_dump_json())
    assert again.tags.resources == {arn: tags} and again.tags.roles == role
    assert again.tags.by_logical_id() == {"VPC": (arn, tags)}


def test_roles_are_not_observed_when_the_stack_resources_were_not():
    section = TagsSection(errors={"cloudformation:ListStackResources": "Throttling: rate exceeded"})
    section.seal()
    with pytest.raises(ProbeError, match="ListStackResources"):
        _ = section.roles


def test_a_failed_read_is_could_not_observe():
    section = TagsSection(errors={"tag:GetResources": "AccessDenied: not allowed"})
    section.seal()
    with pytest.raises(ProbeError, match="AccessDenied"):
        _ = section.resources
