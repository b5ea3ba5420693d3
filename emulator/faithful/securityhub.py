"""Security Hub: the hub, its standards and ``AWS::SecurityHub::Hub`` / ``AWS::SecurityHub::Standard``.

Gaps in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator):

* No Security Hub service: a ``securityhub`` call answered 400 ``{"error": "Unsupported service:
  securityhub"}``. -> EnableSecurityHub, DescribeHub, DisableSecurityHub, DescribeStandards,
  GetEnabledStandards, BatchEnableStandards and BatchDisableStandards served here (REST JSON,
  per account and Region), with AWS's refusals: every call but EnableSecurityHub on an account
  without a hub is ``InvalidAccessException`` (401, "Account ... is not subscribed to AWS
  Security Hub"); a second EnableSecurityHub is ``ResourceConflictException`` (409); an
  unknown standards ARN or subscription ARN is ``InvalidInputException`` (400).
* EnableSecurityHub's ``EnableDefaultStandards`` defaults to true, as on AWS: the hub comes
  with AWS Foundational Security Best Practices v1.0.0 and CIS AWS Foundations Benchmark
  v1.2.0 enabled.
* The standards catalogue is AWS's ARNs (DescribeStandards): FSBP v1.0.0, CIS v1.2.0 (the
  Region-less ``ruleset`` ARN), v1.4.0, v3.0.0, PCI DSS v3.2.1 and v4.0.1, NIST SP 800-53
  Rev. 5 and the AWS Resource Tagging Standard. A subscription ARN is
  ``arn:aws:securityhub:<region>:<account>:subscription/<standard>/v/<version>``.
* Deliberate difference: AWS answers BatchEnableStandards with ``PENDING`` and
  BatchDisableStandards with ``DELETING`` and gets there within minutes; here the enabled
  standard is ``READY`` (GetEnabledStandards) and the disabled one is gone at once.
* No provisioners (CreateStack refused the template: "Template format error: Unrecognized
  resource types"): ``AWS::SecurityHub::Hub`` (EnableDefaultStandards, ControlFindingGenerator,
  AutoEnableControls, Tags; Ref = the hub ARN ``arn:aws:securityhub:<region>:<account>:hub/default``)
  and ``AWS::SecurityHub::Standard`` (StandardsArn; Ref = the standards subscription ARN) are
  served, deletes undo them; drift readers compare AutoEnableControls / ControlFindingGenerator
  and a standard's existence.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from faithful._restjson import Reply, error, iso_now, on_reset, register, reply, route

log = logging.getLogger("faithful.securityhub")

# (path after the standards ARN's "::", name, enabled by default)
STANDARDS: tuple[tuple[str, str, bool], ...] = (
    (
        "standards/aws-foundational-security-best-practices/v/1.0.0",
        "AWS Foundational Security Best Practices v1.0.0",
        True,
    ),
    ("ruleset/cis-aws-foundations-benchmark/v/1.2.0", "CIS AWS Foundations Benchmark v1.2.0", True),
    ("standards/cis-aws-foundations-benchmark/v/1.4.0", "CIS AWS Foundations Benchmark v1.4.0", False),
    ("standards/cis-aws-foundations-benchmark/v/3.0.0", "CIS AWS Foundations Benchmark v3.0.0", False),
    ("standards/pci-dss/v/3.2.1", "PCI DSS v3.2.1", False),
    ("standards/pci-dss/v/4.0.1", "PCI DSS v4.0.1", False),
    ("standards/nist-800-53/v/5.0.0", "NIST Special Publication 800-53 Revision 5", False),
    ("standards/aws-resource-tagging-standard/v/1.0.0", "AWS Resource Tagging Standard v1.0.0", False),
)

# (account, region) -> hub record; its "subscriptions": subscription ARN -> StandardsSubscription
HUBS: dict[tuple[str, str], dict[str, Any]] = {}


def _scope() -> tuple[str, str]:
    from ministack.core.responses import get_account_id, get_region

    return get_account_id(), get_region()


def standards_arn(path: str, region: str) -> str:
    # CIS v1.2.0 is the one standard whose ARN names no Region
    return f"arn:aws:securityhub:::{path}" if path.startswith("ruleset/") else f"arn:aws:securityhub:{region}::{path}"


def _catalogue(region: str) -> dict[str, tuple[str, str, bool]]:
    """standards ARN -> (path, name, enabled by default)."""
    return {standards_arn(path, region): (path, name, default) for path, name, default in STANDARDS}


def subscription_arn(standard: str, account: str, region: str) -> str:
    path = _catalogue(region)[standard][0]
    return f"arn:aws:securityhub:{region}:{account}:subscription/{path.split('/', 1)[1]}"


def hub_arn(account: str, region: str) -> str:
    return f"arn:aws:securityhub:{region}:{account}:hub/default"


def _not_subscribed() -> Reply:
    account, _region = _scope()
    return error(401, "InvalidAccessException", f"Account {account} is not subscribed to AWS Security Hub")


def enable_hub(request: dict[str, Any]) -> str:
    """Enable the region's hub: '' or why AWS refuses (ResourceConflictException)."""
    account, region = _scope()
    if (account, region) in HUBS:
        return f"Account {account} is already subscribed to Security Hub"
    HUBS[(account, region)] = {
        "HubArn": hub_arn(account, region),
        "SubscribedAt": iso_now(),
        "AutoEnableControls": True,
        "ControlFindingGenerator": str(request.get("ControlFindingGenerator") or "SECURITY_CONTROL"),
        "Tags": dict(request.get("Tags") or {}),
        "subscriptions": {},
    }
    if request.get("EnableDefaultStandards", True):
        enable_standards([{"StandardsArn": arn} for arn, (_p, _n, default) in _catalogue(region).items() if default])
    return ""


def enable_standards(requests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    account, region = _scope()
    hub = HUBS[(account, region)]
    catalogue = _catalogue(region)
    unknown = [str(r.get("StandardsArn")) for r in requests if r.get("StandardsArn") not in catalogue]
    if unknown:
        return [], f"Invalid StandardsArn: {', '.join(unknown)}"
    answered = []
    for request in requests:
        standard = str(request["StandardsArn"])
        arn = subscription_arn(standard, account, region)
        subscription = hub["subscriptions"].setdefault(
            arn,
            {
                "StandardsSubscriptionArn": arn,
                "StandardsArn": standard,
                "StandardsInput": dict(request.get("StandardsInput") or {}),
                "StandardsStatus": "READY",
                "StandardsControlsUpdatable": "READY_FOR_UPDATES",
            },
        )
        answered.append({**subscription, "StandardsStatus": "PENDING"})
    return answered, ""


def disable_standards(arns: list[str]) -> tuple[list[dict[str, Any]], str]:
    hub = HUBS[_scope()]
    unknown = [a for a in arns if a not in hub["subscriptions"]]
    if unknown:
        return [], f"Invalid StandardsSubscriptionArn: {', '.join(unknown)}"
    return [{**hub["subscriptions"].pop(a), "StandardsStatus": "DELETING"} for a in arns], ""


# ---- the API
def _enable(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if why := enable_hub(body):
        return error(409, "ResourceConflictException", why)
    return reply(200, {})


def _describe_hub(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    hub = HUBS.get(_scope())
    if hub is None:
        return _not_subscribed()
    if query.get("HubArn") and query["HubArn"] != hub["HubArn"]:
        return error(404, "ResourceNotFoundException", f"Hub {query['HubArn']} not found")
    return reply(200, {k: v for k, v in hub.items() if k not in ("subscriptions", "Tags")})


def _disable(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if HUBS.pop(_scope(), None) is None:
        return _not_subscribed()
    return reply(200, {})


def _describe_standards(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if _scope() not in HUBS:
        return _not_subscribed()
    _account, region = _scope()
    standards = [
        {
            "StandardsArn": arn,
            "Name": name,
            "Description": f"The {name} standard.",
            "EnabledByDefault": default,
            "StandardsManagedBy": {
                "Company": "AWS" if "aws-" in path else path.split("/")[1].upper(),
                "Product": "Security Hub",
            },
        }
        for arn, (path, name, default) in _catalogue(region).items()
    ]
    return reply(200, {"Standards": standards})


def _get_enabled(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    hub = HUBS.get(_scope())
    if hub is None:
        return _not_subscribed()
    wanted = body.get("StandardsSubscriptionArns")
    subscriptions = [s for a, s in hub["subscriptions"].items() if not wanted or a in wanted]
    return reply(200, {"StandardsSubscriptions": subscriptions})


def _batch_enable(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if _scope() not in HUBS:
        return _not_subscribed()
    answered, why = enable_standards(list(body.get("StandardsSubscriptionRequests") or []))
    return error(400, "InvalidInputException", why) if why else reply(200, {"StandardsSubscriptions": answered})


def _batch_disable(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if _scope() not in HUBS:
        return _not_subscribed()
    answered, why = disable_standards([str(a) for a in body.get("StandardsSubscriptionArns") or []])
    return error(400, "InvalidInputException", why) if why else reply(200, {"StandardsSubscriptions": answered})


# ---- CloudFormation
def _flag(value: Any, default: bool) -> bool:
    return default if value is None else str(value).lower() == "true"


def _hub_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
    request = {
        "EnableDefaultStandards": _flag(props.get("EnableDefaultStandards"), True),
        "ControlFindingGenerator": props.get("ControlFindingGenerator"),
        "Tags": props.get("Tags") or {},
    }
    if why := enable_hub(request):
        raise ValueError(f"EnableSecurityHub refused: {why}")
    hub = HUBS[_scope()]
    hub["AutoEnableControls"] = _flag(props.get("AutoEnableControls"), True)
    return hub["HubArn"], {"ARN": hub["HubArn"], "SubscribedAt": hub["SubscribedAt"],
                           "AutoEnableControls": hub["AutoEnableControls"]}  # fmt: skip


def _hub_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                logical_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    hub = HUBS.get(_scope())
    if hub is None:
        raise ValueError("Security Hub is not enabled in this account and Region")
    hub["AutoEnableControls"] = _flag(new.get("AutoEnableControls"), True)
    if new.get("ControlFindingGenerator"):
        hub["ControlFindingGenerator"] = new["ControlFindingGenerator"]
    hub["Tags"] = dict(new.get("Tags") or {})
    return physical_id, {"ARN": physical_id, "SubscribedAt": hub["SubscribedAt"],
                         "AutoEnableControls": hub["AutoEnableControls"]}  # fmt: skip


def _hub_delete(physical_id: str, props: dict[str, Any]) -> None:
    hub = HUBS.get(_scope())
    if hub is not None and hub["HubArn"] == physical_id:
        HUBS.pop(_scope(), None)


def _standard_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
    if _scope() not in HUBS:
        account, _region = _scope()
        raise ValueError(f"Account {account} is not subscribed to AWS Security Hub")
    answered, why = enable_standards([{"StandardsArn": props.get("StandardsArn")}])
    if why:
        raise ValueError(f"BatchEnableStandards refused: {why}")
    arn = answered[0]["StandardsSubscriptionArn"]
    return arn, {"StandardsSubscriptionArn": arn}


def _standard_delete(physical_id: str, props: dict[str, Any]) -> None:
    hub = HUBS.get(_scope())
    if hub is not None:
        hub["subscriptions"].pop(physical_id, None)


def _standard_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                     logical_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    if old.get("StandardsArn") == new.get("StandardsArn"):
        return physical_id, {"StandardsSubscriptionArn": physical_id}
    _standard_delete(physical_id, old)
    return _standard_create(logical_id or physical_id, new, stack_name)


def _read_hub(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    hub = HUBS.get(_scope())
    if hub is None or hub["HubArn"] != physical_id:
        return None
    return {"AutoEnableControls": hub["AutoEnableControls"], "ControlFindingGenerator": hub["ControlFindingGenerator"]}


def _read_standard(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    hub = HUBS.get(_scope())
    subscription = hub["subscriptions"].get(physical_id) if hub else None
    return None if subscription is None else {"StandardsArn": subscription["StandardsArn"]}


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.services.cloudformation import drift

    register(
        "securityhub",
        [
            route("POST", r"/accounts", _enable),
            route("GET", r"/accounts", _describe_hub),
            route("DELETE", r"/accounts", _disable),
            route("GET", r"/standards", _describe_standards),
            route("POST", r"/standards/get", _get_enabled),
            route("POST", r"/standards/register", _batch_enable),
            route("POST", r"/standards/deregister", _batch_disable),
        ],
    )
    handlers = resource_handlers()
    handlers["AWS::SecurityHub::Hub"] = {
        "create": _hub_create, "update": _hub_update, "delete": _hub_delete, "update_with_logical_id": True,
    }  # fmt: skip
    handlers["AWS::SecurityHub::Standard"] = {
        "create": _standard_create, "update": _standard_update, "delete": _standard_delete,
        "update_with_logical_id": True,
    }  # fmt: skip
    drift._DRIFT_READERS["AWS::SecurityHub::Hub"] = (
        _read_hub,
        frozenset({"AutoEnableControls", "ControlFindingGenerator"}),
    )
    drift._DRIFT_READERS["AWS::SecurityHub::Standard"] = (_read_standard, frozenset({"StandardsArn"}))
    on_reset(HUBS.clear)
    log.info("securityhub installed")
