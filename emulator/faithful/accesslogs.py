"""Application load balancer access logs: AWS's test delivery when access logging is turned on.

Gap in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator):
turning ``access_logs.s3.enabled`` on (ModifyLoadBalancerAttributes, or a template's
``LoadBalancerAttributes``) stored the attribute whatever the bucket: one that does not exist,
one whose policy lets nobody deliver, one encrypted with SSE-KMS. AWS writes a test file into
``<bucket>/<prefix>/AWSLogs/<account>/`` when access logging is turned on and refuses the change
when that write is denied: InvalidConfigurationRequest, "Access Denied for bucket: <bucket>.
Please check S3bucket permission".

Here the same decision is made from the bucket's state: the bucket must exist, its default
encryption must not be SSE-KMS (ALB access logs support SSE-S3 only), and an ``Allow`` statement
of its policy must grant ``s3:PutObject`` on the test object to Elastic Load Balancing's delivery
as AWS documents it for the load balancer's Region: in a Region that opened before August 2022
(``ELB_ACCOUNTS``) the Region's ELB account (``arn:<partition>:iam::<elb-account>:root`` or the
bare id), the service principal not being supported there; in a later Region the service principal
``logdelivery.elasticloadbalancing.amazonaws.com``. Any ``aws:SourceAccount`` / ``aws:SourceArn``
condition must name this account / load balancer; an explicit ``Deny`` of the write wins. The API
refuses with AWS's code and sentence; a template's load balancer fails to create (CREATE_FAILED
with the same sentence).
"""

from __future__ import annotations

import json
import logging
import re
from fnmatch import fnmatchcase
from typing import Any

log = logging.getLogger("faithful.accesslogs")

ELB_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
# the accounts ELB delivers access logs from in the Regions that opened before August 2022 (AWS's
# "Enable access logs for your Application Load Balancer"); the suite's core.logdelivery holds the same
ELB_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580", "ap-south-1": "718504428378", "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-south-1": "635631232127",
    "eu-west-3": "009996457667", "eu-north-1": "897822967062", "me-south-1": "076674570225",
    "sa-east-1": "507241528517", "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993", "cn-northwest-1": "037604701340",
}  # fmt: skip


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _principal_matches(principal: Any, region: str) -> bool:
    """Whether ``principal`` admits ELB's delivery in ``region``: the Region's account, or its service principal."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    elb_account = ELB_ACCOUNTS.get(region)
    for kind, values in principal.items():
        for value in (str(v) for v in _as_list(values)):
            if kind == "AWS" and value == "*":
                return True
            if elb_account is None and kind == "Service" and value == ELB_SERVICE:
                return True
            if (
                elb_account
                and kind == "AWS"
                and (value == elb_account or re.fullmatch(rf"arn:aws[a-z-]*:iam::{elb_account}:root", value))
            ):
                return True
    return False


def _condition_holds(condition: Any, account: str, lb_arn: str) -> bool:
    """The request ELB makes carries aws:SourceAccount (this account) and aws:SourceArn (the load balancer)."""
    context = {"aws:sourceaccount": account, "aws:sourcearn": lb_arn, "aws:securetransport": "true"}
    for operator, block in (condition or {}).items():
        if not isinstance(block, dict):
            return False
        for key, values in block.items():
            seen = context.get(str(key).lower())
            wanted = [str(v) for v in _as_list(values)]
            op = str(operator).removesuffix("IfExists")
            if seen is None:
                if str(operator).endswith("IfExists"):
                    continue
                return False
            if op in ("StringEquals", "ArnEquals") and seen not in wanted:
                return False
            if op in ("StringLike", "ArnLike") and not any(fnmatchcase(seen, w) for w in wanted):
                return False
            if op == "Bool" and seen.lower() not in [w.lower() for w in wanted]:
                return False
            if op in ("StringNotEquals", "ArnNotEquals") and seen in wanted:
                return False
    return True


def _grants(statement: dict[str, Any], object_arn: str, region: str, account: str, lb_arn: str) -> bool:
    actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
    resources = [str(r) for r in _as_list(statement.get("Resource"))]
    return (
        _principal_matches(statement.get("Principal"), region)
        and any(fnmatchcase("s3:putobject", a) for a in actions)
        and any(fnmatchcase(object_arn, r) for r in resources)
        and _condition_holds(statement.get("Condition"), account, lb_arn)
    )


def delivery_refused(policy: str | None, encryption: str, bucket: str, prefix: str, region: str, account: str,
                     lb_arn: str) -> bool:  # fmt: skip
    """Whether AWS's test write of the access logs into ``bucket`` would be denied."""
    if "aws:kms" in encryption:
        return True
    try:
        document = json.loads(policy) if policy else {}
    except ValueError:
        return True
    path = "/".join(p for p in (prefix.strip("/"), "AWSLogs", account, "ELBAccessLogTestFile") if p)
    object_arn = f"arn:aws:s3:::{bucket}/{path}"
    statements = [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]
    if any(s.get("Effect") == "Deny" and _grants(s, object_arn, region, account, lb_arn) for s in statements):
        return True
    return not any(s.get("Effect") == "Allow" and _grants(s, object_arn, region, account, lb_arn) for s in statements)


def refusal(bucket: str) -> str:
    return f"Access Denied for bucket: {bucket}. Please check S3bucket permission"


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.core.responses import get_account_id
    from ministack.services import alb
    from ministack.services import s3 as _s3

    def refused(lb_arn: str, attributes: dict[str, str]) -> str:
        """AWS's refusal of these attributes (the load balancer's current ones under the requested), or ''."""
        if attributes.get("access_logs.s3.enabled") != "true":
            return ""
        bucket = attributes.get("access_logs.s3.bucket", "")
        if not bucket or bucket not in _s3._buckets:
            return refusal(bucket)
        policy = _s3._bucket_policies.get(bucket)
        encryption = _s3._bucket_encryption.get(bucket) or ""
        if isinstance(policy, bytes):
            policy = policy.decode()
        if isinstance(encryption, bytes):
            encryption = encryption.decode()
        region = lb_arn.split(":")[3] if lb_arn.count(":") > 3 else "us-east-1"
        prefix = attributes.get("access_logs.s3.prefix", "")
        if delivery_refused(policy, str(encryption), bucket, prefix, region, get_account_id(), lb_arn):
            return refusal(bucket)
        return ""

    modify_api = alb._modify_lb_attrs

    def _modify_lb_attrs(params: Any) -> Any:
        arn = alb._p(params, "LoadBalancerArn")
        if arn in alb._lbs:
            current = {a["Key"]: str(a.get("Value", "")) for a in alb._lb_attrs.get(arn) or []}
            i = 1
            while key := alb._p(params, f"Attributes.member.{i}.Key"):
                current[key] = alb._p(params, f"Attributes.member.{i}.Value") or ""
                i += 1
            if why := refused(arn, current):
                return alb._error("InvalidConfigurationRequest", why)
        return modify_api(params)

    alb._modify_lb_attrs = _modify_lb_attrs
    alb._ACTION_MAP["ModifyLoadBalancerAttributes"] = _modify_lb_attrs

    handler = resource_handlers()["AWS::ElasticLoadBalancingV2::LoadBalancer"]
    create_cfn, update_cfn = handler["create"], handler["update"]

    def declared(props: dict[str, Any]) -> dict[str, str]:
        return {
            str(a.get("Key")): str(a.get("Value", ""))
            for a in props.get("LoadBalancerAttributes") or []
            if isinstance(a, dict)
        }

    def create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        arn, attrs = create_cfn(logical_id, props, stack_name)
        if why := refused(arn, declared(props)):
            alb._lbs.pop(arn, None)
            alb._lb_attrs.pop(arn, None)
            raise ValueError(why)
        return arn, attrs

    def update(physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], stack_name: str,
               logical_id: str | None = None) -> Any:  # fmt: skip
        if why := refused(physical_id, declared(new_props)):
            raise ValueError(why)
        return update_cfn(physical_id, old_props, new_props, stack_name, logical_id)

    handler["create"], handler["update"] = create, update
    log.info("load balancer access-log delivery check installed")
