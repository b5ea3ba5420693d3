"""Storage suite: the resource-based policies of the platform's key, secret, bucket and topic."""

from typing import Any

from conformance.checks import check, primary
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.compute import DEFAULT_SG_FUNCTION
from conformance.inventory.storage import LOG_BUCKET
from conformance.policies import PolicyError, outside_grants


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:7.2.1",
            "No resource policy of the platform (key, secret, bucket, topic, function, the task roles' trust) grants "
            "anyone outside the account.",
        ),
        primary(
            "PCI-DSS-4.0:3.6.1",
            "The key policy of the key protecting card data grants no one outside the account.",
        ),
    ],
    rationale=(
        "No resource policy (key, master secret, buckets, alarm topic, custom-resource function, the task roles' "
        "trust) grants anything to everyone or another account; AWS services only when bound to this account, and "
        "in a Region opened before August 2022 its AWS-owned ELB log-delivery account only s3:PutObject on the "
        "access-logs bucket's AWSLogs/<account>/ folder."
    ),
)
def test_resource_policies_grant_nothing_outside_the_account(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st, db, compute = inv.storage, inv.database, inv.compute
    st.require("kms:GetKeyPolicy", "s3:GetBucketPolicy", f"s3:GetBucketPolicy{LOG_BUCKET}", "sns:GetTopicAttributes")
    db.require("secretsmanager:GetResourcePolicy")
    compute.require("iam:GetRole", "lambda:GetPolicy")
    policies: dict[str, str | dict[str, Any]] = {
        f"KMS key {inv.outputs.KMSKeyArn}": st.key_policy,
        f"secret {inv.outputs.DBSecretArn}": db.secret_policy,
        f"bucket {inv.outputs.TransactionLogsBucket}": st.policy,
        f"bucket {inv.outputs.AccessLogsBucket}": st.log_bucket_policy,
        f"SNS topic {inv.outputs.AlarmTopicArn}": st.topic.get("Policy", ""),
        f"function {inv.stack_name}-{DEFAULT_SG_FUNCTION}": compute.function_policy,
        # who may become the roles that read the bucket and the secret: their trust policies
        **{f"role {name} (trust policy)": doc for name, doc in sorted(compute.role_trust.items())},
    }
    assert compute.role_trust, f"no task or execution role was found for service {inv.outputs.ECSServiceName}"
    evidence.attach("resource policies", policies)
    findings: list[str] = []
    for resource, policy in policies.items():
        try:
            findings += [f"{resource}: {grant}" for grant in outside_grants(policy, inv.account, inv.region)]
        except PolicyError as exc:
            raise ProbeError(f"could not read the policy of {resource}: {exc}") from None
    assert not findings, (
        f"resource policies grant outside account {inv.account}: {'; '.join(findings)}; expected grants only to "
        "the account's own principals and to AWS services bound to it by aws:SourceAccount, aws:SourceArn, "
        "kms:CallerAccount or kms:ViaService, and the Region's Elastic Load Balancing log-delivery account on its "
        "access-log folder only"
    )
