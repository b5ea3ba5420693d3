"""CloudWatch alarms and the SNS alarm topic, as AWS reports them.

Gaps closed (MiniStack 1.5.33):

1. The query-protocol (form + XML) ``DescribeAlarms`` / ``DescribeAlarmsForMetric`` replies
   carry only a handful of fields: no ``AlarmActions``, ``OKActions``, ``Dimensions``,
   ``Statistic``, ``Period``, ``ActionsEnabled``... (boto3 1.44 speaks smithy-rpc-v2-cbor to
   CloudWatch, which was right; the AWS CLI v1, older SDKs and scanners speak query).
   -> the query reply is rendered from the same data as the JSON reply, member by member
   as the CloudWatch service model (botocore's own) shapes it.
2. ``AWS::SNS::Topic`` ignores ``KmsMasterKeyId``: get_topic_attributes reports no encryption.
   -> :func:`_topic_create` / :func:`_topic_update` store the attribute as given.
3. E-mail subscriptions are confirmed at once; on AWS they stay pending until the recipient
   clicks the link: ListSubscriptions(ByTopic) report ``SubscriptionArn: PendingConfirmation``,
   the topic counts them in ``SubscriptionsPending``, the subscription attributes say
   ``PendingConfirmation: true``, nothing is delivered, and Subscribe answers
   ``pending confirmation`` (unless ``ReturnSubscriptionArn``). -> :func:`_pend_email`
   after every way a subscription is made; the listings render unconfirmed ones as AWS does.
   ConfirmSubscription with the token still confirms.

4. CloudWatch Logs has no ``AssociateKmsKey`` / ``DisassociateKmsKey`` ("Unknown action"), so
   the drift "log group no longer encrypted" cannot be made. -> :func:`_logs_handle_request`
   serves both on the log-group record ``describe_log_groups`` reads.

Checked and already faithful: log groups' ``kmsKeyId`` and ``retentionInDays`` from the
template, and put/delete_retention_policy drifts.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any
from xml.sax.saxutils import escape

from botocore.session import get_session
from faithful._ministack import resource_handlers
from ministack.core.responses import new_uuid
from ministack.services import cloudwatch as _cw
from ministack.services import cloudwatch_logs as _logs
from ministack.services import sns as _sns
from ministack.services.cloudformation import provisioners as _prov

_orig: dict[str, Any] = {}
_EMAIL = ("email", "email-json")
_shapes: dict[str, Any] = {}


# --------------------------------------------------------------------------- CloudWatch query XML


def _shape(name: str) -> Any:
    if not _shapes:
        _shapes["model"] = get_session().get_service_model("cloudwatch")
    return _shapes["model"].shape_for(name)


def _timestamp(value: Any) -> str:
    if isinstance(value, (int, float)):
        when = _dt.datetime.fromtimestamp(float(value), tz=_dt.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return str(value)


def _to_xml(value: Any, shape: Any) -> str:
    """One value as the query protocol renders it for ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        out = []
        for member, member_shape in shape.members.items():
            if isinstance(value, dict) and value.get(member) is not None:
                out.append(f"<{member}>{_to_xml(value[member], member_shape)}</{member}>")
        return "".join(out)
    if kind == "list":
        return "".join(f"<member>{_to_xml(item, shape.member)}</member>" for item in value or [])
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "boolean":
        return "true" if value is True or str(value).lower() == "true" else "false"
    return escape(str(value))


def _from_query(params: dict, shape: Any, prefix: str = "") -> Any:
    """Form parameters (``AlarmNames.member.1=...``) back into the request's JSON shape."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for member, member_shape in shape.members.items():
            value = _from_query(params, member_shape, f"{prefix}.{member}" if prefix else member)
            if value is not None:
                out[member] = value
        return out if out or not prefix else None
    if kind == "list":
        items, i = [], 1
        while any(k == f"{prefix}.member.{i}" or k.startswith(f"{prefix}.member.{i}.") for k in params):
            items.append(_from_query(params, shape.member, f"{prefix}.member.{i}"))
            i += 1
        return items or None
    if prefix not in params:
        return None
    raw = params[prefix]
    raw = raw[0] if isinstance(raw, list) else raw
    if kind in ("integer", "long"):
        return int(raw)
    if kind in ("double", "float"):
        return float(raw)
    if kind == "boolean":
        return str(raw).lower() == "true"
    return raw


def _query_reply(operation: str, fn_key: str, params, cbor_data):
    """Run MiniStack's JSON branch and render its data as the query protocol does."""
    request = _from_query(params, _shape(f"{operation}Input")) or {}
    status, _headers, body = _orig[fn_key](params, request, False, True)
    if status >= 400:
        return _orig[fn_key](params, cbor_data, False, False)  # its own query error
    data = json.loads(body)
    output = _shape(f"{operation}Output")
    inner = _to_xml(data, output)
    return _cw._xml(200, f"{operation}Response", f"<{operation}Result>{inner}</{operation}Result>")


def _describe_alarms(params, cbor_data, is_cbor, is_json=False):
    if is_cbor or is_json:
        return _orig["describe_alarms"](params, cbor_data, is_cbor, is_json)
    return _query_reply("DescribeAlarms", "describe_alarms", params, cbor_data)


def _describe_alarms_for_metric(params, cbor_data, is_cbor, is_json=False):
    if is_cbor or is_json:
        return _orig["describe_alarms_for_metric"](params, cbor_data, is_cbor, is_json)
    return _query_reply("DescribeAlarmsForMetric", "describe_alarms_for_metric", params, cbor_data)


# --------------------------------------------------------------------------- SNS topic encryption


def _set_kms(topic_arn: str, old: dict | None, new: dict) -> None:
    topic = _sns._topics.get(topic_arn)
    if topic is None or (old is not None and old.get("KmsMasterKeyId") == new.get("KmsMasterKeyId")):
        return  # unchanged by the template: an API SetTopicAttributes stays
    if new.get("KmsMasterKeyId"):
        topic["attributes"]["KmsMasterKeyId"] = str(new["KmsMasterKeyId"])
    else:
        topic["attributes"].pop("KmsMasterKeyId", None)


def _topic_create(logical_id, props, stack_name):
    arn, attrs = _orig["topic_create"](logical_id, props, stack_name)
    _set_kms(arn, None, props)
    _pend_email(_sns._topics.get(arn))
    return arn, attrs


def _topic_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    arn, attrs = _orig["topic_update"](physical_id, old_props, new_props, stack_name, logical_id)
    if arn == physical_id:
        _set_kms(arn, old_props, new_props)
    _pend_email(_sns._topics.get(arn))
    return arn, attrs


# --------------------------------------------------------------------------- e-mail subscriptions


def _pend_email(topic: dict | None) -> None:
    """Put each e-mail subscription not seen before in PendingConfirmation, as AWS does."""
    if not topic:
        return
    for sub in topic.get("subscriptions", []):
        if sub.get("protocol") not in _EMAIL or sub.get("_faithful_seen"):
            continue
        sub["_faithful_seen"] = True
        sub["confirmed"] = False
        sub["token"] = new_uuid()  # the token AWS mails; ConfirmSubscription accepts it
        attributes = sub.setdefault("attributes", {})
        attributes.update(
            {
                "SubscriptionArn": sub["arn"],
                "TopicArn": sub.get("topic_arn", topic["arn"]),
                "Protocol": sub["protocol"],
                "Endpoint": sub.get("endpoint", ""),
                "Owner": sub.get("owner", ""),
                "PendingConfirmation": "true",
                "ConfirmationWasAuthenticated": "false",
            }
        )
    _sns._refresh_subscription_counts(topic)


def _sub_create(logical_id, props, stack_name):
    arn, attrs = _orig["sub_create"](logical_id, props, stack_name)
    _pend_email(_sns._topics.get(props.get("TopicArn", "")))
    return arn, attrs


def _subscribe(params):
    status, headers, body = _orig["subscribe"](params)
    if status >= 400:
        return status, headers, body
    topic = _sns._topic_by_arn_any_scope(_sns._normalize_arn(_sns._p(params, "TopicArn")))
    _pend_email(topic)
    if _sns._p(params, "ReturnSubscriptionArn").lower() != "true":
        for sub in (topic or {}).get("subscriptions", []):
            if not sub.get("confirmed") and sub["arn"].encode() in body:
                body = body.replace(sub["arn"].encode(), b"pending confirmation")
    return status, headers, body


def _pending_in_listing(response):
    """List calls show an unconfirmed subscription's ARN as ``PendingConfirmation``."""
    status, headers, body = response
    if status >= 400:
        return response
    for topic in list(_sns._topics.values()):
        for sub in topic.get("subscriptions", []):
            if not sub.get("confirmed"):
                body = body.replace(
                    f"<SubscriptionArn>{sub['arn']}</SubscriptionArn>".encode(),
                    b"<SubscriptionArn>PendingConfirmation</SubscriptionArn>",
                )
    return status, headers, body


def _list_subscriptions(params):
    return _pending_in_listing(_orig["list_subscriptions"](params))


def _list_subscriptions_by_topic(params):
    return _pending_in_listing(_orig["list_subscriptions_by_topic"](params))


# --------------------------------------------------------------------------- CloudWatch Logs keys


def _kms_key_action(action: str, data: dict):
    name = data.get("logGroupName")
    group = _logs._log_groups.get(name) if name else None
    if group is None:
        return _logs.error_response_json(
            "ResourceNotFoundException", f"The specified log group does not exist: {name}", 400
        )
    if action == "AssociateKmsKey":
        if not data.get("kmsKeyId"):
            return _logs.error_response_json("InvalidParameterException", "kmsKeyId is required", 400)
        group["kmsKeyId"] = data["kmsKeyId"]
    else:
        group["kmsKeyId"] = None  # the record shape CreateLogGroup uses for "no key"
    return _logs.json_response({})


async def _logs_handle_request(method, path, headers, body, query_params):
    action = headers.get("x-amz-target", "").rsplit(".", 1)[-1]
    if action in ("AssociateKmsKey", "DisassociateKmsKey"):
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _logs.error_response_json("SerializationException", "Invalid JSON", 400)
        return _kms_key_action(action, data)
    return await _orig["logs_handle_request"](method, path, headers, body, query_params)


def install() -> None:
    if _orig:
        return
    _orig.update(
        describe_alarms=_cw._describe_alarms,
        describe_alarms_for_metric=_cw._describe_alarms_for_metric,
        topic_create=_prov._sns_create,
        topic_update=_prov._sns_update,
        sub_create=_prov._sns_sub_create,
        subscribe=_sns._subscribe,
        list_subscriptions=_sns._list_subscriptions,
        list_subscriptions_by_topic=_sns._list_subscriptions_by_topic,
        logs_handle_request=_logs.handle_request,
    )
    _logs.handle_request = _logs_handle_request  # the router looks it up per request
    # cloudwatch.handle_request and sns.handle_request look these up per request.
    _cw._describe_alarms = _describe_alarms
    _cw._describe_alarms_for_metric = _describe_alarms_for_metric
    _sns._subscribe = _subscribe
    _sns._list_subscriptions = _list_subscriptions
    _sns._list_subscriptions_by_topic = _list_subscriptions_by_topic
    _prov._sns_create = _topic_create
    _prov._sns_update = _topic_update
    _prov._sns_sub_create = _sub_create
    handlers = resource_handlers()
    handlers["AWS::SNS::Topic"].update(create=_topic_create, update=_topic_update)
    handlers["AWS::SNS::Subscription"].update(create=_sub_create)
