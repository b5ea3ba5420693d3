"""Database: the Aurora cluster, its instances, subnet group and parameters, the master secret.

The master secret is judged by what Secrets Manager and RDS say about it (DescribeSecret: owner,
key, rotation; DescribeDBClusters: MasterUserSecret), never by its value: the suite never calls
GetSecretValue, and the conformance role may not.
"""

from __future__ import annotations

from pydantic import Field

from conformance.aws import AwsSession
from conformance.inventory.base import Raw, Section, absent_on, attempt, concurrently, paginate
from conformance.outputs import StackOutputs


class DatabaseSection(Section):
    cluster: Raw = Field(default_factory=dict)
    instances: list[Raw] = Field(default_factory=list)
    subnet_group: Raw = Field(default_factory=dict)
    # the cluster parameter group's parameters set by its owner (DescribeDBClusterParameters Source=user),
    # by name; a parameter left at the engine default is absent
    cluster_parameters: dict[str, Raw] = Field(default_factory=dict)
    secret: Raw = Field(default_factory=dict)  # DescribeSecret of the master secret; {} when it does not exist

    @property
    def writers(self) -> list[Raw]:
        ids = {m["DBInstanceIdentifier"] for m in self.cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")}
        return [i for i in self.instances if i["DBInstanceIdentifier"] in ids]

    @property
    def readers(self) -> list[Raw]:
        ids = {
            m["DBInstanceIdentifier"] for m in self.cluster.get("DBClusterMembers", []) if not m.get("IsClusterWriter")
        }
        return [i for i in self.instances if i["DBInstanceIdentifier"] in ids]


def collect_database(aws: AwsSession, outputs: StackOutputs) -> DatabaseSection:
    rds = aws.client("rds")
    sm = aws.client("secretsmanager")
    s = DatabaseSection()

    def cluster() -> None:
        clusters = attempt(
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
            groups = attempt(
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
            found = attempt(
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
        described = attempt(
            s,
            "secretsmanager:DescribeSecret",
            lambda: absent_on(
                ("ResourceNotFoundException",), lambda: sm.describe_secret(SecretId=outputs.DBSecretArn), {}
            ),
            {},
        )
        s.secret = {k: v for k, v in described.items() if k != "ResponseMetadata"}

    concurrently(cluster, instances, secret)
    return s
