"""Drifts for the first check of each suite (the foundation's pipeline checks)."""

from __future__ import annotations

from typing import Any

from selftests.drifts.registry import DriftContext, drift, noop


def _unencrypted_cluster(doc: dict[str, Any]) -> dict[str, Any]:
    props = doc["Resources"]["AuroraCluster"]["Properties"]
    props["StorageEncrypted"] = False
    props.pop("KmsKeyId", None)
    return doc


drift(
    "test_vpc_cidr_matches_environment",
    "the VPC is deployed with another CIDR than the environment's",
    id="foundation-vpc-other-cidr",
    parameters={"VpcCidr": "10.9.0.0/16"},
    names=lambda ctx: ctx.outputs.VPCId,
)(noop)

drift(
    "test_aurora_storage_encrypted_with_environment_key",
    "the Aurora cluster is created without storage encryption (cannot be changed through the API)",
    id="foundation-aurora-unencrypted",
    template=_unencrypted_cluster,
    names=lambda ctx: ctx.outputs.AuroraClusterIdentifier,
)(noop)


@drift(
    "test_load_balancer_answers_https_200",
    "the service is scaled to zero, so the load balancer answers 503",
    id="foundation-service-scaled-to-zero",
    names=lambda ctx: ctx.outputs.LoadBalancerDNS,
)
def drift_service_scaled_to_zero(ctx: DriftContext) -> None:
    ctx.client("ecs").update_service(
        cluster=ctx.outputs.ECSClusterName, service=ctx.outputs.ECSServiceName, desiredCount=0
    )


@drift(
    "test_transaction_bucket_encrypts_with_environment_key",
    "the bucket's default encryption is switched to AES256",
    id="foundation-bucket-aes256",
    names=lambda ctx: ctx.outputs.TransactionLogsBucket,
)
def drift_bucket_aes256(ctx: DriftContext) -> None:
    ctx.client("s3").put_bucket_encryption(
        Bucket=ctx.outputs.TransactionLogsBucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


drift(
    "test_environment_cidrs_are_disjoint",
    "dev and staging are deployed into the same address space",
    id="foundation-overlapping-cidrs",
    env="dev,staging",
    parameters={"VpcCidr": "10.5.0.0/16"},
    names=lambda ctx: "10.5.0.0/16",
)(noop)
