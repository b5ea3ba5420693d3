"""Database: the Aurora cluster, its instances and subnet group, the master secret.

The master secret's value is read once to derive its length and character classes and is
then dropped: only those derived facts enter the inventory, never the value.
"""

from __future__ import annotations

import json
import string
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import BaseModel, Field

from conformance.inventory.base import Section, absent_on, attempt, concurrently, nothing, reads
from conformance.inventory.shapes import DBCluster, DBInstance, DBSubnetGroup, Secret
from core.aws import AwsSession
from core.outputs import StackOutputs

if TYPE_CHECKING:
    from types_boto3_rds.client import RDSClient
    from types_boto3_secretsmanager.client import SecretsManagerClient


class SecretFacts(BaseModel):
    """What can be judged about a secret without showing it."""

    is_json: bool = False
    keys: list[str] = Field(default_factory=list)
    password_length: int = 0
    has_lower: bool = False
    has_upper: bool = False
    has_digit: bool = False
    has_punctuation: bool = False
    has_excluded: bool = False  # any of " @ / \ present


def secret_facts(secret_string: str | None) -> SecretFacts:
    if not secret_string:
        return SecretFacts()
    try:
        doc = json.loads(secret_string)
    except ValueError:
        doc = None
    password = doc.get("password", "") if isinstance(doc, dict) else secret_string
    return SecretFacts(
        is_json=isinstance(doc, dict),
        keys=sorted(doc) if isinstance(doc, dict) else [],
        password_length=len(password),
        has_lower=any(c in string.ascii_lowercase for c in password),
        has_upper=any(c in string.ascii_uppercase for c in password),
        has_digit=any(c in string.digits for c in password),
        has_punctuation=any(c in string.punctuation for c in password),
        has_excluded=any(c in '"@/\\' for c in password),
    )


class DatabaseSection(Section):
    cluster: Annotated[DBCluster, reads("rds:DescribeDBClusters")] = Field(default_factory=nothing)
    instances: Annotated[list[DBInstance], reads("rds:DescribeDBInstances")] = Field(default_factory=list)
    # named by the cluster
    subnet_group: Annotated[DBSubnetGroup, reads("rds:DescribeDBSubnetGroups", "rds:DescribeDBClusters")] = Field(
        default_factory=nothing
    )
    # DescribeSecret's answer without its ResponseMetadata
    secret: Annotated[Secret, reads("secretsmanager:DescribeSecret")] = Field(default_factory=nothing)
    secret_facts: Annotated[SecretFacts, reads("secretsmanager:GetSecretValue")] = Field(default_factory=SecretFacts)
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
        group = s.cluster.get("DBSubnetGroup")  # named by the cluster: the one read that waits for another
        if group:
            groups: list[DBSubnetGroup] = attempt(
                s,
                "rds:DescribeDBSubnetGroups",
                lambda: rds.describe_db_subnet_groups(DBSubnetGroupName=group)["DBSubnetGroups"],
                [],
            )
            s.subnet_group = groups[0] if groups else {}

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
            s, "secretsmanager:DescribeSecret", lambda: dict(sm.describe_secret(SecretId=outputs.DBSecretArn)), {}
        )
        s.secret = cast("Secret", {k: v for k, v in described.items() if k != "ResponseMetadata"})

    def secret_value() -> None:
        value = attempt(
            s,
            "secretsmanager:GetSecretValue",
            lambda: sm.get_secret_value(SecretId=outputs.DBSecretArn).get("SecretString"),
            None,
        )
        s.secret_facts = secret_facts(value)  # only facts about the value are kept; the value is dropped here
        del value

    def secret_policy() -> None:
        answer: dict[str, Any] = attempt(
            s,
            "secretsmanager:GetResourcePolicy",
            lambda: dict(sm.get_resource_policy(SecretId=outputs.DBSecretArn)),
            {},
        )
        s.secret_policy = str(answer.get("ResourcePolicy") or "")

    concurrently(cluster, instances, secret, secret_value, secret_policy)
    return s
