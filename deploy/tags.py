"""The tags the deployer puts on what it creates (stacks, the artifacts bucket): how it knows its own."""

from __future__ import annotations

CREATOR_TAG = "payments-conformance:created-by"
CREATOR_VALUE = "payments-conformance-suite"
RUN_ID_TAG = "payments-conformance:run-id"
