"""Drifts for tests/database/test_cluster.py."""

from __future__ import annotations

import secrets
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
    doc["Resources"]["AuroraCluster"]["Properties"].pop("MasterUserSecret", None)
    return doc


def _secret_not_managed(doc: dict[str, Any]) -> dict[str, Any]:
    """The template before RDS managed the password: a generated secret of our own, never rotated."""
    resources = doc["Resources"]
    resources["DBSecret"] = {
        "Type": "AWS::SecretsManager::Secret",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "KmsKeyId": {"Ref": "KMSKey"},
            "GenerateSecretString": {
                "SecretStringTemplate": '{"username":"payments_admin"}',
                "GenerateStringKey": "password",
                "PasswordLength": 32,
                "ExcludeCharacters": '"@/\\',
            },
        },
    }
    cluster = resources["AuroraCluster"]["Properties"]
    for prop in ("ManageMasterUserPassword", "MasterUserSecret"):
        cluster.pop(prop, None)
    cluster["MasterUserPassword"] = {"Fn::Sub": "{{resolve:secretsmanager:${DBSecret}:SecretString:password}}"}
    return dict(_to_own_secret(doc))


def _to_own_secret(node: Any) -> Any:
    """Every reference to RDS's secret (GetAtt MasterUserSecret.SecretArn, in Sub too) made one to DBSecret."""
    if isinstance(node, dict):
        target = node.get("Fn::GetAtt")
        if target in (["AuroraCluster", "MasterUserSecret.SecretArn"], "AuroraCluster.MasterUserSecret.SecretArn"):
            return {"Ref": "DBSecret"}
        return {k: _to_own_secret(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_own_secret(v) for v in node]
    if isinstance(node, str):
        return node.replace("${AuroraCluster.MasterUserSecret.SecretArn}", "${DBSecret}")
    return node


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
    "test_aurora_cluster_requires_secure_transport",
    "require_secure_transport is set OFF in the cluster parameter group (TLS optional)",
    id="db-tls-optional",
    names=lambda ctx: f"{_cluster(ctx)}-params",
)
def drift_tls_optional(ctx: DriftContext) -> None:
    rds = _rds(ctx)
    group = rds.describe_db_clusters(DBClusterIdentifier=_cluster(ctx))["DBClusters"][0]["DBClusterParameterGroup"]
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=group,
        Parameters=[{"ParameterName": "require_secure_transport", "ParameterValue": "OFF", "ApplyMethod": "immediate"}],
    )


def _set_cluster_parameter(ctx: DriftContext, name: str, value: str) -> None:
    rds = _rds(ctx)
    group = rds.describe_db_clusters(DBClusterIdentifier=_cluster(ctx))["DBClusters"][0]["DBClusterParameterGroup"]
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=group,
        Parameters=[{"ParameterName": name, "ParameterValue": value, "ApplyMethod": "immediate"}],
    )


@drift(
    "test_aurora_audit_logs_all_data_access",
    "server_audit_events loses QUERY_DML in the cluster parameter group (reads of card data no longer logged)",
    id="db-audit-no-dml",
    names=lambda ctx: f"{_cluster(ctx)}-params",
)
def drift_audit_no_dml(ctx: DriftContext) -> None:
    _set_cluster_parameter(ctx, "server_audit_events", "CONNECT,QUERY_DCL,QUERY_DDL")


@drift(
    "test_aurora_audit_logs_all_data_access",
    "server_audit_logging is set to 0 in the cluster parameter group (the audit plugin records nothing)",
    id="db-audit-logging-off",
    names=lambda ctx: f"{_cluster(ctx)}-params",
)
def drift_audit_logging_off(ctx: DriftContext) -> None:
    _set_cluster_parameter(ctx, "server_audit_logging", "0")


@drift(
    "test_master_secret_generated_and_encrypted_with_environment_key",
    "RDS management of the master password is turned off and a password set by hand",
    id="db-password-set-by-hand",
    names=_cluster,
)
def drift_password_set_by_hand(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_cluster(
        DBClusterIdentifier=_cluster(ctx),
        ManageMasterUserPassword=False,
        MasterUserPassword="Drift-" + secrets.token_urlsafe(18),  # a throwaway on the emulator, never shown
        ApplyImmediately=True,
    )


drift(
    "test_master_secret_generated_and_encrypted_with_environment_key",
    "the master password lives in a secret of the stack's own, not managed by RDS and never rotated",
    id="db-secret-not-managed",
    template=_secret_not_managed,
    names=lambda ctx: ctx.outputs.DBSecretArn,
)(noop)

drift(
    "test_master_secret_generated_and_encrypted_with_environment_key",
    "RDS keeps the master secret under the AWS managed key (no MasterUserSecret KmsKeyId)",
    id="db-secret-default-key",
    template=_secret_without_key,
    names=lambda ctx: ctx.outputs.DBSecretArn,
)(noop)


@drift(
    "test_master_secret_rotates_within_period",
    "automatic rotation of the master secret is cancelled",
    id="db-secret-rotation-cancelled",
    names=lambda ctx: ctx.outputs.DBSecretArn,
)
def drift_secret_rotation_cancelled(ctx: DriftContext) -> None:
    ctx.client("secretsmanager").cancel_rotate_secret(SecretId=ctx.outputs.DBSecretArn)


@drift(
    "test_aurora_endpoints_resolve_inside_the_vpc",
    "the writer instance is made publicly accessible, so the cluster endpoint resolves to a public address",
    id="db-endpoint-public-address",
    names=lambda ctx: ctx.outputs.AuroraClusterEndpoint,
)
def drift_endpoint_public_address(ctx: DriftContext) -> None:
    _rds(ctx).modify_db_instance(
        DBInstanceIdentifier=f"{_cluster(ctx)}-writer", PubliclyAccessible=True, ApplyImmediately=True
    )


drift(
    "test_stack_has_no_password_parameter",
    "the template takes a NoEcho DBMasterPassword parameter",
    id="db-password-parameter",
    template=_password_parameter,
    names=lambda ctx: "DBMasterPassword",
)(noop)
