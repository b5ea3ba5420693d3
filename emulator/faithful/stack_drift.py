"""CloudFormation drift detection reads security groups, as AWS does.

Measured against MiniStack 1.5.33: ``DetectStackDrift`` compares only the types its
``drift._DRIFT_READERS`` knows (log groups, buckets, secrets, topics, roles...); an
``AWS::EC2::SecurityGroup`` is ``NOT_CHECKED``, so a rule added or revoked through the EC2 API
left the stack ``IN_SYNC``. AWS compares a security group's explicitly set properties
(``GroupDescription``, ``GroupName``, ``VpcId``, ``SecurityGroupIngress``,
``SecurityGroupEgress``, ``Tags``) with the group as EC2 describes it.

This extension adds that reader: the group's rules from EC2's own store, one entry per
source/destination in the template's shape (``CidrIp``, ``CidrIpv6``,
``SourceSecurityGroupId`` / ``DestinationSecurityGroupId``, ``SourcePrefixListId`` /
``DestinationPrefixListId``, ``Description`` when set; ports omitted for protocol ``-1``, as
EC2 omits them). Lists compare as sets (MiniStack's comparison). As on AWS, a rule that a
standalone ``AWS::EC2::SecurityGroupEgress`` / ``Ingress`` adds to a group whose template sets
that direction inline is reported as drift (aws-cloudformation/cloudformation-coverage-roadmap#1198);
a direction the template leaves unset is not compared.

An ``AWS::EC2::VPCEndpoint`` was ``NOT_CHECKED`` too, where AWS compares its policy, private DNS,
route tables, groups, subnets, service, type, VPC and tags: a reader for it as well (the policy
as a document, lists as sets). Self-test: ``selftests/emulator/test_stack_drift.py``.
"""

from __future__ import annotations

import json
from typing import Any

from ministack.services import ec2 as _ec2
from ministack.services.cloudformation import drift as _drift

SECURITY_GROUP_PROPERTIES = frozenset(
    {"GroupDescription", "GroupName", "VpcId", "SecurityGroupIngress", "SecurityGroupEgress", "Tags"}
)


def _rules(permissions: list[dict[str, Any]], egress: bool) -> list[dict[str, Any]]:
    peer_group = "DestinationSecurityGroupId" if egress else "SourceSecurityGroupId"
    peer_list = "DestinationPrefixListId" if egress else "SourcePrefixListId"
    out: list[dict[str, Any]] = []
    for perm in permissions or []:
        base: dict[str, Any] = {"IpProtocol": str(perm.get("IpProtocol", ""))}
        if base["IpProtocol"] != "-1":
            for port in ("FromPort", "ToPort"):
                if perm.get(port) is not None:
                    base[port] = perm[port]
        peers: list[tuple[str, Any, Any]] = []
        peers += [("CidrIp", r.get("CidrIp"), r.get("Description")) for r in perm.get("IpRanges") or []]
        peers += [("CidrIpv6", r.get("CidrIpv6"), r.get("Description")) for r in perm.get("Ipv6Ranges") or []]
        peers += [(peer_group, r.get("GroupId"), r.get("Description")) for r in perm.get("UserIdGroupPairs") or []]
        peers += [(peer_list, r.get("PrefixListId"), r.get("Description")) for r in perm.get("PrefixListIds") or []]
        for key, value, description in peers:
            rule = {**base, key: value}
            if description:
                rule["Description"] = description
            out.append(rule)
    return out


def _read_security_group(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    group = _ec2._security_groups.get(physical_id)
    if group is None:
        return None
    return {
        "GroupDescription": group.get("Description", ""),
        "GroupName": group.get("GroupName", ""),
        "VpcId": group.get("VpcId", ""),
        "SecurityGroupIngress": _rules(group.get("IpPermissions") or [], egress=False),
        "SecurityGroupEgress": _rules(group.get("IpPermissionsEgress") or [], egress=True),
        "Tags": list(_ec2._tags.get(physical_id) or []),
    }


VPC_ENDPOINT_PROPERTIES = frozenset(
    {"PolicyDocument", "PrivateDnsEnabled", "RouteTableIds", "SecurityGroupIds", "ServiceName", "SubnetIds",
     "VpcEndpointType", "VpcId", "Tags"}
)  # fmt: skip


def _read_vpc_endpoint(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    """An ``AWS::EC2::VPCEndpoint`` as EC2 holds it (``vpce.py`` keeps the policy as JSON text)."""
    endpoint = _ec2._vpc_endpoints.get(physical_id)
    if endpoint is None:
        return None
    policy = endpoint.get("PolicyDocument")
    if isinstance(policy, str) and policy:
        policy = json.loads(policy)
    return {
        "PolicyDocument": policy,
        "PrivateDnsEnabled": bool(endpoint.get("PrivateDnsEnabled")),
        "RouteTableIds": list(endpoint.get("RouteTableIds") or []),
        "SecurityGroupIds": list(endpoint.get("SecurityGroupIds") or []),
        "ServiceName": endpoint.get("ServiceName", ""),
        "SubnetIds": list(endpoint.get("SubnetIds") or []),
        "VpcEndpointType": endpoint.get("VpcEndpointType", "Gateway"),
        "VpcId": endpoint.get("VpcId", ""),
        "Tags": list(_ec2._tags.get(physical_id) or []),
    }


def install() -> None:
    _drift._DRIFT_READERS["AWS::EC2::SecurityGroup"] = (_read_security_group, SECURITY_GROUP_PROPERTIES)
    _drift._DRIFT_READERS["AWS::EC2::VPCEndpoint"] = (_read_vpc_endpoint, VPC_ENDPOINT_PROPERTIES)
