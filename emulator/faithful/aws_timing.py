"""AWS-like durations, latency and throttling, only when ``FAITHFUL_AWS_TIMING`` is set.

Measured against MiniStack 1.5.33: every call answers in a millisecond or two, and
``DetectStackDrift`` finishes before it returns (``DETECTION_COMPLETE`` at the first
``DescribeStackDriftDetectionStatus``), nothing is ever throttled. On AWS, drift detection of a
stack of some seventy resources takes tens of seconds, a Describe call some tens of milliseconds
with a long tail, and every API family has a token bucket per account and region. The benchmark
(``python -m bench``, its "AWS-like timing" configuration) needs those to show that a run's wall
time is its longest dependent chain plus little; the conformance checks do not, so this
extension changes nothing unless the variable is set (the self-tests and the offline rehearsal
never set it).

``FAITHFUL_AWS_TIMING`` is a comma-separated list of ``key=value`` (``1`` alone: the defaults):

* ``drift_seconds`` (20): a drift detection stays ``DETECTION_IN_PROGRESS`` this long after its
  ``DetectStackDrift``; the answer after that is MiniStack's own;
* ``latency_ms`` (80) and ``latency_sigma`` (0.35): every signed API call is delayed by a
  lognormal draw with that median (p95 about 1.8 x the median), without blocking other calls;
* ``throttle_scale`` (1): token buckets per region and API family, sized and refilled as EC2
  documents its request throttling (non-mutating ``Describe*``/``Get*`` actions: 100 tokens,
  20 per second; mutating actions: 200 tokens, 5 per second), scaled by this factor (0: off).
  The other services publish no numbers for these calls: each gets one bucket of EC2's
  non-mutating size (an assumption, stated as such). A call finding its bucket empty is answered
  as AWS answers it (``RequestLimitExceeded`` with HTTP 503 for EC2, ``Throttling`` with 400 for
  the other query APIs, ``ThrottlingException`` with 400 for JSON APIs; REST APIs such as S3 and
  Lambda are not throttled).

``GET /_faithful/aws-timing`` returns what it did: the settings, calls seen, calls throttled by
family, and each drift detection's duration. Self-test: ``selftests/emulator/test_aws_timing.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

VARIABLE = "FAITHFUL_AWS_TIMING"
STATS_PATH = "/_faithful/aws-timing"
DEFAULTS = {"drift_seconds": 20.0, "latency_ms": 80.0, "latency_sigma": 0.35, "throttle_scale": 1.0}
# EC2's documented request token buckets (capacity, refill per second), per account and region
EC2_NON_MUTATING = (100.0, 20.0)
EC2_MUTATING = (200.0, 5.0)
OTHER_SERVICES = EC2_NON_MUTATING  # unpublished: assumed the same as EC2's non-mutating bucket
# a detection still in progress: its status, no verdict yet (DriftedStackResourceCount left out)
IN_PROGRESS = (
    (b"DetectionStatus", b"DETECTION_IN_PROGRESS"),
    (b"StackDriftStatus", b"UNKNOWN"),
    (b"DriftedStackResourceCount", b""),
)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def settings(value: str) -> dict[str, float]:
    """``drift_seconds=25,latency_ms=80`` (or ``1``: the defaults) to the settings."""
    out = dict(DEFAULTS)
    for item in value.split(","):
        key, sep, raw = item.strip().partition("=")
        if not sep:
            continue
        if key not in DEFAULTS:
            raise ValueError(f"{VARIABLE}: unknown setting {key!r}; known: {', '.join(DEFAULTS)}")
        out[key] = float(raw)
    return out


class Bucket:
    """A token bucket: ``capacity`` tokens, ``rate`` added per second."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity, self.rate = capacity, rate
        self.tokens, self.at = capacity, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class AwsTiming:
    """The ASGI middleware around MiniStack's app."""

    def __init__(self, inner: App, config: dict[str, float]) -> None:
        self.inner = inner
        self.config = config
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.started: dict[str, float] = {}  # drift detection id -> when DetectStackDrift answered
        self.detections: dict[str, float] = {}  # drift detection id -> seconds until it was complete
        self.calls = 0
        self.throttled: dict[str, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the request's identity
    @staticmethod
    def _identity(scope: Scope, body: bytes) -> tuple[str, str, str, str] | None:
        """(region, service, operation, protocol) of a signed API call; None for anything else."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        match = _SCOPE.search(headers.get("authorization", ""))
        if match is None:
            return None
        region, service = match.group(1), match.group(2)
        target = headers.get("x-amz-target")
        if target:
            return region, service, target.rsplit(".", 1)[-1], "json"
        if "x-www-form-urlencoded" in headers.get("content-type", ""):
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
            if action:
                return region, service, action, "query"
        return region, service, "", "rest"

    def _family(self, service: str, operation: str) -> tuple[str, tuple[float, float]]:
        if service == "ec2":
            if operation.startswith(("Describe", "Get")):
                return "ec2 non-mutating", EC2_NON_MUTATING
            return "ec2 mutating", EC2_MUTATING
        return service, OTHER_SERVICES

    def _admit(self, region: str, service: str, operation: str) -> str | None:
        """None when the call may go on; else its family, whose bucket is empty."""
        scale = self.config["throttle_scale"]
        if scale <= 0:
            return None
        family, (capacity, rate) = self._family(service, operation)
        with self._lock:
            bucket = self.buckets.get((region, family))
            if bucket is None:
                bucket = self.buckets[(region, family)] = Bucket(max(1.0, capacity * scale), rate * scale)
            if bucket.take():
                return None
            self.throttled[family] = self.throttled.get(family, 0) + 1
            return family

    def _latency(self) -> float:
        median = self.config["latency_ms"] / 1000.0
        if median <= 0:
            return 0.0
        return random.lognormvariate(math.log(median), self.config["latency_sigma"])

    # ------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.inner(scope, receive, send)
            return
        if scope.get("path") == STATS_PATH:
            await _respond(send, 200, "application/json", json.dumps(self.stats()).encode())
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message.get("type") != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        identity = self._identity(scope, body)
        if identity is None:
            await self.inner(scope, replayed, send)
            return
        region, service, operation, protocol = identity
        with self._lock:
            self.calls += 1
        await asyncio.sleep(self._latency())
        if protocol != "rest" and self._admit(region, service, operation) is not None:
            await _throttled(send, service, protocol)
            return
        if operation == "DetectStackDrift":
            await self.inner(scope, replayed, self._record_detection(send))
        elif operation == "DescribeStackDriftDetectionStatus":
            detection = parse_qs(body.decode("utf-8", "replace")).get("StackDriftDetectionId", [""])[0]
            await self.inner(scope, replayed, self._hold_detection(send, detection))
        else:
            await self.inner(scope, replayed, send)

    def _record_detection(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message.get("type") == "http.response.body":
                found = re.search(rb"<StackDriftDetectionId>([^<]+)</StackDriftDetectionId>", message.get("body", b""))
                if found:
                    with self._lock:
                        self.started[found.group(1).decode()] = time.monotonic()
            await send(message)

        return wrapped

    def _hold_detection(self, send: Send, detection: str) -> Send:
        """Until drift_seconds have passed since its DetectStackDrift: DETECTION_IN_PROGRESS."""
        with self._lock:
            started = self.started.get(detection)
        elapsed = time.monotonic() - started if started is not None else math.inf
        in_progress = elapsed < self.config["drift_seconds"]
        if not in_progress and started is not None:
            with self._lock:
                self.detections.setdefault(detection, round(elapsed, 3))
        start: list[Message] = []

        async def wrapped(message: Message) -> None:
            if not in_progress:
                await send(message)
                return
            if message.get("type") == "http.response.start":
                start.append(message)  # its Content-Length changes with the body
                return
            body = message.get("body", b"")
            if b"<DetectionStatus>" in body:
                for element, value in IN_PROGRESS:
                    shown = b"<%s>%s</%s>" % (element, value, element) if value else b""
                    body = re.sub(rb"<%s>[^<]*</%s>" % (element, element), shown, body)
            for first in start:
                headers = [(k, v) for k, v in first.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**first, "headers": headers})
            start.clear()
            await send({**message, "body": body})

        return wrapped

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "settings": self.config,
                "calls": self.calls,
                "throttled": dict(self.throttled),
                "drift_detection_seconds": list(self.detections.values()),
            }


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _throttled(send: Send, service: str, protocol: str) -> None:
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        await _respond(send, 400, "application/x-amz-json-1.1", body)
    elif service == "ec2":
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
            f"</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        await _respond(send, 503, "text/xml", body)
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        await _respond(send, 400, "text/xml", body)


def install() -> None:
    value = os.environ.get(VARIABLE, "").strip()
    if not value or value == "0":
        return
    import ministack.app as _app

    _app.app = AwsTiming(_app.app, settings(value))
