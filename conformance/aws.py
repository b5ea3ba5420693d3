"""AWS sessions and clients: one place that decides endpoint, region, credentials, retries.

Retries happen at one level only: botocore's ``standard`` mode, with explicit attempts and
timeouts. The stack poller handles stack states and tenacity handles eventual consistency
(target health, HTTP); nothing stacks retries on top of botocore's.

Every client of a session shares one :class:`CallLog`, a botocore event hook that counts API
calls per operation (and retries) for the report and the benchmark.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from conformance.errors import CredentialsError, EndpointUnreachable, UsageError
from conformance.evidence import watch_secrets

USER_AGENT = "payments-conformance/0.1"
# Credentials the emulator accepts; used only with an emulator endpoint, so a real
# credential chain is never consulted (or leaked) in the offline rehearsal.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


# One loader per process: botocore parses each service's model (ec2's is megabytes of JSON) once
# per loader, and every session has its own. Sharing it makes the second and later sessions'
# clients cheap (measured: 14 clients in 0.5-0.7 s with a fresh loader, 0.04-0.17 s shared).
_LOADER = botocore.loaders.create_loader()


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _LOADER)
    return session


# Every service the deployer and the inventory call.
SERVICES = (
    "sts", "cloudformation", "ec2", "rds", "secretsmanager", "ecs", "elbv2", "application-autoscaling",
    "cloudwatch", "iam", "s3", "kms", "sns", "logs",
)  # fmt: skip


def preload_models(services: tuple[str, ...] = SERVICES) -> None:
    """Load what these services' clients need (models, paginators, endpoint rules) into the shared loader.

    Run it where the process would otherwise wait (while the emulator boots, while the first
    calls are on the wire): a later session's clients then cost milliseconds each.
    """
    session = boto3.Session(region_name="us-east-1", botocore_session=_botocore_session(), **EMULATOR_CREDENTIALS)
    for service in services:
        # never used for a call: its config must not read the environment (a bad
        # PAYMENTS_READ_TIMEOUT is reported once, by the run, not as a traceback from this thread)
        session.client(service, endpoint_url="http://127.0.0.1:9", config=client_config(read_timeout=1.0))
        _LOADER.load_service_model(service, "paginators-1")


READ_TIMEOUT_ENV = "PAYMENTS_READ_TIMEOUT"
DEFAULT_READ_TIMEOUT = 20.0


def read_timeout_setting() -> float:
    """botocore's read timeout in seconds: $PAYMENTS_READ_TIMEOUT when set (a self-test of a
    call delayed past it sets 1 s rather than waiting 20), else 20."""
    raw = os.environ.get(READ_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_READ_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise UsageError(
            f"{READ_TIMEOUT_ENV}={raw!r} is not a number of seconds between 0 and 3600; unset it or give e.g. 2."
        )
    return value


def client_config(*, max_attempts: int = 5, read_timeout: float | None = None) -> Config:
    if read_timeout is None:
        read_timeout = read_timeout_setting()
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=read_timeout,
        max_pool_connections=32,
        user_agent_extra=USER_AGENT,
    )


# Operations that are expected to repeat with identical requests: waiting for a stack or a change set.
POLLING = (
    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:DescribeChangeSet",
    "cloudformation:ListStackResources", "cloudformation:DescribeStackDriftDetectionStatus",
)  # fmt: skip


@dataclass
class CallLog:
    """Counts every API call (operation name → attempts) made through a session."""

    calls: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    # identical requests (operation, path, query, body) made more than once: the benchmark's
    # "no identical call repeated" budget. Stack polling while deploying is expected to repeat.
    requests: Counter[str] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _before_call(self, model: Any, params: Any = None, **_: Any) -> None:
        if not isinstance(params, dict):
            return
        body = params.get("body", b"")
        if not isinstance(body, bytes | str):
            body = repr(body)
        digest = hashlib.sha256(
            f"{params.get('url_path', '')}?{params.get('query_string', '')}\n{body!s}".encode()
        ).hexdigest()[:16]
        with self._lock:
            self.requests[f"{model.service_model.service_name}:{model.name} {digest}"] += 1

    def repeated(self, *, since: Counter[str] | None = None, polling: tuple[str, ...] = POLLING) -> dict[str, int]:
        """Operations that sent an identical request more than once (polling operations left out);
        ``since``: a copy of ``requests`` taken earlier, to count only what came after it."""
        found: Counter[str] = Counter()
        for key, n in (self.requests - (since or Counter())).items():
            op = key.split(" ", 1)[0]
            if n > 1 and op not in polling:
                found[op] += n - 1
        return dict(sorted(found.items()))

    def _after_call(self, model: Any, context: Any = None, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        attempts = 1
        if isinstance(context, dict):
            attempts = int((context.get("retries") or {}).get("attempt", 1) or 1)
        with self._lock:
            self.calls[name] += 1
            if attempts > 1:
                self.retries[name] += attempts - 1

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.*.*", self._before_call)
        client.meta.events.register("after-call.*.*", self._after_call)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class AwsSession:
    """A boto3 session for one environment, bound to real AWS or to an endpoint."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        profile: str | None = None,
        call_log: CallLog | None = None,
        config: Config | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.profile = profile
        self.call_log = call_log or CallLog()
        self._config = config or client_config()
        if endpoint_url:
            self._session = boto3.Session(
                region_name=region, botocore_session=_botocore_session(), **EMULATOR_CREDENTIALS
            )
        else:
            try:
                self._session = boto3.Session(
                    region_name=region, profile_name=profile, botocore_session=_botocore_session()
                )
            except botocore.exceptions.ProfileNotFound:
                raise CredentialsError(
                    f"AWS profile {profile!r} is not configured on this machine; add it to ~/.aws/config "
                    "or remove `profile` from the environment file."
                ) from None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def is_emulated(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        """The session's client for a service, created once. Creation holds the session's lock
        (boto3 sessions are not thread-safe); with the models preloaded it takes milliseconds."""
        with self._lock:
            if service not in self._clients:
                client = self._session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
                self.call_log.attach(client)
                watch_secrets(client)
                self._clients[service] = client
            return self._clients[service]

    def check_credentials(self) -> str:
        """Return the account id; raise one clear sentence when credentials are missing or bad."""
        if not self.is_emulated and self._session.get_credentials() is None:
            raise CredentialsError(
                "no AWS credentials found for region "
                f"{self.region}; log in (e.g. `aws sso login`), set AWS_PROFILE, or use the offline "
                "rehearsal (`pytest` with no --env)."
            )
        try:
            identity = self.client("sts").get_caller_identity()
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
            raise CredentialsError(
                "no usable AWS credentials; log in (e.g. `aws sso login`) or set AWS_PROFILE."
            ) from None
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise CredentialsError(
                f"AWS rejected the credentials ({code}); refresh them (e.g. `aws sso login`) and run again."
            ) from None
        except botocore.exceptions.EndpointConnectionError:
            raise EndpointUnreachable(
                f"cannot reach the STS endpoint for {self.region}; check the network or the region."
            ) from None
        return str(identity["Account"])


def ensure_reachable(endpoint_url: str, timeout: float = 5.0) -> None:
    """Fail fast, naming the URL, when nothing listens at an endpoint."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointUnreachable(
            f"endpoint URL {endpoint_url!r} is not an http(s) URL; pass e.g. --endpoint-url http://127.0.0.1:4566."
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EndpointUnreachable(
            f"cannot reach the AWS endpoint {endpoint_url} ({reason}); start it with "
            f"`python -m emulator --port {port}` or fix --endpoint-url."
        ) from None


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
