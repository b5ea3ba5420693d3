"""Storage suite: the environment's customer-managed KMS key."""

from conformance.checks import check
from conformance.evidence import Evidence
from conformance.inventory import Inventory


def _key_facts(inv: Inventory) -> dict:
    key = inv.storage.key
    return {
        "KeyState": key.get("KeyState"), "Enabled": key.get("Enabled"), "KeyManager": key.get("KeyManager"),
        "KeyUsage": key.get("KeyUsage"), "KeySpec": key.get("KeySpec", key.get("CustomerMasterKeySpec")),
        "Origin": key.get("Origin"),
    }  # fmt: skip


@check(
    severity="critical",
    controls=["PCI-DSS-4.0:3.6.1", "PCI-DSS-4.0:3.5.1"],
    rationale="The key everything is encrypted with is enabled, so data stays readable and writable.",
)
def test_kms_key_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    facts = _key_facts(inv)
    evidence.attach("DescribeKey", inv.storage.key)
    assert facts["KeyState"] == "Enabled" and facts["Enabled"] is True, (
        f"KMS key {inv.outputs.KMSKeyArn} is in state {facts['KeyState']} (Enabled={facts['Enabled']}), "
        "expected Enabled"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:3.6.1", "PCI-DSS-4.0:3.7.1"],
    rationale="The environment key is a customer-managed symmetric encryption key the platform team controls.",
)
def test_kms_key_customer_managed_symmetric(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    facts = _key_facts(inv)
    evidence.attach("DescribeKey", inv.storage.key)
    want = {"KeyManager": "CUSTOMER", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT"}
    wrong = {k: facts[k] for k, v in want.items() if facts[k] != v}
    assert not wrong, (
        f"KMS key {inv.outputs.KMSKeyArn} has {', '.join(f'{k} {v}' for k, v in wrong.items())}, "
        f"expected {', '.join(f'{k} {v}' for k, v in want.items())}"
    )


@check(
    severity="high",
    controls=["PCI-DSS-4.0:3.7.4", "CIS-AWS-3.0:3.6"],
    rationale="Automatic rotation gives the environment key a bounded cryptoperiod.",
)
def test_kms_key_rotation_enabled(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    evidence.attach("GetKeyRotationStatus", {"KeyRotationEnabled": inv.storage.key_rotation})
    rotation = inv.storage.key_rotation
    shown = "unreported" if rotation is None else ("enabled" if rotation else "disabled")
    assert rotation is True, f"KMS key {inv.outputs.KMSKeyArn} has automatic rotation {shown}, expected enabled"


@check(
    severity="low",
    controls=["PCI-DSS-4.0:3.6.1"],
    rationale="The environment key carries its alias, so people and policies name the right key.",
)
def test_kms_key_has_environment_alias(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    want = f"alias/payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}-key"
    evidence.attach("ListAliases", inv.storage.key_aliases)
    assert want in inv.storage.key_aliases, (
        f"KMS key {inv.outputs.KMSKeyArn} has aliases {inv.storage.key_aliases or 'none'}, expected {want}"
    )
