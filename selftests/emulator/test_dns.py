"""Self-tests of ``emulator/faithful/dns.py``: the emulator answers DNS for its RDS endpoints.

Real emulator process, real DNS over UDP (dnspython, as the suite's probe asks it): the platform
deployed by the project's deployer, then its cluster, reader and instance endpoints resolved at
the emulator's DNS address (conformance/probes.py ``emulator_dns_server``), an API drift that makes the
writer public, and names the server must not answer.
"""

from __future__ import annotations

import ipaddress
import socket

import dns.resolver
import pytest

from conformance.probes import emulator_dns_server as dns_server
from emulator.launcher import Emulator, free_port
from selftests.emulator.platform import deploy_platform


def _resolver(endpoint_url: str) -> dns.resolver.Resolver:
    host, port = dns_server(endpoint_url)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [host], port, 5.0
    return resolver


@pytest.fixture(scope="module")
def platform(emulator):
    return deploy_platform(emulator.endpoint_url, suffix="dns")


def _subnet_cidrs(aws, subnet_ids: list[str]) -> dict[str, str]:
    subnets = aws("ec2").describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    return {s["AvailabilityZone"]: s["CidrBlock"] for s in subnets}


def test_cluster_endpoint_is_a_cname_to_the_writer_in_its_private_subnet(aws, emulator, platform):
    resolver = _resolver(emulator.endpoint_url)
    answer = resolver.resolve(platform.AuroraClusterEndpoint, "A", search=False)
    writer = aws("rds").describe_db_instances(DBInstanceIdentifier=f"{platform.AuroraClusterIdentifier}-writer")
    writer = writer["DBInstances"][0]
    assert str(answer.canonical_name).rstrip(".") == writer["Endpoint"]["Address"]
    (address,) = [rr.address for rr in answer]
    cidrs = _subnet_cidrs(aws, platform.PrivateSubnetIds)
    subnet = ipaddress.ip_network(cidrs[writer["AvailabilityZone"]])
    assert ipaddress.ip_address(address) in subnet and ipaddress.ip_address(address) in ipaddress.ip_network(
        platform.VpcCidr
    )
    assert int(ipaddress.ip_address(address)) - int(subnet.network_address) >= 4  # AWS reserves the first four
    assert answer.rrset is not None and answer.rrset.ttl == 5
    # the same address asked again, and asked for the instance endpoint directly
    assert [rr.address for rr in resolver.resolve(writer["Endpoint"]["Address"], "A", search=False)] == [address]


def test_reader_endpoint_resolves_to_the_reader(aws, emulator, platform):
    answer = _resolver(emulator.endpoint_url).resolve(platform.AuroraReaderEndpoint, "A", search=False)
    reader = aws("rds").describe_db_instances(DBInstanceIdentifier=f"{platform.AuroraClusterIdentifier}-reader")
    reader = reader["DBInstances"][0]
    assert str(answer.canonical_name).rstrip(".") == reader["Endpoint"]["Address"]
    cidr = ipaddress.ip_network(_subnet_cidrs(aws, platform.PrivateSubnetIds)[reader["AvailabilityZone"]])
    assert all(ipaddress.ip_address(rr.address) in cidr for rr in answer)


def test_unknown_and_foreign_names(emulator, platform):
    resolver = _resolver(emulator.endpoint_url)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("nothing.cluster-abc.us-east-1.rds.amazonaws.com", "A", search=False)
    with pytest.raises(dns.resolver.NoNameservers):  # REFUSED: no recursion for other names
        resolver.resolve("example.com", "A", search=False)


def test_a_public_writer_resolves_outside_the_vpc(aws, emulator):
    out = deploy_platform(emulator.endpoint_url, suffix="dnspub")
    aws("rds").modify_db_instance(
        DBInstanceIdentifier=f"{out.AuroraClusterIdentifier}-writer", PubliclyAccessible=True, ApplyImmediately=True
    )
    (address,) = [rr.address for rr in _resolver(emulator.endpoint_url).resolve(out.AuroraClusterEndpoint, "A")]
    assert ipaddress.ip_address(address) in ipaddress.ip_network("198.51.100.0/24")
    assert ipaddress.ip_address(address) not in ipaddress.ip_network(out.VpcCidr)


def test_the_launcher_wants_the_port_free_for_udp_too():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        with pytest.raises(Exception, match=f"UDP port {port} on 127.0.0.1"):
            Emulator(port=port).start()


def test_the_suites_probe_resolves_through_the_emulator(emulator, platform):
    """conformance.probes.resolve, as the database check's probe calls it offline."""
    from conformance.inventory.base import ProbeError
    from conformance.probes import resolve

    server = dns_server(emulator.endpoint_url)
    (address,) = resolve(platform.AuroraClusterEndpoint, nameserver=server)
    assert ipaddress.ip_address(address) in ipaddress.ip_network(platform.VpcCidr)
    assert resolve("gone.cluster-abc.us-east-1.rds.amazonaws.com", nameserver=server) == []  # NXDOMAIN: a finding
    with pytest.raises(ProbeError, match="gave no answer"):  # nothing listening: could not observe
        resolve(platform.AuroraClusterEndpoint, nameserver=("127.0.0.1", free_port()), timeout=0.5)
