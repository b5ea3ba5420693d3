"""Account suite, AWS Config: a recorder recording every resource type, and its delivery channel.

CIS 3.3 asks AWS Config on in every region: a configuration recorder that records every supported
resource type (global ones, such as IAM's, in the region that records them: here the home region of
the account's multi-region trail), recording, with a delivery channel to an S3 bucket. The checks
judge what AWS Config reports in the region, whatever stack or organisation set it up.
"""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory.account import AccountInventory
from conformance.inventory.shapes import ConfigRecorder


def _where(inv: AccountInventory) -> str:
    return f"account {inv.account} ({inv.region})"


def _records_global_types_here(inv: AccountInventory) -> bool:
    """Global resource types are recorded in one region: the home region of the account's trail
    (or, with no multi-region trail, every region, CIS 3.3's own audit)."""
    homes = {str(t.get("HomeRegion")) for t in inv.account_controls.logging_multi_region_trails()}
    return not homes or inv.region in homes


def _narrowed(recorder: ConfigRecorder, want_global: bool) -> list[str]:
    """What keeps the recorder from recording every supported resource type ([] when nothing)."""
    group = recorder.get("recordingGroup") or {}
    problems = []
    if group.get("allSupported") is not True:
        kinds = list(group.get("resourceTypes") or [])
        problems.append(f"allSupported {group.get('allSupported', 'unset')} (records {len(kinds)} types only)")
    strategy = (group.get("recordingStrategy") or {}).get("useOnly")
    if strategy and strategy != "ALL_SUPPORTED_RESOURCE_TYPES":
        problems.append(f"recordingStrategy {strategy}")
    if (group.get("exclusionByResourceTypes") or {}).get("resourceTypes"):
        problems.append("resource types excluded")
    if want_global and group.get("includeGlobalResourceTypes") is not True:
        problems.append(f"includeGlobalResourceTypes {group.get('includeGlobalResourceTypes', 'unset')}")
    return problems


@check(
    severity="medium",
    links=[
        primary(
            "CIS-AWS-3.0:3.3",
            "CIS 3.3: a configuration recorder records every supported resource type, global ones included, "
            "and is recording.",
        ),
        supporting(
            "PCI-DSS-4.0:1.2.8",
            "AWS Config's history of every security group, network ACL and route table is the record the "
            "network security controls' configuration is kept consistent against.",
        ),
        supporting(
            "PCI-DSS-4.0:6.5.1",
            "Every change to a production resource is recorded with its before and after, whatever made it.",
        ),
    ],
    rationale="An AWS Config recorder records every supported resource type (global ones in the trail's home "
    "region) and is recording.",
)
def test_config_recorder_records_all_resources(
    account_key: str, account_inv: AccountInventory, evidence: Evidence
) -> None:
    acct = account_inv.account_controls
    evidence.attach("DescribeConfigurationRecorders", acct.config_recorders)
    evidence.attach("DescribeConfigurationRecorderStatus", acct.config_recorder_status)
    assert acct.config_recorders, f"{_where(account_inv)} has no AWS Config configuration recorder, expected one"
    want_global = _records_global_types_here(account_inv)
    status = {str(s.get("name")): s for s in acct.config_recorder_status}
    seen = []
    for recorder in acct.config_recorders:
        name = str(recorder.get("name", "?"))
        problems = _narrowed(recorder, want_global)
        state = status.get(name, {})
        if state.get("recording") is not True:
            problems.append(f"not recording (lastStatus {state.get('lastStatus', 'unknown')})")
        elif str(state.get("lastStatus", "")).upper() == "FAILURE":
            problems.append(f"lastStatus FAILURE ({state.get('lastErrorCode', 'no error code')})")
        if not problems:
            return
        seen.append(f"recorder {name} ({', '.join(problems)})")
    global_part = ", global resource types included," if want_global else ""
    assert not seen, (
        f"AWS Config {'; '.join(seen)} in {_where(account_inv)}: expected a recorder recording every supported "
        f"resource type{global_part} and recording"
    )


@check(
    severity="medium",
    links=[
        primary(
            "CIS-AWS-3.0:3.3",
            "CIS 3.3: AWS Config delivers its configuration history and snapshots; without a delivery channel "
            "the recorder cannot record.",
        ),
        supporting(
            "PCI-DSS-4.0:1.2.8",
            "The configuration history is kept in a bucket, beyond the console's view of the current state.",
        ),
    ],
    rationale="AWS Config has a delivery channel to an S3 bucket in the region.",
)
def test_config_delivers_to_bucket(account_key: str, account_inv: AccountInventory, evidence: Evidence) -> None:
    channels = account_inv.account_controls.config_delivery_channels
    evidence.attach("DescribeDeliveryChannels", channels)
    assert channels, (
        f"{_where(account_inv)} has no AWS Config delivery channel, expected one delivering to an S3 bucket"
    )
    bucketless = [str(c.get("name", "?")) for c in channels if not c.get("s3BucketName")]
    assert not bucketless, (
        f"AWS Config delivery channel {', '.join(bucketless)} of {_where(account_inv)} names no S3 bucket, expected one"
    )
