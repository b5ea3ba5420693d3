"""Hostile endpoints: every observation has a deadline, and an endpoint that misbehaves is named.

Three bounds (docs/reliability.md, "Hostile endpoints"):

* **Before the first call**, an endpoint given by URL (``--endpoint-url``, ``AWS_ENDPOINT_URL``)
  is asked one HTTP request (STS GetCallerIdentity, unsigned) with a wall deadline of :data:`PROBE_SECONDS`. Nothing
  listening, a connection accepted and never answered, a connection closed at once, an answer
  trickling in byte by byte, an answer that is not HTTP, or an HTML page (a web server, not an
  AWS API): each is one sentence naming the endpoint and what it did, exit 3.
* **Every botocore call** (:func:`guard`) is bounded by botocore's connect and read timeouts and
  5 attempts, plus a wall deadline per call (:func:`call_deadline`): a server that resets the read
  timeout with every byte it drips cannot hold a call longer than that.
* **Once an endpoint has failed a call** (no connection, connection closed, no answer, past the
  deadline, an answer that is not the API's), every later call to it fails at once with the same
  sentence (:class:`EndpointGone`, a ``BotoCoreError``, so the inventory records it as a probe
  error instead of waiting out each call's retries). The run then ends with that one sentence
  (:func:`raise_if_gone`) instead of a probe error per check.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import botocore.exceptions
import botocore.parsers

from core.errors import EndpointUnreachable, UsageError
from core.redaction import redact_text, url_has_credentials

T = TypeVar("T")

# The wall time the first request to an endpoint may take, connection and whole answer included:
# room for a cold start (measured: a fault-injecting proxy's first answer took 5.7 s on a loaded
# machine), none for an endpoint that never answers or trickles its answer.
PROBE_SECONDS = 15.0
# Connect timeout of every botocore client (core.aws.client_config).
CONNECT_SECONDS = 5.0
_MAX_HEAD = 64 * 1024


def check_endpoint_url(url: str, source: str = "--endpoint-url") -> str:
    """A usage error (exit 4) unless ``url`` is an http(s) URL with a host and no credentials in it;
    the URL without a trailing slash. A password in the URL is masked in the message."""
    shown = redact_text(url)
    if url_has_credentials(url):
        raise UsageError(
            f"{source} {shown} carries credentials in the URL; pass the endpoint without them "
            "(credentials come from the AWS credential chain: environment, profile or role)."
        )
    parts = urlsplit(url.strip())
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise UsageError(
            f"{source} {shown!r} is not an http(s) URL with a host; pass e.g. {source}=http://127.0.0.1:4566."
        )
    return url.strip().rstrip("/")


class HostileEndpoint(EndpointUnreachable):
    """An endpoint that did not answer like an AWS API: ``what`` it did, as a phrase."""

    def __init__(self, url: str, what: str) -> None:
        super().__init__(f"the AWS endpoint {redact_text(url)} {what}; {_fix(url)}.")
        self.url, self.what = url, what


class EndpointGone(botocore.exceptions.BotoCoreError):
    """An endpoint that already failed a call of this process: later calls fail at once."""

    fmt = "{sentence}"


class NotAnApi(botocore.exceptions.BotoCoreError):
    """An answer botocore could not parse (an HTML page, garbage): botocore raises a plain
    Exception for it, which this turns into a BotoCoreError that the inventory records."""

    fmt = "{sentence}"


class CallDeadline(botocore.exceptions.BotoCoreError):
    """A call whose answer did not complete within its wall deadline."""

    fmt = "{sentence}"


# ---------------------------------------------------------------- the first request


def _address(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if tls else 80), tls


def _fix(url: str) -> str:
    port = _address(url)[1]
    return (
        "point --endpoint-url (or AWS_ENDPOINT_URL) at an AWS-compatible API, e.g. the emulator started with "
        f"`python -m emulator --port {port}`"
    )


def probe_endpoint(url: str, *, seconds: float = PROBE_SECONDS) -> None:
    """Raise :class:`EndpointUnreachable` (exit 3) with one sentence unless ``url`` answers one
    request (STS GetCallerIdentity, unsigned) within ``seconds`` (wall time), completely, in HTTP,
    and not with an HTML page.

    Any status is an answer (AWS answers an unsigned request 403 with XML); only what a web
    server, a dead port or a stalled peer does is refused. The whole exchange, connect included,
    is bounded by ``seconds`` whatever the peer does.
    """
    check_endpoint_url(url)
    host, port, tls = _address(url)
    deadline = time.monotonic() + seconds

    def fail(what: str) -> HostileEndpoint:
        return HostileEndpoint(url, what)

    try:
        sock = socket.create_connection((host, port), timeout=min(CONNECT_SECONDS, seconds))
    except TimeoutError:
        raise fail(f"did not accept a connection within {min(CONNECT_SECONDS, seconds):.0f} s") from None
    except OSError as exc:
        raise fail(f"cannot be reached ({exc.strerror or type(exc).__name__})") from None
    received = b""
    try:
        if tls:
            import ssl

            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.sendall(_first_request(host, port))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
            if _complete(received):
                break
    except TimeoutError:
        if not received:
            raise fail(f"accepted the connection but sent no answer within {seconds:.0f} s") from None
        raise fail(f"is too slow: {len(received)} byte(s) of an answer within {seconds:.0f} s") from None
    except ConnectionError:
        if not received:
            raise fail("closed the connection without answering") from None
    except OSError as exc:
        raise fail(f"failed the request ({exc.strerror or type(exc).__name__})") from None
    finally:
        sock.close()
    if not received:
        raise fail("closed the connection without answering")
    status, headers, body = _parse(received)
    if status is None:
        raise fail(f"did not answer in HTTP (it sent {received[:16]!r})")
    html = body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
    if html or "html" in headers.get("content-type", ""):
        raise fail(f"answered an HTML page (HTTP {status}): it is a web server, not an AWS API")


# STS GetCallerIdentity, the call every command makes first, with the shape of a signed request (the
# scope names the service, which fault-injecting proxies route by) and no credential: an AWS API
# answers it (the emulator with an identity, AWS with 403 and XML), whatever the signature.
_PROBE_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
_PROBE_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=probe/20260101/us-east-1/sts/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64
)


def _first_request(host: str, port: int) -> bytes:
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: payments-conformance\r\n"
        "Accept: */*\r\nAccept-Encoding: identity\r\n"  # a proxy may wait for these (microburst does)
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\nX-Amz-Date: 20260101T000000Z\r\n"
        f"Authorization: {_PROBE_AUTHORIZATION}\r\nContent-Length: {len(_PROBE_BODY)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + _PROBE_BODY


def _parse(data: bytes) -> tuple[int | None, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    first = lines[0].split(b" ", 2)
    if len(first) < 2 or not first[0].startswith(b"HTTP/1.") or not first[1].isdigit():
        return None, {}, b""
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    return int(first[1]), headers, body


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole HTTP answer (by Content-Length; else it ends when the peer closes)."""
    if b"\r\n\r\n" not in data:
        return len(data) > _MAX_HEAD
    status, headers, body = _parse(data)
    if status is None:
        return True
    if "content-length" in headers and headers["content-length"].isdigit():
        return len(body) >= int(headers["content-length"])
    return status in (204, 304) or 100 <= status < 200


# ---------------------------------------------------------------- every call


_GONE: dict[str, str] = {}  # endpoint URL -> what it did (once it failed a call)
_GONE_LOCK = threading.Lock()
# what a failed call says about its endpoint, rather than about the request
_ENDPOINT_FAILURES = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    NotAnApi,
    CallDeadline,
)


def call_deadline(read_timeout: float) -> float:
    """The wall time one call may take, its retries included: the connect timeout, two read
    timeouts (one retried slow answer, docs/reliability.md scenario 4) and the backoff between."""
    return CONNECT_SECONDS + 2 * read_timeout + 2.0


def describe(exc: BaseException) -> str:
    """What an endpoint did, from the exception of a failed call, as a phrase."""
    if isinstance(exc, EndpointGone | CallDeadline | NotAnApi):
        return str(exc)
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return "cannot be reached (no connection)"
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return f"did not accept a connection within {CONNECT_SECONDS:.0f} s"
    if isinstance(exc, botocore.exceptions.ConnectionClosedError):
        return "closed the connection without answering"
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return "sent no answer within the read timeout"
    return f"failed ({type(exc).__name__})"


def gone(endpoint_url: str) -> str | None:
    """What ``endpoint_url`` did when it failed a call of this process, or None."""
    with _GONE_LOCK:
        return _GONE.get(endpoint_url.rstrip("/"))


def forget(endpoint_url: str) -> None:
    with _GONE_LOCK:
        _GONE.pop(endpoint_url.rstrip("/"), None)


def _mark(endpoint_url: str, exc: BaseException) -> None:
    key = endpoint_url.rstrip("/")
    with _GONE_LOCK:
        _GONE.setdefault(key, describe(exc))


class ObservationOverdue(botocore.exceptions.BotoCoreError):
    """A call made after its observation's deadline (or cut by it)."""

    fmt = "{sentence}"


OBSERVATION_ENV = "PAYMENTS_OBSERVATION_SECONDS"
DEFAULT_OBSERVATION_SECONDS = 120.0


def observation_seconds() -> float:
    """How long one environment's inventory may take as a whole: $PAYMENTS_OBSERVATION_SECONDS, else 120."""
    raw = os.environ.get(OBSERVATION_ENV, "").strip()
    if not raw:
        return DEFAULT_OBSERVATION_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value <= 86400:
        raise UsageError(f"{OBSERVATION_ENV}={raw!r} is not a number of seconds between 0 and 86400; unset it.")
    return value


class Budget:
    """The deadline of one observation (an environment's inventory), shared by its session's calls."""

    def __init__(self) -> None:
        self._until: float | None = None
        self._seconds = 0.0
        self.what = ""
        self.overdue = False

    def start(self, what: str, seconds: float | None = None) -> None:
        self._seconds = observation_seconds() if seconds is None else seconds
        self._until, self.what, self.overdue = time.monotonic() + self._seconds, what, False

    def left(self) -> float | None:
        return None if self._until is None else self._until - time.monotonic()

    def exceeded(self) -> ObservationOverdue:
        self.overdue = True
        return ObservationOverdue(sentence=f"{self.what} did not finish within {self._seconds:.0f} s")

    def finish(self) -> None:
        """End the observation; exit 3 (one sentence) when it ran out of time."""
        self._until = None
        if self.overdue:
            raise EndpointUnreachable(
                f"{self.what} did not finish within {self._seconds:.0f} s ({OBSERVATION_ENV}); the endpoint answers "
                "too slowly to be observed: run again when it is less loaded, or raise the bound."
            )


def guard(client: Any, budget: Budget | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, a call of ``client``, bounded by the call deadline and the observation's
    (``budget``); fails at once when the client's endpoint already failed a call, and marks the endpoint
    when this call fails because of it."""
    endpoint = str(client.meta.endpoint_url)
    what = gone(endpoint)
    if what is not None:
        raise EndpointGone(sentence=f"the endpoint {endpoint} {what}")
    seconds = call_deadline(float(client.meta.config.read_timeout))
    left = budget.left() if budget is not None else None
    if budget is not None and left is not None:
        if left <= 0:
            raise budget.exceeded()
        if left < seconds:
            try:
                return _within(left, endpoint, fn, *args, **kwargs)
            except CallDeadline:
                raise budget.exceeded() from None
    try:
        try:
            return _within(seconds, endpoint, fn, *args, **kwargs)
        except botocore.parsers.ResponseParserError:
            raise NotAnApi(sentence="answered something that is not an AWS API response (HTML or garbage)") from None
    except _ENDPOINT_FAILURES as exc:
        _mark(endpoint, exc)
        raise


def _within(seconds: float, endpoint: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn's result, or :class:`CallDeadline` after ``seconds``: the call runs in a daemon thread that is
    abandoned then (its socket is closed by its own read timeout, or with the process)."""
    result: list[Any] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            result.append((True, context.run(fn, *args, **kwargs)))
        except BaseException as exc:  # handed to the caller's thread
            result.append((False, exc))

    thread = threading.Thread(target=target, name="aws-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if not result:
        raise CallDeadline(sentence=f"gave no complete answer within {seconds:.0f} s (too slow)")
    ok, value = result[0]
    if ok:
        return value
    raise value


def raise_if_gone(endpoint_url: str | None) -> None:
    """After an observation: one sentence (exit 3) when an endpoint failed a call during it and does
    not answer now either (``endpoint_url``, or on AWS every endpoint that failed a call). An endpoint
    that answers again leaves the failed reads to be reported as probe errors."""
    with _GONE_LOCK:
        failed = dict(_GONE)
    urls = [endpoint_url.rstrip("/")] if endpoint_url else list(failed)
    for url in urls:
        if url not in failed:
            continue
        try:
            probe_endpoint(url)
        except HostileEndpoint as exc:
            raise EndpointUnreachable(
                f"the AWS endpoint {url} stopped answering during the run (it {failed[url]}; asked again, it "
                f"{exc.what}); nothing was judged from its partial answers: {_fix(url)}, and run again."
            ) from None


def observation_error(exc: BaseException, endpoint_url: str | None) -> EndpointUnreachable:
    """The one-sentence error (exit 3) for a botocore error that escaped a run's preparation."""
    return EndpointUnreachable(failure_sentence(exc, endpoint_url))


# what a command catches at its top, to end with failure_sentence instead of a traceback
AWS_FAILURES = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    botocore.parsers.ResponseParserError,
)


def failure_sentence(exc: BaseException, endpoint_url: str | None) -> str:
    """One sentence for a botocore error that escaped to the top of a command (exit 3)."""
    where = f"the AWS endpoint {endpoint_url}" if endpoint_url else "AWS"
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        op = getattr(exc, "operation_name", "a call")
        return f"{where} refused {op} ({code}); check the credentials' permissions and run again."
    return f"{where} {describe(exc)}; check it answers as an AWS API and run again."
