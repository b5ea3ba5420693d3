"""DNS for the RDS endpoints: a DNS server on 127.0.0.1 inside the emulator process (dnslib).

Gap in MiniStack 1.5.33: it reports cluster, reader and instance endpoints
(``<id>.cluster-<hash>.<region>.rds.amazonaws.com`` ...) that no resolver knows, so the suite's
one data-plane probe of the database (do the endpoints resolve only inside the VPC?) could not
run offline. On AWS, asked from outside the VPC, a cluster endpoint is a CNAME to its writer
instance's endpoint, the reader endpoint a CNAME to one of the readers (the writer when there
is none), and an instance endpoint an A record: the instance's private address in its subnet,
or its public address when it is publicly accessible. TTL 5 s.

This server answers exactly that over UDP, from the emulator's own records at the moment of
the query (a drift through the RDS API shows at once):

* the private address is a stable host of the subnet of the DB subnet group in the instance's
  availability zone (after the 4 addresses AWS reserves at the start of a subnet);
* a publicly accessible instance resolves to an address of 198.51.100.0/24 (TEST-NET-2,
  RFC 5737: the emulator owns no public address, and this one is outside every VPC);
* a name under ``rds.amazonaws.com`` that names nothing: NXDOMAIN; any other name: REFUSED
  (this is no recursive resolver).

It listens on UDP ``127.0.0.1:<FAITHFUL_DNS_PORT>``, the emulator's gateway port number unless
told otherwise (``python -m faithful --dns-port``); the launcher makes sure that port is free
for UDP as well (``emulator/launcher.py``). ``GET /_faithful/dns`` on the gateway says where it
listens, so a client that reaches the gateway through a proxy (another port) still finds it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

log = logging.getLogger("faithful.dns")

PORT_ENV = "FAITHFUL_DNS_PORT"
TTL = 5
ZONE = "rds.amazonaws.com"
PUBLIC = ipaddress.ip_network("198.51.100.0/24")
RESERVED_AT_START = 4  # AWS reserves the network address and the next three of every subnet

_server: list[DNSServer] = []
DISCOVERY_PATH = "/_faithful/dns"


def _stable(name: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % max(modulo, 1)


def _subnet_cidr(account: str, region: str, subnet_id: str) -> str | None:
    from ministack.services import ec2 as _ec2

    subnet = _ec2._subnets.get_scoped(account, region, subnet_id) or {}
    return subnet.get("CidrBlock")


def instance_address(account: str, region: str, instance: dict[str, Any]) -> str | None:
    """The address an instance endpoint resolves to from outside the VPC, as on AWS."""
    ident = str(instance.get("DBInstanceIdentifier", ""))
    if instance.get("PubliclyAccessible"):
        return str(PUBLIC[1 + _stable(ident, PUBLIC.num_addresses - 2)])
    zone = instance.get("AvailabilityZone")
    subnets = (instance.get("DBSubnetGroup") or {}).get("Subnets") or []
    chosen = [s for s in subnets if (s.get("SubnetAvailabilityZone") or {}).get("Name") == zone] or subnets
    for subnet in chosen:
        cidr = _subnet_cidr(account, region, str(subnet.get("SubnetIdentifier", "")))
        if cidr:
            net = ipaddress.ip_network(cidr, strict=False)
            usable = net.num_addresses - RESERVED_AT_START - 1  # and the broadcast address at the end
            return str(net[RESERVED_AT_START + _stable(ident, usable)])
    return None


def _address_of(instance: dict[str, Any]) -> str:
    endpoint = instance.get("Endpoint")
    return str(endpoint.get("Address", "")).lower() if isinstance(endpoint, dict) else ""


def lookup(name: str) -> list[tuple[str, str]] | None:
    """The answer chain for ``name`` as (type, value) pairs: CNAMEs then an A; None when nothing is named."""
    from ministack.services import rds as _rds

    name = name.rstrip(".").lower()
    instances = list(_rds._instances._data.items())
    for (account, region, _id), instance in instances:
        if _address_of(instance) == name:
            address = instance_address(account, region, instance)
            return [("A", address)] if address else []
    for (account, region, _id), cluster in list(_rds._clusters._data.items()):
        writer_endpoint = str(cluster.get("Endpoint", "")).lower()
        reader_endpoint = str(cluster.get("ReaderEndpoint", "")).lower()
        if name not in (writer_endpoint, reader_endpoint):
            continue
        members = cluster.get("DBClusterMembers") or []
        writers = [m["DBInstanceIdentifier"] for m in members if m.get("IsClusterWriter")]
        readers = sorted(m["DBInstanceIdentifier"] for m in members if not m.get("IsClusterWriter"))
        targets = writers if name == writer_endpoint else (readers or writers)
        for target in targets:
            instance = _rds._instances.get_scoped(account, region, target)
            if instance is not None and _address_of(instance):
                address = instance_address(account, region, instance)
                return [("CNAME", _address_of(instance))] + ([("A", address)] if address else [])
        return []
    return None


class RdsResolver(BaseResolver):
    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = request.q.qname
        name = str(qname).rstrip(".").lower()
        if not (name == ZONE or name.endswith("." + ZONE)):
            reply.header.rcode = RCODE.REFUSED
            return reply
        try:
            chain = lookup(name)
        except Exception:  # a record changing under the lookup: answer SERVFAIL, never crash the server
            log.exception("DNS lookup of %s failed", name)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if chain is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        owner = str(qname)
        for kind, value in chain:
            if kind == "CNAME":
                reply.add_answer(RR(owner, QTYPE.CNAME, rdata=CNAME(value + "."), ttl=TTL))
                owner = value + "."
            elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(owner, QTYPE.A, rdata=A(value), ttl=TTL))
        return reply


def install() -> None:
    if _server:
        return
    port = int(os.environ.get(PORT_ENV) or os.environ.get("GATEWAY_PORT") or 0)
    if not port:
        log.warning("no DNS port given (%s): RDS endpoints are not served", PORT_ENV)
        return
    quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False, logf=lambda _line: None)
    server = DNSServer(RdsResolver(), address="127.0.0.1", port=port, logger=quiet)  # UDP
    server.start_thread()
    _server.append(server)
    _wrap_app(port)
    log.info("DNS for RDS endpoints on udp 127.0.0.1:%d", port)


def _wrap_app(port: int) -> None:
    """``GET /_faithful/dns``: where the DNS server listens (UDP host and port), as JSON."""
    from ministack import app

    original = app._handle_pre_body_request

    async def _handle_pre_body_request(method: str, path: str, headers: Any, query_params: Any, request_id: str) -> Any:
        if path.rstrip("/") == DISCOVERY_PATH and method == "GET":
            body = json.dumps({"host": "127.0.0.1", "port": port, "protocol": "udp"}).encode()
            return 200, {"Content-Type": "application/json"}, body
        return await original(method, path, headers, query_params, request_id)

    app._handle_pre_body_request = _handle_pre_body_request
