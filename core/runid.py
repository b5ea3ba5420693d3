"""The id of one run: a UTC timestamp and a random suffix, e.g. ``20261129T004018Z-f23fae``.

It names the run directory (``build/run/<run id>/``), tags the stacks a run deploys and names
the holder of a stack's lock.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
