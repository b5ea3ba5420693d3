"""Drifts for the payment entry point's TLS (tests/compute/test_load_balancer*.py, PCI DSS 4.2.1):
each breaks the deployed load balancer's HTTPS, redirect, policy, listeners or rules one way."""

from __future__ import annotations

from selftests.drifts.registry import DriftContext, drift


def _lb_name(ctx: DriftContext) -> str:
    return ctx.outputs.LoadBalancerArn.split("/")[-2]


def _listener_arn(ctx: DriftContext, port: int) -> str:
    listeners = ctx.client("elbv2").describe_listeners(LoadBalancerArn=ctx.outputs.LoadBalancerArn)["Listeners"]
    return str(next(lst["ListenerArn"] for lst in listeners if lst["Port"] == port))


def _other_target_group(ctx: DriftContext) -> str:
    name = f"payments-{ctx.spec.tier}-{ctx.spec.suffix}-x"
    return str(
        ctx.client("elbv2").create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=ctx.outputs.VPCId, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    )


@drift(
    "test_load_balancer_answers_https_200",
    "the HTTPS listener is deleted: nothing answers on 443",
    id="tls-https-listener-deleted",
    names=lambda ctx: ctx.outputs.LoadBalancerDNS,
)
def drift_https_listener_deleted(ctx: DriftContext) -> None:
    ctx.client("elbv2").delete_listener(ListenerArn=_listener_arn(ctx, 443))


@drift(
    "test_load_balancer_http_only_redirects_to_https",
    "the HTTP listener forwards to the service's target group again instead of redirecting",
    id="tls-http-forwards-again",
    names=lambda ctx: ctx.outputs.LoadBalancerDNS,
)
def drift_http_forwards_again(ctx: DriftContext) -> None:
    ctx.client("elbv2").modify_listener(
        ListenerArn=_listener_arn(ctx, 80),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": ctx.outputs.TargetGroupArn}],
    )


@drift(
    "test_https_listener_policy_offers_only_tls12_or_later",
    "the HTTPS listener's policy is ELBSecurityPolicy-2016-08, which offers TLS 1.0 and 1.1",
    id="tls-legacy-policy",
    names=lambda ctx: _listener_arn(ctx, 443),
)
def drift_legacy_policy(ctx: DriftContext) -> None:
    ctx.client("elbv2").modify_listener(ListenerArn=_listener_arn(ctx, 443), SslPolicy="ELBSecurityPolicy-2016-08")


@drift(
    "test_load_balancer_has_only_https_and_redirect_listeners",
    "an extra plain-HTTP listener on 8080 forwards to the service",
    id="tls-extra-http-listener",
    names=_lb_name,
)
def drift_extra_http_listener(ctx: DriftContext) -> None:
    ctx.client("elbv2").create_listener(
        LoadBalancerArn=ctx.outputs.LoadBalancerArn, Port=8080, Protocol="HTTP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": ctx.outputs.TargetGroupArn}],
    )  # fmt: skip


@drift(
    "test_listener_rules_forward_only_to_service_or_own_https",
    "a rule on /admin/* of the HTTPS listener forwards to another target group",
    id="tls-rule-forwards-elsewhere",
    names=lambda ctx: _listener_arn(ctx, 443),
)
def drift_rule_forwards_elsewhere(ctx: DriftContext) -> None:
    ctx.client("elbv2").create_rule(
        ListenerArn=_listener_arn(ctx, 443), Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": _other_target_group(ctx)}],
    )  # fmt: skip


@drift(
    "test_listener_rules_forward_only_to_service_or_own_https",
    "a rule on /pay/* of the HTTP listener redirects to an outside host",
    id="tls-rule-redirects-outside",
    names=lambda ctx: _listener_arn(ctx, 80),
)
def drift_rule_redirects_outside(ctx: DriftContext) -> None:
    ctx.client("elbv2").create_rule(
        ListenerArn=_listener_arn(ctx, 80), Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/pay/*"]}}],
        Actions=[{"Type": "redirect", "RedirectConfig": {
            "Protocol": "HTTPS", "Host": "pay.example.net", "Port": "443", "StatusCode": "HTTP_302"}}],
    )  # fmt: skip
