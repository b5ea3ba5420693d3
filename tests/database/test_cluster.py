"""Database suite: availability, topology, endpoints, exposure, backups, logs and the master secret."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from conformance.checks import check
from conformance.evidence import Evidence
from conformance.inventory import Inventory
from conformance.plugin import emulator_limit

NAME_PATTERN = "payments-{env}-{suffix}-aurora"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:6.4.1", "CIS-AWS-3.0:2.3.1"],
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
    controls=["PCI-DSS-4.0:12.10.1", "CIS-AWS-3.0:2.3.3"],
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
    severity="high",
    controls=["PCI-DSS-4.0:12.10.1"],
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


@pytest.mark.data_plane
@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.4.1"],
    rationale="The database endpoints resolve only to private addresses inside the environment's VPC.",
)
def test_aurora_endpoints_resolve_inside_the_vpc(
    env_name: str, inv: Inventory, emulated: bool, evidence: Evidence
) -> None:
    emulator_limit(emulated, "the emulator serves no DNS for RDS endpoints")
    vpc = ipaddress.ip_network(inv.network.cidr)
    resolved = {}
    for host in (inv.outputs.AuroraClusterEndpoint, inv.outputs.AuroraReaderEndpoint):
        resolved[host] = sorted({info[4][0] for info in socket.getaddrinfo(host, 3306, proto=socket.IPPROTO_TCP)})
    evidence.attach("DNS", resolved)
    for host, addresses in resolved.items():
        outside = [a for a in addresses if ipaddress.ip_address(a) not in vpc]
        assert addresses and not outside, f"endpoint {host} resolves to {addresses}, expected only addresses in {vpc}"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:1.3.1", "CIS-AWS-3.0:2.3.3"],
    rationale="No database instance is reachable from the internet.",
)
def test_aurora_instances_not_publicly_accessible(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    flags = {i["DBInstanceIdentifier"]: i.get("PubliclyAccessible") for i in inv.database.instances}
    evidence.attach("PubliclyAccessible", flags)
    public = [i for i, on in flags.items() if on is not False]
    assert flags and not public, f"Aurora instances {public or '(none found)'} are publicly accessible, expected none"


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:3.5.1", "CIS-AWS-3.0:2.3.1"],
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
    controls=["PCI-DSS-4.0:1.3.1", "PCI-DSS-4.0:1.3.2"],
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
    controls=["PCI-DSS-4.0:12.10.1", "PCI-DSS-4.0:10.5.1"],
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
    controls=["PCI-DSS-4.0:12.10.1"],
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
    controls=["PCI-DSS-4.0:10.2.1", "CIS-AWS-3.0:3.1"],
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


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:8.3.2", "PCI-DSS-4.0:3.6.1"],
    rationale="The master password is generated: 32 characters of every class, encrypted with the environment key.",
)
def test_master_secret_generated_and_encrypted_with_environment_key(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    db = inv.database
    facts = db.secret_facts
    arn = inv.outputs.DBSecretArn
    evidence.attach("secret (derived facts only)", {"KmsKeyId": db.secret.get("KmsKeyId"), **facts.model_dump()})
    assert inv.storage.is_environment_key(db.secret.get("KmsKeyId")), (
        f"secret {arn} is encrypted with {db.secret.get('KmsKeyId') or 'the AWS managed key'}, "
        f"expected the environment key {inv.storage.key.get('Arn')}"
    )
    strong = (
        facts.password_length == 32
        and facts.has_lower and facts.has_upper and facts.has_digit and facts.has_punctuation
        and not facts.has_excluded
    )  # fmt: skip
    assert strong, (
        f"secret {arn} holds a password of {facts.password_length} characters (lower {facts.has_lower}, upper "
        f"{facts.has_upper}, digit {facts.has_digit}, punctuation {facts.has_punctuation}, excluded characters "
        f'{facts.has_excluded}), expected 32 characters of every class without " @ / \\'
    )


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:8.3.2", "PCI-DSS-4.0:3.6.1"],
    rationale="The stack takes no password parameter: the database password comes only from the generated secret.",
)
def test_stack_has_no_password_parameter(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    names = sorted(inv.stack.parameters)
    evidence.attach("stack parameters", names)
    suspicious = [n for n in names if any(w in n.lower() for w in ("password", "passwd", "secret", "masteruser"))]
    assert not suspicious, f"stack {inv.stack_name} takes password-like parameters {suspicious}"
