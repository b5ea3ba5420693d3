"""HTTPS listeners: TLS termination with the imported certificate, and DescribeSSLPolicies.

Gaps in MiniStack 1.5.33 that this closes (measured, see docs/emulator.md "TLS listeners"):

1. An HTTPS listener stores its certificate and ``SslPolicy`` but nothing terminates TLS:
   the data plane is plain HTTP on the gateway port. Here each HTTPS listener gets a TLS
   socket on 127.0.0.1 (a free port, started when first resolved) that presents the
   listener's default certificate as imported into ACM (body, chain and private key from
   ACM's own store), accepts only the protocol versions of the listener's security policy
   (read at every handshake, so a ModifyListener takes effect at once), and hands each
   request to the load balancer's data plane as that listener (``Host: <dns>:<port>``): its
   rules, its default action, ``X-Forwarded-Proto: https``.
2. ``DescribeSSLPolicies`` was an unknown action. Here it answers AWS's definitions of the
   policies below (protocols and ciphers with priorities, as AWS publishes them), by name,
   and ``SSLPolicyNotFound`` for any other name.
3. ``CreateListener`` and ``ModifyListener`` (and ``AWS::ElasticLoadBalancingV2::Listener``)
   accepted any certificate ARN, one that ACM never held included, so a stack with a placeholder
   certificate deployed and only failed at the TLS handshake. AWS refuses with
   ``CertificateNotFound`` (HTTP 400, ``Certificate '<arn>' not found``) unless the ARN names an
   ACM certificate of the caller's account and region that is ``ISSUED`` (imported ones are).
   Here the same, on the API and in CloudFormation (the listener fails CREATE naming the
   certificate and the stack rolls back).
4. ``AddListenerCertificates``, ``DescribeListenerCertificates`` and
   ``RemoveListenerCertificates`` were unknown actions (``InvalidAction``). Here a listener keeps
   a certificate list besides its default one: Add refuses as in 3, Describe lists the default
   (``IsDefault`` true) then the added ones, Remove drops added ones and refuses the default
   (``OperationNotPermitted``, as AWS: "To replace the default certificate, call ModifyListener").
   The TLS socket presents the default certificate only (SNI over the list is not modelled).
5. The data plane found a load balancer by ``Host`` only among those of the request's account and
   Region, which for an unsigned request is the default ones: a load balancer in another Region
   (``<name>-<id>.us-east-2.elb.amazonaws.com``) never answered its own DNS name, on HTTP or through
   its TLS socket. Its DNS name is public and global, as on AWS: here any client reaches a load
   balancer of any account and Region by it, served in that load balancer's own account and Region.

Reaching a listener (the emulator's stand-in for the load balancer's DNS name and port):
``GET /_faithful/tls/address?host=<load balancer DNS name>&port=<listener port>`` answers
``{"address": "127.0.0.1:<port>"}``, 404 when no HTTPS listener of that load balancer is on that
port. The suite's HTTPS probe asks this in emulated runs and then connects with SNI and
``Host`` set to the load balancer's DNS name, as a client of the real load balancer does.
``GET /_faithful/http/address?host=<load balancer DNS name>&port=<listener port>`` answers the same
for a plain-HTTP listener: the gateway's own address, where the data plane picks the load balancer
by ``Host``; 404 when no HTTP listener of that load balancer is on that port. A client that reaches
the gateway through a proxy on another port (one that rewrites ``Host`` to its upstream, as the
fault-injection proxy does) asks it there and connects to the data plane directly.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import http.client
import json
import logging
import os
import socket
import socketserver
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as _esc

log = logging.getLogger("faithful.tls")

ROUTE = "/_faithful/tls/address"
HTTP_ROUTE = "/_faithful/http/address"
THREAD_PREFIX = "faithful-tls"

_TLS13_CIPHERS = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
_TLS12_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "AES128-GCM-SHA256", "AES128-SHA256",
    "AES256-GCM-SHA384", "AES256-SHA256",
]  # fmt: skip
_2016_08_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA", "AES256-GCM-SHA384",
    "AES256-SHA256", "AES256-SHA",
]  # fmt: skip
# AWS's definitions (Elastic Load Balancing's "Security policies for your Application Load
# Balancer"): protocols offered, ciphers in priority order, load balancer types.
POLICIES: dict[str, dict[str, Any]] = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06": {
        "SslProtocols": ["TLSv1.2", "TLSv1.3"],
        "Ciphers": _TLS13_CIPHERS + _TLS12_CIPHERS,
        "SupportedLoadBalancerTypes": ["application", "network"],
    },
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": {
        "SslProtocols": ["TLSv1.2", "TLSv1.3"],
        "Ciphers": _TLS13_CIPHERS + [c for c in _TLS12_CIPHERS if "GCM" in c and c.startswith("ECDHE")],
        "SupportedLoadBalancerTypes": ["application", "network"],
    },
    "ELBSecurityPolicy-TLS-1-2-2017-01": {
        "SslProtocols": ["TLSv1.2"],
        "Ciphers": _TLS12_CIPHERS,
        "SupportedLoadBalancerTypes": ["application", "network"],
    },
    "ELBSecurityPolicy-2016-08": {
        "SslProtocols": ["TLSv1", "TLSv1.1", "TLSv1.2"],
        "Ciphers": _2016_08_CIPHERS,
        "SupportedLoadBalancerTypes": ["application", "network"],
    },
}
_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}

_lock = threading.RLock()
_servers: dict[tuple[str, int], _TlsServer] = {}  # (load balancer DNS name, listener port) -> server
_contexts: dict[str, ssl.SSLContext] = {}  # sha256 of (certificate, key, policy) -> context
_installed = False


def _policy_xml(name: str, policy: dict[str, Any]) -> str:
    protocols = "".join(f"<member>{p}</member>" for p in policy["SslProtocols"])
    ciphers = "".join(
        f"<member><Name>{c}</Name><Priority>{i}</Priority></member>" for i, c in enumerate(policy["Ciphers"], 1)
    )
    types = "".join(f"<member>{t}</member>" for t in policy["SupportedLoadBalancerTypes"])
    return (
        f"<member><SslProtocols>{protocols}</SslProtocols><Ciphers>{ciphers}</Ciphers>"
        f"<Name>{_esc(name)}</Name><SupportedLoadBalancerTypes>{types}</SupportedLoadBalancerTypes></member>"
    )


def _describe_ssl_policies(params: dict) -> tuple:
    from ministack.services import alb

    names, i = [], 1
    while alb._p(params, f"Names.member.{i}"):
        names.append(alb._p(params, f"Names.member.{i}"))
        i += 1
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        return alb._error("SSLPolicyNotFound", f"SSL policy '{unknown[0]}' not found", 400)
    chosen = names or sorted(POLICIES)
    members = "".join(_policy_xml(n, POLICIES[n]) for n in chosen)
    return alb._xml(200, "DescribeSSLPolicies", f"<SslPolicies>{members}</SslPolicies>")


# ---------------------------------------------------------------------------
# Certificates a listener may use
# ---------------------------------------------------------------------------

CERTIFICATE_NOT_FOUND = "CertificateNotFound"


def certificate_problem(arn: str) -> str:
    """AWS's message when a listener may not use certificate ``arn`` ('' when it may).

    Elastic Load Balancing takes an ACM certificate of the caller's account and region that ACM
    has issued or that was imported (both ``ISSUED``); any other ARN (a placeholder, a deleted
    certificate, one of another region or account, one still pending validation) is
    ``CertificateNotFound``.
    """
    from ministack.core.responses import get_account_id, get_region
    from ministack.services import acm

    account, region = _arn_scope(arn)
    cert = None
    if arn.startswith("arn:aws:acm:") and (account, region) == (get_account_id(), get_region()):
        cert = acm._certificates.get(arn)
    if not cert or cert.get("Status") != "ISSUED":
        return f"Certificate '{arn}' not found"
    return ""


# listener ARN -> the certificates added with AddListenerCertificates (the default one apart)
_added: dict[str, list[str]] = {}


def _listener_certificates_xml(arns: list[str], default: str = "") -> str:
    members = "".join(
        f"<member><CertificateArn>{_esc(a)}</CertificateArn><IsDefault>{str(a == default).lower()}</IsDefault></member>"
        for a in arns
    )
    return f"<Certificates>{members}</Certificates>"


def _add_listener_certificates(params: dict) -> tuple:
    from ministack.services import alb

    arn = alb._p(params, "ListenerArn")
    if arn not in alb._listeners:
        return alb._error("ListenerNotFound", f"Listener '{arn}' not found", 400)
    certs = [str(c) for c in alb._parse_certificate_arns(params)]
    for cert in certs:
        if why := certificate_problem(cert):
            return alb._error(CERTIFICATE_NOT_FOUND, why, 400)
    added = _added.setdefault(arn, [])
    added.extend(c for c in certs if c not in added)
    return alb._xml(200, "AddListenerCertificates", _listener_certificates_xml(certs))


def _describe_listener_certificates(params: dict) -> tuple:
    from ministack.services import alb

    arn = alb._p(params, "ListenerArn")
    listener = alb._listeners.get(arn)
    if listener is None:
        return alb._error("ListenerNotFound", f"Listener '{arn}' not found", 400)
    default = (listener.get("Certificates") or [""])[0]
    arns = ([default] if default else []) + [c for c in _added.get(arn, []) if c != default]
    return alb._xml(200, "DescribeListenerCertificates", _listener_certificates_xml(arns, default))


def _remove_listener_certificates(params: dict) -> tuple:
    from ministack.services import alb

    arn = alb._p(params, "ListenerArn")
    listener = alb._listeners.get(arn)
    if listener is None:
        return alb._error("ListenerNotFound", f"Listener '{arn}' not found", 400)
    certs = [str(c) for c in alb._parse_certificate_arns(params)]
    if (listener.get("Certificates") or [""])[0] in certs:
        return alb._error(
            "OperationNotPermitted",
            "The default certificate of a listener cannot be removed; to replace it, call ModifyListener",
            400,
        )
    _added[arn] = [c for c in _added.get(arn, []) if c not in certs]
    return alb._empty("RemoveListenerCertificates")


def _refuse_unknown_certificates(handler: Any) -> Any:
    """An ELBv2 action handler that first answers CertificateNotFound for a certificate ELB may not use."""
    from ministack.services import alb

    def checked(params: dict) -> Any:
        for arn in alb._parse_certificate_arns(params):
            if why := certificate_problem(str(arn)):
                return alb._error(CERTIFICATE_NOT_FOUND, why, 400)
        return handler(params)

    return checked


# ---------------------------------------------------------------------------
# TLS termination
# ---------------------------------------------------------------------------


def _arn_scope(arn: str) -> tuple[str, str]:
    """(account, region) of an ARN."""
    parts = arn.split(":")
    return (parts[4], parts[3]) if len(parts) > 5 else ("", "")


def _listener(dns: str, port: int) -> tuple[dict, dict] | None:
    """The (load balancer, listener) serving ``dns``:``port`` now, or None."""
    from ministack.services import alb

    for lb in list(alb._lbs._data.values()):
        if str(lb.get("DNSName", "")).lower() != dns.lower():
            continue
        for listener in list(alb._listeners._data.values()):
            if listener.get("LoadBalancerArn") == lb["LoadBalancerArn"] and int(listener.get("Port", 0)) == port:
                return lb, listener
    return None


def _context(listener: dict) -> ssl.SSLContext | None:
    """The server context of an HTTPS listener: its certificate from ACM, its policy's versions."""
    from ministack.services import acm

    if listener.get("Protocol") != "HTTPS" or not listener.get("Certificates"):
        return None
    policy = POLICIES.get(str(listener.get("SslPolicy", "")))
    arn = listener["Certificates"][0]
    account, region = _arn_scope(arn)
    cert = acm._certificates.get_scoped(account, region, arn)
    if policy is None or not cert or not cert.get("_private_key"):
        return None
    body, chain, key = cert.get("_pem_body", ""), cert.get("_pem_chain", ""), cert["_private_key"]
    versions = [_VERSIONS[p] for p in policy["SslProtocols"]]
    digest = hashlib.sha256("\0".join([body, chain, key, *policy["SslProtocols"]]).encode()).hexdigest()
    with _lock:
        if digest in _contexts:
            return _contexts[digest]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version, ctx.maximum_version = min(versions), max(versions)
        if min(versions) < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # a legacy policy offers what it names, as AWS does
        with tempfile.TemporaryDirectory(prefix="faithful-tls-") as tmp:
            path = os.path.join(tmp, "listener.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(body.strip() + "\n" + (chain.strip() + "\n" if chain.strip() else "") + key.strip() + "\n")
            ctx.load_cert_chain(path)
        _contexts[digest] = ctx
        return ctx


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "faithful-tls/1"
    sys_version = ""
    timeout = 10
    server: _TlsServer

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        # the load balancer's data plane picks the listener by the Host header's port
        headers["Host"] = f"{self.server.dns}:{self.server.listener_port}"
        conn = http.client.HTTPConnection("127.0.0.1", self.server.gateway_port, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _relay

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("tls %s:%s: " + format, self.server.dns, self.server.listener_port, *args)


class _TlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, dns: str, listener_port: int, gateway_port: int) -> None:
        self.dns, self.listener_port, self.gateway_port = dns, listener_port, gateway_port
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def address(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"{host}:{port}"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        found = _listener(self.dns, self.listener_port)
        ctx = _context(found[1]) if found else None
        if ctx is None:  # the listener is gone, or no longer HTTPS: nothing answers on this port
            sock.close()
            raise OSError("no HTTPS listener")
        sock.settimeout(10)
        return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:  # e.g. a client offering only versions the policy refuses
            log.debug("tls %s:%s handshake refused: %s", self.dns, self.listener_port, exc)
            return
        super().finish_request(request, client_address)


def address(dns: str, port: int) -> str | None:
    """The loopback address of the TLS socket of ``dns``:``port``'s HTTPS listener (started on first use)."""
    found = _listener(dns, port)
    if found is None or found[1].get("Protocol") != "HTTPS":
        return None
    key = (dns.lower(), port)
    with _lock:
        server = _servers.get(key)
        if server is None:
            server = _TlsServer(dns, port, int(os.environ.get("GATEWAY_PORT", "4566")))
            threading.Thread(target=server.serve_forever, name=f"{THREAD_PREFIX} {dns}:{port}", daemon=True).start()
            _servers[key] = server
        return server.address


def _stop_all() -> None:
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
        _contexts.clear()
    for server in servers:
        with contextlib.suppress(Exception):
            server.shutdown()
            server.server_close()


def http_address(dns: str, port: int) -> str | None:
    """Where ``dns``:``port``'s plain-HTTP listener answers: the gateway (its data plane picks the load
    balancer by ``Host``), None when that load balancer has no HTTP listener on that port."""
    found = _listener(dns, port)
    if found is None or found[1].get("Protocol") != "HTTP":
        return None
    return f"{os.environ.get('BIND_HOST') or '127.0.0.1'}:{int(os.environ.get('GATEWAY_PORT', '4566'))}"


def _route(method: str, path: str, query: dict) -> tuple:
    def reply(status: int, payload: dict) -> tuple:
        return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()

    route, protocol, default_port = (HTTP_ROUTE, "HTTP", "80") if path == HTTP_ROUTE else (ROUTE, "HTTPS", "443")
    if method != "GET":
        return reply(405, {"message": f"{method} {route} is not supported; use GET"})
    host = (query.get("host") or [""])[0]
    port_text = (query.get("port") or [default_port])[0]
    if not host or not port_text.isdigit():
        return reply(400, {"message": "give host=<load balancer DNS name> and port=<listener port>"})
    found = (http_address if protocol == "HTTP" else address)(host, int(port_text))
    if found is None:
        return reply(404, {"message": f"no {protocol} listener of a load balancer named {host} on port {port_text}"})
    return reply(200, {"address": found})


def _lb_by_dns(dns: str) -> dict | None:
    """The load balancer whose DNS name is ``dns``, in whichever account and Region holds it."""
    from ministack.services import alb

    hostname = dns.split(":")[0].lower()
    for lb in list(alb._lbs._data.values()):
        if str(lb.get("DNSName", "")).lower() == hostname:
            return lb
    return None


def _serve_every_region(alb: Any) -> None:
    """Gap 5: the data plane answers a load balancer of any account and Region by its DNS name.

    MiniStack looks the ``Host`` up among the load balancers of the request's scope, which for an
    unsigned request (every browser, curl, the probes) is the default account and Region: a load
    balancer created in us-east-2 (``<name>-<id>.us-east-2.elb.amazonaws.com``) was unknown to its
    own data plane, the request fell through to the control plane and no listener ever answered.
    AWS's DNS name is public and global; here the lookup spans every scope and the request is then
    served in the load balancer's own account and Region (its listeners, rules, target groups and
    access-log bucket live there)."""
    from ministack.core.responses import request_scope

    find_lb_for_host, dispatch_request = alb.find_lb_for_host, alb.dispatch_request

    def find_lb_for_host_anywhere(host: str) -> dict | None:
        return find_lb_for_host(host) or _lb_by_dns(host)

    async def dispatch_request_in_scope(lb: dict, *args: Any, **kwargs: Any) -> Any:
        account, region = _arn_scope(str(lb.get("LoadBalancerArn", "")))
        if not account or not region:
            return await dispatch_request(lb, *args, **kwargs)
        with request_scope(account, region):
            return await dispatch_request(lb, *args, **kwargs)

    alb.find_lb_for_host = find_lb_for_host_anywhere
    alb.dispatch_request = dispatch_request_in_scope


def install() -> None:
    global _installed
    if _installed:
        return
    from ministack import app
    from ministack.services import alb

    alb._ACTION_MAP["DescribeSSLPolicies"] = _describe_ssl_policies
    for action in ("CreateListener", "ModifyListener"):
        alb._ACTION_MAP[action] = _refuse_unknown_certificates(alb._ACTION_MAP[action])
    alb._ACTION_MAP["AddListenerCertificates"] = _add_listener_certificates
    alb._ACTION_MAP["DescribeListenerCertificates"] = _describe_listener_certificates
    alb._ACTION_MAP["RemoveListenerCertificates"] = _remove_listener_certificates
    from ministack.services.cloudformation import provisioners as prov

    listener_tls = prov._elbv2_listener_tls

    def _elbv2_listener_tls(listener: dict, props: dict) -> None:
        # called by the Listener's create and update handlers before anything is stored
        for entry in props.get("Certificates") or []:
            arn = entry.get("CertificateArn") if isinstance(entry, dict) else None
            if arn and (why := certificate_problem(str(arn))):
                raise ValueError(
                    f"{why} (Service: ElasticLoadBalancingV2, Status Code: 400, Error Code: {CERTIFICATE_NOT_FOUND})"
                )
        listener_tls(listener, props)

    prov._elbv2_listener_tls = _elbv2_listener_tls
    _serve_every_region(alb)
    original = app._handle_pre_body_request

    async def _handle_pre_body_request(method, path, headers, query_params, request_id):
        if path.startswith((ROUTE, HTTP_ROUTE)):
            query = query_params if isinstance(query_params, dict) else {}
            if not query:
                query = parse_qs(urlsplit(path).query)
            return _route(
                method, path.split("?", 1)[0], {k: v if isinstance(v, list) else [v] for k, v in query.items()}
            )
        return await original(method, path, headers, query_params, request_id)

    app._handle_pre_body_request = _handle_pre_body_request
    original_reset = getattr(alb, "reset", None)

    def reset() -> None:
        _stop_all()
        _added.clear()
        if original_reset is not None:
            original_reset()

    alb.reset = reset
    atexit.register(_stop_all)
    _installed = True
