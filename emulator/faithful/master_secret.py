"""RDS-managed master user passwords and Secrets Manager rotation state, as AWS reports them.

Gaps closed (MiniStack 1.5.33, measured with a create_stack, the RDS and Secrets Manager APIs):

1. ``AWS::RDS::DBCluster`` ignores ``ManageMasterUserPassword`` and ``MasterUserSecret``: no
   secret is made and ``Fn::GetAtt MasterUserSecret.SecretArn`` fails the stack ("does not
   exist in schema"). -> :func:`_cluster_create` makes the secret as RDS does
   (``rds!cluster-<uuid>``, ``{"username", "password"}`` with a generated password) and
   answers the attribute; a stack update that turns management on or off makes or deletes it;
   a stack delete deletes it with the cluster (RDS does, no recovery window).
2. The managed secret (API ``CreateDBCluster`` too) carries no key, no owner and no rotation:
   ``DescribeSecret`` says ``RotationEnabled: false``, no ``KmsKeyId``, no ``OwningService``;
   ``MasterUserSecret.KmsKeyId`` is reported as given. On AWS the secret is encrypted with the
   ``MasterUserSecret`` key (the ARN; ``aws/secretsmanager`` when none is named), is owned by
   ``rds`` and rotates every 7 days. -> :func:`_manage` writes that state.
3. ``ModifyDBCluster`` refuses ``ManageMasterUserPassword=false`` with a ``MasterUserPassword``
   (AWS: that is how management is turned off; RDS deletes its secret) and ignores
   ``ManageMasterUserPassword=true`` on a cluster without one. -> :func:`_modify_db_cluster`.
4. ``DescribeSecret`` renders neither ``OwningService``, ``LastRotatedDate`` nor
   ``NextRotationDate``; ``CancelRotateSecret`` is an unknown action; ``RotateSecret`` (and
   ``ModifyDBCluster RotateMasterUserPassword``) record no rotation date, and on a managed
   secret keep the old password. -> :func:`_describe_secret`, :func:`_cancel_rotate_secret`,
   :func:`_rotate_secret`, :func:`_rotated`.

The password lives only in the secret's version and the cluster's private
``_MasterUserPassword`` field; no response other than ``GetSecretValue`` renders it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from faithful._ministack import resource_handlers
from faithful.kms import key_arn
from ministack.core.responses import get_account_id, get_region, new_uuid
from ministack.services import rds as _rds
from ministack.services import secretsmanager as _sm
from ministack.services.cloudformation import provisioners as _prov

ROTATION_DAYS = 7  # RDS's default schedule for a managed master user secret
DAY = 86_400
_orig: dict[str, Any] = {}


def _default_key() -> str:
    return f"arn:aws:kms:{get_region()}:{get_account_id()}:alias/aws/secretsmanager"


def _secret_record(arn: str) -> dict | None:
    _key, record = _sm._resolve(arn, use_arn_scope=True)
    return record


def _rotated(record: dict, now: int | None = None) -> None:
    """A rotation just completed: the dates AWS reports after it."""
    now = int(now if now is not None else time.time())
    record["LastRotatedDate"] = now
    days = _interval_days(record)
    if record.get("RotationEnabled") and days:
        record["NextRotationDate"] = now + days * DAY


def _interval_days(record: dict) -> int | None:
    rules = record.get("RotationRules") or {}
    if rules.get("AutomaticallyAfterDays"):
        return int(rules["AutomaticallyAfterDays"])
    expression = str(rules.get("ScheduleExpression", ""))
    if expression.startswith("rate(") and "day" in expression:
        return int(expression[5:].split()[0])
    return None


def _manage(cluster: dict, kms_key: str | None) -> None:
    """Give a cluster's managed secret the key, owner and rotation state RDS gives it."""
    secret = cluster.get("MasterUserSecret") or {}
    record = _secret_record(secret.get("SecretArn", ""))
    arn = key_arn(kms_key) if kms_key else _default_key()
    secret["KmsKeyId"] = arn
    if record is None:
        return
    now = int(time.time())
    record.update(
        KmsKeyId=arn,
        OwningService="rds",
        RotationEnabled=True,
        RotationRules={"AutomaticallyAfterDays": ROTATION_DAYS, "ScheduleExpression": f"rate({ROTATION_DAYS} days)"},
        NextRotationDate=int(record.get("CreatedDate") or now) + ROTATION_DAYS * DAY,
    )


def _new_secret(cluster: dict, kms_key: str | None) -> None:
    password = _rds._generate_master_user_password()
    arn = _sm.create_secret_in_process(
        f"rds!cluster-{new_uuid()}",
        json.dumps({"username": cluster.get("MasterUsername", "admin"), "password": password}),
        description=f"Secret managed by RDS for DB cluster {cluster['DBClusterIdentifier']}",
    )
    cluster["_MasterUserPassword"] = password
    cluster["MasterUserSecret"] = {"SecretArn": arn, "SecretStatus": "active"}
    _manage(cluster, kms_key)


def _drop_secret(cluster: dict) -> None:
    secret = cluster.get("MasterUserSecret") or {}
    if secret.get("SecretArn"):
        _sm.delete_secret_in_process(secret["SecretArn"])  # RDS deletes it at once, no recovery window
    cluster["MasterUserSecret"] = None


def _managed(props: dict) -> bool:
    return bool(_prov._cfn_bool(props.get("ManageMasterUserPassword", False)))


def _kms_of(props: dict) -> str | None:
    value = (props.get("MasterUserSecret") or {}).get("KmsKeyId")
    return str(value) if value else None


def _attrs(cluster: dict, attrs: dict) -> dict:
    secret = cluster.get("MasterUserSecret") or {}
    if secret.get("SecretArn"):
        attrs = {**attrs, "MasterUserSecret.SecretArn": secret["SecretArn"]}
    return attrs


# --------------------------------------------------------------------------- CloudFormation


def _cluster_create(logical_id, props, stack_name):
    physical_id, attrs = _orig["cluster_create"](logical_id, props, stack_name)
    cluster = _rds._clusters.get(physical_id)
    if cluster is not None and _managed(props):
        _new_secret(cluster, _kms_of(props))
        attrs = _attrs(cluster, attrs)
    return physical_id, attrs


def _cluster_update(physical_id, old_props, new_props, stack_name, logical_id=None):
    new_id, attrs = _orig["cluster_update"](physical_id, old_props, new_props, stack_name, logical_id)
    cluster = _rds._clusters.get(new_id)
    if cluster is not None and new_id == physical_id:
        if _managed(new_props) and not cluster.get("MasterUserSecret"):
            _new_secret(cluster, _kms_of(new_props))
        elif not _managed(new_props) and cluster.get("MasterUserSecret"):
            _drop_secret(cluster)
        elif _managed(new_props) and _kms_of(old_props) != _kms_of(new_props):
            _manage(cluster, _kms_of(new_props))
        attrs = _attrs(cluster, attrs)
    return new_id, attrs


def _cluster_delete(physical_id, props):
    cluster = _rds._clusters.get(physical_id)
    if cluster is not None:
        _drop_secret(cluster)
    return _orig["cluster_delete"](physical_id, props)


# --------------------------------------------------------------------------- RDS API


def _create_db_cluster(p):
    response = _orig["create_cluster"](p)
    cluster = _rds._clusters.get(_rds._p(p, "DBClusterIdentifier") or "")
    if response[0] < 400 and cluster is not None and cluster.get("MasterUserSecret"):
        _manage(cluster, _rds._p(p, "MasterUserSecretKmsKeyId") or None)
        return _rds._xml(
            200,
            "CreateDBClusterResponse",
            f"<CreateDBClusterResult><DBCluster>{_rds._cluster_xml(cluster)}</DBCluster></CreateDBClusterResult>",
        )
    return response


def _modify_db_cluster(p):
    cluster = _rds._resolve_cluster_in_request_region(_rds._p(p, "DBClusterIdentifier"))
    manage = _rds._p(p, "ManageMasterUserPassword")
    if cluster is not None and manage == "false" and cluster.get("MasterUserSecret"):
        if not _rds._p(p, "MasterUserPassword"):
            return _rds._error(
                "InvalidParameterCombination",
                "You must specify MasterUserPassword when you turn off ManageMasterUserPassword.",
                400,
            )
        _drop_secret(cluster)  # then the original sets the password as for any unmanaged cluster
    elif cluster is not None and manage == "true" and not cluster.get("MasterUserSecret"):
        if _rds._p(p, "MasterUserPassword"):
            return _rds._error(
                "InvalidParameterCombination",
                "You can't specify MasterUserPassword when ManageMasterUserPassword is enabled.",
                400,
            )
        _new_secret(cluster, _rds._p(p, "MasterUserSecretKmsKeyId") or None)
    response = _orig["modify_cluster"](p)
    if response[0] < 400 and cluster is not None and _rds._p(p, "RotateMasterUserPassword") == "true":
        record = _secret_record((cluster.get("MasterUserSecret") or {}).get("SecretArn", ""))
        if record is not None:
            _rotated(record)
    return response


# --------------------------------------------------------------------------- Secrets Manager API


def _describe_secret(data):
    response = _orig["describe_secret"](data)
    if response[0] >= 400:
        return response
    _key, record = _sm._resolve(data.get("SecretId"))
    if record is None:
        return response
    body = json.loads(response[2])
    for field in ("OwningService", "LastRotatedDate", "NextRotationDate"):
        if record.get(field) is not None and not (field == "NextRotationDate" and not record.get("RotationEnabled")):
            body[field] = record[field]
    return _sm.json_response(body)


def _rotate_secret(data):
    _key, record = _sm._resolve(data.get("SecretId"))
    response = _orig["rotate_secret"](data)
    if response[0] >= 400 or record is None:
        return response
    if record.get("OwningService") == "rds":
        # RDS sets a new password on the cluster and stores it as the new AWSCURRENT version.
        cluster = next(
            (c for c in _rds._clusters.values() if (c.get("MasterUserSecret") or {}).get("SecretArn") == record["ARN"]),
            None,
        )
        if cluster is not None:
            password = _rds._generate_master_user_password()
            _sm.put_secret_value_in_process(
                record["ARN"], json.dumps({"username": cluster.get("MasterUsername", "admin"), "password": password})
            )
            cluster["_MasterUserPassword"] = password
    _rotated(record)
    return response


def _cancel_rotate_secret(data):
    _key, record = _sm._resolve(data.get("SecretId"))
    if record is None:
        return _sm.error_response_json(
            "ResourceNotFoundException", "Secrets Manager can't find the specified secret.", 400
        )
    if record.get("DeletedDate"):
        return _sm.error_response_json(
            "InvalidRequestException",
            "You can't perform this operation on the secret because it was marked for deletion.",
            400,
        )
    record["RotationEnabled"] = False
    record.pop("NextRotationDate", None)
    record["LastChangedDate"] = int(time.time())
    return _sm.json_response({"ARN": record["ARN"], "Name": record["Name"]})


async def _sm_handle_request(method, path, headers, body, query_params):
    action = headers.get("x-amz-target", "").rsplit(".", 1)[-1]
    if action == "CancelRotateSecret":
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _sm.error_response_json("SerializationException", "Invalid JSON", 400)
        return _cancel_rotate_secret(data)
    return await _orig["sm_handle_request"](method, path, headers, body, query_params)


def install() -> None:
    if _orig:
        return
    handlers = resource_handlers()["AWS::RDS::DBCluster"]
    _orig.update(
        # database.py (installed before this module, in name order) already wraps these
        cluster_create=handlers["create"],
        cluster_update=handlers["update"],
        cluster_delete=handlers["delete"],
        create_cluster=_rds._create_db_cluster,
        modify_cluster=_rds._modify_db_cluster_impl,
        describe_secret=_sm._describe_secret,
        rotate_secret=_sm._rotate_secret,
        sm_handle_request=_sm.handle_request,
    )
    handlers.update(create=_cluster_create, update=_cluster_update, delete=_cluster_delete)
    _prov._rds_db_cluster_create = _cluster_create
    _prov._rds_db_cluster_update = _cluster_update
    _prov._rds_db_cluster_delete = _cluster_delete
    _rds._create_db_cluster = _create_db_cluster
    _rds._ACTION_MAP["CreateDBCluster"] = _create_db_cluster  # the action map holds the function itself
    _rds._modify_db_cluster_impl = _modify_db_cluster
    _sm._describe_secret = _describe_secret
    _sm._rotate_secret = _rotate_secret
    _sm.handle_request = _sm_handle_request  # the router looks it up per request
