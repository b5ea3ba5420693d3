"""CloudTrail: ``AWS::CloudTrail::Trail``, AWS's bucket-policy refusal, and log delivery GetTrailStatus reports.

Gaps in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator;
its CloudTrail API itself, CreateTrail to GetEventSelectors, is kept):

* No provisioner for ``AWS::CloudTrail::Trail``: CreateStack refused the template ("Template
  format error: Unrecognized resource types"). -> create
  (TrailName or a generated ``<stack>-<logical id>-<suffix>`` name, S3BucketName, S3KeyPrefix,
  SnsTopicName, IsMultiRegionTrail, EnableLogFileValidation, IncludeGlobalServiceEvents,
  IsOrganizationTrail, KMSKeyId, CloudWatchLogsLogGroupArn/RoleArn, EventSelectors or
  AdvancedEventSelectors, Tags, and IsLogging through StartLogging) through MiniStack's own
  CloudTrail API functions; update in place (a TrailName change replaces); delete undoes.
  Ref is the trail name, ``GetAtt Arn`` its ARN (and ``SnsTopicArn``). A drift reader compares
  those properties with the trail, GetTrailStatus and GetEventSelectors.
* CreateTrail dropped ``CloudWatchLogsLogGroupArn`` / ``CloudWatchLogsRoleArn`` (only
  UpdateTrail stored them). -> kept on create.
* CreateTrail and UpdateTrail accepted any bucket. AWS refuses a bucket that does not exist
  (``S3BucketDoesNotExistException``) and one whose bucket policy does not let
  ``cloudtrail.amazonaws.com`` call ``s3:GetBucketAcl`` on the bucket and ``s3:PutObject`` on
  ``<bucket>/[<prefix>/]AWSLogs/<account>/*`` (``InsufficientS3BucketPolicyException``). ->
  checked with MiniStack's own policy evaluator, the request context carrying
  ``aws:SourceArn`` (the trail ARN), ``aws:SourceAccount``, ``s3:x-amz-acl``
  (``bucket-owner-full-control``) and ``aws:SecureTransport`` true (CloudTrail writes over
  HTTPS, so a bucket policy's TLS-only deny does not refuse it), as CloudTrail's delivery does.
* PutEventSelectors accepted any AdvancedEventSelectors. AWS refuses
  (``InvalidEventSelectorsException``) a selector without ``eventCategory`` Equals, a data-event
  selector without ``resources.type``, and a field selector without an operator. -> the same.
* Nothing was delivered: GetTrailStatus had no ``LatestDeliveryTime``. -> a logging trail
  delivers a log file (gzipped JSON ``{"Records": [...]}``, the logging start event) to
  ``[<prefix>/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``
  when it starts logging and again when GetTrailStatus finds the last delivery five minutes
  old (CloudTrail delivers about every five minutes); GetTrailStatus answers
  ``LatestDeliveryTime`` and the attempt strings, or ``LatestDeliveryError`` (``NoSuchBucket``,
  ``AccessDenied``) when the bucket or its policy no longer lets CloudTrail write. Digest files
  (``LatestDigestDeliveryTime``) are not emulated: AWS delivers the first an hour after logging
  starts.

* CreateTrail and UpdateTrail accepted any ``KmsKeyId``. AWS refuses a key that does not exist
  (``KmsKeyNotFoundException``) and one whose key policy does not let ``cloudtrail.amazonaws.com``
  call ``kms:GenerateDataKey*`` (``InsufficientEncryptionPolicyException``). -> checked with the
  same evaluator, the context carrying ``aws:SourceArn``, ``aws:SourceAccount`` and the
  encryption context ``kms:EncryptionContext:aws:cloudtrail:arn`` (the trail ARN).

Not emulated: the CloudWatch Logs role check, and events beyond the logging start in the delivered files.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import secrets
import time
from typing import Any

log = logging.getLogger("faithful.trails")

DELIVERY_INTERVAL = 300  # seconds between deliveries of a logging trail
# trail ARN -> {"time": epoch of the last successful delivery, "error": last error or ""}
DELIVERIES: dict[str, dict[str, Any]] = {}


def _account_region() -> tuple[str, str]:
    from ministack.core.responses import get_account_id, get_region

    return get_account_id(), get_region()


def log_prefix(prefix: str, account: str) -> str:
    return f"{prefix.strip('/')}/AWSLogs/{account}/" if prefix.strip("/") else f"AWSLogs/{account}/"


def bucket_problem(bucket: str, prefix: str, trail_arn: str) -> tuple[str, str]:
    """(AWS error code, message) when CloudTrail could not write to the bucket, else ('', '')."""
    from ministack.core.iam_evaluator import EvalContext, evaluate_resource_policy
    from ministack.services import s3

    account, region = _account_region()
    if bucket not in s3._buckets:
        return "S3BucketDoesNotExistException", f"S3 bucket {bucket} does not exist."
    policy = s3._bucket_policies.get(bucket)
    context = {
        "aws:sourcearn": trail_arn,
        "aws:sourceaccount": account,
        "s3:x-amz-acl": "bucket-owner-full-control",
    }
    checks = (
        ("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}"),
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/{log_prefix(prefix, account)}CloudTrail/{region}/x.json.gz"),
    )
    for action, resource in checks:
        ctx = EvalContext(
            principal_arn="cloudtrail.amazonaws.com",
            principal_type="Service",
            principal_account="",
            action=action,
            resource_arn=resource,
            region=region,
            service_context=context,
            secure_transport=True,  # CloudTrail's delivery is HTTPS: a TLS-only deny admits it
        )
        if not policy or evaluate_resource_policy(policy, ctx, service="cloudtrail.amazonaws.com").decision != "Allow":
            return "InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: {bucket}"
    return "", ""


def key_problem(key: str, trail_arn: str) -> tuple[str, str]:
    """(AWS error code, message) when CloudTrail could not encrypt with the KMS key, else ('', '')."""
    from ministack.core.iam_evaluator import EvalContext, evaluate_resource_policy
    from ministack.services import kms

    account, region = _account_region()
    record = kms._resolve_key(key)
    if record is None:
        return "KmsKeyNotFoundException", f"The KMS key {key} does not exist in {region}."
    ctx = EvalContext(
        principal_arn="cloudtrail.amazonaws.com",
        principal_type="Service",
        principal_account="",
        action="kms:GenerateDataKey",
        resource_arn=str(record["Arn"]),
        region=region,
        service_context={
            "aws:sourcearn": trail_arn,
            "aws:sourceaccount": account,
            "kms:encryptioncontext:aws:cloudtrail:arn": trail_arn,
        },
        secure_transport=True,
    )
    policy = record.get("Policy") or ""
    if evaluate_resource_policy(policy, ctx, service="cloudtrail.amazonaws.com").decision != "Allow":
        return "InsufficientEncryptionPolicyException", f"Insufficient permissions to access KMS key {record['Arn']}."
    return "", ""


def advanced_selectors_problem(selectors: Any) -> str:
    """Why AWS refuses these AdvancedEventSelectors ('' when it accepts them or there are none).

    The API reference's rules for trails: every selector has ``eventCategory`` with ``Equals``;
    a data-event selector (``eventCategory`` Equals ``Data``) has ``resources.type``; every field
    selector has at least one operator.
    """
    operators = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")
    for selector in selectors or []:
        fields = {str(f.get("Field")): f for f in (selector or {}).get("FieldSelectors") or []}
        name = selector.get("Name", "") if isinstance(selector, dict) else ""
        category = fields.get("eventCategory")
        if category is None or not category.get("Equals"):
            return f"The advanced event selector {name!r} must set eventCategory with Equals."
        if "Data" in category["Equals"] and "resources.type" not in fields:
            return f"The data event selector {name!r} must set resources.type."
        for field, item in fields.items():
            if not any(item.get(op) for op in operators):
                return f"The field selector {field!r} of {name!r} has no operator."
    return ""


def deliver(trail: dict[str, Any], event_name: str = "StartLogging") -> None:
    """Deliver one log file for ``trail`` (a MiniStack trail record) and record the outcome."""
    from ministack.services import s3

    account, region = _account_region()
    arn = str(trail["TrailARN"])
    state = DELIVERIES.setdefault(arn, {"time": None, "error": ""})
    code, _message = bucket_problem(str(trail.get("S3BucketName", "")), str(trail.get("S3KeyPrefix", "")), arn)
    if code:
        state["error"] = "NoSuchBucket" if code == "S3BucketDoesNotExistException" else "AccessDenied"
        return
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(now))
    day = time.strftime("%Y/%m/%d", time.gmtime(now))
    key = (
        f"{log_prefix(str(trail.get('S3KeyPrefix', '')), account)}CloudTrail/{region}/{day}/"
        f"{account}_CloudTrail_{region}_{stamp}_{secrets.token_hex(8).upper()}.json.gz"
    )
    record = {
        "eventVersion": "1.09",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "recipientAccountId": account,
        "requestParameters": {"name": arn},
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "readOnly": False,
        "eventCategory": "Management",
    }
    body = gzip.compress(json.dumps({"Records": [record]}).encode())
    status, _headers, _body = s3._put_object(str(trail["S3BucketName"]), key, body, {})
    if status >= 300:
        state["error"] = "AccessDenied"
        return
    state.update(time=now, error="")


def _ok(doc: dict[str, Any]) -> Any:
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(doc).encode()


def _err(code: str, message: str) -> Any:
    return (
        400,
        {"Content-Type": "application/x-amz-json-1.1"},
        json.dumps({"__type": code, "message": message}).encode(),
    )


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.services import cloudtrail as ct
    from ministack.services.cloudformation import drift

    dispatch = ct._DISPATCH
    original_create, original_update = dispatch["CreateTrail"], dispatch["UpdateTrail"]
    original_start, original_status = dispatch["StartLogging"], dispatch["GetTrailStatus"]

    def create_trail(body: dict[str, Any]) -> Any:
        name = str(body.get("Name", "")).strip()
        if name and "S3BucketName" in body:
            code, message = bucket_problem(
                str(body["S3BucketName"]), str(body.get("S3KeyPrefix", "")), ct._trail_arn(name)
            )
            if not code and body.get("KmsKeyId"):
                code, message = key_problem(str(body["KmsKeyId"]), ct._trail_arn(name))
            if code:
                return _err(code, message)
        answer = original_create(body)
        if answer[0] == 200:
            trail = ct._trails.get(name)
            extra = {k: body[k] for k in ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn") if body.get(k)}
            if trail is not None and extra:
                trail.update(extra)
                return _ok({**json.loads(answer[2]), **extra})
        return answer

    def update_trail(body: dict[str, Any]) -> Any:
        raw = str(body.get("Name", "")).strip()
        if "S3BucketName" in body or "S3KeyPrefix" in body:
            _name, _home, trail, problem = ct._find_mutable_trail(raw)
            if problem is None and trail is not None:
                bucket = str(body.get("S3BucketName", trail.get("S3BucketName", "")))
                prefix = str(body.get("S3KeyPrefix", trail.get("S3KeyPrefix", "")))
                code, message = bucket_problem(bucket, prefix, str(trail["TrailARN"]))
                if code:
                    return _err(code, message)
        if body.get("KmsKeyId"):
            _name, _home, trail, problem = ct._find_mutable_trail(raw)
            if problem is None and trail is not None:
                code, message = key_problem(str(body["KmsKeyId"]), str(trail["TrailARN"]))
                if code:
                    return _err(code, message)
        return original_update(body)

    original_put_selectors = dispatch["PutEventSelectors"]

    def put_event_selectors(body: dict[str, Any]) -> Any:
        if why := advanced_selectors_problem(body.get("AdvancedEventSelectors")):
            return _err("InvalidEventSelectorsException", why)
        return original_put_selectors(body)

    def start_logging(body: dict[str, Any]) -> Any:
        answer = original_start(body)
        if answer[0] == 200:
            _name, _home, trail = ct._find_visible_trail(str(body.get("Name", "")).strip())
            if trail is not None:
                deliver(trail)
        return answer

    def get_trail_status(body: dict[str, Any]) -> Any:
        answer = original_status(body)
        if answer[0] != 200:
            return answer
        status = json.loads(answer[2])
        _name, _home, trail = ct._find_visible_trail(str(body.get("Name", "")).strip())
        if trail is None:
            return answer
        state = DELIVERIES.get(str(trail["TrailARN"]))
        if status.get("IsLogging") and (state is None or time.time() - (state["time"] or 0) >= DELIVERY_INTERVAL):
            deliver(trail, "GetTrailStatus")
            state = DELIVERIES.get(str(trail["TrailARN"]))
        if state is not None:
            if state["time"] is not None:
                status["LatestDeliveryTime"] = int(state["time"])
                status["LatestDeliveryAttemptTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state["time"]))
                status["LatestDeliveryAttemptSucceeded"] = status["LatestDeliveryAttemptTime"]
            if state["error"]:
                status["LatestDeliveryError"] = state["error"]
        return _ok(status)

    dispatch.update(
        CreateTrail=create_trail,
        UpdateTrail=update_trail,
        PutEventSelectors=put_event_selectors,
        StartLogging=start_logging,
        GetTrailStatus=get_trail_status,
    )

    # ---- CloudFormation
    def call(action: str, body: dict[str, Any]) -> dict[str, Any]:
        status, _headers, answer = dispatch[action](body)
        doc = json.loads(answer) if answer else {}
        if status >= 300:
            raise ValueError(f"{action} refused: {doc.get('__type')}: {doc.get('message')}")
        return dict(doc)

    def flag(value: Any, default: bool) -> bool:
        return default if value is None else str(value).lower() == "true"

    def settings(props: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "S3BucketName": props.get("S3BucketName", ""),
            "S3KeyPrefix": props.get("S3KeyPrefix", ""),
            "IncludeGlobalServiceEvents": flag(props.get("IncludeGlobalServiceEvents"), True),
            "IsMultiRegionTrail": flag(props.get("IsMultiRegionTrail"), False),
            "EnableLogFileValidation": flag(props.get("EnableLogFileValidation"), False),
            "IsOrganizationTrail": flag(props.get("IsOrganizationTrail"), False),
            "KmsKeyId": props.get("KMSKeyId", ""),
            "CloudWatchLogsLogGroupArn": props.get("CloudWatchLogsLogGroupArn", ""),
            "CloudWatchLogsRoleArn": props.get("CloudWatchLogsRoleArn", ""),
        }
        if props.get("SnsTopicName"):
            body["SnsTopicName"] = props["SnsTopicName"]
        return body

    def apply_selectors_and_logging(name: str, props: dict[str, Any]) -> None:
        if props.get("AdvancedEventSelectors"):
            call("PutEventSelectors", {"TrailName": name, "AdvancedEventSelectors": props["AdvancedEventSelectors"]})
        else:
            selectors = props.get("EventSelectors") or copy.deepcopy(ct._DEFAULT_EVENT_SELECTORS)
            call("PutEventSelectors", {"TrailName": name, "EventSelectors": selectors})
        logging_now = call("GetTrailStatus", {"Name": name}).get("IsLogging")
        if flag(props.get("IsLogging"), False) and not logging_now:
            call("StartLogging", {"Name": name})
        elif not flag(props.get("IsLogging"), False) and logging_now:
            call("StopLogging", {"Name": name})

    def attributes(name: str) -> dict[str, Any]:
        trail = ct._trails.get(name) or {}
        return {"Arn": trail.get("TrailARN", ct._trail_arn(name)), "SnsTopicArn": trail.get("SnsTopicARN", "")}

    def trail_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
        name = str(props.get("TrailName") or f"{stack_name}-{logical_id}-{secrets.token_hex(6).upper()}")[:128]
        body = {"Name": name, **settings(props)}
        body = {k: v for k, v in body.items() if v != ""}
        call("CreateTrail", body)
        try:
            apply_selectors_and_logging(name, props)
            if props.get("Tags"):
                call("AddTags", {"ResourceId": ct._trail_arn(name), "TagsList": props["Tags"]})
        except ValueError:
            call("DeleteTrail", {"Name": name})
            raise
        return name, attributes(name)

    def trail_delete(physical_id: str, props: dict[str, Any]) -> None:
        if ct._trails.get(physical_id) is not None:
            call("DeleteTrail", {"Name": physical_id})

    def trail_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                     logical_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
        if new.get("TrailName") and new.get("TrailName") != physical_id:
            created = trail_create(logical_id or physical_id, new, stack_name)
            trail_delete(physical_id, old)
            return created
        call("UpdateTrail", {"Name": physical_id, **settings(new)})
        apply_selectors_and_logging(physical_id, new)
        return physical_id, attributes(physical_id)

    resource_handlers()["AWS::CloudTrail::Trail"] = {
        "create": trail_create, "update": trail_update, "delete": trail_delete, "update_with_logical_id": True,
    }  # fmt: skip

    def project(actual: list[Any], expected: list[Any]) -> list[Any]:
        """Each actual selector with only the keys its template counterpart sets (AWS fills the others in)."""
        out = []
        for i, selector in enumerate(actual):
            like = expected[i] if i < len(expected) and isinstance(expected[i], dict) else {}
            out.append({k: v for k, v in selector.items() if k in like} if like else selector)
        return out

    def read_trail(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
        _name, _home, trail = ct._find_visible_trail(physical_id)
        if trail is None:
            return None
        current: dict[str, Any] = {
            "TrailName": trail["Name"],
            "S3BucketName": trail.get("S3BucketName", ""),
            "S3KeyPrefix": trail.get("S3KeyPrefix", ""),
            "IsMultiRegionTrail": trail.get("IsMultiRegionTrail", False),
            "EnableLogFileValidation": trail.get("LogFileValidationEnabled", False),
            "IncludeGlobalServiceEvents": trail.get("IncludeGlobalServiceEvents", True),
            "IsOrganizationTrail": trail.get("IsOrganizationTrail", False),
            "IsLogging": bool(trail.get("IsLogging", False)),
            "CloudWatchLogsLogGroupArn": trail.get("CloudWatchLogsLogGroupArn", ""),
            "CloudWatchLogsRoleArn": trail.get("CloudWatchLogsRoleArn", ""),
        }
        kms, wanted = str(trail.get("KmsKeyId", "")), str(props.get("KMSKeyId", ""))
        current["KMSKeyId"] = wanted if wanted and kms.endswith(f"/{wanted}") else kms
        selectors = json.loads(dispatch["GetEventSelectors"]({"TrailName": physical_id})[2])
        current["EventSelectors"] = project(selectors.get("EventSelectors", []), props.get("EventSelectors") or [])
        current["AdvancedEventSelectors"] = selectors.get("AdvancedEventSelectors", [])
        return current

    drift._DRIFT_READERS["AWS::CloudTrail::Trail"] = (
        read_trail,
        frozenset(
            {
                "TrailName", "S3BucketName", "S3KeyPrefix", "IsMultiRegionTrail", "EnableLogFileValidation",
                "IncludeGlobalServiceEvents", "IsOrganizationTrail", "IsLogging", "KMSKeyId",
                "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn", "EventSelectors", "AdvancedEventSelectors",
            }
        ),
    )  # fmt: skip
    from faithful._restjson import on_reset

    on_reset(DELIVERIES.clear)
    log.info("cloudtrail provisioner, bucket policy check and delivery installed")
