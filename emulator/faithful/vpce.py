"""EC2: VPC endpoints as AWS describes them, their routes, and S3's prefix list ids.

Measured on the platform template deployed as dev against MiniStack 1.5.33 (its
``CreateVpcEndpoint`` / ``DescribeVpcEndpoints`` / ``ModifyVpcEndpoint`` and the
``AWS::EC2::VPCEndpoint`` provisioner exist; the gaps):

1. ``DescribeVpcEndpoints`` rendered neither ``PrivateDnsEnabled``, ``Groups``,
   ``PolicyDocument``, ``NetworkInterfaceIds``, ``DnsEntries``, ``RequesterManaged``,
   ``IpAddressType`` nor ``CreationTimestamp`` (the provisioner stored some of them), and it
   ignored ``Filters``: ``vpc-id`` returned every endpoint of the account and Region.
2. ``CreateVpcEndpoint`` dropped ``SecurityGroupId.N``, ``PrivateDnsEnabled`` and
   ``PolicyDocument``. AWS: an interface endpoint created through the API has private DNS on
   unless told otherwise (CloudFormation's default is off), the VPC's default group when none
   is given, and every endpoint without a policy has the full-access one.
3. ``ModifyVpcEndpoint`` ignored ``PrivateDnsEnabled``, ``AddSecurityGroupId`` /
   ``RemoveSecurityGroupId`` and ``ResetPolicy``.
4. A gateway endpoint added no route: AWS adds, to each of its route tables, a route to the
   service's prefix list whose target is the endpoint (``GatewayId`` ``vpce-...``), and
   removes it with the endpoint or the table's association.
5. AWS's managed prefix lists had ids derived from a hash (``pl-6855ce842fa1ef41f`` for
   ``com.amazonaws.us-east-1.s3``) where AWS has fixed ids (``pl-63a5400a``), so a template
   naming S3's prefix list in an egress rule, as AWS documents, named a list the emulator did
   not know.
6. An interface endpoint had no network interface (``enis.py`` derives them: one per subnet,
   ``InterfaceType`` ``vpc_endpoint``, carrying the endpoint's groups).

Endpoints are kept in MiniStack's own store (``ec2._vpc_endpoints``); this module fills in
what AWS would hold and renders it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from xml.sax.saxutils import escape as _esc

log = logging.getLogger("faithful.vpce")
_installed = False

# AWS's ids of its managed prefix lists in the Regions the platform deploys to (DescribePrefixLists).
AWS_PREFIX_LIST_IDS = {
    "com.amazonaws.us-east-1.s3": "pl-63a5400a",
    "com.amazonaws.us-east-2.s3": "pl-7ba54012",
    "com.amazonaws.us-west-2.s3": "pl-68a54001",
}
FULL_ACCESS_POLICY = json.dumps(
    {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
)


def interface_eni_owner(endpoint_id: str, subnet_id: str) -> str:
    """The key ``enis.py`` derives an interface endpoint's network interface from."""
    return f"vpce:{endpoint_id}:{subnet_id}"


def _policy_text(policy: Any) -> str:
    if policy in (None, "", {}):
        return FULL_ACCESS_POLICY
    return policy if isinstance(policy, str) else json.dumps(policy)


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    return str(value).lower() == "true" if not isinstance(value, bool) else value


def complete(ec2: Any, endpoint: dict[str, Any], *, api: bool) -> None:
    """Fill what AWS holds for an endpoint that MiniStack left out (gap 2)."""
    from . import enis

    interface = endpoint.get("VpcEndpointType") == "Interface"
    endpoint["PolicyDocument"] = _policy_text(endpoint.get("PolicyDocument"))
    endpoint["PrivateDnsEnabled"] = interface and _bool(endpoint.get("PrivateDnsEnabled"), api)
    if interface and not endpoint.get("SecurityGroupIds"):
        default = next(
            (g for g, sg in ec2._security_groups.items()
             if sg.get("VpcId") == endpoint.get("VpcId") and sg.get("GroupName") == "default"),
            None,
        )  # fmt: skip
        endpoint["SecurityGroupIds"] = [default] if default else []
    if not interface:
        endpoint["SecurityGroupIds"] = []
        endpoint["SubnetIds"] = []
    endpoint.setdefault("CreationTimestamp", ec2._now_ts())
    endpoint["NetworkInterfaceIds"] = [
        enis._eni_id(interface_eni_owner(endpoint["VpcEndpointId"], s)) for s in endpoint.get("SubnetIds") or []
    ]
    endpoint["DnsEntries"] = _dns_entries(ec2, endpoint) if interface else []


def _dns_entries(ec2: Any, endpoint: dict[str, Any]) -> list[dict[str, str]]:
    """The endpoint's own names: regional and one per subnet's zone (``<id>-<hash>.<service>.vpce.amazonaws.com``)."""
    region = ec2.get_region()
    service = str(endpoint.get("ServiceName", "")).removeprefix(f"com.amazonaws.{region}.")
    tag = hashlib.sha256(endpoint["VpcEndpointId"].encode()).hexdigest()[:8]
    base = f"{endpoint['VpcEndpointId']}-{tag}.{service}.{region}.vpce.amazonaws.com"
    zone_id = "Z7HUB22UULQXV"  # the vpce.amazonaws.com zone of us-east-1 on AWS; one value offline
    entries = [{"DnsName": base, "HostedZoneId": zone_id}]
    for subnet_id in endpoint.get("SubnetIds") or []:
        az = (ec2._subnets.get(subnet_id) or {}).get("AvailabilityZone")
        if az:
            entries.append({"DnsName": f"{endpoint['VpcEndpointId']}-{tag}-{az}.{service}.{region}.vpce.amazonaws.com",
                            "HostedZoneId": zone_id})  # fmt: skip
    return entries


def sync_routes(ec2: Any) -> None:
    """Gap 4: each gateway endpoint's route on each of its route tables, and no route of an endpoint gone."""
    wanted: dict[str, dict[str, str]] = {}  # route table -> endpoint id -> prefix list id
    for endpoint in list(ec2._vpc_endpoints.values()):
        if endpoint.get("VpcEndpointType") != "Gateway" or endpoint.get("State") != "available":
            continue
        lists = ec2._get_aws_managed_prefix_lists()
        pl = next((p["PrefixListId"] for p in lists if p["PrefixListName"] == endpoint.get("ServiceName")), None)
        if pl is None:
            continue
        for rtb in endpoint.get("RouteTableIds") or []:
            wanted.setdefault(rtb, {})[endpoint["VpcEndpointId"]] = pl
    for rtb_id, rtb in list(ec2._route_tables.items()):
        routes = rtb.get("Routes") or []
        mine = wanted.get(rtb_id, {})
        kept = [r for r in routes if not str(r.get("GatewayId") or "").startswith("vpce-") or r["GatewayId"] in mine]
        present = {r["GatewayId"] for r in kept if str(r.get("GatewayId") or "").startswith("vpce-")}
        for endpoint_id, pl in mine.items():
            if endpoint_id not in present:
                kept.append({"DestinationPrefixListId": pl, "GatewayId": endpoint_id, "Origin": "CreateRoute",
                             "State": "active"})  # fmt: skip
        rtb["Routes"] = kept


def _render(ec2: Any, endpoint: dict[str, Any], tag: str = "item") -> str:
    """Gap 1: the endpoint as DescribeVpcEndpoints renders it on AWS."""

    def items(values: list[str]) -> str:
        return "".join(f"<item>{_esc(str(v))}</item>" for v in values)

    groups = "".join(
        f"<item><groupId>{_esc(g)}</groupId>"
        f"<groupName>{_esc((ec2._security_groups.get(g) or {}).get('GroupName', g))}</groupName></item>"
        for g in endpoint.get("SecurityGroupIds") or []
    )
    dns = "".join(
        f"<item><dnsName>{_esc(d['DnsName'])}</dnsName><hostedZoneId>{_esc(d['HostedZoneId'])}</hostedZoneId></item>"
        for d in endpoint.get("DnsEntries") or []
    )
    return f"""<{tag}>
        <vpcEndpointId>{_esc(endpoint["VpcEndpointId"])}</vpcEndpointId>
        <vpcEndpointType>{_esc(str(endpoint.get("VpcEndpointType", "Gateway")))}</vpcEndpointType>
        <vpcId>{_esc(str(endpoint.get("VpcId", "")))}</vpcId>
        <serviceName>{_esc(str(endpoint.get("ServiceName", "")))}</serviceName>
        <state>{_esc(str(endpoint.get("State", "available")))}</state>
        <policyDocument>{_esc(_policy_text(endpoint.get("PolicyDocument")))}</policyDocument>
        <routeTableIdSet>{items(endpoint.get("RouteTableIds") or [])}</routeTableIdSet>
        <subnetIdSet>{items(endpoint.get("SubnetIds") or [])}</subnetIdSet>
        <groupSet>{groups}</groupSet>
        <ipAddressType>ipv4</ipAddressType>
        <privateDnsEnabled>{"true" if endpoint.get("PrivateDnsEnabled") else "false"}</privateDnsEnabled>
        <requesterManaged>false</requesterManaged>
        <networkInterfaceIdSet>{items(endpoint.get("NetworkInterfaceIds") or [])}</networkInterfaceIdSet>
        <dnsEntrySet>{dns}</dnsEntrySet>
        <creationTimestamp>{_esc(str(endpoint.get("CreationTimestamp", "")))}</creationTimestamp>
        <ownerId>{_esc(str(endpoint.get("OwnerId", "")))}</ownerId>
        {ec2._tag_set_xml(endpoint["VpcEndpointId"])}
    </{tag}>"""


_FILTER_KEYS = {
    "vpc-id": "VpcId",
    "service-name": "ServiceName",
    "vpc-endpoint-id": "VpcEndpointId",
    "vpc-endpoint-state": "State",
    "vpc-endpoint-type": "VpcEndpointType",
}


def _matches(ec2: Any, endpoint: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for name, values in filters.items():
        key = _FILTER_KEYS.get(name)
        if key is not None:
            wanted = {v.lower() for v in values} if key == "VpcEndpointType" else set(values)
            value = str(endpoint.get(key, ""))
            if (value.lower() if key == "VpcEndpointType" else value) not in wanted:
                return False
        elif name.startswith("tag") and not ec2._resource_matches_tag_filters(
            endpoint["VpcEndpointId"], {name: values}
        ):
            return False
    return True


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from ministack.services import ec2

    from ._ministack import resource_handlers

    # gap 5: AWS's own prefix list ids (MiniStack derives every managed list's id from its name)
    derived = ec2._aws_pl_id_from_name

    def prefix_list_id(prefix_name: str) -> str:
        return AWS_PREFIX_LIST_IDS.get(prefix_name) or derived(prefix_name)

    ec2._aws_pl_id_from_name = prefix_list_id

    # gaps 1-4 on the API
    actions = ec2._ACTION_MAP
    create, modify, delete = actions["CreateVpcEndpoint"], actions["ModifyVpcEndpoint"], actions["DeleteVpcEndpoints"]

    def create_vpc_endpoint(p: Any) -> Any:
        before = set(ec2._vpc_endpoints.keys())
        status, headers, body = create(p)
        for endpoint_id in set(ec2._vpc_endpoints.keys()) - before:
            endpoint = ec2._vpc_endpoints[endpoint_id]
            endpoint["SecurityGroupIds"] = ec2._parse_member_list(p, "SecurityGroupId")
            endpoint["PrivateDnsEnabled"] = ec2._p(p, "PrivateDnsEnabled") or None
            endpoint["PolicyDocument"] = ec2._p(p, "PolicyDocument") or None
            complete(ec2, endpoint, api=True)
            sync_routes(ec2)
            return ec2._xml(200, "CreateVpcEndpointResponse", _render(ec2, endpoint, tag="vpcEndpoint"))
        return status, headers, body

    def modify_vpc_endpoint(p: Any) -> Any:
        answer = modify(p)
        endpoint = ec2._vpc_endpoints.get(ec2._p(p, "VpcEndpointId"))
        if endpoint is not None and answer[0] < 400:
            if ec2._p(p, "PrivateDnsEnabled"):
                endpoint["PrivateDnsEnabled"] = _bool(ec2._p(p, "PrivateDnsEnabled"), True)
            groups = [g for g in endpoint.get("SecurityGroupIds") or [] if g not in ec2._parse_member_list(
                p, "RemoveSecurityGroupId")]  # fmt: skip
            groups += [g for g in ec2._parse_member_list(p, "AddSecurityGroupId") if g not in groups]
            endpoint["SecurityGroupIds"] = groups
            if _bool(ec2._p(p, "ResetPolicy"), False):
                endpoint["PolicyDocument"] = None
            complete(ec2, endpoint, api=False)
            sync_routes(ec2)
        return answer

    def delete_vpc_endpoints(p: Any) -> Any:
        answer = delete(p)
        sync_routes(ec2)
        return answer

    def describe_vpc_endpoints(p: Any) -> Any:
        ids = ec2._parse_member_list(p, "VpcEndpointId")
        missing = [i for i in ids if i not in ec2._vpc_endpoints]
        if missing:
            return ec2._error(
                "InvalidVpcEndpointId.NotFound", f"The Vpc Endpoint Id '{missing[0]}' does not exist", 400
            )
        filters = ec2._parse_filters(p)
        found = "".join(
            _render(ec2, e)
            for e in ec2._vpc_endpoints.values()
            if (not ids or e["VpcEndpointId"] in ids) and _matches(ec2, e, filters)
        )
        return ec2._xml(200, "DescribeVpcEndpointsResponse", f"<vpcEndpointSet>{found}</vpcEndpointSet>")

    ec2._ACTION_MAP["CreateVpcEndpoint"] = create_vpc_endpoint
    ec2._ACTION_MAP["ModifyVpcEndpoint"] = modify_vpc_endpoint
    ec2._ACTION_MAP["DeleteVpcEndpoints"] = delete_vpc_endpoints
    ec2._ACTION_MAP["DescribeVpcEndpoints"] = describe_vpc_endpoints

    # the CloudFormation provisioner: the same completion (CloudFormation's PrivateDnsEnabled default is off)
    handlers = resource_handlers()
    original = dict(handlers["AWS::EC2::VPCEndpoint"])

    def attributes(physical_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        endpoint = ec2._vpc_endpoints.get(physical_id)
        if endpoint is None:
            return attrs
        complete(ec2, endpoint, api=False)
        sync_routes(ec2)
        return {**attrs, "NetworkInterfaceIds": endpoint["NetworkInterfaceIds"], "DnsEntries": [
            f"{d['HostedZoneId']}:{d['DnsName']}" for d in endpoint["DnsEntries"]]}  # fmt: skip

    def cfn_create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        physical_id, attrs = original["create"](logical_id, props, stack_name)
        return physical_id, attributes(physical_id, attrs)

    def cfn_update(physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], stack_name: str) -> Any:
        new_id, attrs = original["update"](physical_id, old_props, new_props, stack_name)
        return new_id, attributes(new_id, attrs)

    def cfn_delete(physical_id: str, props: dict[str, Any]) -> Any:
        result = original["delete"](physical_id, props)
        sync_routes(ec2)
        return result

    handlers["AWS::EC2::VPCEndpoint"] = {**original, "create": cfn_create, "update": cfn_update, "delete": cfn_delete}
    log.info("vpce extension installed")
