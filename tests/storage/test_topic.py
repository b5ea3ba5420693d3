"""Storage suite: the SNS alarm topic."""

from conformance.checks import check
from conformance.evidence import Evidence
from conformance.inventory import Inventory


@check(
    severity="low",
    operational="hygiene: alarm messages carry metric names and thresholds, no account data",
    rationale="Alarm notifications are encrypted at rest with the environment key.",
)
def test_alarm_topic_encrypted_with_environment_key(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    st = inv.storage
    st.require("sns:GetTopicAttributes", "kms:DescribeKey", "kms:ListAliases")
    reported = st.topic.get("KmsMasterKeyId")
    evidence.attach("GetTopicAttributes", {"KmsMasterKeyId": reported})
    assert st.is_environment_key(reported), (
        f"SNS topic {inv.outputs.AlarmTopicArn} is encrypted with {reported or 'nothing'}, "
        f"expected {inv.outputs.KMSKeyArn}"
    )


@check(
    severity="medium",
    operational="alerting: availability alarms reach the on-call address",
    rationale="Alarms reach the on-call address by e-mail (a pending confirmation counts).",
)
def test_alarm_topic_mails_on_call_address(env_name: str, inv: Inventory, spec, evidence: Evidence) -> None:
    st = inv.storage
    evidence.attach("ListSubscriptionsByTopic", st.subscriptions)
    want = spec.parameters.AlarmEmail
    emails = st.email_endpoints
    assert any(e.lower() == want.lower() for e in emails), (
        f"SNS topic {inv.outputs.AlarmTopicArn} has e-mail subscriptions {emails or 'none'}, expected one to {want}"
    )
