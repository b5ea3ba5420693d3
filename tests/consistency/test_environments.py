"""Consistency suite: the environments of the run compared with each other."""

import ipaddress
from itertools import combinations

from conformance.checks import check


@check(
    severity="high",
    controls=["PCI-DSS-4.0:1.2.1", "PCI-DSS-4.0:1.3.1"],
    rationale="Environment address spaces never overlap, so they stay separable and can be peered.",
)
def test_environment_cidrs_are_disjoint(inventories, evidence):
    cidrs = {env: inv.network.cidr for env, inv in inventories.items()}
    evidence.attach("VPC CIDRs", cidrs)
    assert all(cidrs.values()), f"some environments have no VPC CIDR observed: {cidrs}"
    overlaps = [
        f"{a} ({cidrs[a]}) and {b} ({cidrs[b]})"
        for a, b in combinations(sorted(cidrs), 2)
        if ipaddress.ip_network(cidrs[a]).overlaps(ipaddress.ip_network(cidrs[b]))
    ]
    assert not overlaps, f"VPC CIDRs overlap: {'; '.join(overlaps)}"
