"""Drifts for the web application firewall, the access logs and the scanner findings (issue 11)."""

from __future__ import annotations

import json
from typing import Any

from selftests.drifts.registry import DriftContext, drift


def _lb_name(ctx: DriftContext) -> str:
    return ctx.outputs.LoadBalancerArn.split("/")[-2]


def _acl(ctx: DriftContext) -> str:
    return ctx.outputs.WebACLArn


def _acl_name(ctx: DriftContext) -> str:
    return ctx.outputs.WebACLArn.split("/")[-2]


def _log_bucket(ctx: DriftContext) -> str:
    return ctx.outputs.AccessLogsBucket


def _tx_bucket(ctx: DriftContext) -> str:
    return ctx.outputs.TransactionLogsBucket


def _cluster(ctx: DriftContext) -> str:
    return ctx.outputs.AuroraClusterIdentifier


def _web_acl(ctx: DriftContext) -> tuple[dict[str, Any], str]:
    parts = _acl(ctx).split("/")
    answer = ctx.client("wafv2").get_web_acl(Name=parts[-2], Scope="REGIONAL", Id=parts[-1])
    return answer["WebACL"], answer["LockToken"]


def _update_rules(ctx: DriftContext, change: Any) -> None:
    acl, token = _web_acl(ctx)
    rules = [change(r) for r in acl["Rules"]]
    ctx.client("wafv2").update_web_acl(
        Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"], LockToken=token, DefaultAction=acl["DefaultAction"],
        VisibilityConfig=acl["VisibilityConfig"], Rules=[r for r in rules if r is not None],
    )  # fmt: skip


# ---- load balancer access logs


@drift(
    "test_load_balancer_access_logs_into_log_bucket",
    "the load balancer's access logging is turned off",
    id="waf-logs-alb-access-logs-off",
    names=_lb_name,
)
def drift_alb_access_logs_off(ctx: DriftContext) -> None:
    ctx.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=ctx.outputs.LoadBalancerArn, Attributes=[{"Key": "access_logs.s3.enabled", "Value": "false"}]
    )


# ---- the transaction bucket's server access logs


@drift(
    "test_transaction_bucket_server_access_logs_into_log_bucket",
    "the transaction bucket's server access logging is turned off",
    id="waf-logs-s3-server-access-logs-off",
    names=_tx_bucket,
)
def drift_s3_server_access_logs_off(ctx: DriftContext) -> None:
    ctx.client("s3").put_bucket_logging(Bucket=_tx_bucket(ctx), BucketLoggingStatus={})


# ---- the access-logs bucket


@drift(
    "test_log_bucket_private_versioned_tls_only",
    "the access-logs bucket's versioning is suspended",
    id="waf-logs-log-bucket-versioning-suspended",
    names=_log_bucket,
)
def drift_log_bucket_versioning_suspended(ctx: DriftContext) -> None:
    ctx.client("s3").put_bucket_versioning(Bucket=_log_bucket(ctx), VersioningConfiguration={"Status": "Suspended"})


@drift(
    "test_log_bucket_private_versioned_tls_only",
    "the access-logs bucket's public access block is deleted",
    id="waf-logs-log-bucket-public-access-block-deleted",
    names=_log_bucket,
)
def drift_log_bucket_public_access_block_deleted(ctx: DriftContext) -> None:
    ctx.client("s3").delete_public_access_block(Bucket=_log_bucket(ctx))


def _log_policy(ctx: DriftContext) -> dict[str, Any]:
    return json.loads(ctx.client("s3").get_bucket_policy(Bucket=_log_bucket(ctx))["Policy"])


def _put_log_policy(ctx: DriftContext, policy: dict[str, Any]) -> None:
    ctx.client("s3").put_bucket_policy(Bucket=_log_bucket(ctx), Policy=json.dumps(policy))


@drift(
    "test_log_bucket_private_versioned_tls_only",
    "the access-logs bucket's policy loses its TLS-only deny",
    id="waf-logs-log-bucket-tls-deny-removed",
    names=_log_bucket,
)
def drift_log_bucket_tls_deny_removed(ctx: DriftContext) -> None:
    policy = _log_policy(ctx)
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Effect") != "Deny"]
    _put_log_policy(ctx, policy)


@drift(
    "test_log_bucket_retains_logs_a_year",
    "the access-logs bucket's lifecycle expires logs after 30 days",
    id="waf-logs-log-bucket-expires-in-30-days",
    names=_log_bucket,
)
def drift_log_bucket_expires_early(ctx: DriftContext) -> None:
    ctx.client("s3").put_bucket_lifecycle_configuration(
        Bucket=_log_bucket(ctx),
        LifecycleConfiguration={
            "Rules": [{"ID": "expire-early", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}]
        },
    )


@drift(
    "test_log_bucket_grants_only_log_delivery",
    "the access-logs bucket's policy lets S3 server access logging deliver without a source condition",
    id="waf-logs-log-bucket-delivery-unbound",
    names=_log_bucket,
)
def drift_log_bucket_delivery_unbound(ctx: DriftContext) -> None:
    policy = _log_policy(ctx)
    for s in policy["Statement"]:
        if s.get("Sid") == "AllowServerAccessLogDelivery":
            s.pop("Condition", None)
    _put_log_policy(ctx, policy)


@drift(
    "test_log_bucket_grants_only_log_delivery",
    "the access-logs bucket's policy grants another account read access to the logs",
    id="waf-logs-log-bucket-other-account-reads",
    names=_log_bucket,
)
def drift_log_bucket_other_account(ctx: DriftContext) -> None:
    policy = _log_policy(ctx)
    arn = f"arn:aws:s3:::{_log_bucket(ctx)}"
    policy["Statement"].append({
        "Sid": "AuditorReads", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "s3:GetObject", "Resource": f"{arn}/*",
    })  # fmt: skip
    _put_log_policy(ctx, policy)


@drift(
    "test_resource_policies_grant_nothing_outside_the_account",
    "the access-logs bucket grants the Region's ELB log-delivery account every object, not only its log folder",
    id="waf-logs-log-bucket-elb-account-widened",
    names=_log_bucket,
)
def drift_log_bucket_elb_account_widened(ctx: DriftContext) -> None:
    policy = _log_policy(ctx)
    for s in policy["Statement"]:
        if s.get("Sid") == "AllowLoadBalancerAccessLogDelivery":
            s["Resource"] = f"arn:aws:s3:::{_log_bucket(ctx)}/*"
    _put_log_policy(ctx, policy)


# ---- the web application firewall


@drift(
    "test_web_acl_associated_with_load_balancer",
    "the web ACL is disassociated from the load balancer",
    id="waf-logs-web-acl-disassociated",
    names=_lb_name,
)
def drift_web_acl_disassociated(ctx: DriftContext) -> None:
    ctx.client("wafv2").disassociate_web_acl(ResourceArn=ctx.outputs.LoadBalancerArn)


def _count_group(rule: dict[str, Any]) -> dict[str, Any]:
    if rule["Name"] == "AWSManagedRulesSQLiRuleSet":
        rule["OverrideAction"] = {"Count": {}}
    return rule


@drift(
    "test_web_acl_managed_rule_groups_block",
    "the SQL injection rule group is set to count (OverrideAction Count)",
    id="waf-logs-web-acl-group-counts",
    names=_acl_name,
)
def drift_web_acl_group_counts(ctx: DriftContext) -> None:
    _update_rules(ctx, _count_group)


def _count_one_rule(rule: dict[str, Any]) -> dict[str, Any]:
    if rule["Name"] == "AWSManagedRulesCommonRuleSet":
        rule["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"] = [
            {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
        ]
    return rule


@drift(
    "test_web_acl_managed_rule_groups_block",
    "one rule of the common rule set is overridden to count",
    id="waf-logs-web-acl-rule-overridden-to-count",
    names=_acl_name,
)
def drift_web_acl_rule_counts(ctx: DriftContext) -> None:
    _update_rules(ctx, _count_one_rule)


@drift(
    "test_web_acl_managed_rule_groups_block",
    "the known-bad-inputs rule group is removed from the web ACL",
    id="waf-logs-web-acl-group-removed",
    names=_acl_name,
)
def drift_web_acl_group_removed(ctx: DriftContext) -> None:
    _update_rules(ctx, lambda r: None if r["Name"] == "AWSManagedRulesKnownBadInputsRuleSet" else r)


@drift(
    "test_web_acl_logging_configured",
    "the web ACL's logging configuration is deleted",
    id="waf-logs-web-acl-logging-deleted",
    names=_acl,
)
def drift_web_acl_logging_deleted(ctx: DriftContext) -> None:
    ctx.client("wafv2").delete_logging_configuration(ResourceArn=_acl(ctx))


# ---- scanner findings: Aurora


@drift(
    "test_aurora_iam_authentication_enabled",
    "IAM database authentication is turned off on the Aurora cluster",
    id="waf-logs-aurora-iam-auth-off",
    names=_cluster,
)
def drift_aurora_iam_auth_off(ctx: DriftContext) -> None:
    ctx.client("rds").modify_db_cluster(
        DBClusterIdentifier=_cluster(ctx), EnableIAMDatabaseAuthentication=False, ApplyImmediately=True
    )


def _writer(ctx: DriftContext) -> str:
    return f"{_cluster(ctx)}-writer"


@drift(
    "test_aurora_enhanced_monitoring_enabled",
    "enhanced monitoring is turned off on the Aurora writer",
    id="waf-logs-aurora-monitoring-off",
    names=_writer,
)
def drift_aurora_monitoring_off(ctx: DriftContext) -> None:
    ctx.client("rds").modify_db_instance(DBInstanceIdentifier=_writer(ctx), MonitoringInterval=0, ApplyImmediately=True)
