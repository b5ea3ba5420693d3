"""Compute suite: the web application firewall in front of the payment entry point (PCI DSS 6.4.2).

The load balancer's web ACL (GetWebACLForResource) runs AWS's managed rule groups for common
exploits, known bad inputs and SQL injection, each blocking: no group's OverrideAction is Count
and no rule of a group is overridden to count. Its requests are logged (GetLoggingConfiguration)."""

from __future__ import annotations

from typing import Any

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory

MANAGED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet")
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"


def _lb(inv: Inventory) -> str:
    return inv.compute.load_balancer.get("LoadBalancerName") or inv.outputs.LoadBalancerArn


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:6.4.2",
            "The automated solution 6.4.2 asks for is in place: the environment's web ACL is the one associated with "
            "the public load balancer.",
        ),
    ],
    rationale="A web application firewall sits in front of the public payment application: the environment's web "
    "ACL is associated with its load balancer.",
)
def test_web_acl_associated_with_load_balancer(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    acl = inv.compute.web_acl
    evidence.attach("GetWebACLForResource", {"Name": acl.get("Name"), "ARN": acl.get("ARN")})
    assert acl.get("ARN") == inv.outputs.WebACLArn, (
        f"load balancer {_lb(inv)} has web ACL {acl.get('ARN') or 'none'}, expected {inv.outputs.WebACLArn}"
    )


def _managed(rule: dict[str, Any]) -> dict[str, Any]:
    return (rule.get("Statement") or {}).get("ManagedRuleGroupStatement") or {}


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:6.4.2",
            "The solution blocks web-based attacks rather than only counting them: the managed groups are present and"
            " none is set or overridden to count.",
        ),
    ],
    rationale="The web ACL blocks the attacks AWS's managed rule groups detect (common exploits, known bad inputs, "
    "SQL injection): each group present, none set to count, no rule of them overridden to count.",
)
def test_web_acl_managed_rule_groups_block(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    acl = inv.compute.web_acl
    inv.compute.require("wafv2:GetWebACLForResource")
    rules = acl.get("Rules") or []
    evidence.attach("web ACL rules", rules)
    by_group = {str(_managed(r).get("Name")): r for r in rules if _managed(r).get("VendorName") == "AWS"}
    problems = [f"{g} absent" for g in MANAGED_GROUPS if g not in by_group]
    for name in MANAGED_GROUPS:
        rule = by_group.get(name)
        if rule is None:
            continue
        if "Count" in (rule.get("OverrideAction") or {}):
            problems.append(f"{name} (rule {rule.get('Name')}) set to count (OverrideAction Count)")
        counted = [
            str(o.get("Name"))
            for o in _managed(rule).get("RuleActionOverrides") or []
            if "Count" in (o.get("ActionToUse") or {})
        ]
        if counted:
            problems.append(f"{name} overrides rule(s) {', '.join(counted)} to count")
    assert acl and not problems, (
        f"web ACL {acl.get('Name') or inv.outputs.WebACLArn} of load balancer {_lb(inv)} has "
        f"{'; '.join(problems) or 'no rules'}, expected {', '.join(MANAGED_GROUPS)} blocking"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1",
            "Every request the public application receives and the firewall's decision on it are logged to the "
            "environment's log group.",
        ),
        supporting(
            "PCI-DSS-4.0:6.4.2",
            "6.4.2's testing procedure looks for the solution generating audit logs; this shows they are delivered.",
        ),
    ],
    rationale="What the web application firewall sees and decides is logged: the web ACL's logging delivers to an "
    "aws-waf-logs- log group of the environment.",
)
def test_web_acl_logging_configured(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    logging = inv.compute.web_acl_logging
    evidence.attach("GetLoggingConfiguration", logging)
    want = f"{WAF_LOG_GROUP_PREFIX}payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}-web-acl"
    destinations = [str(d) for d in logging.get("LogDestinationConfigs") or []]
    ok = [d for d in destinations if d.split(":log-group:")[-1].split(":")[0] == want]
    assert ok, (
        f"web ACL {inv.outputs.WebACLArn} logs to {', '.join(destinations) or 'nowhere (no logging configuration)'}, "
        f"expected the log group {want}"
    )
