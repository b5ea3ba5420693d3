"""Storage suite: the transaction-logs bucket."""

from conformance.checks import check


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:3.5.1", "CIS-AWS-3.0:2.1.1"],
    rationale="Transaction logs are encrypted at rest with the environment's customer-managed key.",
)
def test_transaction_bucket_encrypts_with_environment_key(env_name, inv, evidence):
    storage = inv.storage
    storage.require("s3:GetBucketEncryption")
    evidence.attach("GetBucketEncryption", storage.encryption)
    sse = storage.default_encryption
    key = inv.outputs.KMSKeyArn
    assert sse.get("SSEAlgorithm") == "aws:kms" and sse.get("KMSMasterKeyID") in (
        key,
        storage.key.get("KeyId"),
    ), (
        f"bucket {storage.bucket} encrypts with {sse.get('SSEAlgorithm') or 'nothing'} "
        f"({sse.get('KMSMasterKeyID') or 'no key'}), expected aws:kms with {key}"
    )
