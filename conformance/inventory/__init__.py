"""The inventory: everything the checks judge, collected once per environment.

Collect once, check many (STYLE.md 4): the controller process lists the stack's resources
and describes each kind once, concurrently, into the models below; checks read them and make
no API calls of their own, except the bounded data-plane probes (HTTP, DNS, the S3 write
probe). The inventory is plain JSON-serialisable data, written once per environment to the
run directory and read by every xdist worker.

A section whose API call failed keeps the failure in ``errors`` (operation → message); a
check that reads a failed part raises :class:`ProbeError`, which the report counts as
"could not observe", never as a pass or a non-conformance.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conformance.inventory.base import ProbeError, Section
from conformance.inventory.compute import ComputeSection, collect_compute
from conformance.inventory.database import DatabaseSection, collect_database
from conformance.inventory.network import NetworkSection, collect_network
from conformance.inventory.scrub import scrub
from conformance.inventory.stack import StackSection, collect_stack
from conformance.inventory.storage import StorageSection, collect_storage
from conformance.inventory.tags import TagsSection, collect_tags, not_collected
from core.aws import AwsSession
from core.outputs import StackOutputs

__all__ = ["Inventory", "ProbeError", "Section", "collect"]


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str
    stack_name: str
    region: str
    account: str
    outputs: StackOutputs
    stack: StackSection
    network: NetworkSection
    database: DatabaseSection
    compute: ComputeSection
    storage: StorageSection
    # absent from inventories saved before it existed: then "could not observe", never "untagged"
    tags: TagsSection = Field(default_factory=not_collected)
    collected_seconds: float = 0.0
    collected_at: str = ""  # UTC, ISO 8601: when the collection started (the evidence's observed-at)
    api_calls: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Parse a saved inventory. One saved before ``emulated`` was retired (nothing read it: the run
        state says whether a target is emulated) loads too, parsed a second time: only then."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            if not exc.errors() or any(e["loc"] != ("emulated",) for e in exc.errors()):
                raise
            data = json.loads(json_data)
            del data["emulated"]
            return cls.model_validate(data, **kwargs)

    def model_post_init(self, context: Any, /) -> None:
        for section in (self.stack, self.network, self.database, self.compute, self.storage, self.tags):
            section.seal()


def scrub_section(section: Section) -> None:
    """No secret value is kept: every secret-looking value becomes a marker with its length and a
    salted hash (``conformance.inventory.scrub``), before the inventory exists or is written."""
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, dict | list | str):
            clean = scrub(value)
            if clean != value:
                setattr(section, name, clean)


def collect(
    *,
    environment: str,
    stack_name: str,
    account: str,
    aws: AwsSession,
    outputs: StackOutputs,
    described: dict[str, Any] | None = None,
    drift: bool = True,
) -> Inventory:
    """Describe everything once, the sections concurrently (``described``: the stack, if already described).

    ``drift=False``: everything but drift detection, which the caller runs beside it
    (``conformance.inventory.stack.collect_drift``) and applies when it ends."""
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    before = dict(aws.call_log.calls)
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix=f"inventory-{environment}") as pool:
        f_stack = pool.submit(collect_stack, aws, stack_name, described, with_drift=drift)
        f_network = pool.submit(collect_network, aws, outputs)
        f_database = pool.submit(collect_database, aws, outputs)
        f_compute = pool.submit(collect_compute, aws, outputs, account)
        f_storage = pool.submit(collect_storage, aws, outputs, account)
        f_tags = pool.submit(collect_tags, aws, stack_name, described, f_stack.result)  # roles: after the stack
        sections: dict[str, Any] = {
            "stack": f_stack.result(),
            "network": f_network.result(),
            "database": f_database.result(),
            "compute": f_compute.result(),
            "storage": f_storage.result(),
            "tags": f_tags.result(),
        }
    calls = {k: v - before.get(k, 0) for k, v in aws.call_log.calls.items() if v - before.get(k, 0)}
    for section in sections.values():
        scrub_section(section)
    return Inventory(
        environment=environment,
        stack_name=stack_name,
        region=aws.region,
        account=account,
        outputs=outputs,
        collected_seconds=round(time.perf_counter() - started, 3),
        collected_at=started_at,
        api_calls=calls,
        **sections,
    )
