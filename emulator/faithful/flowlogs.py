"""VPC flow logs: the EC2 API reports a flow log the way AWS does, however it was made.

``vpc.py`` gives ``AWS::EC2::FlowLog`` its CloudFormation handler (in EC2's own store) and
adds ``resourceType``, ``logGroupName``, ``deliverLogsStatus``, ``deliverLogsPermissionArn``
and ``maxAggregationInterval`` to each ``DescribeFlowLogs`` item from that store's record.
Gaps in MiniStack 1.5.33 that remained, closed here:

1. ``CreateFlowLogs`` through the API (e.g. a drift re-creating a flow log) kept only part of
   the request: ``LogGroupName`` was stored as the destination and reported as the
   ``LogDestination`` while ``LogGroupName`` came back empty (AWS reports the group name
   and the group's ARN), and ``DeliverLogsPermissionArn``, ``MaxAggregationInterval`` (600
   when not given), ``LogFormat`` and the tags were dropped (the tags because MiniStack read
   the ``flow-log`` TagSpecification; the EC2 resource type is ``vpc-flow-log``).
2. ``DescribeFlowLogs`` applied only the ``resource-id`` and tag filters and silently ignored
   the others, so ``flow-log-id``, ``traffic-type``, ``log-destination-type``,
   ``log-group-name`` and ``deliver-log-status`` matched every flow log. It now applies
   them, and answers ``InvalidParameterValue`` for a filter name EC2 does not have.
3. ``LogFormat`` was never reported. AWS reports the format, the default one
   (``${version} ... ${log-status}``) when none was given; the template's ``LogFormat``
   (CloudFormation) is kept as well.
4. ``DeleteFlowLogs`` of an id that does not exist answered success with nothing in
   ``Unsuccessful``; AWS lists each such id there with ``InvalidFlowLogId.NotFound``.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

log = logging.getLogger("faithful.flowlogs")

_installed = False

DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)
_FILTERS = {
    "flow-log-id": "FlowLogId",
    "resource-id": "ResourceId",
    "traffic-type": "TrafficType",
    "log-destination-type": "LogDestinationType",
    "log-group-name": "LogGroupName",
    "deliver-log-status": "DeliverLogsStatus",
}


def _log_group_arn(name: str) -> str:
    from ministack.services import ec2

    return f"arn:aws:logs:{ec2.get_region()}:{ec2.get_account_id()}:log-group:{name}"


def _group_of(destination: str) -> str:
    return destination.split(":log-group:", 1)[-1].removesuffix(":*") if ":log-group:" in destination else ""


def _wrap_create() -> None:
    """Gap 1."""
    from ministack.services import ec2

    original = ec2._create_flow_logs

    def _create_flow_logs(params):
        before = set(ec2._flow_logs)
        status, headers, body = original(params)
        if status != 200:
            return status, headers, body
        p = ec2._p
        group = p(params, "LogGroupName")
        destination = p(params, "LogDestination")
        dest_type = p(params, "LogDestinationType") or "cloud-watch-logs"
        if dest_type == "cloud-watch-logs":
            group = group or _group_of(destination)
            destination = destination or (_log_group_arn(group) if group else "")
        interval = p(params, "MaxAggregationInterval")
        tags = []
        i = 1
        while p(params, f"TagSpecification.{i}.ResourceType"):
            if p(params, f"TagSpecification.{i}.ResourceType") in ("vpc-flow-log", "flow-log"):
                j = 1
                while p(params, f"TagSpecification.{i}.Tag.{j}.Key"):
                    tags.append(
                        {
                            "Key": p(params, f"TagSpecification.{i}.Tag.{j}.Key"),
                            "Value": p(params, f"TagSpecification.{i}.Tag.{j}.Value", ""),
                        }
                    )
                    j += 1
            i += 1
        for fl_id in set(ec2._flow_logs) - before:
            ec2._flow_logs[fl_id].update(
                LogDestination=destination,
                LogGroupName=group if dest_type == "cloud-watch-logs" else "",
                DeliverLogsPermissionArn=p(params, "DeliverLogsPermissionArn"),
                MaxAggregationInterval=int(interval) if interval.isdigit() else 600,
                LogFormat=p(params, "LogFormat") or DEFAULT_FORMAT,
                DeliverLogsStatus="SUCCESS",
            )
            if tags:
                ec2._tags[fl_id] = list(tags)
        return status, headers, body

    ec2._create_flow_logs = _create_flow_logs
    ec2._ACTION_MAP["CreateFlowLogs"] = _create_flow_logs


def _wrap_describe() -> None:
    """Gaps 2 and 3 (``vpc.py``'s wrapper, installed after this one, adds its five members)."""
    from ministack.services import ec2

    def _describe_flow_logs(params):
        ids = ec2._parse_member_list(params, "FlowLogId")
        filters = ec2._parse_filters(params)
        for name in filters:
            if name not in _FILTERS and not name.startswith("tag:") and name not in ("tag-key", "tag-value"):
                return ec2._error("InvalidParameterValue", f"The filter '{name}' is invalid", 400)
        items = ""
        for fl in ec2._flow_logs.values():
            if ids and fl["FlowLogId"] not in ids:
                continue
            if not ec2._resource_matches_tag_filters(fl["FlowLogId"], filters):
                continue
            if not all(
                str(fl.get(_FILTERS[name], "")) in values for name, values in filters.items() if name in _FILTERS
            ):
                continue
            items += (
                f"<item><flowLogId>{fl['FlowLogId']}</flowLogId>"
                f"<resourceId>{fl['ResourceId']}</resourceId>"
                f"<trafficType>{fl['TrafficType']}</trafficType>"
                f"<logDestinationType>{fl['LogDestinationType']}</logDestinationType>"
                f"<logDestination>{escape(fl.get('LogDestination') or '')}</logDestination>"
                f"<logFormat>{escape(fl.get('LogFormat') or DEFAULT_FORMAT)}</logFormat>"
                f"<flowLogStatus>{fl['FlowLogStatus']}</flowLogStatus>"
                f"<creationTime>{fl['CreationTime']}</creationTime>"
                f"{ec2._tag_set_xml(fl['FlowLogId'])}</item>"
            )
        return ec2._xml(200, "DescribeFlowLogsResponse", f"<flowLogSet>{items}</flowLogSet>")

    ec2._describe_flow_logs = _describe_flow_logs
    ec2._ACTION_MAP["DescribeFlowLogs"] = _describe_flow_logs


def _wrap_delete() -> None:
    """Gap 4."""
    from ministack.services import ec2

    original = ec2._delete_flow_logs

    def _delete_flow_logs(params):
        ids = ec2._parse_member_list(params, "FlowLogId")
        missing = [i for i in ids if i not in ec2._flow_logs]
        status, headers, body = original(params)
        if status != 200 or not missing:
            return status, headers, body
        items = "".join(
            f"<item><error><code>InvalidFlowLogId.NotFound</code><message>These flow log ids in the input list "
            f"are not found: [TotalCount: {len(missing)}] {' '.join(missing)}</message></error>"
            f"<resourceId>{fid}</resourceId></item>"
            for fid in missing
        )
        return ec2._xml(200, "DeleteFlowLogsResponse", f"<unsuccessful>{items}</unsuccessful>")

    ec2._delete_flow_logs = _delete_flow_logs
    ec2._ACTION_MAP["DeleteFlowLogs"] = _delete_flow_logs


def _cfn_log_format(original):
    """Gap 3 for ``AWS::EC2::FlowLog`` (whose handler is ``vpc.py``'s): keep ``LogFormat``."""

    def _provision_resource(resource_type, logical_id, props, stack_name, *args, **kwargs):
        physical_id, attrs = original(resource_type, logical_id, props, stack_name, *args, **kwargs)
        if resource_type == "AWS::EC2::FlowLog" and isinstance(props, dict):
            from ministack.services import ec2

            record = ec2._flow_logs.get(physical_id)
            if record is not None:
                record.setdefault("LogFormat", props.get("LogFormat") or DEFAULT_FORMAT)
        return physical_id, attrs

    return _provision_resource


def install() -> None:
    global _installed
    if _installed:
        return
    from faithful.types import wrap_dispatch

    _wrap_create()
    _wrap_describe()
    _wrap_delete()
    wrap_dispatch("_provision_resource", _cfn_log_format)
    _installed = True
    log.info("flowlogs extension installed")
