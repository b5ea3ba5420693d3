"""EC2: the network interfaces AWS creates for the database, the load balancer, NAT gateways and instances.

On AWS every resource that sits in a VPC does so through elastic network interfaces, and
``ec2:DescribeNetworkInterfaces`` filtered by ``vpc-id`` lists them all with the security
groups they carry: that is where a security group reaches a running resource. Gaps in
MiniStack 1.5.33 (measured on the platform template; ``dataplane.py`` already gives awsvpc
tasks theirs, with the service's groups, replaced when the service's network configuration
changes and its tasks are replaced):

1. An RDS DB instance has no ENI. AWS: one per instance, in the subnet of the DB subnet group
   in the instance's Availability Zone, carrying the instance's VPC security groups (for an
   Aurora member, its cluster's, which ``ModifyDBCluster`` changes), ``Description``
   ``RDSNetworkInterface``, ``RequesterId`` ``amazon-rds``, requester-managed, attached with
   ``InstanceOwnerId`` ``amazon-rds``.
2. A load balancer has no ENI. AWS: one per subnet it is enabled in, carrying its security
   groups (``SetSecurityGroups`` changes them), ``Description`` ``ELB app/<name>/<id>``
   (``net/`` for a network load balancer), ``RequesterId`` ``amazon-elb``, requester-managed,
   attached with ``InstanceOwnerId`` ``amazon-elb``.
3. A NAT gateway names an ENI in ``NatGatewayAddresses`` that does not exist. AWS:
   ``InterfaceType`` ``nat_gateway``, ``Description`` ``Interface for NAT Gateway <id>``, no
   security group, requester-managed.
4. ``RunInstances`` creates no ENI. AWS: the instance's primary interface (device index 0) in
   its subnet, carrying its security groups, attached to the instance.
5. An interface VPC endpoint has no ENI. AWS: one per subnet of the endpoint, ``InterfaceType``
   ``vpc_endpoint``, ``Description`` ``VPC Endpoint Interface <vpce-id>``, requester-managed,
   carrying the endpoint's security groups (``ModifyVpcEndpoint`` changes them); the ids are
   the endpoint's ``NetworkInterfaceIds`` (``vpce.py``).
6. ``DescribeNetworkInterfaces`` rendered neither ``RequesterId`` nor the attachment's
   ``InstanceOwnerId``, the fields that tell who owns an interface.

The interfaces are derived from their owners whenever ``DescribeNetworkInterfaces`` is
answered (so a change of groups, subnets or an owner's deletion shows at once, as on AWS a
moment later), with stable ids, addresses and attachment ids while their owner lives.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from xml.sax.saxutils import escape as _esc

log = logging.getLogger("faithful.enis")

OWNER = "_faithful_owner"  # marks the interfaces this module derives (never rendered)
_installed = False


def _eni_id(owner: str) -> str:
    return "eni-" + hashlib.sha256(owner.encode()).hexdigest()[:17]


def _mac(owner: str) -> str:
    digest = hashlib.sha256(("mac" + owner).encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def _groups(ec2: Any, ids: list[str]) -> list[dict[str, str]]:
    return [{"GroupId": g, "GroupName": (ec2._security_groups.get(g) or {}).get("GroupName", g)} for g in ids if g]


def _wanted(ec2: Any) -> dict[str, dict[str, Any]]:
    """Owner key → the interface's owner-given fields, for every owner in the request's account and region."""
    from ministack.services import alb, rds

    wanted: dict[str, dict[str, Any]] = {}
    # 1. RDS DB instances (Aurora members carry their cluster's groups)
    for inst in list(rds._instances.values()):
        if str(inst.get("DBInstanceStatus", "available")) in ("deleting", "deleted"):
            continue
        group = inst.get("DBSubnetGroup") or {}
        subnets = [s.get("SubnetIdentifier") for s in group.get("Subnets", []) if s.get("SubnetIdentifier")]
        if not subnets:
            continue
        zone = inst.get("AvailabilityZone")
        in_zone = [
            s.get("SubnetIdentifier")
            for s in group.get("Subnets", [])
            if (s.get("SubnetAvailabilityZone") or {}).get("Name") == zone
        ]
        cluster = rds._clusters.get(inst.get("DBClusterIdentifier") or "") or {}
        vpc_groups = cluster.get("VpcSecurityGroups") or inst.get("VpcSecurityGroups") or []
        wanted[f"rds:{inst.get('DBInstanceIdentifier')}"] = {
            "SubnetId": (in_zone or subnets)[0],
            "Description": "RDSNetworkInterface",
            "RequesterId": "amazon-rds",
            "RequesterManaged": True,
            "InterfaceType": "interface",
            "group_ids": [g.get("VpcSecurityGroupId", "") for g in vpc_groups],
            "attachment": {"InstanceOwnerId": "amazon-rds", "DeviceIndex": 1},
        }
    # 2. load balancers: one interface per enabled subnet
    for lb in list(alb._lbs.values()):
        state = lb.get("State")
        if (state.get("Code") if isinstance(state, dict) else state) == "failed":
            continue
        tail = str(lb.get("LoadBalancerArn", "")).split(":loadbalancer/", 1)[-1]
        for subnet in lb.get("Subnets") or []:
            wanted[f"elb:{lb.get('LoadBalancerArn')}:{subnet}"] = {
                "SubnetId": subnet,
                "Description": f"ELB {tail}",
                "RequesterId": "amazon-elb",
                "RequesterManaged": True,
                "InterfaceType": "interface",
                "group_ids": list(lb.get("SecurityGroups") or []),
                "attachment": {"InstanceOwnerId": "amazon-elb", "DeviceIndex": 1},
            }
    # 3. NAT gateways: the interface their addresses already name
    for nat in list(ec2._nat_gateways.values()):
        if nat.get("State") not in ("pending", "available"):
            continue
        for address in nat.get("NatGatewayAddresses") or []:
            if address.get("NetworkInterfaceId"):
                wanted[f"nat:{nat.get('NatGatewayId')}"] = {
                    "id": address["NetworkInterfaceId"],
                    "ip": address.get("PrivateIp"),
                    "SubnetId": nat.get("SubnetId"),
                    "Description": f"Interface for NAT Gateway {nat.get('NatGatewayId')}",
                    "RequesterManaged": True,
                    "InterfaceType": "nat_gateway",
                    "group_ids": [],
                    "attachment": None,
                }
                break
    # 4. instances: the primary interface
    for inst in list(ec2._instances.values()):
        if (inst.get("State") or {}).get("Name") in ("terminated", "shutting-down") or not inst.get("SubnetId"):
            continue
        wanted[f"ec2:{inst.get('InstanceId')}"] = {
            "ip": inst.get("PrivateIpAddress"),
            "SubnetId": inst["SubnetId"],
            "Description": "",
            "RequesterManaged": False,
            "InterfaceType": "interface",
            "group_ids": [g.get("GroupId", "") for g in inst.get("SecurityGroups") or []],
            "attachment": {
                "InstanceId": inst.get("InstanceId"),
                "InstanceOwnerId": ec2.get_account_id(),
                "DeviceIndex": 0,
            },
        }
    # 5. interface VPC endpoints: one interface per subnet, carrying the endpoint's groups (vpce.py)
    from .vpce import interface_eni_owner

    for endpoint in list(ec2._vpc_endpoints.values()):
        if endpoint.get("VpcEndpointType") != "Interface" or endpoint.get("State") != "available":
            continue
        for subnet in endpoint.get("SubnetIds") or []:
            wanted[interface_eni_owner(endpoint["VpcEndpointId"], subnet)] = {
                "SubnetId": subnet,
                "Description": f"VPC Endpoint Interface {endpoint['VpcEndpointId']}",
                "RequesterManaged": True,
                "InterfaceType": "vpc_endpoint",
                "group_ids": list(endpoint.get("SecurityGroupIds") or []),
                "attachment": None,
            }
    return wanted


def sync() -> None:
    """Bring the derived interfaces of the request's account and region in line with their owners."""
    from ministack.services import ec2

    from . import dataplane

    account, region = ec2.get_account_id(), ec2.get_region()
    wanted = _wanted(ec2)
    ids = {owner: fields.pop("id", None) or _eni_id(owner) for owner, fields in wanted.items()}
    for eni_id, eni in list(ec2._network_interfaces.items()):
        if eni.get(OWNER) and eni.get(OWNER) not in wanted:
            ec2._network_interfaces.pop(eni_id, None)
    for owner, fields in wanted.items():
        subnet = ec2._subnets.get(fields["SubnetId"]) or {}
        if not subnet.get("VpcId"):
            continue
        eni_id = ids[owner]
        current = ec2._network_interfaces.get(eni_id)
        if current is not None and not current.get(OWNER):
            continue  # an interface someone else made (e.g. a task's): never overwritten
        ip = (current or {}).get("PrivateIpAddress") or fields.pop("ip", None)
        fields.pop("ip", None)
        if not ip:
            ip = dataplane._free_ip(ec2, account, region, subnet, subnet["VpcId"])
            if ip is None:
                log.warning("subnet %s is full: %s gets no network interface", subnet.get("SubnetId"), owner)
                continue
        attachment = fields.pop("attachment")
        eni = {
            OWNER: owner,
            "NetworkInterfaceId": eni_id,
            "SubnetId": fields["SubnetId"],
            "VpcId": subnet["VpcId"],
            "AvailabilityZone": subnet.get("AvailabilityZone", f"{region}a"),
            "Description": fields["Description"],
            "OwnerId": account,
            "Status": "in-use",
            "PrivateIpAddress": ip,
            "PrivateDnsName": dataplane._private_dns(ip, region),
            "InterfaceType": fields["InterfaceType"],
            "SourceDestCheck": fields["InterfaceType"] != "nat_gateway",
            "MacAddress": (current or {}).get("MacAddress") or _mac(owner),
            "RequesterManaged": fields["RequesterManaged"],
            "Groups": _groups(ec2, fields["group_ids"]),
        }
        if fields.get("RequesterId"):
            eni["RequesterId"] = fields["RequesterId"]
        if attachment is not None:
            previous = (current or {}).get("Attachment") or {}
            eni["Attachment"] = {
                "AttachmentId": previous.get("AttachmentId") or "eni-attach-" + _eni_id(owner)[4:],
                "Status": "attached",
                "AttachTime": previous.get("AttachTime") or ec2._now_ts(),
                **attachment,
            }
        ec2._network_interfaces[eni_id] = eni


def _render_owner_fields(original: Any) -> Any:
    """Gap 6: ``requesterId`` and the attachment's ``instanceOwnerId`` in the XML EC2 answers with."""

    def render(eni: dict, tag: str = "item") -> str:
        xml: str = original(eni, tag)
        owner = (eni.get("Attachment") or {}).get("InstanceOwnerId")
        if owner:
            xml = xml.replace("</attachment>", f"<instanceOwnerId>{_esc(str(owner))}</instanceOwnerId></attachment>", 1)
        if eni.get("RequesterId"):
            head, sep, tail = xml.rpartition(f"</{tag}>")
            xml = head + f"<requesterId>{_esc(str(eni['RequesterId']))}</requesterId>" + sep + tail if sep else xml
        return xml

    return render


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from ministack.services import ec2

    describe = ec2._ACTION_MAP["DescribeNetworkInterfaces"]  # dataplane's (filters, unknown ids)

    def describe_network_interfaces(p: Any) -> Any:
        try:
            sync()
        except Exception:  # never fail the read for a derived interface
            log.exception("deriving network interfaces failed")
        return describe(p)

    ec2._ACTION_MAP["DescribeNetworkInterfaces"] = describe_network_interfaces
    ec2._eni_fields_xml = _render_owner_fields(ec2._eni_fields_xml)
