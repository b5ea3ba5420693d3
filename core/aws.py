"""AWS sessions and clients: one place that decides endpoint, region, credentials, retries.

Retries happen at one level only: botocore's ``standard`` mode, with explicit attempts and
timeouts. The stack poller handles stack states and tenacity handles eventual consistency
(target health, HTTP); nothing stacks retries on top of botocore's.

Every client of a session shares one :class:`CallLog`, a botocore event hook that counts API
calls per operation (and retries) for the report and the benchmark.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from core.endpoint import CONNECT_SECONDS, Budget, NotAnApi, failure_sentence, guard, probe_endpoint
from core.errors import CredentialsError, EndpointUnreachable, UsageError
from core.redaction import watch_secrets

USER_AGENT = "payments-conformance/0.1"
# Credentials the emulator accepts; used only with an emulator endpoint, so a real
# credential chain is never consulted (or leaked) in the offline rehearsal.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class _SingleFlightLoader(botocore.loaders.Loader):
    """botocore's loader, where a first load happens once however many threads ask for it at once.

    botocore caches what a loader has parsed, but only after parsing has finished: threads that
    ask meanwhile (each environment's inventory creates its clients at the same moment) each
    parse the same model again. Measured while attaching to three environments: the list of
    available services built 9 times instead of 4 (15,000 ``stat`` calls) and service models
    loaded 86 times instead of once per service and type. Loading holds the GIL anyway, so
    waiting for the thread already loading costs nothing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._single_flight = threading.RLock()  # re-entrant: a model load lists the services

    def list_available_services(self, type_name: str) -> Any:
        with self._single_flight:
            return super().list_available_services(type_name)

    def determine_latest_version(self, service_name: str, type_name: str) -> Any:
        with self._single_flight:
            return super().determine_latest_version(service_name, type_name)

    def list_api_versions(self, service_name: str, type_name: str) -> Any:
        with self._single_flight:
            return super().list_api_versions(service_name, type_name)

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        with self._single_flight:
            return super().load_service_model(service_name, type_name, api_version)

    def load_data_with_path(self, name: str) -> Any:
        with self._single_flight:
            return super().load_data_with_path(name)


# One loader per process: botocore parses each service's model (ec2's is megabytes of JSON) once
# per loader, and every session has its own. Sharing it makes the second and later sessions'
# clients cheap (measured: 14 clients in 0.5-0.7 s with a fresh loader, 0.04-0.17 s shared).
_LOADER = _SingleFlightLoader()


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", _LOADER)
    return session


_ACCOUNT_HOST_LABEL = re.compile(r"^(https?://)\d{12}\.")


def _without_account_host_label(request: Any, **_: Any) -> None:
    """S3 Control addresses ``<account>.s3-control.<region>.amazonaws.com``: against an endpoint URL
    (the emulator on 127.0.0.1) botocore prefixes the account to the IP address, a host that
    resolves nowhere. The emulator takes the account from the ``x-amz-account-id`` header that
    botocore sends too, so the label is dropped there; on AWS it stays."""
    request.url = _ACCOUNT_HOST_LABEL.sub(r"\1", request.url)


# Every service the deployer and the inventory call (AwsSession.warm creates their clients early).
SERVICES = (
    "sts", "cloudformation", "ec2", "rds", "secretsmanager", "ecs", "elbv2", "application-autoscaling",
    "cloudwatch", "iam", "s3", "kms", "sns", "logs", "resourcegroupstaggingapi",
)  # fmt: skip


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
        connect_timeout=CONNECT_SECONDS,
        read_timeout=read_timeout,
        # clients are shared by the environments of a region (core.aws): room for three
        # environments' concurrent inventory reads on one client without discarding connections
        max_pool_connections=64,
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
    # identical requests (operation, URL, query, body) made more than once: the benchmark's
    # "no identical call repeated" budget. Stack polling while deploying is expected to repeat.
    requests: Counter[str] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _before_call(self, model: Any, params: Any = None, **_: Any) -> None:
        if not isinstance(params, dict):
            return
        body = params.get("body", b"")
        if not isinstance(body, bytes | str):
            body = repr(body)
        # the whole URL: S3 keeps the bucket in it (its url_path is only "?encryption"), so two
        # buckets' reads of one kind are two requests, not one repeated
        where = params.get("url") or params.get("url_path", "")
        digest = hashlib.sha256(f"{where}?{params.get('query_string', '')}\n{body!s}".encode()).hexdigest()[:16]
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

    @property
    def total(self) -> int:
        return sum(self.calls.values())


# ---------------------------------------------------------------- clients shared between sessions
#
# Creating a botocore client costs milliseconds of CPU under the GIL (its event handlers copied,
# a class with a method per operation built), and each environment's inventory needs fifteen.
# Environments that would build identical clients (same service, region, endpoint, profile and
# configuration: dev, staging and prod in one account, or every environment on the emulator) share
# one client instead; measured while attaching to three environments, the preparation's CPU went
# from 1.33 s to 1.05 s. Each session still counts its own calls: it hands out a view of the shared
# client that names its CallLog (a context variable) for the duration of each call.

_ACTIVE_LOG: contextvars.ContextVar[CallLog | None] = contextvars.ContextVar("payments_call_log", default=None)
# calls made through a shared client outside any session's view (none expected; the self-tests look)
UNATTRIBUTED = CallLog()
_SHARED: dict[tuple[Any, ...], Any] = {}
_SHARED_LOCK = threading.Lock()  # boto3 sessions are not thread-safe: one client created at a time


def _log_before_call(**kwargs: Any) -> None:
    (_ACTIVE_LOG.get() or UNATTRIBUTED)._before_call(**kwargs)


def _log_after_call(**kwargs: Any) -> None:
    (_ACTIVE_LOG.get() or UNATTRIBUTED)._after_call(**kwargs)


def _as(log: CallLog, fn: Callable[..., Any], client: Any = None, budget: Budget | None = None) -> Callable[..., Any]:
    """fn, its calls counted in ``log``; an operation of ``client`` also bounded (core.endpoint.guard)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        token = _ACTIVE_LOG.set(log)
        try:
            return guard(client, budget, fn, *args, **kwargs) if client is not None else fn(*args, **kwargs)
        finally:
            _ACTIVE_LOG.reset(token)

    return call


class _View:
    """Something of a shared client seen through one session: its callables count their calls
    in the session's log."""

    def __init__(self, target: Any, log: CallLog, client: Any = None, budget: Budget | None = None) -> None:
        self._target, self._log, self._client, self._budget = target, log, client, budget

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        return _as(self._log, value) if callable(value) else value


class _Pages(_View):
    """A paginator's pages: each page's request is counted in the session's log
    (``build_full_result`` and the rest through the view)."""

    def __iter__(self) -> Iterator[Any]:
        pages = iter(self._target)
        while True:
            token = _ACTIVE_LOG.set(self._log)
            try:
                page = guard(self._client, self._budget, next, pages) if self._client is not None else next(pages)
            except StopIteration:
                return
            finally:
                _ACTIVE_LOG.reset(token)
            yield page


class _Helper(_View):
    """A paginator or waiter of a shared client, seen through one session (``wait`` through the view)."""

    def paginate(self, **kwargs: Any) -> _Pages:
        return _Pages(self._target.paginate(**kwargs), self._log, self._client, self._budget)


class SessionClient:
    """A shared botocore client seen through one session: every call it makes is counted in the
    session's CallLog. Attributes other than operations, paginators and waiters (``meta``,
    ``exceptions``, ``can_paginate``) are the shared client's own."""

    def __init__(self, client: Any, log: CallLog, budget: Budget | None = None) -> None:
        self._client, self._log, self._budget = client, log, budget
        self._operations = client.meta.method_to_api_mapping

    def get_paginator(self, operation_name: str) -> _Helper:
        return _Helper(self._client.get_paginator(operation_name), self._log, self._client, self._budget)

    def get_waiter(self, waiter_name: str) -> _Helper:
        return _Helper(self._client.get_waiter(waiter_name), self._log)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._client, name)
        return _as(self._log, value, self._client, self._budget) if name in self._operations else value


def _config_key(config: Config) -> str:
    return repr(sorted((k, repr(v)) for k, v in getattr(config, "_user_provided_options", {}).items()))


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
        # the deadline of the observation under way (Run: each environment's inventory), for every call
        self.budget = Budget()
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
        """The session's client for a service: the process's shared client for the same service,
        region, endpoint, profile and configuration (created once), seen through this session so
        that its calls are counted in this session's CallLog."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = SessionClient(self._shared(service), self.call_log, self.budget)
            return self._clients[service]

    def _shared(self, service: str) -> Any:
        key = (service, self.region, self.endpoint_url, self.profile, _config_key(self._config))
        with _SHARED_LOCK:
            if key not in _SHARED:
                client = self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)
                client.meta.events.register("before-call.*.*", _log_before_call)
                client.meta.events.register("after-call.*.*", _log_after_call)
                if self.endpoint_url and service == "s3control":
                    client.meta.events.register("before-sign.s3-control.*", _without_account_host_label)
                watch_secrets(client)
                _SHARED[key] = client
            return _SHARED[key]

    def warm(self, services: tuple[str, ...] = SERVICES) -> None:
        """Create this session's clients now (models loaded, classes built), while the process
        would otherwise wait: the emulator booting, the first calls on the wire. A failure here is
        left for the real call to report, in its context."""
        for service in services:
            try:
                self.client(service)
                _LOADER.load_service_model(service, "paginators-1")
            except Exception:  # noqa: S112 - reported by the call that needs the client
                continue

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
        except botocore.exceptions.BotoCoreError as exc:
            raise EndpointUnreachable(failure_sentence(exc, self.endpoint_url)) from None
        account = identity.get("Account") if isinstance(identity, dict) else None
        if not account:
            not_sts = NotAnApi(sentence="answered GetCallerIdentity without an account id: it is not an AWS API")
            raise EndpointUnreachable(failure_sentence(not_sts, self.endpoint_url))
        return str(account)


def ensure_reachable(endpoint_url: str, timeout: float | None = None) -> None:
    """Fail fast, naming the URL and what it did, unless an endpoint answers like an AWS API
    (core.endpoint.probe_endpoint: nothing listening, no answer, closed, too slow, HTML)."""
    if timeout is None:
        probe_endpoint(endpoint_url)
    else:
        probe_endpoint(endpoint_url, seconds=timeout)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
