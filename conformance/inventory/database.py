"""Database: the Aurora cluster, its instances, subnet group and parameters, the master secret.

The master secret is judged by what Secrets Manager and RDS say about it (DescribeSecret: owner,
key, rotation; DescribeDBClusters: MasterUserSecret; GetResourcePolicy), never by its value: the
suite never calls GetSecretValue, and the conformance role may not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, paginate, reads
from conformance.inventory.shapes import DBCluster, DBClusterParameter, DBInstance, DBSubnetGroup, Secret
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

    concurrently(cluster, instances, secret, secret_policy)
    return s
