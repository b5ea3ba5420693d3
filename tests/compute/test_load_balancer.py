"""Compute suite: the load balancer and what answers behind it."""

from collections.abc import Callable
from typing import Any

import pytest

from conformance.checks import check
from conformance.evidence import Evidence, utc_now
from conformance.inventory import Inventory
from conformance.prefetch import ProbeContext
from conformance.probes import HttpObservation, http_get

# How long the service may take to answer 200 (tenacity, exponential wait): a real ALB and Fargate
# tasks converge within minutes of a deployment; the emulator's data plane converges at once.
HTTP_DEADLINE_SECONDS = {"aws": 120.0, "emulated": 10.0}


def http_deadline(emulated: bool) -> float:
    return HTTP_DEADLINE_SECONDS["emulated" if emulated else "aws"]


def get_through_load_balancer(ctx: ProbeContext) -> HttpObservation:
    deadline = http_deadline(ctx.emulated)
    return http_get(ctx.inv.outputs.LoadBalancerDNS, deadline=deadline, via=ctx.run_state.endpoint_url)


@pytest.mark.data_plane(probe=get_through_load_balancer)
@check(
    severity="critical",
    controls=["PCI-DSS-4.0:6.4.1", "PCI-DSS-4.0:12.10.1"],
    rationale="The payment service answers end to end through its internet-facing load balancer.",
)
def test_load_balancer_answers_http_200(
    env_name: str, inv: Inventory, emulated: bool, data_plane: Callable[[], Any], evidence: Evidence
) -> None:
    dns = inv.outputs.LoadBalancerDNS
    deadline = http_deadline(emulated)
    obs = data_plane()
    evidence.attach("HTTP GET", {"url": obs.url, "status_line": obs.status_line, "headers": obs.headers,
                                 "attempts": obs.attempts, "elapsed_seconds": obs.elapsed},
                    operation="HTTP GET through the load balancer (data-plane probe)",
                    resource=inv.outputs.LoadBalancerArn,
                    observed_at=utc_now())  # fmt: skip
    assert obs.status == 200, (
        f"load balancer {dns} of {inv.stack_name}: GET {obs.url} gave {obs.status_line} after "
        f"{obs.elapsed:.1f} s and {obs.attempts} attempts (deadline {deadline:.0f} s), expected HTTP 200"
    )
