"""Database suite: the Aurora MySQL cluster."""

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:3.5.1",
            "Stored card data in the cluster is encrypted with the environment's customer-managed key (storage level;"
            " field-level PAN protection is the application's).",
        ),
        primary("CIS-AWS-3.0:2.3.1", "CIS 2.3.1: RDS storage encryption at rest is enabled."),
    ],
    rationale="Cardholder data at rest is encrypted with the environment's customer-managed key.",
)
def test_aurora_storage_encrypted_with_environment_key(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    cluster = inv.database.cluster
    evidence.attach("DescribeDBClusters", cluster)
    name = inv.outputs.AuroraClusterIdentifier
    assert cluster, f"Aurora cluster {name} of {inv.stack_name} was not found"
    key = inv.storage.key.get("Arn", inv.outputs.KMSKeyArn)
    encrypted_with = cluster.get("KmsKeyId")  # an ARN, a key id or an alias: compared by the key it names
    assert cluster.get("StorageEncrypted") is True and inv.storage.is_environment_key(encrypted_with), (
        f"Aurora cluster {name} has StorageEncrypted={cluster.get('StorageEncrypted')} with key "
        f"{cluster.get('KmsKeyId') or 'none'}, expected encryption with {key}"
    )
