"""Resource Groups Tagging API: GetResources sees the platform's resources, as on AWS.

Gaps closed (MiniStack 1.5.33, measured on the platform template deployed as dev: of its 44
resources that AWS's GetResources lists once tagged, MiniStack's returned 6 — the bucket, the topic, the
key, the ECS cluster, service and task definition):

1. No collector for EC2, Elastic Load Balancing, CloudWatch Logs, CloudWatch or RDS, so the
   VPC, subnets, route tables, internet and NAT gateways, Elastic IPs, security groups, flow
   log, load balancer, target group, listener, log groups, alarms, DB cluster, instances,
   subnet group and cluster parameter group were never listed, tagged or not.
   -> a collector per service, reading the tags each service's own API reports (EC2's tag
   store by resource id, ELB's and RDS's by ARN, a log group's record, CloudWatch's tags by
   alarm ARN), for resources that still exist; ARNs as AWS spells them (``ec2:…:vpc/vpc-…``,
   ``…:elastic-ip/eipalloc-…``, ``logs:…:log-group:<name>`` without ``:*``,
   ``cloudwatch:…:alarm:<name>``, ``rds:…:cluster:``/``db:``/``subgrp:``/``cluster-pg:``).
2. Secrets Manager had a collector (used for ``aws:ResourceTag`` conditions) that GetResources
   did not consult. -> registered for GetResources too.
3. Every match came back in one page with an empty ``PaginationToken``; AWS pages
   (``ResourcesPerPage``, at most 100, 100 by default) and hands back a token until the last
   page. -> :func:`_get_resources` pages the reply, so a reader that ignores the token is caught.

4. CloudFormation put the stack-level tags and its three ``aws:cloudformation:`` tags (stack
   name, stack id, logical id) on the types MiniStack provisions itself, but not on the Elastic
   IPs, NAT gateways and flow log (provisioned by ``vpc.py``) nor on the ECS task definition, so
   these carried the template's tags only. -> the four types join MiniStack's table of the tag
   property CloudFormation fills (``_STACK_TAG_PROPERTY``), as AWS tags them.

Checked and already faithful: IAM users and roles are not listed (AWS's GetResources does not
support them either); ``ResourceTypeFilters`` such as ``ec2:security-group`` match on the
ARN's resource type, so they work for the new collectors unchanged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from ministack.core.responses import get_account_id, get_region
from ministack.services import tagging as _tagging
from ministack.services.cloudformation import provisioners as _prov

_orig: dict[str, Any] = {}

Pair = tuple[str, list[dict[str, str]]]

# EC2 store (module attribute) -> the resource type in the ARN
_EC2_STORES = {
    "_vpcs": "vpc",
    "_subnets": "subnet",
    "_route_tables": "route-table",
    "_internet_gateways": "internet-gateway",
    "_nat_gateways": "natgateway",
    "_addresses": "elastic-ip",
    "_security_groups": "security-group",
    "_flow_logs": "vpc-flow-log",
    "_network_acls": "network-acl",
    "_network_interfaces": "network-interface",
    "_instances": "instance",
    "_volumes": "volume",
}


def _prefix(service: str) -> str:
    return f"arn:aws:{service}:{get_region()}:{get_account_id()}"


def _pairs(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t.get("Key", "")), "Value": str(t.get("Value", ""))} for t in tags or []]


def _collect_ec2() -> Iterator[Pair]:
    from ministack.services import ec2

    prefix = _prefix("ec2")
    for store, rtype in _EC2_STORES.items():
        for rid in list(getattr(ec2, store, {}).keys()):
            if rid in ec2._tags:
                yield f"{prefix}:{rtype}/{rid}", _pairs(ec2._tags[rid])


def _collect_elb() -> Iterator[Pair]:
    from ministack.services import alb

    for store in (alb._lbs, alb._tgs, alb._listeners):
        for arn in list(store.keys()):
            if arn in alb._tags:
                yield arn, _pairs(alb._tags[arn])


def _collect_logs() -> Iterator[Pair]:
    from ministack.services import cloudwatch_logs as logs

    for group in list(logs._log_groups.values()):
        if group.get("tags") is not None:
            yield str(group.get("arn", "")).removesuffix(":*"), _pairs(group["tags"])


def _collect_cloudwatch() -> Iterator[Pair]:
    from ministack.services import cloudwatch as cw

    for store in (cw._alarms, cw._composite_alarms):
        for alarm in list(store.values()):
            arn = alarm.get("AlarmArn", "")
            if arn in cw._resource_tags:
                yield arn, _pairs(cw._resource_tags[arn])


def _collect_rds() -> Iterator[Pair]:
    from ministack.services import rds

    stores = (
        (rds._clusters, "DBClusterArn"),
        (rds._instances, "DBInstanceArn"),
        (rds._subnet_groups, "DBSubnetGroupArn"),
        (rds._db_cluster_param_groups, "DBClusterParameterGroupArn"),
        (rds._param_groups, "DBParameterGroupArn"),
    )
    for store, key in stores:
        for record in list(store.values()):
            arn = record.get(key, "")
            if arn and arn in rds._tags:
                yield arn, _pairs(rds._tags[arn])


_NEW = {
    "ec2": _collect_ec2,
    "elasticloadbalancing": _collect_elb,
    "logs": _collect_logs,
    "cloudwatch": _collect_cloudwatch,
    "rds": _collect_rds,
}

MAX_PER_PAGE = 100

# types whose template tags CloudFormation completes with the stack's and its own aws: tags
_STACK_TAGGED = ("AWS::EC2::EIP", "AWS::EC2::NatGateway", "AWS::EC2::FlowLog", "AWS::ECS::TaskDefinition")


def _get_resources(data: dict) -> tuple[int, dict, bytes]:
    """MiniStack's GetResources, paged as AWS pages it (the token is an opaque offset)."""
    if data.get("ResourceARNList"):
        return _orig["get_resources"](data)  # one answer, no paging (and the filters refused as before)
    token = data.get("PaginationToken") or ""
    per_page = int(data.get("ResourcesPerPage") or MAX_PER_PAGE)
    if not 1 <= per_page <= MAX_PER_PAGE:
        return _tagging._invalid_parameter(f"ResourcesPerPage must be between 1 and {MAX_PER_PAGE}")
    try:
        start = int(base64.b64decode(token).decode()) if token else 0
    except ValueError:
        return _tagging._invalid_parameter("PaginationToken is invalid")
    inner = {k: v for k, v in data.items() if k not in ("PaginationToken", "ResourcesPerPage")}
    status, headers, body = _orig["get_resources"](inner)
    if status != 200:
        return status, headers, body
    reply = json.loads(body)
    items = reply.get("ResourceTagMappingList", [])
    end = start + per_page
    reply["ResourceTagMappingList"] = items[start:end]
    reply["PaginationToken"] = base64.b64encode(str(end).encode()).decode() if end < len(items) else ""
    return status, headers, json.dumps(reply).encode()


def install() -> None:
    if _orig:
        return
    _orig["get_resources"] = _tagging._get_resources
    for service, collector in _NEW.items():
        _tagging._COLLECTORS.setdefault(service, collector)
    _tagging._COLLECTORS.setdefault("secretsmanager", _tagging._collect_secretsmanager)
    _tagging._HANDLERS["GetResources"] = _get_resources
    for rtype in _STACK_TAGGED:
        _prov._STACK_TAG_PROPERTY.setdefault(rtype, ("Tags", "list"))
