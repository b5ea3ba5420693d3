"""Application Auto Scaling: the CloudFormation resources and the service's API.

Gap in MiniStack 1.5.33: no handler for ``AWS::ApplicationAutoScaling::ScalableTarget`` /
``ScalingPolicy`` (the stack is refused up front) and no ``application-autoscaling`` API at
all (a call fell through MiniStack's router). This adds both, sharing one store, with the
JSON 1.1 protocol (``X-Amz-Target: AnyScaleFrontendService.<Op>``) that botocore speaks:
Register/Describe/DeregisterScalableTarget(s), Put/Describe/DeleteScalingPolicy(ies), with
the filters and ``NextToken`` pagination botocore's paginators use. State is wiped with the
rest on ``/_ministack/reset``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid

log = logging.getLogger("faithful.appautoscaling")

_lock = threading.Lock()
_targets: dict[tuple[str, str, str], dict] = {}  # (namespace, resource id, dimension) -> target
_policies: dict[tuple[str, str, str, str], dict] = {}  # (..., policy name) -> policy

TARGET_PREFIX = "AnyScaleFrontendService."


def _region_account() -> tuple[str, str]:
    from ministack.core.responses import get_account_id, get_region

    return get_region(), get_account_id()


def _target_arn() -> str:
    region, account = _region_account()
    return f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/{uuid.uuid4().hex[:28]}"


def _role_arn(namespace: str) -> str:
    _, account = _region_account()
    return (
        f"arn:aws:iam::{account}:role/aws-service-role/{namespace}.application-autoscaling.amazonaws.com/"
        f"AWSServiceRoleForApplicationAutoScaling_ECSService"
    )


class ValidationException(Exception):
    code = "ValidationException"


class ObjectNotFoundException(Exception):
    code = "ObjectNotFoundException"


def register_scalable_target(req: dict) -> dict:
    key = (req["ServiceNamespace"], req["ResourceId"], req["ScalableDimension"])
    with _lock:
        existing = _targets.get(key)
        target = existing or {
            "ServiceNamespace": key[0], "ResourceId": key[1], "ScalableDimension": key[2],
            "CreationTime": time.time(), "ScalableTargetARN": _target_arn(),
            "RoleARN": req.get("RoleARN") or _role_arn(key[0]),
            "SuspendedState": {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                               "ScheduledScalingSuspended": False},
        }  # fmt: skip
        for field in ("MinCapacity", "MaxCapacity"):
            if field in req:
                target[field] = int(req[field])
        if existing is None and not {"MinCapacity", "MaxCapacity"} <= set(target):
            raise ValidationException("MinCapacity and MaxCapacity are required to register a new scalable target")
        if target["MinCapacity"] > target["MaxCapacity"]:
            raise ValidationException("MinCapacity must be less than or equal to MaxCapacity")
        if "SuspendedState" in req:
            target["SuspendedState"].update(req["SuspendedState"])
        _targets[key] = target
        return {"ScalableTargetARN": target["ScalableTargetARN"]}


def _page(items: list[dict], req: dict, key: str) -> dict:
    start = int(req.get("NextToken") or 0)
    size = int(req.get("MaxResults") or 50)
    out: dict = {key: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def describe_scalable_targets(req: dict) -> dict:
    ids = set(req.get("ResourceIds") or [])
    with _lock:
        items = [
            dict(t)
            for (ns, rid, dim), t in _targets.items()
            if ns == req["ServiceNamespace"]
            and (not ids or rid in ids)
            and (not req.get("ScalableDimension") or dim == req["ScalableDimension"])
        ]
    return _page(items, req, "ScalableTargets")


def deregister_scalable_target(req: dict) -> dict:
    key = (req["ServiceNamespace"], req["ResourceId"], req["ScalableDimension"])
    with _lock:
        if _targets.pop(key, None) is None:
            raise ObjectNotFoundException(f"No scalable target registered for service namespace: {key[0]}, "
                                          f"resource ID: {key[1]}, scalable dimension: {key[2]}")  # fmt: skip
        for pkey in [k for k in _policies if k[:3] == key]:
            del _policies[pkey]
    return {}


def put_scaling_policy(req: dict) -> dict:
    tkey = (req["ServiceNamespace"], req["ResourceId"], req["ScalableDimension"])
    region, account = _region_account()
    with _lock:
        if tkey not in _targets:
            raise ObjectNotFoundException(f"No scalable target registered for service namespace: {tkey[0]}, "
                                          f"resource ID: {tkey[1]}, scalable dimension: {tkey[2]}")  # fmt: skip
        key = (*tkey, req["PolicyName"])
        policy = _policies.get(key) or {
            "PolicyARN": f"arn:aws:autoscaling:{region}:{account}:scalingPolicy:{uuid.uuid4()}:resource/"
            f"{tkey[0]}/{tkey[1]}:policyName/{req['PolicyName']}",
            "PolicyName": req["PolicyName"], "ServiceNamespace": tkey[0], "ResourceId": tkey[1],
            "ScalableDimension": tkey[2], "CreationTime": time.time(), "Alarms": [],
        }  # fmt: skip
        policy["PolicyType"] = req.get("PolicyType", "StepScaling")
        for field in ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration",
                      "PredictiveScalingPolicyConfiguration"):  # fmt: skip
            if field in req:
                policy[field] = req[field]
        _policies[key] = policy
        return {"PolicyARN": policy["PolicyARN"], "Alarms": policy["Alarms"]}


def describe_scaling_policies(req: dict) -> dict:
    names = set(req.get("PolicyNames") or [])
    with _lock:
        items = [
            dict(p)
            for (ns, rid, dim, name), p in _policies.items()
            if ns == req["ServiceNamespace"]
            and (not req.get("ResourceId") or rid == req["ResourceId"])
            and (not req.get("ScalableDimension") or dim == req["ScalableDimension"])
            and (not names or name in names)
        ]
    return _page(items, req, "ScalingPolicies")


def delete_scaling_policy(req: dict) -> dict:
    key = (req["ServiceNamespace"], req["ResourceId"], req["ScalableDimension"], req["PolicyName"])
    with _lock:
        if _policies.pop(key, None) is None:
            raise ObjectNotFoundException(f"No scaling policy found for service namespace: {key[0]}, "
                                          f"resource ID: {key[1]}, scalable dimension: {key[2]}, "
                                          f"policy name: {key[3]}")  # fmt: skip
    return {}


OPERATIONS = {
    "RegisterScalableTarget": register_scalable_target,
    "DescribeScalableTargets": describe_scalable_targets,
    "DeregisterScalableTarget": deregister_scalable_target,
    "PutScalingPolicy": put_scaling_policy,
    "DescribeScalingPolicies": describe_scaling_policies,
    "DeleteScalingPolicy": delete_scaling_policy,
}


async def handle_request(method, path, headers, body, query_params):
    target = headers.get("x-amz-target", "")
    op = target.removeprefix(TARGET_PREFIX)
    reply_headers = {"Content-Type": "application/x-amz-json-1.1"}
    fn = OPERATIONS.get(op)
    if fn is None:
        error = {"__type": "UnknownOperationException", "message": f"Unknown operation {op}"}
        return 400, reply_headers, json.dumps(error).encode()
    try:
        req = json.loads(body or b"{}")
        return 200, reply_headers, json.dumps(fn(req)).encode()
    except (ValidationException, ObjectNotFoundException) as exc:
        return 400, reply_headers, json.dumps({"__type": exc.code, "message": str(exc)}).encode()
    except (KeyError, ValueError, TypeError) as exc:
        return 400, reply_headers, json.dumps({"__type": "ValidationException", "message": str(exc)}).encode()


# ------------------------------------------------------------------ CloudFormation
def _target_key_from_props(props: dict) -> tuple[str, str, str]:
    return (props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"])


def target_create(logical_id, props, stack_name):
    req = {k: props[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension") if k in props}
    req.update(MinCapacity=int(props["MinCapacity"]), MaxCapacity=int(props["MaxCapacity"]))
    if props.get("RoleARN"):
        req["RoleARN"] = props["RoleARN"]
    if props.get("SuspendedState"):
        req["SuspendedState"] = props["SuspendedState"]
    register_scalable_target(req)
    key = _target_key_from_props(props)
    physical_id = "|".join((key[1], key[2], key[0]))  # AWS's form: resource|dimension|namespace
    return physical_id, {"Id": physical_id}


def target_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    if _target_key_from_props(old_props) != _target_key_from_props(new_props):
        target_delete(physical_id, old_props)
    return target_create(logical_id, new_props, stack_name)


def target_delete(physical_id, props):
    with contextlib.suppress(ObjectNotFoundException):
        deregister_scalable_target(dict(zip(("ServiceNamespace", "ResourceId", "ScalableDimension"),
                                            _target_key_from_props(props), strict=True)))  # fmt: skip


def _policy_target(props: dict) -> tuple[str, str, str]:
    if props.get("ScalingTargetId"):
        resource, dimension, namespace = str(props["ScalingTargetId"]).split("|")
        return namespace, resource, dimension
    return _target_key_from_props(props)


def policy_create(logical_id, props, stack_name):
    ns, rid, dim = _policy_target(props)
    req = {"ServiceNamespace": ns, "ResourceId": rid, "ScalableDimension": dim,
           "PolicyName": props["PolicyName"], "PolicyType": props.get("PolicyType", "StepScaling")}  # fmt: skip
    for field in ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration"):
        if field in props:
            req[field] = props[field]
    arn = put_scaling_policy(req)["PolicyARN"]
    return arn, {"Arn": arn}


def policy_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    if _policy_target(old_props) != _policy_target(new_props) or old_props.get("PolicyName") != new_props.get(
        "PolicyName"
    ):
        policy_delete(physical_id, old_props)
    return policy_create(logical_id, new_props, stack_name)


def policy_delete(physical_id, props):
    ns, rid, dim = _policy_target(props)
    with contextlib.suppress(ObjectNotFoundException):
        delete_scaling_policy(
            {"ServiceNamespace": ns, "ResourceId": rid, "ScalableDimension": dim, "PolicyName": props["PolicyName"]}
        )


def reset() -> None:
    with _lock:
        _targets.clear()
        _policies.clear()


def install() -> None:
    from ministack import app
    from ministack.core import router
    from ministack.services.cloudformation import provisioners as prov

    router.SERVICE_PATTERNS["application-autoscaling"] = {
        "target_prefixes": [TARGET_PREFIX],
        "credential_scope": "application-autoscaling",
    }
    app.SERVICE_HANDLERS["application-autoscaling"] = handle_request
    prov._RESOURCE_HANDLERS["AWS::ApplicationAutoScaling::ScalableTarget"] = {
        "create": target_create, "update": target_update, "update_with_logical_id": True, "delete": target_delete,
    }  # fmt: skip
    prov._RESOURCE_HANDLERS["AWS::ApplicationAutoScaling::ScalingPolicy"] = {
        "create": policy_create, "update": policy_update, "update_with_logical_id": True, "delete": policy_delete,
    }  # fmt: skip
    original_reset = app._reset_all_state

    def reset_all_state() -> None:
        original_reset()
        reset()

    app._reset_all_state = reset_all_state
    log.info("application auto scaling installed")
