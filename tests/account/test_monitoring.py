"""Account suite, CIS 4.1 to 4.15: metric filters on the trail's log group and alarms on them.

For each item of tests/account/monitoring.py, some metric filter on the CloudWatch Logs group of
an account trail must match every CloudTrail event the item names (its pattern read as
CloudWatch Logs reads it, tests/account/filterpattern.py), and a metric alarm on that filter's
metric must notify an SNS topic when one such event is counted. Whatever made them: the account
baseline's filters conform, and so would an organisation's own with the same meaning.
"""

from __future__ import annotations

import pytest

from conformance.checks import check, primary, supporting
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


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.4.1.1",
            "Metric filters and alarms review the trail's events automatically and raise the security events "
            "CIS 4.1-4.15 name (root use, unauthorized calls, changes to IAM, the trail, keys, Config and the "
            "network) as they happen.",
        ),
        supporting(
            "PCI-DSS-4.0:10.7.2",
            "Stopping the trail, AWS Config or a key (4.5, 4.7, 4.9) alarms: failures of critical security "
            "controls are detected.",
        ),
        supporting(
            "PCI-DSS-4.0:1.2.8",
            "Security group, network ACL, gateway, route table and VPC changes alarm (4.10-4.14).",
        ),
        *[
            primary(f"CIS-AWS-3.0:{item.cis}", f"CIS {item.cis}: a metric filter and alarm for {item.what}.")
            for item in ITEMS
        ],
    ],
    rationale="For each of CIS 4.1-4.15, a metric filter on the account trail's log group matches the events "
    "named and an alarm on its metric notifies an SNS topic.",
)
def test_account_trail_security_event_alarms(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    acct = account_inv.account_controls
    trails = [t for t in acct.logging_multi_region_trails() if t.get("CloudWatchLogsLogGroupArn")]
    evidence.attach("DescribeMetricFilters", acct.trail_metric_filters)
    evidence.attach("DescribeAlarms", [a.get("AlarmName") for a in acct.metric_alarms])
    assert trails, (
        f"{_where(account_inv)}: no multi-region logging trail delivers to CloudWatch Logs, expected one whose log "
        "group holds the CIS 4.1-4.15 metric filters"
    )
    groups = [g for t in trails if (g := log_group_in(str(t["CloudWatchLogsLogGroupArn"]), account_inv.region))]
    if not groups:
        homes = sorted({str(t.get("HomeRegion")) for t in trails})
        pytest.skip(f"the trails' log groups live in {', '.join(homes)}: judged there")
    filters = [f for g in groups for f in acct.trail_metric_filters.get(g, [])]
    missing = [why for item in ITEMS if (why := _judge(item, filters, acct.metric_alarms))]
    assert not missing, (
        f"trail log group {', '.join(groups)} of {_where(account_inv)}: {len(missing)} of {len(ITEMS)} CIS "
        f"monitoring items unmet: {'; '.join(missing)}; expected for each a metric filter matching every event "
        "it names and an alarm on its metric notifying an SNS topic"
    )
