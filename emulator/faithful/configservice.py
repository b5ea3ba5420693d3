"""AWS Config: the recorder and delivery channel's life as AWS runs it, and their CloudFormation types.

Gaps in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator):

* No provisioner for ``AWS::Config::ConfigurationRecorder`` or ``AWS::Config::DeliveryChannel``:
  CreateStack refused the template ("Template format error: Unrecognized resource types"). ->
  create/update/delete of both. The recorder: ``Name`` (``default`` when absent, as AWS Config
  names it), ``RoleARN``, ``RecordingGroup`` and ``RecordingMode`` as a PutConfigurationRecorder
  request; the channel: ``Name`` (``default``), ``S3BucketName``, ``S3KeyPrefix``, ``S3KmsKeyArn``,
  ``SnsTopicARN``, ``ConfigSnapshotDeliveryProperties``. Ref is the name. As CloudFormation does,
  the recorder is started once the region has both a recorder and a delivery channel, and the
  channel's deletion stops the recorder first. Drift readers report a deleted recorder or channel
  as ``DELETED`` and a narrowed ``RecordingGroup`` as ``MODIFIED``.
* No DeleteConfigurationRecorder or DeleteDeliveryChannel (``InvalidAction``). -> served here:
  an unknown name is ``NoSuchConfigurationRecorderException`` / ``NoSuchDeliveryChannelException``;
  deleting the channel while a recorder is recording is refused with
  ``LastDeliveryChannelDeleteFailedException``, as on AWS.
* The order AWS enforces was not: StartConfigurationRecorder without a delivery channel answered
  success (AWS: ``NoAvailableDeliveryChannelException``); PutDeliveryChannel without a recorder
  answered success (AWS: ``NoAvailableConfigurationRecorderException``); a second recorder of
  another name was accepted (AWS: one per region, ``MaxNumberOfConfigurationRecordersExceededException``);
  a channel without ``s3BucketName`` was accepted (AWS: ``NoSuchBucketException``). -> refused here.

Not modelled: AWS Config's own check that it may write to the bucket (AWS answers
``InsufficientDeliveryPolicyException`` when the bucket policy or role refuses it); the
emulator records no configuration items and delivers nothing, so ``lastStatus`` stays ``Success``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger("faithful.configservice")

_orig: dict[str, Any] = {}


def _cfg() -> Any:
    from ministack.services import config

    return config


def _err(code: str, message: str) -> Any:
    return _cfg().error_response_json(code, message, 400)


def _ok(body: dict[str, Any] | None = None) -> Any:
    return _cfg().json_response(body or {})


def put_recorder(recorder: dict[str, Any]) -> str:
    """PutConfigurationRecorder's rules; '' or the refusal as 'Code: message'."""
    cfg = _cfg()
    name = str(recorder.get("name") or "default")
    others = [n for n in cfg._recorders if n != name]
    if others:
        return (
            "MaxNumberOfConfigurationRecordersExceededException: Failed to put configuration recorder "
            f"'{name}' because the maximum number of configuration recorders: 1 is reached."
        )
    return ""


def put_channel(channel: dict[str, Any]) -> str:
    cfg = _cfg()
    if not cfg._recorders:
        return (
            "NoAvailableConfigurationRecorderException: Configuration recorder is not available to put "
            "delivery channel."
        )
    if not channel.get("s3BucketName"):
        return "NoSuchBucketException: Cannot find a S3 bucket with an empty bucket name."
    return ""


def _start(name: str) -> str:
    cfg = _cfg()
    if name not in cfg._recorders:
        return (
            "NoSuchConfigurationRecorderException: Cannot find configuration recorder with the specified name "
            f"'{name}'."
        )
    if not cfg._delivery_channels:
        return "NoAvailableDeliveryChannelException: Delivery channel is not available to start configuration recorder."
    return ""


def _split(refusal: str) -> Any:
    code, _, message = refusal.partition(": ")
    return _err(code, message)


def _delete_channel(name: str) -> str:
    cfg = _cfg()
    if name not in cfg._delivery_channels:
        return f"NoSuchDeliveryChannelException: Cannot find delivery channel with specified name '{name}'."
    if len(cfg._delivery_channels) == 1 and any(r.get("recording") for r in cfg._recorders.values()):
        return (
            f"LastDeliveryChannelDeleteFailedException: Failed to delete last specified delivery channel with name "
            f"'{name}', because there is a running configuration recorder."
        )
    del cfg._delivery_channels[name]
    return ""


def _delete_recorder(name: str) -> str:
    cfg = _cfg()
    if name not in cfg._recorders:
        return (
            "NoSuchConfigurationRecorderException: Cannot find configuration recorder with the specified name "
            f"'{name}'."
        )
    del cfg._recorders[name]
    return ""


async def _handle_request(method: str, path: str, headers: Any, body: bytes, query_params: Any) -> Any:
    action = headers.get("x-amz-target", "").rsplit(".", 1)[-1]
    if action in ACTIONS:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _err("SerializationException", "Invalid JSON")
        refusal = ACTIONS[action](data)
        if refusal:
            return _split(refusal)
        if action in ("DeleteDeliveryChannel", "DeleteConfigurationRecorder"):
            return _ok()
    return await _orig["handle_request"](method, path, headers, body, query_params)


ACTIONS: dict[str, Any] = {
    "PutConfigurationRecorder": lambda d: put_recorder(d.get("ConfigurationRecorder") or {}),
    "PutDeliveryChannel": lambda d: put_channel(d.get("DeliveryChannel") or {}),
    "StartConfigurationRecorder": lambda d: _start(str(d.get("ConfigurationRecorderName", ""))),
    "DeleteDeliveryChannel": lambda d: _delete_channel(str(d.get("DeliveryChannelName", ""))),
    "DeleteConfigurationRecorder": lambda d: _delete_recorder(str(d.get("ConfigurationRecorderName", ""))),
}


# ---- CloudFormation
def _lower(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the API's camelCase members (RoleARN -> roleARN)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    if value in ("true", "false"):
        return value == "true"
    return value


def _start_if_ready() -> None:
    """CloudFormation starts the recorder once the region has both a recorder and a delivery channel."""
    cfg = _cfg()
    if not cfg._delivery_channels:
        return
    now = int(time.time())
    for rec in cfg._recorders.values():
        if not rec.get("recording"):
            rec.update(recording=True, lastStatus="Success", lastStartTime=now, lastStatusChangeTime=now)


def _recorder_request(props: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"name": str(props.get("Name") or "default"), "roleARN": props.get("RoleARN")}
    for key in ("RecordingGroup", "RecordingMode"):
        if props.get(key) is not None:
            request[key[:1].lower() + key[1:]] = _lower(props[key])
    return request


def _channel_request(props: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"name": str(props.get("Name") or "default")}
    for key in ("S3BucketName", "S3KeyPrefix", "S3KmsKeyArn", "SnsTopicARN", "ConfigSnapshotDeliveryProperties"):
        if props.get(key) is not None:
            request[key[:1].lower() + key[1:]] = _lower(props[key])
    return request


def _put(action: str, member: str, request: dict[str, Any]) -> None:
    cfg = _cfg()
    refusal = ACTIONS[action]({member: request})
    if refusal:
        raise ValueError(f"{action} refused: {refusal}")
    (cfg._put_configuration_recorder if member == "ConfigurationRecorder" else cfg._put_delivery_channel)(
        {member: request}
    )
    _start_if_ready()


def _recorder_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
    request = _recorder_request(props)
    _put("PutConfigurationRecorder", "ConfigurationRecorder", request)
    return request["name"], {}


def _recorder_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                     logical_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    request = _recorder_request(new)
    if request["name"] != physical_id:
        _delete_recorder(physical_id)
    _put("PutConfigurationRecorder", "ConfigurationRecorder", request)
    return request["name"], {}


def _recorder_delete(physical_id: str, props: dict[str, Any]) -> None:
    _cfg()._recorders.pop(physical_id, None)


def _channel_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
    request = _channel_request(props)
    _put("PutDeliveryChannel", "DeliveryChannel", request)
    return request["name"], {}


def _channel_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                    logical_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    request = _channel_request(new)
    if request["name"] != physical_id:
        _cfg()._delivery_channels.pop(physical_id, None)
    _put("PutDeliveryChannel", "DeliveryChannel", request)
    return request["name"], {}


def _channel_delete(physical_id: str, props: dict[str, Any]) -> None:
    cfg = _cfg()
    now = int(time.time())
    for rec in cfg._recorders.values():  # CloudFormation stops the recorder before it deletes the channel
        if rec.get("recording"):
            rec.update(recording=False, lastStopTime=now, lastStatusChangeTime=now)
    cfg._delivery_channels.pop(physical_id, None)


def _upper(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _upper(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_upper(v) for v in value]
    return value


def _read_recorder(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    rec = _cfg()._recorders.get(physical_id)
    if rec is None:
        return None
    current: dict[str, Any] = {"RoleARN": rec["recorder"].get("roleARN")}
    group = _upper(rec["recorder"].get("recordingGroup") or {})
    wanted = props.get("RecordingGroup") or {}
    current["RecordingGroup"] = {k: group.get(k) for k in wanted if k in group}
    return current


def _read_channel(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    channel = _cfg()._delivery_channels.get(physical_id)
    if channel is None:
        return None
    return {"S3BucketName": channel.get("s3BucketName"), "S3KeyPrefix": channel.get("s3KeyPrefix")}


def install() -> None:
    if _orig:
        return
    from faithful._ministack import resource_handlers
    from ministack.services import config
    from ministack.services.cloudformation import drift

    _orig["handle_request"] = config.handle_request
    config.handle_request = _handle_request  # the router looks it up per request
    handlers = resource_handlers()
    handlers["AWS::Config::ConfigurationRecorder"] = {
        "create": _recorder_create, "update": _recorder_update, "delete": _recorder_delete,
        "update_with_logical_id": True,
    }  # fmt: skip
    handlers["AWS::Config::DeliveryChannel"] = {
        "create": _channel_create, "update": _channel_update, "delete": _channel_delete,
        "update_with_logical_id": True,
    }  # fmt: skip
    drift._DRIFT_READERS["AWS::Config::ConfigurationRecorder"] = (
        _read_recorder,
        frozenset({"RoleARN", "RecordingGroup"}),
    )
    drift._DRIFT_READERS["AWS::Config::DeliveryChannel"] = (_read_channel, frozenset({"S3BucketName", "S3KeyPrefix"}))
    log.info("configservice installed")
