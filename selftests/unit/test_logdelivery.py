"""The template's ELB log-delivery table and Region condition are core.logdelivery's table."""

from __future__ import annotations

from typing import Any

from core.logdelivery import ELB_LOG_DELIVERY_ACCOUNTS, elb_log_delivery_account
from core.template import load_template


def _regions(expr: Any) -> list[str]:
    """The Regions an Fn::Or of Fn::Equals [Ref AWS::Region, <region>] names, in order."""
    if isinstance(expr, dict) and "Fn::Or" in expr:
        return [r for e in expr["Fn::Or"] for r in _regions(e)]
    ((fn, (ref, region)),) = expr.items()
    assert (fn, ref) == ("Fn::Equals", {"Ref": "AWS::Region"}), expr
    return [region]


def test_the_template_maps_every_region_of_the_table_to_its_elb_account():
    mapping = load_template()["Mappings"]["ElbLogDeliveryAccount"]
    assert {region: row["Account"] for region, row in mapping.items()} == dict(ELB_LOG_DELIVERY_ACCOUNTS)


def test_the_templates_region_condition_names_exactly_the_tables_regions():
    regions = _regions(load_template()["Conditions"]["ElbLogsByAccount"])
    assert sorted(regions) == sorted(ELB_LOG_DELIVERY_ACCOUNTS) and len(regions) == len(set(regions))


def test_later_regions_have_no_elb_account():
    assert elb_log_delivery_account("us-east-1") == "127311923021"
    assert elb_log_delivery_account("ap-southeast-5") is None and elb_log_delivery_account(None) is None
