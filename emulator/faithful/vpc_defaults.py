"""VPC defaults and address rules: the default security group, secondary CIDRs, subnet ranges.

Gaps measured in MiniStack 1.5.33, each closed here:

* A new VPC's default security group has only the allow-all egress rule. On AWS it also
  admits all traffic from itself (one ingress rule whose source is the group), so a check
  that the default group "has no rules" saw half the truth. Both the API and the
  CloudFormation paths now create that ingress rule.
* ``AssociateVpcCidrBlock`` is an unknown action. It now associates a secondary IPv4 CIDR
  (refusing one that overlaps the VPC's CIDRs), adds its ``local`` route to every route
  table of the VPC, and ``DescribeVpcs`` lists it in ``CidrBlockAssociationSet``.
* ``CreateSubnet`` (API and ``AWS::EC2::Subnet``) accepts any CIDR. AWS refuses one outside
  the VPC's CIDRs (``InvalidSubnet.Range``) and one overlapping another subnet of the VPC
  (``InvalidSubnet.Conflict``); so does the emulator now.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from typing import Any

from faithful._ministack import resource_handlers

log = logging.getLogger("faithful.vpc_defaults")


def _self_ingress(group_id: str, account: str) -> dict[str, Any]:
    return {
        "IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": group_id, "UserId": account}],
    }  # fmt: skip


def install() -> None:
    from ministack.services import ec2
    from ministack.services.cloudformation import provisioners as prov

    handlers = resource_handlers()

    # ---------------------------------------------------------------- default security group
    def _add_default_ingress(vpc_id: str) -> None:
        vpc = ec2._vpcs.get(vpc_id) or {}
        group = ec2._security_groups.get(vpc.get("DefaultSecurityGroupId", ""))
        if group is not None and not group.get("IpPermissions"):
            group["IpPermissions"] = [_self_ingress(group["GroupId"], group.get("OwnerId", ""))]

    original_create_vpc = ec2._create_vpc

    def create_vpc(params):
        before = set(ec2._vpcs)
        result = original_create_vpc(params)
        for vpc_id in set(ec2._vpcs) - before:
            _add_default_ingress(vpc_id)
        return result

    ec2._create_vpc = create_vpc
    ec2._ACTION_MAP["CreateVpc"] = create_vpc

    vpc_handler = handlers["AWS::EC2::VPC"]
    original_vpc_create = vpc_handler["create"]

    def vpc_create(logical_id, props, stack_name):
        physical_id, attrs = original_vpc_create(logical_id, props, stack_name)
        _add_default_ingress(physical_id)
        return physical_id, attrs

    vpc_handler["create"] = vpc_create
    prov._ec2_vpc_create = vpc_create

    # ---------------------------------------------------------------- secondary CIDRs
    def _cidrs(vpc: dict) -> list[ipaddress.IPv4Network]:
        """The VPC's IPv4 blocks (IPv6 blocks are associated through other parameters)."""
        nets = [ipaddress.IPv4Network(vpc["CidrBlock"], strict=False)]
        nets += [ipaddress.IPv4Network(c, strict=False) for _, c in vpc.get("_secondary_cidrs", [])]
        return nets

    def associate_vpc_cidr_block(params):
        vpc_id, cidr = ec2._p(params, "VpcId"), ec2._p(params, "CidrBlock")
        vpc = ec2._vpcs.get(vpc_id)
        if vpc is None:
            return ec2._error("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist", 400)
        try:
            net = ipaddress.IPv4Network(cidr)  # the IPv4 block: an IPv6 one has parameters of its own
        except ValueError:
            return ec2._error("InvalidParameterValue", f"Value ({cidr}) for parameter cidrBlock is invalid.", 400)
        if not 16 <= net.prefixlen <= 28:
            return ec2._error("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.", 400)
        if any(net.overlaps(other) for other in _cidrs(vpc)):
            return ec2._error(
                "InvalidVpc.Range", f"The CIDR '{cidr}' conflicts with another CIDR block of the VPC.", 400
            )
        assoc_id = f"vpc-cidr-assoc-{secrets.token_hex(9)[:17]}"
        vpc.setdefault("_secondary_cidrs", []).append((assoc_id, str(net)))
        for table in ec2._route_tables.values():
            if table.get("VpcId") == vpc_id:
                table.setdefault("Routes", []).append(
                    {"DestinationCidrBlock": str(net), "GatewayId": "local", "State": "active",
                     "Origin": "CreateRouteTable"}
                )  # fmt: skip
        inner = (
            f"<vpcId>{vpc_id}</vpcId><cidrBlockAssociation><associationId>{assoc_id}</associationId>"
            f"<cidrBlock>{net}</cidrBlock><cidrBlockState><state>associating</state></cidrBlockState>"
            "</cidrBlockAssociation>"
        )
        return ec2._xml(200, "AssociateVpcCidrBlockResponse", inner)

    original_vpc_fields_xml = ec2._vpc_fields_xml

    def vpc_fields_xml(vpc, tag="item"):
        text = original_vpc_fields_xml(vpc, tag)
        extra = "".join(
            f"<item><cidrBlock>{cidr}</cidrBlock><associationId>{assoc_id}</associationId>"
            "<cidrBlockState><state>associated</state></cidrBlockState></item>"
            for assoc_id, cidr in vpc.get("_secondary_cidrs", [])
        )
        return text.replace("</cidrBlockAssociationSet>", extra + "</cidrBlockAssociationSet>", 1)

    ec2._vpc_fields_xml = vpc_fields_xml
    ec2._ACTION_MAP["AssociateVpcCidrBlock"] = associate_vpc_cidr_block

    # ---------------------------------------------------------------- subnet ranges
    def _subnet_problem(vpc_id: str, cidr: str) -> tuple[str, str] | None:
        vpc = ec2._vpcs.get(vpc_id)
        if vpc is None:
            return None  # the original reports unknown VPCs its own way
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            return "InvalidParameterValue", f"Value ({cidr}) for parameter cidrBlock is invalid."
        if not (isinstance(net, ipaddress.IPv4Network) and any(net.subnet_of(v) for v in _cidrs(vpc))):
            return "InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid."
        for subnet in ec2._subnets.values():
            if subnet.get("VpcId") == vpc_id and net.overlaps(ipaddress.ip_network(subnet["CidrBlock"], strict=False)):
                return "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
        return None

    original_create_subnet = ec2._create_subnet

    def create_subnet(params):
        problem = _subnet_problem(ec2._p(params, "VpcId"), ec2._p(params, "CidrBlock"))
        if problem:
            return ec2._error(problem[0], problem[1], 400)
        return original_create_subnet(params)

    ec2._create_subnet = create_subnet
    ec2._ACTION_MAP["CreateSubnet"] = create_subnet

    subnet_handler = handlers["AWS::EC2::Subnet"]
    original_subnet_create = subnet_handler["create"]

    def subnet_create(logical_id, props, stack_name):
        problem = _subnet_problem(str(props.get("VpcId", "")), str(props.get("CidrBlock", "")))
        if problem:
            raise ValueError(f"{problem[1]} ({problem[0]})")
        return original_subnet_create(logical_id, props, stack_name)

    subnet_handler["create"] = subnet_create
    prov._ec2_subnet_create = subnet_create
    log.info("vpc_defaults extension installed")
