"""Account suite, CIS 4.1 to 4.15: metric filters on the trail's log group and alarms on them.

One check per item, so that one unmet item marks only its own CIS recommendation non-conformant.
For each item of tests/account/monitoring.py, some metric filter on the CloudWatch Logs group of an
account trail must match every CloudTrail event the item names (its pattern read as
CloudWatch Logs reads it, tests/account/filterpattern.py), and a metric alarm on that filter's
metric must notify an SNS topic when one such event is counted. Whatever made them: the account
baseline's filters conform, and so would an organisation's own with the same meaning.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.checks import Link, check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory.account import AccountInventory, log_group_in
from conformance.inventory.shapes import MetricAlarm, MetricFilter
from tests.account.filterpattern import matches
from tests.account.monitoring import ITEMS, Item


def _where(inv: AccountInventory) -> str:
    return f"account {inv.account} ({inv.region})"


def _fires_on_one(alarm: MetricAlarm) -> bool:
    """The alarm goes off when the filter counts a single event in a period."""
    op, threshold = alarm.get("ComparisonOperator"), float(alarm.get("Threshold", 0.0))
    return (op == "GreaterThanOrEqualToThreshold" and threshold <= 1) or (
        op == "GreaterThanThreshold" and threshold < 1
    )


def _notifies(alarm: MetricAlarm) -> bool:
    return alarm.get("ActionsEnabled") is not False and any(":sns:" in a for a in alarm.get("AlarmActions") or [])


def _judge(item: Item, filters: list[MetricFilter], alarms: list[MetricAlarm]) -> str:
    """'' when the item is monitored; else what is missing, naming the nearest filter."""
    best: tuple[int, MetricFilter | None, list[str]] = (-1, None, [])
    for f in filters:
        pattern = str(f.get("filterPattern") or "")
        missed = [str(e.get("eventName")) for e in item.events if not matches(pattern, e)]
        hit = len(item.events) - len(missed)
        if not missed:
            metrics = {(t.get("metricNamespace"), t.get("metricName")) for t in f.get("metricTransformations") or []}
            on_metric = [a for a in alarms if (a.get("Namespace"), a.get("MetricName")) in metrics]
            if any(_fires_on_one(a) and _notifies(a) for a in on_metric):
                return ""
            seen = ", ".join(
                f"{a.get('AlarmName')} (actions {a.get('AlarmActions') or []}, enabled {a.get('ActionsEnabled')}, "
                f"{a.get('ComparisonOperator')} {a.get('Threshold')})"
                for a in on_metric
            )
            hit = len(item.events) + 1  # a matching filter is nearer than any partial one
            why = f"filter {f.get('filterName')} matches, but no alarm on its metric notifies an SNS topic on one event"
            best = max(best, (hit, f, [why + (f"; alarms: {seen}" if seen else "")]), key=lambda b: b[0])
        elif hit > best[0]:
            names = sorted(set(missed))
            best = (hit, f, [f"nearest filter {f.get('filterName')} misses {', '.join(names[:6])}"])
    if best[1] is None:
        return f"CIS {item.cis} ({item.what}): no metric filter"
    return f"CIS {item.cis} ({item.what}): {best[2][0]}"


_REVIEW = "Metric filter and alarm review the trail's events for {what} automatically and raise them as they happen."
_CONTROL_FAILURE = supporting(
    "PCI-DSS-4.0:10.7.2", "{what} alarm: a failure of a critical security control (stopped or disabled) is detected."
)
_NETWORK = supporting("PCI-DSS-4.0:1.2.8", "{what} alarm: changes to the network's configuration are raised as made.")

# CIS item -> (check name, severity by docs/controls.md, supporting links beyond 10.4.1.1 and the CIS item).
# high: the events touch card-data protections directly (identities, root, the trail, keys, bucket policies,
# Config, security groups, network ACLs); medium: other layers still stand (sign-in MFA and lockout, the
# security group and ACL alarms over the network's shape, the account's own controls over Organizations).
_SPEC: dict[str, tuple[str, str, tuple[Link, ...]]] = {
    "4.1": ("test_account_cis_4_1_unauthorized_api_calls_alarm", "high", ()),
    "4.2": ("test_account_cis_4_2_console_sign_in_without_mfa_alarm", "medium", ()),
    "4.3": ("test_account_cis_4_3_root_usage_alarm", "high", ()),
    "4.4": ("test_account_cis_4_4_iam_policy_changes_alarm", "high", ()),
    "4.5": ("test_account_cis_4_5_cloudtrail_changes_alarm", "high", (_CONTROL_FAILURE,)),
    "4.6": ("test_account_cis_4_6_console_authentication_failures_alarm", "medium", ()),
    "4.7": ("test_account_cis_4_7_kms_key_disabled_or_deleted_alarm", "high", (_CONTROL_FAILURE,)),
    "4.8": ("test_account_cis_4_8_s3_bucket_policy_changes_alarm", "high", ()),
    "4.9": ("test_account_cis_4_9_config_changes_alarm", "high", (_CONTROL_FAILURE,)),
    "4.10": ("test_account_cis_4_10_security_group_changes_alarm", "high", (_NETWORK,)),
    "4.11": ("test_account_cis_4_11_network_acl_changes_alarm", "high", (_NETWORK,)),
    "4.12": ("test_account_cis_4_12_network_gateway_changes_alarm", "medium", (_NETWORK,)),
    "4.13": ("test_account_cis_4_13_route_table_changes_alarm", "medium", (_NETWORK,)),
    "4.14": ("test_account_cis_4_14_vpc_changes_alarm", "medium", (_NETWORK,)),
    "4.15": ("test_account_cis_4_15_organizations_changes_alarm", "medium", ()),
}


def _judge_item(item: Item, account_inv: AccountInventory, evidence: Evidence) -> None:
    """The judgement every item's check makes: a trail's log group, a filter matching its events, an alarm."""
    acct = account_inv.account_controls
    trails = [t for t in acct.logging_multi_region_trails() if t.get("CloudWatchLogsLogGroupArn")]
    evidence.attach("DescribeMetricFilters", acct.trail_metric_filters)
    evidence.attach("DescribeAlarms", [a.get("AlarmName") for a in acct.metric_alarms])
    assert trails, (
        f"{_where(account_inv)}: no multi-region logging trail delivers to CloudWatch Logs, expected one whose log "
        f"group holds the CIS {item.cis} metric filter ({item.what})"
    )
    groups = [g for t in trails if (g := log_group_in(str(t["CloudWatchLogsLogGroupArn"]), account_inv.region))]
    if not groups:
        homes = sorted({str(t.get("HomeRegion")) for t in trails})
        pytest.skip(f"the trails' log groups live in {', '.join(homes)}: judged there")
    filters = [f for g in groups for f in acct.trail_metric_filters.get(g, [])]
    why = _judge(item, filters, acct.metric_alarms)
    assert not why, (
        f"trail log group {', '.join(groups)} of {_where(account_inv)}: {why}; expected a metric filter matching "
        "every event it names and an alarm on its metric notifying an SNS topic on one event"
    )


def _define(item: Item) -> Callable[..., None]:
    """Define item's check at module level under its own name, so pytest and the catalogue see it."""
    name, severity, extra = _SPEC[item.cis]

    def run(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
        _judge_item(item, account_inv, evidence)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"CIS {item.cis}: a metric filter and an alarm for {item.what} on the trail's log group."
    what = item.what[0].upper() + item.what[1:]
    links = [
        primary(f"CIS-AWS-3.0:{item.cis}", f"CIS {item.cis}: a metric filter and alarm for {item.what}."),
        primary("PCI-DSS-4.0:10.4.1.1", _REVIEW.format(what=item.what)),
        *[supporting(lk.control, lk.why.format(what=what)) for lk in extra],
    ]
    fn = check(
        severity=severity,
        links=links,
        rationale=f"A metric filter on the account trail's log group matches every event CIS {item.cis} names "
        f"({item.what}) and an alarm on its metric notifies an SNS topic.",
    )(run)
    globals()[name] = fn
    return fn


assert set(_SPEC) == {item.cis for item in ITEMS}, "every CIS 4.x item has its check"
for _item in ITEMS:
    _define(_item)
