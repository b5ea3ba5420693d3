"""Drifts for tests/database/test_cluster.py."""

from __future__ import annotations

import json
from typing import Any

from selftests.drifts.registry import DriftContext, drift, noop


def _rds(ctx: DriftContext):
    return ctx.client("rds")


def _cluster(ctx: DriftContext) -> str:
    return ctx.outputs.AuroraClusterIdentifier


def _engine_version(doc: dict[str, Any]) -> dict[str, Any]:
    doc["Resources"]["AuroraCluster"]["Properties"]["EngineVersion"] = "8.0.mysql_aurora.3.05.2"
    return doc


def _reader_in_writer_az(doc: dict[str, Any]) -> dict[str, Any]:
    doc["Resources"]["AuroraReaderInstance"]["Properties"]["AvailabilityZone"] = {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    return doc


def _password_parameter(doc: dict[str, Any]) -> dict[str, Any]:
    doc["Parameters"]["DBMasterPassword"] = {"Type": "String", "NoEcho": True, "Default": "change-me-please"}
    return doc


def _secret_without_key(doc: dict[str, Any]) -> dict[str, Any]:
    doc["Resources"]["DBSecret"]["Properties"].pop("KmsKeyId", None)
    return doc


drift(
    "test_aurora_cluster_available_with_specified_engine",
    "the cluster runs another Aurora MySQL version than specified",
    id="db-other-engine-version",
    template=_engine_version,
    names=_cluster,
)(noop)

drift(
    "test_aurora_has_one_writer_and_readers_in_other_azs",
    "the reader instance is placed in the writer's AZ",
    id="db-reader-in-writer-az",
    template=_reader_in_writer_az,
    names=_cluster,
)(noop)


@drift(
    "test_aurora_has_one_writer_and_readers_in_other_azs",
    "the reader instance is deleted",
    id="db-reader-deleted",
    names=_cluster,
)
def drift_reader_deleted(ctx: DriftContext) -> None:
    _rds(ctx).delete_db_instance(DBInstanceIdentifier=f"{_cluster(ctx)}-reader", SkipFinalSnapshot=True)


@drift(
    "test_aurora_endpoints_distinct_on_mysql_port",
    "the cluster is moved to port 3307",
    id="db-port-moved",
    names=_cluster,
)
def drift_port_moved(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_cluster(DBClusterIdentifier=_cluster(ctx), Port=3307, ApplyImmediately=True)


@drift(
    "test_aurora_instances_not_publicly_accessible",
    "the writer instance is made publicly accessible",
    id="db-writer-public",
    names=lambda ctx: f"{_cluster(ctx)}-writer",
)
def drift_writer_public(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_instance(
        DBInstanceIdentifier=f"{_cluster(ctx)}-writer", PubliclyAccessible=True, ApplyImmediately=True
    )


@drift(
    "test_aurora_instances_encrypted_with_specified_class",
    "the reader instance is resized to another class",
    id="db-reader-resized",
    names=lambda ctx: f"{_cluster(ctx)}-reader",
)
def drift_reader_resized(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_instance(
        DBInstanceIdentifier=f"{_cluster(ctx)}-reader", DBInstanceClass="db.t3.small", ApplyImmediately=True
    )


drift(
    "test_aurora_subnet_group_private_only",
    "the DB subnet group is built on the public subnets",
    id="db-subnet-group-public",
    template=lambda doc: (
        doc["Resources"]["DBSubnetGroup"]["Properties"].__setitem__(
            "SubnetIds", [{"Ref": "PublicSubnetA"}, {"Ref": "PublicSubnetB"}, {"Ref": "PublicSubnetC"}]
        ),
        doc,
    )[1],
    names=lambda ctx: "db-subnets",
)(noop)


@drift(
    "test_aurora_backup_retention_as_specified",
    "backup retention is cut to one day",
    id="db-backup-one-day",
    names=_cluster,
)
def drift_backup_one_day(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_cluster(DBClusterIdentifier=_cluster(ctx), BackupRetentionPeriod=1, ApplyImmediately=True)


@drift(
    "test_aurora_deletion_protection_as_specified",
    "deletion protection is turned off on prod",
    id="db-prod-deletion-protection-off",
    env="prod",
    names=_cluster,
)
def drift_prod_deletion_protection_off(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_cluster(DBClusterIdentifier=_cluster(ctx), DeletionProtection=False, ApplyImmediately=True)


@drift(
    "test_aurora_log_exports_enabled",
    "the audit log export is disabled",
    id="db-audit-log-off",
    names=_cluster,
)
def drift_audit_log_off(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_cluster(
        DBClusterIdentifier=_cluster(ctx),
        CloudwatchLogsExportConfiguration={"DisableLogTypes": ["audit"]},
        ApplyImmediately=True,
    )


@drift(
    "test_master_secret_generated_and_encrypted_with_environment_key",
    "the master password is replaced by a short, simple one",
    id="db-weak-password",
    names=lambda ctx: ctx.outputs.DBSecretArn,
)
def drift_weak_password(ctx: DriftContext) -> None:
    sm = ctx.client("secretsmanager")
    current = json.loads(sm.get_secret_value(SecretId=ctx.outputs.DBSecretArn)["SecretString"])
    current["password"] = "password123"
    sm.put_secret_value(SecretId=ctx.outputs.DBSecretArn, SecretString=json.dumps(current))


drift(
    "test_master_secret_generated_and_encrypted_with_environment_key",
    "the secret is created without the environment key (AWS managed key)",
    id="db-secret-default-key",
    template=_secret_without_key,
    names=lambda ctx: ctx.outputs.DBSecretArn,
)(noop)

drift(
    "test_stack_has_no_password_parameter",
    "the template takes a NoEcho DBMasterPassword parameter",
    id="db-password-parameter",
    template=_password_parameter,
    names=lambda ctx: "DBMasterPassword",
)(noop)
