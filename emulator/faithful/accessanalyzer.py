"""IAM Access Analyzer: analyzers through the API and ``AWS::AccessAnalyzer::Analyzer``.

Gaps in MiniStack 1.5.33 (measured with boto3 and create_stack against the running emulator):

* No Access Analyzer service: an ``accessanalyzer`` call (credential scope
  ``access-analyzer``) answered 400 ``{"error": "Unsupported service: access-analyzer"}``
  (no error code botocore reads). ->
  CreateAnalyzer, ListAnalyzers (filter ``type``), GetAnalyzer and DeleteAnalyzer served here
  (REST JSON, per account and Region): an analyzer is ``ACTIVE`` at once, its ARN
  ``arn:aws:access-analyzer:<region>:<account>:analyzer/<name>``; a name in use is
  ``ConflictException`` (409), an unknown type ``ValidationException`` (400), an unknown name
  ``ResourceNotFoundException`` (404), as on AWS. Deliberate difference: AWS refuses an
  ``ORGANIZATION`` analyzer outside an organization's management or delegated administrator
  account; the emulator's one account stands in for that account and accepts it.
* No provisioner for ``AWS::AccessAnalyzer::Analyzer``: CreateStack refused the template
  ("Template format error: Unrecognized resource types"). ->
  create/delete (AnalyzerName, or a generated ``<stack>-<logical id>-<suffix>`` name as
  CloudFormation generates one; Type; Tags; ArchiveRules and AnalyzerConfiguration kept);
  Ref and ``GetAtt Arn`` are the ARN; every property change replaces it, as the resource
  documentation says. A drift reader reports a deleted analyzer as ``DELETED``.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from faithful._restjson import Reply, error, iso_now, on_reset, register, reply, route

log = logging.getLogger("faithful.accessanalyzer")

TYPES = (
    "ACCOUNT",
    "ORGANIZATION",
    "ACCOUNT_UNUSED_ACCESS",
    "ORGANIZATION_UNUSED_ACCESS",
    "ACCOUNT_INTERNAL_ACCESS",
    "ORGANIZATION_INTERNAL_ACCESS",
)
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,254}")

# (account, region) -> analyzer name -> AnalyzerSummary
ANALYZERS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


def _scope() -> tuple[str, str]:
    from ministack.core.responses import get_account_id, get_region

    return get_account_id(), get_region()


def create_analyzer(request: dict[str, Any]) -> tuple[str, Reply | None]:
    account, region = _scope()
    name, kind = str(request.get("analyzerName", "")), str(request.get("type", ""))
    if not NAME.fullmatch(name):
        return "", error(400, "ValidationException", f"Invalid analyzerName {name!r}")
    if kind not in TYPES:
        return "", error(400, "ValidationException", f"Invalid type {kind!r}: one of {', '.join(TYPES)}")
    analyzers = ANALYZERS.setdefault((account, region), {})
    if name in analyzers:
        return "", error(409, "ConflictException", f"Analyzer {name} already exists")
    arn = f"arn:aws:access-analyzer:{region}:{account}:analyzer/{name}"
    summary: dict[str, Any] = {
        "arn": arn,
        "name": name,
        "type": kind,
        "createdAt": iso_now(),
        "tags": dict(request.get("tags") or {}),
        "status": "ACTIVE",
    }
    if request.get("configuration"):
        summary["configuration"] = request["configuration"]
    analyzers[name] = summary
    return arn, None


def _create(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    arn, refused = create_analyzer(body)
    return refused or reply(200, {"arn": arn})


def _list(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    kind = query.get("type")
    if kind and kind not in TYPES:
        return error(400, "ValidationException", f"Invalid type {kind!r}")
    analyzers = [a for a in ANALYZERS.get(_scope(), {}).values() if not kind or a["type"] == kind]
    return reply(200, {"analyzers": analyzers})


def _get(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    analyzer = ANALYZERS.get(_scope(), {}).get(match["name"])
    if analyzer is None:
        return error(404, "ResourceNotFoundException", f"Analyzer {match['name']} not found")
    return reply(200, {"analyzer": analyzer})


def _delete(match: re.Match[str], body: dict[str, Any], query: dict[str, Any]) -> Reply:
    if ANALYZERS.get(_scope(), {}).pop(match["name"], None) is None:
        return error(404, "ResourceNotFoundException", f"Analyzer {match['name']} not found")
    return reply(200, {})


# ---- CloudFormation
def _cfn_create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
    name = str(props.get("AnalyzerName") or f"{stack_name}-{logical_id}-{uuid.uuid4().hex[:12].upper()}")[:255]
    request: dict[str, Any] = {"analyzerName": name, "type": props.get("Type")}
    if props.get("Tags"):
        request["tags"] = {t["Key"]: t["Value"] for t in props["Tags"]}
    if props.get("AnalyzerConfiguration"):
        request["configuration"] = props["AnalyzerConfiguration"]
    arn, refused = create_analyzer(request)
    if refused is not None:
        raise ValueError(f"CreateAnalyzer refused: {refused[2].decode()}")
    return arn, {"Arn": arn}


def _cfn_delete(physical_id: str, props: dict[str, Any]) -> None:
    ANALYZERS.get(_scope(), {}).pop(physical_id.rpartition("/")[2], None)


def _read_drift(physical_id: str, props: dict[str, Any]) -> dict[str, Any] | None:
    analyzer = ANALYZERS.get(_scope(), {}).get(physical_id.rpartition("/")[2])
    return None if analyzer is None or analyzer["arn"] != physical_id else {"Type": analyzer["type"]}


def install() -> None:
    from faithful._ministack import resource_handlers
    from ministack.services.cloudformation import drift

    register(
        "access-analyzer",
        [
            route("PUT", r"/analyzer", _create),
            route("GET", r"/analyzer", _list),
            route("GET", r"/analyzer/(?P<name>[^/]+)", _get),
            route("DELETE", r"/analyzer/(?P<name>[^/]+)", _delete),
        ],
    )
    resource_handlers()["AWS::AccessAnalyzer::Analyzer"] = {"create": _cfn_create, "delete": _cfn_delete}
    drift._DRIFT_READERS["AWS::AccessAnalyzer::Analyzer"] = (_read_drift, frozenset({"Type"}))
    on_reset(ANALYZERS.clear)
    log.info("access analyzer installed")
