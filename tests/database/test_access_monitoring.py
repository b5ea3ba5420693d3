"""Database suite: IAM database authentication and enhanced monitoring (IaC scanner findings)."""

from __future__ import annotations

from conformance.checks import check
from conformance.evidence import Evidence
from conformance.inventory import Inventory


@check(
    severity="medium",
    operational=(
        "hardening: IAM authentication lets clients use short-lived tokens; the governed credential remains the "
        "rotated master secret, so no PCI DSS requirement rests on this flag"
    ),
    rationale="Aurora accepts IAM database authentication, so people and services can connect with short-lived "
    "IAM tokens instead of the shared master password.",
)
def test_aurora_iam_authentication_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.database.cluster
    inv.database.require("rds:DescribeDBClusters")
    on = c.get("IAMDatabaseAuthenticationEnabled")
    evidence.attach("IAMDatabaseAuthenticationEnabled", on)
    assert on is True, (
        f"Aurora cluster {inv.outputs.AuroraClusterIdentifier} has IAMDatabaseAuthenticationEnabled={on}, expected true"
    )


@check(
    severity="low",
    operational="monitoring: operating-system metrics of the database instances, for capacity and incident diagnosis",
    rationale="Every Aurora instance publishes enhanced monitoring (OS metrics at most every 60 s) through a "
    "monitoring role, so a failing instance shows before it fails over.",
)
def test_aurora_enhanced_monitoring_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    instances = inv.database.instances
    inv.database.require("rds:DescribeDBInstances")
    seen = {
        str(i.get("DBInstanceIdentifier")): (i.get("MonitoringInterval"), i.get("MonitoringRoleArn")) for i in instances
    }
    evidence.attach("MonitoringInterval, MonitoringRoleArn", seen)
    off = {n: v for n, v in seen.items() if not (v[0] and 0 < int(v[0]) <= 60 and v[1])}
    shown = "; ".join(f"{n} has MonitoringInterval={v[0]} and role {v[1] or None}" for n, v in off.items())
    assert instances and not off, (
        f"Aurora cluster {inv.outputs.AuroraClusterIdentifier}: {shown or 'no instance found'}, "
        "expected MonitoringInterval 1-60 s and a monitoring role on every instance"
    )
