"""Compute suite: the load balancer's listeners, their TLS policy and every rule (PCI DSS 4.2.1, 1.3.1, 1.4.2)."""

from __future__ import annotations

from typing import Any

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory

# protocols below TLS 1.2, as DescribeSSLPolicies names them
WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
HTTPS_PORT, HTTP_PORT = 443, 80


def _lb_name(inv: Inventory) -> str:
    return inv.compute.load_balancer.get("LoadBalancerName") or inv.outputs.LoadBalancerArn


def _redirects_to_own_https(action: Any, dns: str) -> bool:
    rc = action.get("RedirectConfig") or {}
    host = str(rc.get("Host") or "#{host}")
    return (
        action.get("Type") == "redirect"
        and str(rc.get("Protocol")) == "HTTPS"
        and str(rc.get("Port") or "443") in ("443", "#{port}")
        and host.lower() in ("#{host}", dns.lower())
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:4.2.1",
            "The load balancer listens only on 443 over HTTPS and on 80, whose one action is a redirect to HTTPS: "
            "no clear-text path reaches the payment service.",
        ),
        supporting(
            "PCI-DSS-4.0:1.4.2",
            "From the internet only the two intended listeners can be reached; no other port is open on the entry "
            "point.",
        ),
    ],
    rationale=(
        "The load balancer listens only on 443 (HTTPS) and on 80, where its one action is a redirect to HTTPS: "
        "no other port or plain-HTTP path reaches the service."
    ),
)
def test_load_balancer_has_only_https_and_redirect_listeners(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.compute
    dns = inv.outputs.LoadBalancerDNS
    seen = {
        f"{lst.get('Protocol')}:{lst.get('Port')}": [
            {"Type": a.get("Type"), **({"RedirectConfig": a.get("RedirectConfig")} if a.get("RedirectConfig") else {})}
            for a in lst.get("DefaultActions", [])
        ]
        for lst in c.listeners
    }
    evidence.attach("DescribeListeners", seen)
    redirect_key = f"HTTP:{HTTP_PORT}"
    expected = {f"HTTPS:{HTTPS_PORT}", redirect_key}
    assert set(seen) == expected, (
        f"load balancer {_lb_name(inv)} has listeners {sorted(seen) or 'none'}, expected exactly HTTPS:443 and "
        "HTTP:80 (the redirect)"
    )
    http = next(lst for lst in c.listeners if lst.get("Port") == HTTP_PORT)
    actions = http.get("DefaultActions", [])
    assert len(actions) == 1 and _redirects_to_own_https(actions[0], dns), (
        f"load balancer {_lb_name(inv)}: listener HTTP:80 {http.get('ListenerArn')} has default actions "
        f"{seen[redirect_key]}, expected only a redirect to HTTPS on 443 of the same host"
    )


@check(
    severity="critical",
    links=[
        primary(
            "PCI-DSS-4.0:4.2.1",
            "The HTTPS listener's security policy, as DescribeSSLPolicies defines it, offers only TLS 1.2 and later.",
        ),
    ],
    rationale=(
        "The HTTPS listener's security policy (DescribeSSLPolicies) offers only TLS 1.2 and later: no client can "
        "negotiate TLS 1.0 or 1.1 with the payment entry point."
    ),
)
def test_https_listener_policy_offers_only_tls12_or_later(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.compute
    https = [lst for lst in c.listeners if lst.get("Protocol") == "HTTPS"]
    policies = {str(lst.get("ListenerArn")): str(lst.get("SslPolicy") or "") for lst in https}
    offered = {name: list(c.ssl_policies.get(name, {}).get("SslProtocols", [])) for name in set(policies.values())}
    evidence.attach("listener policies", {"listeners": policies, "DescribeSSLPolicies": offered})
    assert https, f"load balancer {_lb_name(inv)} has no HTTPS listener, expected HTTPS on 443 with a TLS 1.2+ policy"
    problems = []
    for arn, name in sorted(policies.items()):
        protocols = offered.get(name) or []
        weak = [p for p in protocols if p in WEAK_PROTOCOLS]
        if not name or not protocols:
            problems.append(f"listener {arn} has policy {name or 'none'} whose protocols could not be read")
        elif weak:
            problems.append(f"listener {arn} has policy {name} offering {', '.join(weak)}")
    assert not problems, (
        f"load balancer {_lb_name(inv)}: {'; '.join(problems)}; expected only TLSv1.2 and later "
        "(e.g. ELBSecurityPolicy-TLS13-1-2-2021-06)"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:1.4.2",
            "Every listener rule, not only the default action, sends internet traffic only to the payment service "
            "or to the platform's own HTTPS host.",
        ),
        supporting(
            "PCI-DSS-4.0:1.3.1",
            "No rule opens a path from the internet to any other target group: inbound traffic is limited to the "
            "service.",
        ),
    ],
    rationale=(
        "Every rule of every listener (DescribeRules, not only the default action) forwards only to the service's "
        "target group or redirects only to the platform's own HTTPS host: no path leads traffic elsewhere."
    ),
)
def test_listener_rules_forward_only_to_service_or_own_https(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    c = inv.compute
    dns = inv.outputs.LoadBalancerDNS
    tg = inv.outputs.TargetGroupArn
    evidence.attach("DescribeRules", c.rules)
    assert c.rules, f"load balancer {_lb_name(inv)}: no listener rule could be read, expected at least the defaults"
    wrong = []
    for listener_arn, rules in sorted(c.rules.items()):
        for rule in rules:
            for action in rule.get("Actions", []):
                kind = action.get("Type")
                forward = action.get("ForwardConfig") or {}
                groups = {str(t.get("TargetGroupArn")) for t in forward.get("TargetGroups", [])}
                groups |= {str(action["TargetGroupArn"])} if action.get("TargetGroupArn") else set()
                if kind == "forward" and groups == {tg}:
                    continue
                if kind == "redirect" and _redirects_to_own_https(action, dns):
                    continue
                if kind == "fixed-response":  # the load balancer's own answer: sends nothing anywhere
                    continue
                where: Any = sorted(groups) if kind == "forward" else action.get("RedirectConfig") or {}
                wrong.append(
                    f"rule {rule.get('RuleArn')} (priority {rule.get('Priority')}) of listener {listener_arn}: "
                    f"{kind} {where}"
                )
    assert not wrong, (
        f"load balancer {_lb_name(inv)} has rules leading elsewhere: {'; '.join(wrong)}; expected forwards only to "
        f"the service's target group {tg} or redirects only to https://{dns}"
    )
