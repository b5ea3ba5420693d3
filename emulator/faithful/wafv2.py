"""WAFv2: a web ACL's association with a load balancer and its logging, as CloudFormation and the API make them.

Gaps in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator):

* ``AWS::WAFv2::WebACLAssociation`` and ``AWS::WAFv2::LoggingConfiguration`` had no
  provisioner: a template declaring either failed with "Unsupported resource type".
  -> CloudFormation handlers that associate (AssociateWebACL's store) and put the logging
  configuration; their deletes undo it. The association's physical id is
  ``<resource ARN>|<web ACL ARN>``, the logging configuration's the web ACL's ARN, as on AWS.
* PutLoggingConfiguration, GetLoggingConfiguration and DeleteLoggingConfiguration answered
  ``InvalidAction``. -> served here: the web ACL must exist (WAFNonexistentItemException),
  exactly one destination, and a CloudWatch Logs destination must name a log group whose name
  starts with ``aws-waf-logs-`` (WAFInvalidParameterException, as AWS refuses any other
  name); Get of a web ACL without logging answers WAFNonexistentItemException.
* GetWebACLForResource of a resource without a web ACL answered WAFNonexistentItemException;
  AWS answers without a ``WebACL``. -> answered so here.
* AssociateWebACL accepted any resource ARN; AWS refuses one that names no existing load
  balancer (WAFNonexistentItemException). -> checked against the emulator's load balancers.

The refusal sentences are this module's own; the error codes are AWS's.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger("faithful.wafv2")

# web ACL ARN -> LoggingConfiguration (as GetLoggingConfiguration answers it)
LOGGING: dict[str, dict[str, Any]] = {}
LOG_GROUP_PREFIX = "aws-waf-logs-"


def destination_problem(arn: str) -> str:
    """Why AWS refuses a WAF log destination ARN, or '' when it accepts it."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return f"The log destination '{arn}' is not an ARN"
    service, resource = parts[2], ":".join(parts[5:])
    if service == "logs":
        name = resource.removeprefix("log-group:").split(":")[0]
        if not resource.startswith("log-group:") or not name.startswith(LOG_GROUP_PREFIX):
            return f"The log group of a web ACL's logging must be named {LOG_GROUP_PREFIX}..., not '{name}'"
        return ""
    if service in ("s3", "firehose"):
        return ""
    return f"The log destination '{arn}' is not a log group, bucket or Firehose stream"


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.services import alb, waf

    def err(code: str, message: str) -> Any:
        return waf._waf_err(code, message)

    def put_logging(data: dict[str, Any]) -> Any:
        config = data.get("LoggingConfiguration") or {}
        arn = str(config.get("ResourceArn", ""))
        _acl, problem = waf._resolve_local_web_acl(arn)
        if problem:
            return problem
        destinations = [str(d) for d in config.get("LogDestinationConfigs") or []]
        if len(destinations) != 1:
            return err("WAFInvalidParameterException", "A web ACL's logging takes exactly one LogDestinationConfigs")
        if why := destination_problem(destinations[0]):
            return err("WAFInvalidParameterException", why)
        stored = {"ResourceArn": arn, "LogDestinationConfigs": destinations, "ManagedByFirewallManager": False}
        for key in ("RedactedFields", "LoggingFilter", "LogType", "LogScope"):
            if key in config:
                stored[key] = config[key]
        stored.setdefault("LogType", "WAF_LOGS")
        stored.setdefault("LogScope", "CUSTOMER")
        LOGGING[arn] = stored
        return waf.json_response({"LoggingConfiguration": stored})

    def get_logging(data: dict[str, Any]) -> Any:
        arn = str(data.get("ResourceArn", ""))
        if arn not in LOGGING:
            return err("WAFNonexistentItemException", f"Web ACL {arn} has no logging configuration")
        return waf.json_response({"LoggingConfiguration": LOGGING[arn]})

    def delete_logging(data: dict[str, Any]) -> Any:
        arn = str(data.get("ResourceArn", ""))
        if LOGGING.pop(arn, None) is None:
            return err("WAFNonexistentItemException", f"Web ACL {arn} has no logging configuration")
        return waf.json_response({})

    def associate(data: dict[str, Any]) -> Any:
        resource = str(data.get("ResourceArn", ""))
        if ":elasticloadbalancing:" in resource and resource not in alb._lbs:
            return err("WAFNonexistentItemException", f"Load balancer {resource} does not exist")
        return None  # MiniStack's own association

    served = {"PutLoggingConfiguration": put_logging, "GetLoggingConfiguration": get_logging,
              "DeleteLoggingConfiguration": delete_logging}  # fmt: skip
    original = waf.handle_request

    async def handle_request(method: str, path: str, headers: Any, body: bytes, query_params: Any) -> Any:
        action = str(headers.get("x-amz-target", "")).split(".")[-1]
        if action == "GetWebACLForResource":
            data = json.loads(body) if body else {}
            if str(data.get("ResourceArn", "")) not in waf._associations:
                return waf.json_response({})  # AWS: no WebACL in the answer when none is associated
        if action in served or action == "AssociateWebACL":
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                data = {}
            if action in served:
                return served[action](data)
            if (refused := associate(data)) is not None:
                return refused
        return await original(method, path, headers, body, query_params)

    waf.handle_request = handle_request  # the router looks it up per request

    # ---- CloudFormation
    def association_create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        resource, acl_arn = str(props.get("ResourceArn", "")), str(props.get("WebACLArn", ""))
        if (refused := associate({"ResourceArn": resource})) is not None:
            raise ValueError(f"AssociateWebACL refused: {refused[2]!r}")
        _acl, problem = waf._resolve_local_web_acl(acl_arn)
        if problem:
            raise ValueError(f"web ACL {acl_arn} does not exist")
        waf._associations[resource] = acl_arn
        return f"{resource}|{acl_arn}", {}

    def association_delete(physical_id: str, props: dict[str, Any]) -> None:
        resource = str(props.get("ResourceArn") or physical_id.split("|")[0])
        waf._associations.pop(resource, None)

    def association_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                           logical_id: str | None = None) -> Any:  # fmt: skip
        association_delete(physical_id, old)
        return association_create(logical_id or physical_id, new, stack_name)

    def logging_create(logical_id: str, props: dict[str, Any], stack_name: str) -> Any:
        status, _headers, body = put_logging({"LoggingConfiguration": props})
        if status >= 400:
            raise ValueError(f"PutLoggingConfiguration refused: {body!r}")
        return str(props.get("ResourceArn", "")), {}

    def logging_delete(physical_id: str, props: dict[str, Any]) -> None:
        LOGGING.pop(str(props.get("ResourceArn") or physical_id), None)

    def logging_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                       logical_id: str | None = None) -> Any:  # fmt: skip
        logging_delete(physical_id, old)
        return logging_create(logical_id or physical_id, new, stack_name)

    handlers = resource_handlers()
    handlers["AWS::WAFv2::WebACLAssociation"] = {
        "create": association_create, "delete": association_delete, "update": association_update,
        "update_with_logical_id": True,
    }  # fmt: skip
    handlers["AWS::WAFv2::LoggingConfiguration"] = {
        "create": logging_create, "delete": logging_delete, "update": logging_update,
        "update_with_logical_id": True,
    }  # fmt: skip
    from ministack import app

    original_reset = app._reset_all_state

    def reset_all_state() -> None:
        original_reset()
        LOGGING.clear()

    app._reset_all_state = reset_all_state
    log.info("wafv2 association and logging installed")
