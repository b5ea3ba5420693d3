"""Compute suite: the load balancer and what answers behind it, over HTTPS only (PCI DSS 4.2.1)."""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence, utc_now
from conformance.inventory import Inventory
from conformance.inventory.shapes import Listener
from conformance.prefetch import ProbeContext
from conformance.probes import HttpObservation, TlsObservation, http_get, https_get

# How long the service may take to answer 200 (tenacity, exponential wait): a real ALB and Fargate
# tasks converge within minutes of a deployment; the emulator's data plane converges at once.
HTTP_DEADLINE_SECONDS = {"aws": 120.0, "emulated": 10.0}
MODERN_TLS = ("TLSv1.2", "TLSv1.3")
# what the redirect probe asks for: the redirect must keep the path
REDIRECT_PROBE_PATH = "/pay"


def http_deadline(emulated: bool) -> float:
    return HTTP_DEADLINE_SECONDS["emulated" if emulated else "aws"]


def _https_listener(inv: Inventory) -> Listener | None:
    return next(
        (lst for lst in inv.compute.listeners if lst.get("Port") == 443 and lst.get("Protocol") == "HTTPS"), None
    )


def get_over_https(ctx: ProbeContext) -> TlsObservation:
    deadline = http_deadline(ctx.emulated)
    return https_get(ctx.inv.outputs.LoadBalancerDNS, deadline=deadline, via=ctx.run_state.endpoint_url)


def get_over_http(ctx: ProbeContext) -> HttpObservation:
    # the redirect is the load balancer's own answer: no convergence to wait for beyond the listener's
    return http_get(
        ctx.inv.outputs.LoadBalancerDNS,
        path=REDIRECT_PROBE_PATH,
        expect=301,
        deadline=http_deadline(ctx.emulated),
        via=ctx.run_state.endpoint_url,
    )


@pytest.mark.data_plane(probe=get_over_https)
@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:4.2.1",
            "A real TLS handshake with the payment entry point negotiates TLS 1.2 or later and presents the "
            "certificate its listener declares in ACM, and the service answers over it.",
        ),
    ],
    rationale=(
        "The payment service answers 200 end to end over HTTPS on 443: a real TLS handshake negotiates TLS 1.2 or "
        "later and presents the certificate the listener declares in ACM."
    ),
)
def test_load_balancer_answers_https_200(
    env_name: str, inv: Inventory, emulated: bool, data_plane: Callable[[], Any], evidence: Evidence
) -> None:
    dns = inv.outputs.LoadBalancerDNS
    deadline = http_deadline(emulated)
    obs = data_plane()
    listener = _https_listener(inv)
    declared = [str(c.get("CertificateArn")) for c in (listener or {}).get("Certificates", [])]
    expected = {inv.compute.certificate_sha256.get(arn, "") for arn in declared} - {""}
    evidence.attach("HTTPS GET", {"url": obs.url, "status_line": obs.status_line, "headers": obs.headers,
                                  "attempts": obs.attempts, "elapsed_seconds": obs.elapsed,
                                  "tls_version": obs.tls_version, "cipher": obs.cipher,
                                  "presented_certificate_sha256": obs.certificate_sha256,
                                  "declared_certificates": declared,
                                  "declared_certificate_sha256": sorted(expected)},
                    operation="HTTPS GET through the load balancer with a TLS handshake (data-plane probe)",
                    resource=inv.outputs.LoadBalancerArn,
                    observed_at=utc_now())  # fmt: skip
    assert obs.status == 200, (
        f"load balancer {dns} of {inv.stack_name}: GET {obs.url} gave {obs.status_line} after "
        f"{obs.elapsed:.1f} s and {obs.attempts} attempts (deadline {deadline:.0f} s), expected HTTP 200 over TLS"
    )
    assert obs.tls_version in MODERN_TLS, (
        f"load balancer {dns}: the TLS handshake negotiated {obs.tls_version or 'nothing'}, "
        f"expected TLS 1.2 or later ({', '.join(MODERN_TLS)})"
    )
    assert listener, f"load balancer {dns} answered over TLS but has no HTTPS listener on 443 to declare a certificate"
    assert obs.certificate_sha256 in expected, (
        f"load balancer {dns} presented a certificate with SHA-256 {obs.certificate_sha256 or 'none'}, expected the "
        f"certificate its HTTPS listener declares ({', '.join(declared) or 'none declared'}: "
        f"{', '.join(sorted(expected)) or 'not readable in ACM'})"
    )


@pytest.mark.data_plane(probe=get_over_http)
@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:4.2.1",
            "A request in clear text on port 80 gets only a 301 to the same host over HTTPS: no payment is served "
            "without strong cryptography.",
        ),
    ],
    rationale=(
        "Plain HTTP on port 80 carries no payment: it only answers a permanent redirect (301) to the same host "
        "over HTTPS."
    ),
)
def test_load_balancer_http_only_redirects_to_https(
    env_name: str, inv: Inventory, data_plane: Callable[[], Any], evidence: Evidence
) -> None:
    dns = inv.outputs.LoadBalancerDNS
    obs = data_plane()
    location = obs.header("Location")
    evidence.attach("HTTP GET", {"url": obs.url, "status_line": obs.status_line, "location": location,
                                 "attempts": obs.attempts, "elapsed_seconds": obs.elapsed},
                    operation="HTTP GET on port 80 of the load balancer (data-plane probe)",
                    resource=inv.outputs.LoadBalancerArn,
                    observed_at=utc_now())  # fmt: skip
    target = urlsplit(location)
    expected = f"https://{dns}{REDIRECT_PROBE_PATH}"
    assert obs.status == 301, (
        f"load balancer {dns}: GET {obs.url} gave {obs.status_line}, expected only a 301 redirect to {expected}"
    )
    same = (
        target.scheme == "https"
        and (target.hostname or "").lower() == dns.lower()
        and target.port in (None, 443)
        and target.path == REDIRECT_PROBE_PATH
    )
    assert same, f"load balancer {dns}: GET {obs.url} redirects to {location or 'nowhere'}, expected {expected}"


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
