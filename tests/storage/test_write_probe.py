"""Storage suite: a live round trip through the transaction-logs bucket (data-plane probe).

No xdist_group: each environment's probe writes its own bucket under a key unique to the run
and removes exactly that key's versions, so the probes of several environments share no state
and run on whichever workers are free (grouping them cost three sequential round trips).
"""

from collections.abc import Callable
from typing import Any

import pytest

from conformance.checks import check, primary
from conformance.evidence import Evidence, utc_now
from conformance.inventory import Inventory
from conformance.prefetch import ProbeContext
from tests.storage.probe import WriteProbeResult, write_probe


def write_and_read_back(ctx: ProbeContext) -> WriteProbeResult:
    return write_probe(ctx.aws.client("s3"), ctx.inv.storage.bucket, ctx.run_state.run_id)


@pytest.mark.data_plane(probe=write_and_read_back, writes=True)
@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:3.5.1",
            "A real object written without headers is stored encrypted under the environment's key: the outcome, not "
            "only the setting.",
        ),
    ],
    rationale="An object written without encryption headers is stored with SSE-KMS under the environment key.",
)
def test_transaction_bucket_stores_new_objects_with_environment_key(
    env_name: str, inv: Inventory, data_plane: Callable[[], Any], evidence: Evidence
) -> None:
    storage = inv.storage
    storage.require("kms:DescribeKey", "kms:ListAliases")
    result: WriteProbeResult = data_plane()
    evidence.attach(
        "PutObject + HeadObject (probe object, since removed with every version)",
        {"key": result.key, "stored": result.stored, "refused": result.refused, "removed_versions": result.removed},
        operation="s3:PutObject, s3:HeadObject, s3:DeleteObject (data-plane probe)",
        resource=f"arn:aws:s3:::{result.bucket}/{result.key}",
        observed_at=utc_now(),  # the probe's answer, received by now
    )
    assert not result.refused, (
        f"bucket {storage.bucket} refused an object written without encryption headers with {result.refused}, "
        f"expected it stored with aws:kms under {inv.outputs.KMSKeyArn}"
    )
    sse, key_id = result.stored.get("ServerSideEncryption"), result.stored.get("SSEKMSKeyId")
    assert sse == "aws:kms" and storage.is_environment_key(key_id), (
        f"bucket {storage.bucket} stored new object {result.key} with {sse or 'no encryption'} "
        f"({key_id or 'no key'}), expected aws:kms with {inv.outputs.KMSKeyArn}"
    )
