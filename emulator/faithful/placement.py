"""Placement: a load balancer sits in its subnets' VPC; the AZ list answers the filters it is given.

Gaps in MiniStack 1.5.33 that this closes (measured against deploy/template.yaml):

1. Every load balancer reported ``VpcId: vpc-00000001`` (``CreateLoadBalancer`` has no VPC
   parameter on AWS: the VPC is the one of its subnets, and MiniStack fell back to a fixed
   placeholder). A check relating the load balancer to the stack's VPC saw a VPC that does
   not exist. Here ``elbv2`` replies report the VPC of the load balancer's subnets, read
   from EC2's store (kept as recorded when the subnets are unknown to EC2).
2. ``DescribeAvailabilityZones`` ignored ``ZoneNames``, ``ZoneIds`` and ``Filters`` and always
   listed all zones; on AWS they select, and an unknown zone name or id is
   ``InvalidParameterValue``. Here they select, with that error.

Already right and covered by ``test_placement.py``: subnets created with
``!Select [i, !GetAZs '']`` land in distinct AZs (``us-east-1a/b/c``), ``Fn::GetAZs``
agrees with ``DescribeAvailabilityZones``, and each subnet's ``AvailabilityZoneId`` is its
zone's ``ZoneId``. That each ``AvailabilityZones`` member of a load balancer names its own
subnet's AZ is ``lbzones.py``'s.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("faithful.placement")

_installed = False

_ITEM = re.compile(r"<item>.*?</item>", re.S)
_FILTER_TAGS = {
    "zone-name": "zoneName",
    "zone-id": "zoneId",
    "state": "zoneState",
    "region-name": "regionName",
    "zone-type": "zoneType",
    "group-name": "groupName",
    "opt-in-status": "optInStatus",
    "network-border-group": "networkBorderGroup",
}


def _tag(item: str, tag: str) -> str:
    m = re.search(rf"<{tag}>([^<]*)</{tag}>", item)
    return m.group(1).strip() if m else ""


def _wrap_lb_vpc() -> None:
    """Gap 1."""
    from ministack.services import alb, ec2

    original = alb._lb_xml

    def _lb_xml(lb):
        vpcs = [(ec2._subnets.get(s) or {}).get("VpcId") for s in lb.get("Subnets") or []]
        vpcs = [v for v in vpcs if v]
        if vpcs:
            lb["VpcId"] = vpcs[0]
        return original(lb)

    alb._lb_xml = _lb_xml


def _wrap_describe_zones() -> None:
    """Gap 2."""
    from ministack.services import ec2

    original = ec2._describe_availability_zones

    def _describe_availability_zones(p):
        status, headers, body = original(p)
        names = ec2._parse_member_list(p, "ZoneName")
        ids = ec2._parse_member_list(p, "ZoneId")
        filters = ec2._parse_filters(p)
        if status != 200 or not (names or ids or filters):
            return status, headers, body
        text = body.decode("utf-8")
        items = _ITEM.findall(text)
        known_names = {_tag(i, "zoneName") for i in items}
        known_ids = {_tag(i, "zoneId") for i in items}
        unknown = [n for n in names if n not in known_names] + [z for z in ids if z not in known_ids]
        if unknown:
            return ec2._error("InvalidParameterValue", f"Invalid availability zone: [{unknown[0]}]", 400)
        for name in filters:
            if name not in _FILTER_TAGS:
                return ec2._error("InvalidParameterValue", f"The filter '{name}' is invalid", 400)

        def keep(item: str) -> bool:
            if (names or ids) and not (_tag(item, "zoneName") in names or _tag(item, "zoneId") in ids):
                return False
            return all(
                any(ec2._glob_match(v, _tag(item, _FILTER_TAGS[name])) for v in values)
                for name, values in filters.items()
            )

        kept = "".join(i for i in items if keep(i))
        start, end = text.find("<availabilityZoneInfo>"), text.find("</availabilityZoneInfo>")
        if start < 0 or end < 0:
            return status, headers, body
        text = text[: start + len("<availabilityZoneInfo>")] + kept + text[end:]
        return status, headers, text.encode("utf-8")

    ec2._describe_availability_zones = _describe_availability_zones
    ec2._ACTION_MAP["DescribeAvailabilityZones"] = _describe_availability_zones


def install() -> None:
    global _installed
    if _installed:
        return
    _wrap_lb_vpc()
    _wrap_describe_zones()
    _installed = True
    log.info("placement extension installed")
