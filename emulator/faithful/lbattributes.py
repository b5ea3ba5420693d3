"""Application load balancer attributes: AWS's defaults, validation and deletion protection.

Gaps in MiniStack 1.5.33 (measured with boto3 against the running emulator):

* a load balancer created by CloudFormation with ``LoadBalancerAttributes`` stored *only* the
  declared attributes, so DescribeLoadBalancerAttributes of the platform's ALB listed one
  attribute, without ``deletion_protection.enabled`` or ``routing.http.desync_mitigation_mode``;
  one created through the API got three of AWS's defaults. AWS answers every attribute of an
  application load balancer, each at its default until changed.
* ModifyLoadBalancerAttributes (and the template) accepted any key and any value (``foo``,
  desync mode ``lenient``, deletion protection ``yes``); AWS refuses them (ValidationError).
* DeleteLoadBalancer deleted a load balancer whose deletion protection was on; AWS refuses
  (OperationNotPermitted).

Here every application load balancer, however created, carries AWS's full attribute set with
AWS's defaults, the declared or modified values over them; a key AWS does not know, or a value
it does not accept, is refused (the API with ValidationError, a template's resource with
CREATE_FAILED / UPDATE_FAILED naming it), and DeleteLoadBalancer refuses a protected one. The
refusal sentences are this module's own (AWS's exact wording is not quoted); the codes are AWS's.
Not emulated: CloudFormation's own delete of a protected load balancer (as with Aurora's
deletion protection, the stack delete goes through here).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("faithful.lbattributes")

# DescribeLoadBalancerAttributes of a new application load balancer on AWS, in its order
DEFAULTS: tuple[tuple[str, str], ...] = (
    ("access_logs.s3.enabled", "false"),
    ("access_logs.s3.bucket", ""),
    ("access_logs.s3.prefix", ""),
    ("client_keep_alive.seconds", "3600"),
    ("connection_logs.s3.enabled", "false"),
    ("connection_logs.s3.bucket", ""),
    ("connection_logs.s3.prefix", ""),
    ("deletion_protection.enabled", "false"),
    ("health_check_logs.s3.enabled", "false"),
    ("health_check_logs.s3.bucket", ""),
    ("health_check_logs.s3.prefix", ""),
    ("idle_timeout.timeout_seconds", "60"),
    ("load_balancing.cross_zone.enabled", "true"),
    ("routing.http.desync_mitigation_mode", "defensive"),
    ("routing.http.drop_invalid_header_fields.enabled", "false"),
    ("routing.http.preserve_host_header.enabled", "false"),
    ("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false"),
    ("routing.http.xff_client_port.enabled", "false"),
    ("routing.http.xff_header_processing.mode", "append"),
    ("routing.http2.enabled", "true"),
    ("waf.fail_open.enabled", "false"),
    ("zonal_shift.config.enabled", "false"),
)
CHOICES = {
    "routing.http.desync_mitigation_mode": ("monitor", "defensive", "strictest"),
    "routing.http.xff_header_processing.mode": ("append", "preserve", "remove"),
}
RANGES = {"idle_timeout.timeout_seconds": (1, 4000), "client_keep_alive.seconds": (60, 604800)}


def problem(key: str, value: str) -> str:
    """Why AWS refuses an attribute of an application load balancer, or '' when it accepts it."""
    if key not in dict(DEFAULTS):
        return f"Load balancer attribute key '{key}' is not recognized"
    if key.endswith(".enabled") and value not in ("true", "false"):
        return f"Load balancer attribute '{key}' must be 'true' or 'false', not '{value}'"
    if key in CHOICES and value not in CHOICES[key]:
        return f"Load balancer attribute '{key}' must be one of {', '.join(CHOICES[key])}, not '{value}'"
    if key in RANGES:
        low, high = RANGES[key]
        if not value.isdigit() or not low <= int(value) <= high:
            return f"Load balancer attribute '{key}' must be an integer from {low} to {high}, not '{value}'"
    return ""


def with_defaults(stored: list[dict[str, str]]) -> list[dict[str, str]]:
    """AWS's full attribute list: the stored values over the defaults, in AWS's order."""
    values = dict(DEFAULTS) | {a["Key"]: str(a.get("Value", "")) for a in stored if a.get("Key")}
    return [{"Key": k, "Value": values[k]} for k in dict(DEFAULTS)] + [
        {"Key": k, "Value": v} for k, v in values.items() if k not in dict(DEFAULTS)
    ]


def _declared_problems(props: dict[str, Any]) -> str:
    found = [
        problem(str(a.get("Key")), str(a.get("Value", "")))
        for a in (props.get("LoadBalancerAttributes") or [])
        if isinstance(a, dict) and a.get("Key")
    ]
    return "; ".join(p for p in found if p)


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.services import alb
    from ministack.services.cloudformation import provisioners as prov

    def is_application(arn: str) -> bool:
        return (alb._lbs.get(arn) or {}).get("Type", "application") == "application"

    def complete(arn: str) -> None:
        if arn in alb._lbs and is_application(arn):
            alb._lb_attrs[arn] = with_defaults(alb._lb_attrs.get(arn) or [])

    # ---- the API
    create_api, delete_api, modify_api = alb._create_lb, alb._delete_lb, alb._modify_lb_attrs

    def _create_lb(params: Any) -> Any:
        before = set(alb._lbs)
        reply = create_api(params)
        for arn in set(alb._lbs) - before:
            complete(arn)
        return reply

    def _modify_lb_attrs(params: Any) -> Any:
        arn = alb._p(params, "LoadBalancerArn")
        if arn in alb._lbs and is_application(arn):
            i = 1
            while key := alb._p(params, f"Attributes.member.{i}.Key"):
                if why := problem(key, alb._p(params, f"Attributes.member.{i}.Value")):
                    return alb._error("ValidationError", why)
                i += 1
            complete(arn)
        return modify_api(params)

    def _delete_lb(params: Any) -> Any:
        arn = alb._p(params, "LoadBalancerArn")
        attrs = {a["Key"]: a.get("Value") for a in alb._lb_attrs.get(arn) or []}
        if attrs.get("deletion_protection.enabled") == "true":
            return alb._error(
                "OperationNotPermitted",
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled",
            )
        return delete_api(params)

    for name, fn in (
        ("_create_lb", _create_lb),
        ("_modify_lb_attrs", _modify_lb_attrs),
        ("_delete_lb", _delete_lb),
    ):
        setattr(alb, name, fn)
        action = {"_create_lb": "CreateLoadBalancer", "_modify_lb_attrs": "ModifyLoadBalancerAttributes",
                  "_delete_lb": "DeleteLoadBalancer"}[name]  # fmt: skip
        alb._ACTION_MAP[action] = fn

    # ---- CloudFormation
    handler = resource_handlers()["AWS::ElasticLoadBalancingV2::LoadBalancer"]
    create_cfn, update_cfn = handler["create"], handler["update"]

    def create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        if props.get("Type", "application") == "application" and (why := _declared_problems(props)):
            raise ValueError(why)
        arn, attrs = create_cfn(logical_id, props, stack_name)
        complete(arn)
        return arn, attrs

    def update(physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], stack_name: str,
               logical_id: str | None = None) -> Any:  # fmt: skip
        if new_props.get("Type", "application") == "application" and (why := _declared_problems(new_props)):
            raise ValueError(why)
        result = update_cfn(physical_id, old_props, new_props, stack_name, logical_id)
        complete(result[0])
        return result

    handler["create"], handler["update"] = create, update
    prov._elbv2_load_balancer_create = create  # a replacement (new Name) creates through this name
    log.info("load balancer attributes installed")
