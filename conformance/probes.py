"""Bounded data-plane probes: real requests to the deployed platform, each with a deadline.

tenacity is used only here, for eventual consistency (a service that is still warming up),
with a stop, a wait and a reason; the last observation is kept for the failure message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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

    ``via`` sends the request to an emulator's endpoint with ``Host: <dns_name>``, which is how
    the embedded emulator's load balancer data plane is reached (there is no DNS for it).
    """
    shown = f"http://{dns_name}{path}"
    url, headers = (f"{via.rstrip('/')}{path}", {"Host": dns_name}) if via else (shown, {})
    obs = HttpObservation(url=safe_url(shown))
    started = time.monotonic()

    def once() -> HttpObservation:
        obs.attempts += 1
        try:
            resp = requests.get(url, headers=headers, timeout=timeout, allow_redirects=False)
            obs.status, obs.reason, obs.error = resp.status_code, resp.reason or "", ""
            obs.headers = dict(resp.headers)
        except requests.RequestException as exc:
            obs.status, obs.reason, obs.error = None, "", type(exc).__name__
        obs.elapsed = round(time.monotonic() - started, 2)
        return obs

    retrying = Retrying(
        stop=stop_after_delay(deadline),
        wait=wait_exponential(multiplier=0.25, max=5),
        retry=retry_if_result(lambda o: o.status != expect),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else obs,
    )
    result: HttpObservation = retrying(once)
    if result.status is None and via:
        # no answer through an emulator's endpoint: when the endpoint itself is gone, nothing was observed
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
