"""Database suite: availability, topology, endpoints, exposure, TLS, backups, logs and the master secret."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

import pytest

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.inventory.shapes import Secret
from conformance.prefetch import ProbeContext
from conformance.probes import emulator_dns_server, resolve

NAME_PATTERN = "payments-{env}-{suffix}-aurora"
ROTATION_GRACE_DAYS = 1


@check(
    severity="critical",
    operational="availability: the database is up and runs the engine and version the environment declares",
    rationale="The Aurora MySQL cluster is available and runs the engine and version the environment specifies.",
)
def test_aurora_cluster_available_with_specified_engine(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    db = inv.database
    c = db.cluster
    evidence.attach("DescribeDBClusters", c)
    name = inv.outputs.AuroraClusterIdentifier
    assert c, f"Aurora cluster {name} of {inv.stack_name} was not found"
    observed = (c.get("Status"), c.get("Engine"), c.get("EngineVersion"))
    expected = ("available", spec.expectations.engine, spec.expectations.engine_version)
    assert observed == expected, f"Aurora cluster {name} is {observed}, expected {expected} (status, engine, version)"


@check(
    severity="high",
    operational="availability: an AZ failure leaves a reader to fail over to",
    rationale="One writer and at least one reader, in different AZs, so an AZ failure leaves a copy to fail over to.",
)
def test_aurora_has_one_writer_and_readers_in_other_azs(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    db = inv.database
    name = inv.outputs.AuroraClusterIdentifier
    members = {i["DBInstanceIdentifier"]: i.get("AvailabilityZone") for i in db.instances}
    evidence.attach("cluster members", {"members": db.cluster.get("DBClusterMembers", []), "zones": members})
    assert len(db.instances) == spec.expectations.aurora_instances, (
        f"Aurora cluster {name} has {len(db.instances)} instance(s) {sorted(members)}, "
        f"expected {spec.expectations.aurora_instances}"
    )
    writers, readers = db.writers, db.readers
    assert len(writers) == 1 and readers, (
        f"Aurora cluster {name} has {len(writers)} writer(s) and {len(readers)} reader(s), expected 1 and at least 1"
    )
    writer_zone = writers[0].get("AvailabilityZone")
    same = [r["DBInstanceIdentifier"] for r in readers if r.get("AvailabilityZone") == writer_zone]
    assert not same, f"Aurora cluster {name}: readers {same} share the writer's AZ {writer_zone}"


@check(
    severity="medium",
    operational="availability: the application finds the writer and reader where the stack says",
    rationale="Distinct writer and reader endpoints on port 3306, as the stack hands them to the application.",
)
def test_aurora_endpoints_distinct_on_mysql_port(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.database.cluster
    inv.database.require("rds:DescribeDBClusters")
    observed = {"Endpoint": c.get("Endpoint"), "ReaderEndpoint": c.get("ReaderEndpoint"), "Port": c.get("Port")}
    evidence.attach("cluster endpoints", observed)
    name = inv.outputs.AuroraClusterIdentifier
    assert observed["Endpoint"] and observed["ReaderEndpoint"] and observed["Endpoint"] != observed["ReaderEndpoint"], (
        f"Aurora cluster {name} has writer endpoint {observed['Endpoint']} and reader endpoint "
        f"{observed['ReaderEndpoint']}, expected two distinct endpoints"
    )
    assert observed["Port"] == 3306, f"Aurora cluster {name} listens on port {observed['Port']}, expected 3306"
    outputs = (inv.outputs.AuroraClusterEndpoint, inv.outputs.AuroraReaderEndpoint)
    assert (observed["Endpoint"], observed["ReaderEndpoint"]) == outputs, (
        f"Aurora cluster {name} endpoints {observed['Endpoint']}, {observed['ReaderEndpoint']} differ from the "
        f"stack outputs {outputs}"
    )


def resolve_endpoints(ctx: ProbeContext) -> dict[str, list[str]]:
    """The writer and reader endpoints' addresses: the system resolver on AWS, the emulator's DNS server offline."""
    endpoint = ctx.run_state.endpoint_url
    nameserver = emulator_dns_server(endpoint) if ctx.emulated and endpoint else None
    hosts = (ctx.inv.outputs.AuroraClusterEndpoint, ctx.inv.outputs.AuroraReaderEndpoint)
    return {host: resolve(host, nameserver=nameserver) for host in hosts}


@pytest.mark.data_plane(probe=resolve_endpoints)
@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.4",
            "The endpoints of the card-data store resolve only to private addresses in the VPC: there is no internet "
            "address to reach it on.",
        ),
    ],
    rationale="The database endpoints resolve only to private addresses inside the environment's VPC.",
)
def test_aurora_endpoints_resolve_inside_the_vpc(env_name: str, inv: Inventory, data_plane, evidence: Evidence) -> None:
    vpc = ipaddress.ip_network(inv.network.cidr)
    resolved = data_plane()
    evidence.attach("DNS", resolved)
    for host, addresses in resolved.items():
        outside = [a for a in addresses if ipaddress.ip_address(a) not in vpc]
        assert addresses and not outside, f"endpoint {host} resolves to {addresses}, expected only addresses in {vpc}"


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.4",
            "No instance of the card-data store is publicly accessible, so none is directly reachable from the "
            "internet.",
        ),
        primary("CIS-AWS-3.0:2.3.3", "CIS 2.3.3: RDS instances are not publicly accessible."),
    ],
    rationale="No database instance is reachable from the internet.",
)
def test_aurora_instances_not_publicly_accessible(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    flags = {i["DBInstanceIdentifier"]: i.get("PubliclyAccessible") for i in inv.database.instances}
    evidence.attach("PubliclyAccessible", flags)
    public = [i for i, on in flags.items() if on is not False]
    assert flags and not public, f"Aurora instances {public or '(none found)'} are publicly accessible, expected none"


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:3.5.1",
            "Each instance of the card-data store reports encrypted storage (the instance class in the same check is "
            "sizing only).",
        ),
        primary("CIS-AWS-3.0:2.3.1", "CIS 2.3.1 audits each DB instance's StorageEncrypted, as this check does."),
    ],
    rationale="Every instance stores data encrypted and runs the instance class the environment specifies.",
)
def test_aurora_instances_encrypted_with_specified_class(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    facts = {
        i["DBInstanceIdentifier"]: (i.get("StorageEncrypted"), i.get("DBInstanceClass")) for i in inv.database.instances
    }
    evidence.attach("instances", facts)
    want = (True, spec.parameters.DBInstanceClass)
    wrong = {i: f for i, f in facts.items() if f != want}
    assert facts and not wrong, f"Aurora instances {wrong} (encrypted, class), expected {want} for each"


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.4",
            "The card-data store can be placed only in the private subnets, which have no internet route in.",
        ),
    ],
    rationale="The database lives only in the private subnets, across the environment's AZs.",
)
def test_aurora_subnet_group_private_only(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    db = inv.database
    subnets = {
        s["SubnetIdentifier"]: s.get("SubnetAvailabilityZone", {}).get("Name")
        for s in db.subnet_group.get("Subnets", [])
    }
    evidence.attach("DescribeDBSubnetGroups", db.subnet_group)
    name = db.subnet_group.get("DBSubnetGroupName", "(none)")
    assert subnets and set(subnets) == set(inv.outputs.PrivateSubnetIds), (
        f"DB subnet group {name} uses subnets {sorted(subnets)}, expected exactly the private subnets "
        f"{sorted(inv.outputs.PrivateSubnetIds)}"
    )


@check(
    severity="high",
    operational="recoverability: backups are kept the days the environment declares; PCI DSS sets no backup objective",
    rationale="Automated backups are kept for the days the environment specifies.",
)
def test_aurora_backup_retention_as_specified(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    days = inv.database.cluster.get("BackupRetentionPeriod")
    evidence.attach("BackupRetentionPeriod", days)
    assert days == spec.parameters.BackupRetentionDays, (
        f"Aurora cluster {inv.outputs.AuroraClusterIdentifier} keeps backups {days} day(s), "
        f"expected {spec.parameters.BackupRetentionDays}"
    )


@check(
    severity="high",
    operational="recoverability: the cluster cannot be deleted by a stray call where the environment says so",
    rationale="Deletion protection is on exactly where the environment specifies it.",
)
def test_aurora_deletion_protection_as_specified(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    on = inv.database.cluster.get("DeletionProtection")
    want = spec.parameters.DeletionProtection == "true"
    evidence.attach("DeletionProtection", on)
    assert on is want, (
        f"Aurora cluster {inv.outputs.AuroraClusterIdentifier} has deletion protection {on}, expected {want}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.3",
            "The database's audit, error and slow-query logs leave the instance for CloudWatch Logs, a central store "
            "apart from the database.",
        ),
        supporting(
            "PCI-DSS-4.0:10.2.1",
            "Exporting the audit log is half of database audit logging; what the audit plugin records is observed by "
            "test_aurora_audit_logs_all_data_access.",
        ),
    ],
    rationale="The audit, error and slow-query logs are exported to CloudWatch Logs.",
)
def test_aurora_log_exports_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    exports = set(inv.database.cluster.get("EnabledCloudwatchLogsExports") or [])
    evidence.attach("EnabledCloudwatchLogsExports", sorted(exports))
    missing = {"audit", "error", "slowquery"} - exports
    assert not missing, (
        f"Aurora cluster {inv.outputs.AuroraClusterIdentifier} does not export {sorted(missing)} logs "
        f"(exports {sorted(exports)})"
    )


AUDIT_EVENTS = ("CONNECT", "QUERY_DCL", "QUERY_DDL", "QUERY_DML")
QUERY_CLASSES = {"QUERY_DCL", "QUERY_DDL", "QUERY_DML"}  # QUERY logs every statement: it covers these three


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1.1",
            "With QUERY_DML in server_audit_events the audit plugin records every read and change of the "
            "database's rows, so each individual access to cardholder data is logged.",
        ),
        supporting(
            "PCI-DSS-4.0:10.2.1",
            "Audit logging is on (server_audit_logging=1) and records connections, privilege and schema changes: "
            "the other half of database audit logging, beside its export to CloudWatch Logs.",
        ),
    ],
    rationale=(
        "The database audit plugin is on and logs connections, DCL, DDL and all DML (reads included): "
        "server_audit_logging=1 and server_audit_events has CONNECT, QUERY_DCL, QUERY_DDL and QUERY_DML "
        "(QUERY covers the three QUERY_ classes) in its cluster parameters."
    ),
)
def test_aurora_audit_logs_all_data_access(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    db = inv.database
    name = inv.outputs.AuroraClusterIdentifier
    group = db.cluster.get("DBClusterParameterGroup") or "(none)"
    logging = db.cluster_parameters.get("server_audit_logging") or {}
    events = db.cluster_parameters.get("server_audit_events") or {}
    evidence.attach(
        "DescribeDBClusterParameters (Source=user)",
        {
            "cluster": name,
            "DBClusterParameterGroup": group,
            "server_audit_logging": logging or None,
            "server_audit_events": events or None,
        },
    )
    on = str(logging.get("ParameterValue")).strip().upper() in ("1", "ON")
    shown = logging.get("ParameterValue") if logging else "unset (the engine default, OFF)"
    assert on, f"Aurora cluster {name}: parameter group {group} has server_audit_logging {shown}, expected 1 (ON)"
    listed = {e.strip().upper() for e in str(events.get("ParameterValue") or "").split(",") if e.strip()}
    covered = listed | (QUERY_CLASSES if "QUERY" in listed else set())
    missing = [e for e in AUDIT_EVENTS if e not in covered]
    assert not missing, (
        f"Aurora cluster {name}: parameter group {group} has server_audit_events "
        f"{events.get('ParameterValue') if events else 'unset (the engine default, none)'}, missing {missing} "
        f"(expected {','.join(AUDIT_EVENTS)}, or QUERY for the QUERY_ classes)"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:2.2.7",
            "With require_secure_transport on, administrative sessions to the database are always encrypted.",
        ),
        primary("PCI-DSS-4.0:8.3.2", "Database passwords never cross the network unencrypted."),
    ],
    rationale="The database refuses unencrypted connections: require_secure_transport is ON in its cluster parameters.",
)
def test_aurora_cluster_requires_secure_transport(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    db = inv.database
    name = inv.outputs.AuroraClusterIdentifier
    group = db.cluster.get("DBClusterParameterGroup") or "(none)"
    parameter = db.cluster_parameters.get("require_secure_transport") or {}
    value = parameter.get("ParameterValue")
    shown = value if parameter else "unset (the engine default, OFF)"
    evidence.attach(
        "DescribeDBClusterParameters (Source=user)",
        {"cluster": name, "DBClusterParameterGroup": group, "require_secure_transport": parameter or None},
    )
    assert str(value).upper() in ("ON", "1"), (
        f"Aurora cluster {name}: parameter group {group} has require_secure_transport {shown}, expected ON "
        "(connections without TLS refused)"
    )


def _date(value: object) -> datetime | None:
    """A date of DescribeSecret: a datetime from boto3, or its ISO text once the inventory went through JSON."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _rotation_days(secret: Secret) -> float | None:
    """The days between rotations: AutomaticallyAfterDays, a rate(N days) schedule, or (a cron schedule)
    the days from the current password to the next rotation AWS scheduled."""
    rules = secret.get("RotationRules") or {}
    if rules.get("AutomaticallyAfterDays"):
        return float(rules["AutomaticallyAfterDays"])
    match = re.fullmatch(r"rate\((\d+) days?\)", str(rules.get("ScheduleExpression", "")).strip())
    if match:
        return float(match.group(1))
    since = _date(secret.get("LastRotatedDate")) or _date(secret.get("CreatedDate"))
    upcoming = _date(secret.get("NextRotationDate"))
    return (upcoming - since).total_seconds() / 86_400 if since and upcoming else None


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:8.3.2",
            "The database master credential is stored only encrypted, under the environment's key.",
        ),
        supporting(
            "PCI-DSS-4.0:8.6.3",
            "The system account's password is generated (or managed by RDS), not chosen by a person.",
        ),
    ],
    rationale=(
        "The master password is generated and kept by RDS (or rotated by a rotation function), never set by hand, "
        "in a secret encrypted with the environment key; judged without reading the value."
    ),
)
def test_master_secret_generated_and_encrypted_with_environment_key(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    db = inv.database
    name = inv.outputs.AuroraClusterIdentifier
    arn = inv.outputs.DBSecretArn
    managed = db.cluster.get("MasterUserSecret") or {}
    secret = db.secret
    evidence.attach(
        "master secret (described, never read)",
        {
            "MasterUserSecret": managed or None,
            "DescribeSecret": {k: secret.get(k) for k in ("ARN", "OwningService", "KmsKeyId", "RotationLambdaARN")},
        },
    )
    assert secret, f"secret {arn} (the stack's DBSecretArn) of Aurora cluster {name} does not exist"
    by_rds = managed.get("SecretArn") == arn and secret.get("OwningService") == "rds"
    by_function = bool(secret.get("RotationLambdaARN"))
    assert by_rds or by_function, (
        f"Aurora cluster {name} has a master password set by hand: MasterUserSecret "
        f"{managed.get('SecretArn') or 'none'} (ManageMasterUserPassword off), secret {arn} owned by "
        f"{secret.get('OwningService') or 'no service'} without a rotation function; expected the password "
        "generated and managed by RDS (ManageMasterUserPassword) or rotated by a rotation Lambda"
    )
    keys = {"secret": secret.get("KmsKeyId")} | ({"MasterUserSecret": managed.get("KmsKeyId")} if managed else {})
    ours = inv.storage.is_environment_key
    wrong = {where: key or "the AWS managed key" for where, key in keys.items() if not ours(key)}
    assert not wrong, (
        f"secret {arn} of Aurora cluster {name} is encrypted with {wrong}, expected the environment key "
        f"{inv.storage.key.get('Arn')}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:8.6.3",
            "The system account's password is changed automatically within the environment's period, and the current "
            "one is younger than that.",
        ),
    ],
    rationale=(
        "The master password rotates automatically within the environment's period, and the current one is younger "
        "than that period (rotation enabled, rotation rules and last rotation, from DescribeSecret)."
    ),
)
def test_master_secret_rotates_within_period(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    db = inv.database
    arn = inv.outputs.DBSecretArn
    secret = db.secret
    period = spec.expectations.master_password_rotation_days
    rules = secret.get("RotationRules") or {}
    days = _rotation_days(secret)
    changed = _date(secret.get("LastRotatedDate")) or _date(secret.get("CreatedDate"))
    now = datetime.now(UTC)
    age = (now - changed).total_seconds() / 86_400 if changed else None
    evidence.attach(
        "rotation (DescribeSecret)",
        {
            "RotationEnabled": secret.get("RotationEnabled"), "RotationRules": rules,
            "LastRotatedDate": str(secret.get("LastRotatedDate")), "CreatedDate": str(secret.get("CreatedDate")),
            "NextRotationDate": str(secret.get("NextRotationDate")), "period_days": period,
        },
    )  # fmt: skip
    assert secret, f"secret {arn} (the stack's DBSecretArn) does not exist, expected a rotating master secret"
    assert secret.get("RotationEnabled") is True, (
        f"secret {arn} has automatic rotation off (RotationEnabled {secret.get('RotationEnabled')}), expected a "
        f"rotation at least every {period} day(s)"
    )
    assert days is not None and days <= period, (
        f"secret {arn} rotates on the schedule {rules or 'none'}, expected at least every {period} day(s)"
    )
    # a day of grace: a rotation runs somewhere within its scheduled day (its rotation window)
    assert age is not None and age <= period + ROTATION_GRACE_DAYS, (
        f"secret {arn} holds a password last changed {changed.isoformat() if changed else 'at no known date'} "
        f"({age or 0:.1f} days ago), expected one younger than {period} day(s) (+{ROTATION_GRACE_DAYS} of grace)"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:8.6.2",
            "No password passes through the stack's parameters, where deploy scripts and CloudFormation would hold it.",
        ),
    ],
    rationale="The stack takes no password parameter: the database password comes only from the generated secret.",
)
def test_stack_has_no_password_parameter(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    names = sorted(inv.stack.parameters)
    evidence.attach("stack parameters", names)
    suspicious = [n for n in names if any(w in n.lower() for w in ("password", "passwd", "secret", "masteruser"))]
    assert not suspicious, f"stack {inv.stack_name} takes password-like parameters {suspicious}"
