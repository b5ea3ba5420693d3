"""GuardDuty: the detector API and ``AWS::GuardDuty::Detector``, with AWS's protection-plan defaults.

Gaps in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator):

* No GuardDuty service at all: a ``guardduty`` call (credential scope ``guardduty``) answered
  400 ``{"error": "Unsupported service: guardduty"}`` (no error code botocore reads). ->
  CreateDetector, ListDetectors, GetDetector, UpdateDetector, DeleteDetector served here
  (REST JSON, per account and region), with:
  one detector per account and Region (a second CreateDetector is ``BadRequestException``, as
  on AWS); ``features`` and ``dataSources`` not both in one request (``BadRequestException``);
  an unknown feature or additional configuration name ``BadRequestException``; an unknown
  detector id ``BadRequestException`` (AWS answers 400 "The request is rejected because the
  input detectorId is not owned by the current account.").
* A new detector's protection plans are AWS's defaults for a detector created through the API
  (the GuardDuty user guide, "Enabling GuardDuty"): CloudTrail, DNS and VPC flow logs (the
  foundational sources, always on), S3 protection, EKS audit logs, malware protection for EC2,
  RDS login events and Lambda network logs ``ENABLED``; Runtime Monitoring and EKS Runtime
  Monitoring, with their agent-management additional configurations, ``DISABLED``. The
  request's ``features`` are applied on top. GetDetector answers ``features`` (each with
  ``updatedAt``) and the legacy ``dataSources`` derived from them, as AWS does.
* No provisioner for ``AWS::GuardDuty::Detector``: CreateStack refused the template ("Template
  format error: Unrecognized resource types"). -> create/update/delete (Enable, Features,
  DataSources, FindingPublishingFrequency,
  Tags); Ref is the detector id, ``GetAtt Id`` too. A drift reader for DetectStackDrift
  compares ``Enable``, ``FindingPublishingFrequency`` and the features the template names.

The refusal sentences are this module's own; the error codes and statuses are AWS's.
"""

from __future__ import annotations

import copy
import logging
import re
import time
import uuid
from typing import Any

from faithful._restjson import Reply, error, iso_now, on_reset, register, reply, route

log = logging.getLogger("faithful.guardduty")

# feature -> (default status of a detector created through the API, its additional configurations)
FEATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "CLOUD_TRAIL": ("ENABLED", ()),
    "DNS_LOGS": ("ENABLED", ()),
    "FLOW_LOGS": ("ENABLED", ()),
    "S3_DATA_EVENTS": ("ENABLED", ()),
    "EKS_AUDIT_LOGS": ("ENABLED", ()),
    "EBS_MALWARE_PROTECTION": ("ENABLED", ()),
    "RDS_LOGIN_EVENTS": ("ENABLED", ()),
    "EKS_RUNTIME_MONITORING": ("DISABLED", ("EKS_ADDON_MANAGEMENT",)),
    "LAMBDA_NETWORK_LOGS": ("ENABLED", ()),
    "RUNTIME_MONITORING": (
        "DISABLED",
        ("EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"),
    ),
}
# features a request may set (the foundational sources cannot be turned off)
SETTABLE = frozenset(FEATURES) - {"CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS"}
FREQUENCIES = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")
SERVICE_ROLE = "aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"

# (account, region) -> detector record
DETECTORS: dict[tuple[str, str], dict[str, Any]] = {}


def _scope() -> tuple[str, str]:
    from ministack.core.responses import get_account_id, get_region

    return get_account_id(), get_region()


def _bad(message: str) -> Reply:
    return error(400, "BadRequestException", message)


def _apply_features(detector: dict[str, Any], requested: list[Any]) -> str:
    """Apply a request's ``features`` to the detector; '' or why AWS refuses them."""
    now = int(time.time())  # a feature's updatedAt is a timestamp (epoch seconds), the detector's a string
    by_name = {f["name"]: f for f in detector["features"]}
    for item in requested:
        name = str((item or {}).get("name", ""))
        if name not in SETTABLE:
            return f"The feature {name!r} is not a valid GuardDuty detector feature."
        status = str(item.get("status", ""))
        if status not in ("ENABLED", "DISABLED"):
            return f"The status {status!r} of feature {name} must be ENABLED or DISABLED."
        feature = by_name[name]
        feature.update(status=status, updatedAt=now)
        extras = {c["name"]: c for c in feature.get("additionalConfiguration", [])}
        for config in item.get("additionalConfiguration") or []:
            config_name, config_status = str(config.get("name", "")), str(config.get("status", ""))
            if config_name not in extras:
                return f"The additional configuration {config_name!r} is not valid for feature {name}."
            if config_status not in ("ENABLED", "DISABLED"):
                return f"The status {config_status!r} of {config_name} must be ENABLED or DISABLED."
            extras[config_name].update(status=config_status, updatedAt=now)
    return ""


def _apply_data_sources(detector: dict[str, Any], sources: dict[str, Any]) -> None:
    """The legacy ``dataSources`` of a request, as the features they stand for."""
    mapping: list[tuple[str, Any]] = [
        ("S3_DATA_EVENTS", (sources.get("s3Logs") or {}).get("enable")),
        ("EKS_AUDIT_LOGS", ((sources.get("kubernetes") or {}).get("auditLogs") or {}).get("enable")),
        (
            "EBS_MALWARE_PROTECTION",
            (((sources.get("malwareProtection") or {}).get("scanEc2InstanceWithFindings") or {}).get("ebsVolumes")),
        ),
    ]
    _apply_features(
        detector, [{"name": n, "status": "ENABLED" if v else "DISABLED"} for n, v in mapping if v is not None]
    )


def _data_sources(detector: dict[str, Any]) -> dict[str, Any]:
    status = {f["name"]: f["status"] for f in detector["features"]}
    return {
        "cloudTrail": {"status": status["CLOUD_TRAIL"]},
        "dnsLogs": {"status": status["DNS_LOGS"]},
        "flowLogs": {"status": status["FLOW_LOGS"]},
        "s3Logs": {"status": status["S3_DATA_EVENTS"]},
        "kubernetes": {"auditLogs": {"status": status["EKS_AUDIT_LOGS"]}},
        "malwareProtection": {
            "scanEc2InstanceWithFindings": {"ebsVolumes": {"status": status["EBS_MALWARE_PROTECTION"]}},
            "serviceRole": detector["serviceRole"],
        },
    }


def create_detector(request: dict[str, Any]) -> tuple[str, str]:
    """Create the region's detector: (detector id, '') or ('', why AWS refuses)."""
    account, region = _scope()
    if (account, region) in DETECTORS:
        return "", "The request is rejected because a detector already exists for the current account."
    if request.get("features") and request.get("dataSources"):
        return "", "The request is rejected because both dataSources and features are specified."
    if "enable" not in request:
        return "", "The request is rejected because the enable parameter is missing."
    frequency = str(request.get("findingPublishingFrequency") or "SIX_HOURS")
    if frequency not in FREQUENCIES:
        return "", f"The findingPublishingFrequency {frequency!r} is not one of {', '.join(FREQUENCIES)}."
    now = iso_now()
    detector: dict[str, Any] = {
        "detectorId": uuid.uuid4().hex,
        "createdAt": now,
        "updatedAt": now,
        "findingPublishingFrequency": frequency,
        "serviceRole": f"arn:aws:iam::{account}:role/{SERVICE_ROLE}",
        "status": "ENABLED" if request.get("enable") else "DISABLED",
        "tags": dict(request.get("tags") or {}),
        "features": [  # updatedAt: epoch seconds (a timestamp member, unlike the detector's strings)
            {
                "name": name,
                "status": status,
                "updatedAt": int(time.time()),
                **(
                    {
                        "additionalConfiguration": [
                            {"name": c, "status": "DISABLED", "updatedAt": int(time.time())} for c in extras
                        ]
                    }
                    if extras
                    else {}
                ),
            }
            for name, (status, extras) in FEATURES.items()
        ],
    }
    if why := _apply_features(detector, list(request.get("features") or [])):
        return "", why
    _apply_data_sources(detector, dict(request.get("dataSources") or {}))
    DETECTORS[(account, region)] = detector
    return detector["detectorId"], ""


def find(detector_id: str) -> dict[str, Any] | None:
    detector = DETECTORS.get(_scope())
    return detector if detector is not None and detector["detectorId"] == detector_id else None


def update_detector(detector_id: str, request: dict[str, Any]) -> str:
    detector = find(detector_id)
    if detector is None:
        return "The request is rejected because the input detectorId is not owned by the current account."
    if request.get("features") and request.get("dataSources"):
        return "The request is rejected because both dataSources and features are specified."
    frequency = request.get("findingPublishingFrequency")
    if frequency is not None and frequency not in FREQUENCIES:
        return f"The findingPublishingFrequency {frequency!r} is not one of {', '.join(FREQUENCIES)}."
    trial = copy.deepcopy(detector)
    if why := _apply_features(trial, list(request.get("features") or [])):
        return why
    _apply_data_sources(trial, dict(request.get("dataSources") or {}))
    if "enable" in request:
        trial["status"] = "ENABLED" if request["enable"] else "DISABLED"
    if frequency is not None:
        trial["findingPublishingFrequency"] = frequency
    trial["updatedAt"] = iso_now()
    detector.clear()
    detector.update(trial)
    return ""


def get_detector_view(detector: dict[str, Any]) -> dict[str, Any]:
    view = {k: copy.deepcopy(v) for k, v in detector.items() if k != "detectorId"}
    view["dataSources"] = _data_sources(detector)
    return view


# ---- the API
def _create(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    detector_id, why = create_detector(body)
    if why:
        return _bad(why)
    return reply(200, {"detectorId": detector_id, "unprocessedDataSources": {}})


def _list(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    detector = DETECTORS.get(_scope())
    return reply(200, {"detectorIds": [detector["detectorId"]] if detector else []})


def _not_owned() -> Reply:
    return _bad("The request is rejected because the input detectorId is not owned by the current account.")


def _get(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    detector = find(match["id"])
    return reply(200, get_detector_view(detector)) if detector else _not_owned()


def _update(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    why = update_detector(match["id"], body)
    return _bad(why) if why else reply(200, {})


def _delete(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if find(match["id"]) is None:
        return _not_owned()
    DETECTORS.pop(_scope(), None)
    return reply(200, {})


# ---- CloudFormation
def _cfn_request(props: dict[str, Any]) -> dict[str, Any]:
    """AWS::GuardDuty::Detector properties as a CreateDetector / UpdateDetector request."""
    request: dict[str, Any] = {"enable": str(props.get("Enable", False)).lower() == "true"}
    if props.get("FindingPublishingFrequency"):
        request["findingPublishingFrequency"] = props["FindingPublishingFrequency"]
    features = []
    for feature in props.get("Features") or []:
        item: dict[str, Any] = {"name": feature.get("Name"), "status": feature.get("Status")}
        extras = [
            {"name": c.get("Name"), "status": c.get("Status")} for c in feature.get("AdditionalConfiguration") or []
        ]
        if extras:
            item["additionalConfiguration"] = extras
        features.append(item)
    if features:
        request["features"] = features
    sources = props.get("DataSources") or {}
    if sources:
        ebs = ((sources.get("MalwareProtection") or {}).get("ScanEc2InstanceWithFindings") or {}).get("EbsVolumes")
        request["dataSources"] = {
            "s3Logs": {"enable": (sources.get("S3Logs") or {}).get("Enable")},
            "kubernetes": {
                "auditLogs": {"enable": ((sources.get("Kubernetes") or {}).get("AuditLogs") or {}).get("Enable")}
            },
            "malwareProtection": {"scanEc2InstanceWithFindings": {"ebsVolumes": ebs}},
        }
    tags = props.get("Tags") or []
    if tags:
        request["tags"] = {t["Key"]: t["Value"] for t in tags}
    return request


def _cfn_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
    detector_id, why = create_detector(_cfn_request(props))
    if why:
        raise ValueError(f"CreateDetector refused: {why}")
    return detector_id, {"Id": detector_id}


def _cfn_update(physical_id: str, old: dict[str, Any], new: dict[str, Any], stack_name: str,
                logical_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    request = _cfn_request(new)
    request.pop("tags", None)
    if why := update_detector(physical_id, request):
        raise ValueError(f"UpdateDetector refused: {why}")
    return physical_id, {"Id": physical_id}


def _cfn_delete(physical_id: str, props: dict[str, Any]) -> None:
    if find(physical_id) is not None:
        DETECTORS.pop(_scope(), None)


def _read_drift(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    detector = find(physical_id)
    if detector is None:
        return None
    current: dict[str, Any] = {
        "Enable": detector["status"] == "ENABLED",
        "FindingPublishingFrequency": detector["findingPublishingFrequency"],
    }
    # the features the template names, in its shape (the others are AWS's defaults, not compared)
    by_name = {f["name"]: f for f in detector["features"]}
    features = []
    for wanted in props.get("Features") or []:
        have = by_name.get(str(wanted.get("Name")))
        if have is None:
            continue
        item: dict[str, Any] = {"Name": have["name"], "Status": have["status"]}
        if wanted.get("AdditionalConfiguration"):
            extras = {c["name"]: c["status"] for c in have.get("additionalConfiguration", [])}
            item["AdditionalConfiguration"] = [
                {"Name": c.get("Name"), "Status": extras.get(str(c.get("Name")), "DISABLED")}
                for c in wanted["AdditionalConfiguration"]
            ]
        features.append(item)
    current["Features"] = features
    return current


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.services.cloudformation import drift

    register(
        "guardduty",
        [
            route("POST", r"/detector", _create),
            route("GET", r"/detector", _list),
            route("GET", r"/detector/(?P<id>[^/]+)", _get),
            route("POST", r"/detector/(?P<id>[^/]+)", _update),
            route("DELETE", r"/detector/(?P<id>[^/]+)", _delete),
        ],
    )
    resource_handlers()["AWS::GuardDuty::Detector"] = {
        "create": _cfn_create, "update": _cfn_update, "delete": _cfn_delete, "update_with_logical_id": True,
    }  # fmt: skip
    drift._DRIFT_READERS["AWS::GuardDuty::Detector"] = (
        _read_drift,
        frozenset({"Enable", "FindingPublishingFrequency", "Features"}),
    )
    on_reset(DETECTORS.clear)
    log.info("guardduty installed")
