"""Load balancer placement: each subnet reported in its own availability zone.

Gap in MiniStack 1.5.33: ``elbv2`` replies (DescribeLoadBalancers, CreateLoadBalancer,
SetSubnets) put every subnet of a load balancer in ``<region>a``, so a load balancer spread
over three AZs looks like a single-AZ one. This rewrites each ``ZoneName`` of an
``AvailabilityZones`` member to the AZ of the subnet it names, read from EC2's own store.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("faithful.lbzones")

_PAIR = re.compile(rb"<ZoneName>([^<]*)</ZoneName><SubnetId>(subnet-[0-9a-zA-Z]+)</SubnetId>")


def install() -> None:
    from ministack.services import alb, ec2

    original = alb.handle_request

    def zone_of(match: re.Match[bytes]) -> bytes:
        subnet_id = match.group(2).decode()
        subnet = ec2._subnets.get(subnet_id) or {}
        zone = subnet.get("AvailabilityZone", match.group(1).decode())
        return b"<ZoneName>" + zone.encode() + b"</ZoneName><SubnetId>" + match.group(2) + b"</SubnetId>"

    async def handle_request(method, path, headers, body, query_params):
        status, reply_headers, reply = await original(method, path, headers, body, query_params)
        if isinstance(reply, bytes) and b"<ZoneName>" in reply:
            reply = _PAIR.sub(zone_of, reply)
        return status, reply_headers, reply

    alb.handle_request = handle_request
    log.info("load balancer zones installed")
