"""Unit tests of the attached-groups checks (tests/network/test_security_groups.py) on built inventories.

The drifts prove each check turns red on a deployed stack; these pin the edges: the load
balancer's group on its listener and contract ports, a port range reaching past them, IPv6,
a group attached but not described (could not observe, never a pass), an ENI without groups.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from conformance.evidence import Evidence
from conformance.inventory import ProbeError
from conformance.inventory.compute import ComputeSection
from conformance.inventory.network import NetworkSection
from conformance.inventory.stack import StackSection
from tests.network.test_security_groups import (
    test_attached_security_groups_are_declared_by_the_stack as declared_check,
)
from tests.network.test_security_groups import (
    test_only_the_load_balancer_group_admits_the_world as world_check,
)

if TYPE_CHECKING:
    from types_boto3_ec2.type_defs import IpPermissionOutputTypeDef as IpPermission

ALB, APP, DB = "sg-alb", "sg-app", "sg-db"


class _Evidence(Evidence):
    def attach(self, name: str, data: Any, **_: Any) -> None:
        pass


def _world(port_from: int, port_to: int, v6: bool = False) -> IpPermission:
    ranges: IpPermission = {"Ipv6Ranges": [{"CidrIpv6": "::/0"}]} if v6 else {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    return {"IpProtocol": "tcp", "FromPort": port_from, "ToPort": port_to, **ranges}


def _inventory(groups: dict[str, list[IpPermission]], enis: list[tuple[str, list[str]]], described: bool = True):
    network = NetworkSection(
        security_groups=[{"GroupId": g, "GroupName": g, "IpPermissions": perms} for g, perms in groups.items()]
        if described
        else [],
        network_interfaces=[
            {"NetworkInterfaceId": eni, "SubnetId": "subnet-1", "Groups": [{"GroupId": g, "GroupName": g} for g in gs]}
            for eni, gs in enis
        ],
    )
    compute = ComputeSection(load_balancer={"SecurityGroups": [ALB]}, listeners=[{"Port": 80}])
    stack = StackSection(
        resources=[
            {
                "ResourceType": "AWS::EC2::SecurityGroup",
                "PhysicalResourceId": g,
                "LogicalResourceId": g,
                "ResourceStatus": "CREATE_COMPLETE",
            }
            for g in (ALB, APP, DB)
        ]
    )
    for section in (network, compute, stack):
        section.seal()
    return SimpleNamespace(
        network=network,
        compute=compute,
        stack=stack,
        stack_name="payments-dev-a",
        outputs=SimpleNamespace(VPCId="vpc-1"),
    )


PLATFORM_ENIS = [("eni-lb", [ALB]), ("eni-task", [APP]), ("eni-db", [DB]), ("eni-nat", [])]


@pytest.mark.parametrize("rules", [[_world(80, 80), _world(443, 443)], [_world(80, 80, v6=True)], []])
def test_the_load_balancer_group_on_listener_and_contract_ports_passes(rules):
    inv = _inventory({ALB: rules, APP: [], DB: []}, PLATFORM_ENIS)
    world_check("dev", inv, _Evidence())
    declared_check("dev", inv, _Evidence())


@pytest.mark.parametrize(
    ("group", "rule"),
    [
        (ALB, _world(80, 443)),  # a range reaching past the listener and contract ports
        (ALB, _world(8443, 8443)),
        (ALB, {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}),
        (APP, _world(80, 80)),
        (DB, _world(3306, 3306, v6=True)),
    ],
)
def test_any_other_world_rule_fails_naming_the_group(group, rule):
    inv = _inventory({ALB: [_world(80, 80)], APP: [], DB: [], group: [rule]}, PLATFORM_ENIS)
    with pytest.raises(AssertionError, match=group):
        world_check("dev", inv, _Evidence())


def test_a_world_open_group_attached_to_nothing_is_not_a_path():
    inv = _inventory({ALB: [], APP: [], DB: [], "sg-spare": [_world(22, 22)]}, PLATFORM_ENIS)
    world_check("dev", inv, _Evidence())


def test_an_attached_group_not_described_is_a_probe_error():
    inv = _inventory({ALB: [], APP: [], DB: []}, PLATFORM_ENIS, described=False)
    with pytest.raises(ProbeError, match="sg-alb"):
        world_check("dev", inv, _Evidence())


def test_an_undeclared_group_on_any_interface_fails_naming_interface_and_group():
    inv = _inventory({ALB: [], APP: [], DB: []}, [*PLATFORM_ENIS, ("eni-stray", [APP, "sg-stray"])])
    with pytest.raises(AssertionError, match=r"eni-stray .* carries sg-stray"):
        declared_check("dev", inv, _Evidence())


def test_no_interface_at_all_fails():
    with pytest.raises(AssertionError, match="has no network interface"):
        declared_check("dev", _inventory({ALB: []}, []), _Evidence())
