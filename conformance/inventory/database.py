"""Database: the Aurora cluster, its instances, subnet group and parameters, the master secret.

The master secret is judged by what Secrets Manager and RDS say about it (DescribeSecret: owner,
key, rotation; DescribeDBClusters: MasterUserSecret; GetResourcePolicy), never by its value: the
suite never calls GetSecretValue, and the conformance role may not.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import (
    DBCluster,
    DBClusterParameter,
    DBClusterSnapshot,
    DBInstance,
    DBSubnetGroup,
    Secret,
)
from core.aws import AwsSession
from core.outputs import StackOutputs

if TYPE_CHECKING:
    from types_boto3_rds.client import RDSClient
    from types_boto3_secretsmanager.client import SecretsManagerClient

NOT_FOUND = ("ResourceNotFoundException",)  # the secret is gone (RDS deletes its own when management is off)


class DatabaseSection(Section):
    cluster: Annotated[DBCluster, reads("rds:DescribeDBClusters")] = Field(default_factory=nothing)
    instances: Annotated[list[DBInstance], reads("rds:DescribeDBInstances")] = Field(default_factory=list)
    # named by the cluster
    subnet_group: Annotated[DBSubnetGroup, reads("rds:DescribeDBSubnetGroups", "rds:DescribeDBClusters")] = Field(
        default_factory=nothing
    )
    # the cluster parameter group's parameters its owner set (DescribeDBClusterParameters Source=user), by
    # name; a parameter left at the engine default is absent. Named by the cluster.
    cluster_parameters: Annotated[
        dict[str, DBClusterParameter], reads("rds:DescribeDBClusterParameters", "rds:DescribeDBClusters")
    ] = Field(default_factory=dict)
    # every snapshot of the cluster in the account (DescribeDBClusterSnapshots DBClusterIdentifier=...):
    # automated and manual, copies too (a copy keeps the source cluster's identifier)
    cluster_snapshots: Annotated[list[DBClusterSnapshot], reads("rds:DescribeDBClusterSnapshots")] = Field(
        default_factory=list
    )
    # who may restore or copy each manual snapshot (DescribeDBClusterSnapshotAttributes): snapshot
    # identifier -> attribute name ("restore") -> values (account ids, or "all" when public)
    snapshot_attributes: Annotated[
        dict[str, dict[str, list[str]]],
        reads("rds:DescribeDBClusterSnapshotAttributes", "rds:DescribeDBClusterSnapshots"),
    ] = Field(default_factory=dict)
    # DescribeSecret's answer without its ResponseMetadata; {} when the secret does not exist
    secret: Annotated[Secret, reads("secretsmanager:DescribeSecret")] = Field(default_factory=nothing)
    # GetResourcePolicy's ResourcePolicy (JSON text of the IAM policy grammar), "" when the secret has none
    secret_policy: Annotated[str, reads("secretsmanager:GetResourcePolicy")] = ""

    @property
    def writers(self) -> list[DBInstance]:
        ids = {m["DBInstanceIdentifier"] for m in self.cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")}
        return [i for i in self.instances if i["DBInstanceIdentifier"] in ids]

    @property
    def readers(self) -> list[DBInstance]:
        ids = {
            m["DBInstanceIdentifier"] for m in self.cluster.get("DBClusterMembers", []) if not m.get("IsClusterWriter")
        }
        return [i for i in self.instances if i["DBInstanceIdentifier"] in ids]


def collect_database(aws: AwsSession, outputs: StackOutputs) -> DatabaseSection:
    rds: RDSClient = aws.client("rds")
    sm: SecretsManagerClient = aws.client("secretsmanager")
    s = DatabaseSection()

    def cluster() -> None:
        clusters: list[DBCluster] = attempt(
            s,
            "rds:DescribeDBClusters",
            lambda: absent_on(
                ("DBClusterNotFoundFault",),
                lambda: rds.describe_db_clusters(DBClusterIdentifier=outputs.AuroraClusterIdentifier)["DBClusters"],
                [],
            ),
            [],
        )
        s.cluster = clusters[0] if clusters else {}
        # named by the cluster: the reads that wait for another, run side by side
        concurrently(subnet_group, parameters)

    def subnet_group() -> None:
        group = s.cluster.get("DBSubnetGroup")
        if group:
            groups: list[DBSubnetGroup] = attempt(
                s,
                "rds:DescribeDBSubnetGroups",
                lambda: rds.describe_db_subnet_groups(DBSubnetGroupName=group)["DBSubnetGroups"],
                [],
            )
            s.subnet_group = groups[0] if groups else {}

    def parameters() -> None:
        group = s.cluster.get("DBClusterParameterGroup")
        if group:
            read = "describe_db_cluster_parameters"
            found: list[Any] = attempt(
                s,
                "rds:DescribeDBClusterParameters",
                lambda: paginate(rds, read, "Parameters", DBClusterParameterGroupName=group, Source="user"),
                [],
            )
            s.cluster_parameters = {p["ParameterName"]: p for p in found if p.get("ParameterName")}

    def instances() -> None:
        s.instances = attempt(
            s,
            "rds:DescribeDBInstances",
            lambda: rds.describe_db_instances(
                Filters=[{"Name": "db-cluster-id", "Values": [outputs.AuroraClusterIdentifier]}]
            )["DBInstances"],
            [],
        )

    def secret() -> None:
        described: dict[str, Any] = attempt(
            s,
            "secretsmanager:DescribeSecret",
            lambda: absent_on(NOT_FOUND, lambda: dict(sm.describe_secret(SecretId=outputs.DBSecretArn)), {}),
            {},
        )
        s.secret = cast("Secret", {k: v for k, v in described.items() if k != "ResponseMetadata"})

    def secret_policy() -> None:
        answer: dict[str, Any] = attempt(
            s,
            "secretsmanager:GetResourcePolicy",
            lambda: absent_on(NOT_FOUND, lambda: dict(sm.get_resource_policy(SecretId=outputs.DBSecretArn)), {}),
            {},
        )
        s.secret_policy = str(answer.get("ResourcePolicy") or "")

    def snapshots() -> None:
        s.cluster_snapshots = attempt(
            s,
            "rds:DescribeDBClusterSnapshots",
            lambda: paginate(
                rds, "describe_db_cluster_snapshots", "DBClusterSnapshots",
                DBClusterIdentifier=outputs.AuroraClusterIdentifier,
            ),
            [],
        )  # fmt: skip
        # only a manual snapshot can be shared (an automated one is copied first, and the copy is manual)
        manual = [str(x["DBClusterSnapshotIdentifier"]) for x in s.cluster_snapshots
                  if x.get("SnapshotType") == "manual" and x.get("DBClusterSnapshotIdentifier")]  # fmt: skip
        found = concurrently(
            *[partial(attempt, s, "rds:DescribeDBClusterSnapshotAttributes", partial(_sharing, rds, sid), {})
              for sid in manual]
        )  # fmt: skip
        s.snapshot_attributes = dict(zip(manual, found, strict=True))

    concurrently(cluster, instances, secret, secret_policy, snapshots)
    return s


def _sharing(rds: RDSClient, snapshot: str) -> dict[str, list[str]]:
    """A manual snapshot's attributes: name ("restore") -> values (account ids, "all")."""
    result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=snapshot)
    attributes = result["DBClusterSnapshotAttributesResult"].get("DBClusterSnapshotAttributes", [])
    return {str(a.get("AttributeName", "")): [str(v) for v in a.get("AttributeValues", [])] for a in attributes}
