"""conformance.prefetch: a probe started ahead of its check hands the check exactly what running
it there would have (its result or its exception), and a writing probe is never abandoned."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from conformance.prefetch import Prefetcher

CTX: Any = object()  # the probes below ignore their context


def test_the_check_gets_the_prefetched_result_and_the_probe_runs_once() -> None:
    runs: list[str] = []
    release = threading.Event()

    def probe(_: Any) -> str:
        runs.append("ran")
        release.wait(5)
        return "observed"

    prefetcher = Prefetcher()
    assert prefetcher.start("check[dev]", probe, CTX, writes=False)
    assert not prefetcher.start("check[dev]", probe, CTX, writes=False)  # once
    release.set()
    assert prefetcher.result("check[dev]", probe, lambda: CTX) == "observed"
    assert runs == ["ran"]
    assert prefetcher.pending() == []


def test_the_check_raises_the_exception_its_prefetched_probe_raised() -> None:
    def probe(_: Any) -> str:
        raise RuntimeError("s3 said no")

    prefetcher = Prefetcher()
    prefetcher.start("check[dev]", probe, CTX, writes=True)
    with pytest.raises(RuntimeError, match="s3 said no"):
        prefetcher.result("check[dev]", probe, lambda: CTX)


def test_a_check_without_a_prefetched_probe_runs_it_itself() -> None:
    assert Prefetcher().result("check[dev]", lambda _: "now", lambda: CTX) == "now"


def test_at_the_end_writing_probes_are_waited_for_and_reading_ones_abandoned() -> None:
    finished: list[str] = []
    never = threading.Event()

    def writing(_: Any) -> None:
        time.sleep(0.3)
        finished.append("write probe cleaned up")

    def reading(_: Any) -> None:
        never.wait(60)  # a GET still retrying: not waited for

    prefetcher = Prefetcher()
    prefetcher.start("write[dev]", writing, CTX, writes=True)
    prefetcher.start("http[dev]", reading, CTX, writes=False)
    started = time.monotonic()
    assert prefetcher.close() == ["http[dev]", "write[dev]"]
    assert finished == ["write probe cleaned up"]
    assert time.monotonic() - started < 5
    never.set()
