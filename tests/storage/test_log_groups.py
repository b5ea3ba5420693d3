"""Storage suite: the log groups: the application's and the flow logs' must exist; every log group the
stack declares (those two, and e.g. the CIS 5.4 custom resource's) is encrypted and kept as specified."""

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory


def _required(inv: Inventory) -> list[str]:
    prefix = f"payments-{inv.outputs.EnvironmentName}-{inv.outputs.EnvironmentSuffix}"
    return [f"{prefix}-app-logs", f"{prefix}-flow-logs"]


def _names(inv: Inventory) -> list[str]:
    """The required groups and every other AWS::Logs::LogGroup of the stack."""
    declared = sorted(n for n in inv.stack.physical_ids("AWS::Logs::LogGroup") if n)
    return list(dict.fromkeys(_required(inv) + declared))


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.2.1",
            "The application's and the flow logs' log groups exist, so their audit records have somewhere to land.",
        ),
        supporting(
            "CIS-AWS-3.0:3.7",
            "The flow logs' destination exists (the flow log itself is test_vpc_flow_logs_capture_all_traffic).",
        ),
    ],
    rationale="The application and VPC flow logs have their log groups to land in.",
)
def test_log_groups_exist(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    evidence.attach("DescribeLogGroups", [g.get("logGroupName") for g in st.log_groups])
    missing = [n for n in _required(inv) if st.log_group(n) is None]
    assert not missing, (
        f"log group(s) {', '.join(missing)} do not exist (found {[g.get('logGroupName') for g in st.log_groups]}), "
        f"expected {', '.join(_required(inv))}"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:10.3.1",
            "Reading any of the stack's logs takes kms:Decrypt on the environment key, so the key policy bounds who "
            "reads them.",
        ),
    ],
    rationale="Every log group of the stack (application, flow logs, functions) is encrypted with the environment key.",
)
def test_log_groups_encrypted_with_environment_key(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    st.require("logs:DescribeLogGroups", "kms:DescribeKey", "kms:ListAliases")
    groups = {n: st.log_group(n) for n in _names(inv)}
    evidence.attach("DescribeLogGroups", {n: g and g.get("kmsKeyId") for n, g in groups.items()})
    wrong = {
        n: (g or {}).get("kmsKeyId") for n, g in groups.items() if g and not st.is_environment_key(g.get("kmsKeyId"))
    }
    absent = [n for n, g in groups.items() if g is None]
    assert not wrong and not absent, (
        "; ".join(
            [f"log group {n} is encrypted with {k or 'no KMS key'}" for n, k in wrong.items()]
            + [f"log group {n} does not exist" for n in absent]
        )
        + f"; expected encryption with {inv.outputs.KMSKeyArn}"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:10.5.1",
            "Audit logs are kept as long as the environment declares: 365 days in prod, immediately searchable.",
        ),
    ],
    rationale="Every log group of the stack is kept exactly as long as the environment specifies.",
)
def test_log_groups_keep_specified_retention(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    st = inv.storage
    want = spec.expectations.log_retention_days
    groups = {n: st.log_group(n) for n in _names(inv)}
    evidence.attach("DescribeLogGroups", {n: g and g.get("retentionInDays") for n, g in groups.items()})
    wrong = {n: (g or {}).get("retentionInDays") for n, g in groups.items() if (g or {}).get("retentionInDays") != want}
    assert not wrong, (
        "; ".join(
            f"log group {n} "
            + ("does not exist" if groups[n] is None else f"keeps logs {f'{d} day(s)' if d else 'forever'}")
            for n, d in wrong.items()
        )
        + f"; expected {want} days"
    )
