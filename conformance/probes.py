"""Bounded data-plane probes: real requests to the deployed platform, each with a deadline.

tenacity is used only here, for eventual consistency (a service that is still warming up),
with a stop, a wait and a reason; the last observation is kept for the failure message.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_exponential

from conformance.inventory.base import ProbeError
from core.endpoint import probe_endpoint
from core.errors import EndpointUnreachable


@dataclass
class HttpObservation:
    url: str
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    attempts: int = 0
    elapsed: float = 0.0

    def header(self, name: str) -> str:
        """A response header by name, whatever its case on the wire ("" when absent)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    @property
    def status_line(self) -> str:
        if self.status is None:
            return f"no response ({self.error})"
        return f"HTTP {self.status} {self.reason}".strip()


def safe_url(url: str) -> str:
    """The URL without its query string or credentials (presigned URLs carry secrets there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def http_get(
    dns_name: str,
    *,
    path: str = "/",
    expect: int = 200,
    deadline: float = 60.0,
    via: str | None = None,
    timeout: float = 5.0,
) -> HttpObservation:
    """GET ``http://<dns_name><path>`` until it answers ``expect`` or the deadline passes.

    ``via`` (an emulator's endpoint) resolves the name to the emulator's data plane, reached with
    ``Host: <dns_name>`` (there is no DNS for it): at the address its ``/_faithful/http/address``
    route gives, which is the gateway itself also when ``via`` is a proxy in front of it (one that
    rewrites ``Host`` would hand every request to the control plane, which knows no such name);
    at ``via`` itself when the endpoint has no such route.
    """
    shown = f"http://{dns_name}{path}"
    headers = {"Host": dns_name} if via else {}
    obs = HttpObservation(url=safe_url(shown))
    started = time.monotonic()

    def once() -> HttpObservation:
        obs.attempts += 1
        url = shown
        if via:
            address = emulator_http_address(via, dns_name)
            if address is None:
                obs.status, obs.reason, obs.error = None, "", "no HTTP listener on port 80"
                obs.elapsed = round(time.monotonic() - started, 2)
                return obs
            url = f"http://{address}{path}"
        try:
            resp = requests.get(url, headers=headers, timeout=timeout, allow_redirects=False)
            obs.status, obs.reason, obs.error = resp.status_code, resp.reason or "", ""
            obs.headers = dict(resp.headers)
        except requests.RequestException as exc:
            obs.status, obs.reason, obs.error = None, "", type(exc).__name__
        obs.elapsed = round(time.monotonic() - started, 2)
        return obs

    return _until_expected(once, obs, expect, deadline, via)


@dataclass
class TlsObservation(HttpObservation):
    """An HTTPS GET with what its TLS handshake showed: protocol, cipher, the presented certificate."""

    address: str = ""
    tls_version: str = ""
    cipher: str = ""
    certificate_sha256: str = ""


# the emulator's stand-in for the load balancer's DNS name and port (emulator/faithful/tls.py)
EMULATOR_TLS_ROUTE = "/_faithful/tls/address"
EMULATOR_HTTP_ROUTE = "/_faithful/http/address"


def emulator_http_address(via: str, dns_name: str, port: int = 80, timeout: float = 5.0) -> str | None:
    """Where the emulator at ``via`` serves ``dns_name``:``port``'s plain-HTTP listener (host:port of
    its data plane), None when it has none there, ``via``'s own host and port when the endpoint has
    no such route (an emulator without the faithful extension: its data plane is the endpoint);
    raises ProbeError when the endpoint does not answer."""
    try:
        resp = requests.get(
            f"{via.rstrip('/')}{EMULATOR_HTTP_ROUTE}", params={"host": dns_name, "port": str(port)}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise ProbeError(
            f"the emulator at {via} did not answer where {dns_name}:{port} is ({type(exc).__name__})"
        ) from None
    if resp.status_code == 404 and resp.headers.get("Content-Type", "").startswith("application/json"):
        return None
    if resp.status_code == 200:
        return str(resp.json()["address"])
    return urlsplit(via).netloc


def emulator_tls_address(via: str, dns_name: str, port: int = 443, timeout: float = 5.0) -> str | None:
    """The loopback address of ``dns_name``:``port``'s HTTPS listener in the emulator at ``via``,
    None when it has no HTTPS listener there; raises ProbeError when the emulator cannot say."""
    try:
        resp = requests.get(
            f"{via.rstrip('/')}{EMULATOR_TLS_ROUTE}", params={"host": dns_name, "port": str(port)}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise ProbeError(
            f"the emulator at {via} did not answer where {dns_name}:{port} is ({type(exc).__name__})"
        ) from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise ProbeError(
            f"the emulator at {via} cannot resolve {dns_name}:{port} (HTTP {resp.status_code} from "
            f"{EMULATOR_TLS_ROUTE}); expected an emulator with the faithful TLS extension"
        )
    return str(resp.json()["address"])


def https_get(
    dns_name: str,
    *,
    path: str = "/",
    expect: int = 200,
    deadline: float = 60.0,
    via: str | None = None,
    port: int = 443,
    timeout: float = 5.0,
) -> TlsObservation:
    """GET ``https://<dns_name><path>`` with a real TLS handshake until it answers ``expect`` or the deadline passes.

    The client offers TLS 1.0 to 1.3, so the version negotiated is the highest the server accepts;
    it sends SNI and ``Host`` as ``dns_name``. It does not validate the chain: what it records is the
    presented certificate's SHA-256 (of its DER), for the check to compare with the certificate the
    listener declares in ACM. ``via`` (an emulator's endpoint) resolves the name to the emulator's
    TLS socket for that listener (emulator/faithful/tls.py).
    """
    shown = f"https://{dns_name}{path}"
    obs = TlsObservation(url=safe_url(shown))
    started = time.monotonic()

    def once() -> TlsObservation:
        obs.attempts += 1
        obs.status, obs.reason, obs.error = None, "", ""
        try:
            address = emulator_tls_address(via, dns_name, port) if via else f"{dns_name}:{port}"
            if address is None:
                obs.error = f"no HTTPS listener on port {port}"
                return obs
            obs.address = address
            host, _, p = address.rpartition(":")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # identity: the fingerprint, below
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            with (
                socket.create_connection((host, int(p)), timeout=timeout) as raw,
                ctx.wrap_socket(raw, server_hostname=dns_name) as tls,
            ):
                obs.tls_version = str(tls.version() or "")
                obs.cipher = str((tls.cipher() or ("",))[0])
                der = tls.getpeercert(binary_form=True) or b""
                obs.certificate_sha256 = hashlib.sha256(der).hexdigest() if der else ""
                conn = http.client.HTTPConnection(dns_name, timeout=timeout)
                conn.sock = tls
                conn.request("GET", path, headers={"Host": dns_name, "Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                obs.status, obs.reason = resp.status, resp.reason or ""
                obs.headers = dict(resp.getheaders())
        except (OSError, http.client.HTTPException) as exc:
            obs.status, obs.error = None, f"{type(exc).__name__}: {exc}"[:200]
        obs.elapsed = round(time.monotonic() - started, 2)
        return obs

    return _until_expected(once, obs, expect, deadline, via)


Observation = TypeVar("Observation", bound=HttpObservation)


def _until_expected(
    once: Callable[[], Observation], obs: Observation, expect: int, deadline: float, via: str | None
) -> Observation:
    """Repeat ``once`` until it answers ``expect`` or ``deadline`` seconds pass (eventual consistency:
    targets becoming healthy); the last observation either way. When nothing answered through an
    emulator's endpoint ``via`` and that endpoint itself is gone, nothing was observed (ProbeError)."""
    retrying = Retrying(
        stop=stop_after_delay(deadline),
        wait=wait_exponential(multiplier=0.25, max=5),
        retry=retry_if_result(lambda o: o.status != expect),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else obs,
    )
    result: Observation = retrying(once)
    if result.status is None and via:
        try:
            probe_endpoint(via)
        except EndpointUnreachable as exc:
            raise ProbeError(f"could not observe {obs.url}: {exc}") from None
    return result


DNS_DISCOVERY_PATH = "/_faithful/dns"


def emulator_dns_server(endpoint_url: str, timeout: float = 5.0) -> tuple[str, int]:
    """Where the emulator at ``endpoint_url`` answers DNS for its RDS endpoints (UDP): as its
    ``GET /_faithful/dns`` says, which also holds when the endpoint is a proxy in front of it (the
    fault-injection self-tests); else the gateway's own host and port number, where the emulator
    listens by default (emulator/faithful/dns.py; the launcher keeps that port free for UDP too)."""
    parts = urlsplit(endpoint_url)
    default = (parts.hostname or "127.0.0.1", parts.port or 80)
    try:
        answer = requests.get(endpoint_url.rstrip("/") + DNS_DISCOVERY_PATH, timeout=timeout)
        if answer.status_code == 200:
            where = answer.json()
            return str(where["host"]), int(where["port"])
    except (requests.RequestException, ValueError, KeyError, TypeError):
        pass
    return default


def resolve(host: str, *, nameserver: tuple[str, int] | None = None, timeout: float = 5.0) -> list[str]:
    """The addresses ``host`` resolves to, sorted: through the system resolver (AWS), or by asking
    ``nameserver`` (host, UDP port: the emulator's DNS server) directly.

    [] when the name does not exist or has no address (a finding for the check); a resolver that
    does not answer raises ProbeError (the suite could not observe).
    """
    import socket

    import dns.exception
    import dns.resolver

    from conformance.inventory.base import ProbeError

    if nameserver is None:
        try:
            infos = socket.getaddrinfo(host, 3306, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                return []
            raise ProbeError(f"could not resolve {host}: {exc}") from None
        return sorted({str(info[4][0]) for info in infos})
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [nameserver[0]]
    resolver.port = nameserver[1]
    resolver.lifetime = timeout
    try:
        answer = resolver.resolve(host, "A", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise ProbeError(
            f"the DNS server at {nameserver[0]}:{nameserver[1]} gave no answer for {host}: {type(exc).__name__}"
        ) from None
    return sorted({rr.address for rr in answer})
