"""Compute suite: the load balancer and what answers behind it."""

from collections.abc import Callable
from typing import Any

import pytest

from conformance.checks import check, primary, supporting
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
    operational="availability: the payment service answers end to end",
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


# ---- load balancer attributes (DescribeLoadBalancerAttributes)

# AWS's desync mitigation modes, weakest first: monitor lets every request through (it only counts)
DESYNC_MODES_ACCEPTED = ("defensive", "strictest")


def _lb(inv: Inventory) -> str:
    return inv.compute.load_balancer.get("LoadBalancerName") or inv.outputs.LoadBalancerArn


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:2.2.1",
            "The one internet-facing component runs the hardened HTTP parsing its configuration standard sets.",
        ),
        supporting(
            "PCI-DSS-4.0:6.4.1",
            "It protects the public-facing service against one known attack class (request smuggling); it is no web "
            "application firewall.",
        ),
    ],
    rationale=(
        "The internet-facing ALB drops header fields that are not valid HTTP and mitigates request desync "
        "(defensive or strictest), so request smuggling through it cannot reach the payment service."
    ),
)
def test_load_balancer_drops_invalid_headers_and_mitigates_desync(
    env_name: str, inv: Inventory, evidence: Evidence
) -> None:
    attributes = inv.compute.load_balancer_attributes
    keys = ("routing.http.drop_invalid_header_fields.enabled", "routing.http.desync_mitigation_mode")
    evidence.attach("DescribeLoadBalancerAttributes", {k: attributes.get(k) for k in keys})
    drop, desync = (attributes.get(k) for k in keys)
    assert drop == "true", (
        f"load balancer {_lb(inv)} has routing.http.drop_invalid_header_fields.enabled={drop}, expected true "
        "(header fields that are not valid HTTP are passed to the service)"
    )
    assert desync in DESYNC_MODES_ACCEPTED, (
        f"load balancer {_lb(inv)} has routing.http.desync_mitigation_mode={desync}, expected "
        f"{' or '.join(DESYNC_MODES_ACCEPTED)}"
    )


@check(
    severity="medium",
    operational="availability: the entry point cannot be deleted by a stray call where the environment says so",
    rationale="Deletion protection of the only internet entry point is on exactly where the environment specifies it.",
)
def test_load_balancer_deletion_protection_as_specified(
    env_name: str, inv: Inventory, spec, evidence: Evidence
) -> None:
    on = inv.compute.load_balancer_attributes.get("deletion_protection.enabled")
    want = spec.parameters.DeletionProtection
    evidence.attach("deletion_protection.enabled", {"observed": on, "expected (DeletionProtection)": want})
    assert on == want, f"load balancer {_lb(inv)} has deletion_protection.enabled={on}, expected {want}"
