"""ECR image scanning and the digests ECS reports for the images its tasks run.

Gaps in MiniStack 1.5.33 that this closes (measured against the account baseline's
``ImageRepository`` and the platform's service, see docs/emulator.md "Image registry"):

1. No scan ever ran: ``DescribeImageScanFindings``, ``StartImageScan``,
   ``GetRegistryScanningConfiguration`` and ``PutRegistryScanningConfiguration`` were unknown
   actions, and ``DescribeImages`` had neither ``imageScanStatus`` nor
   ``imageScanFindingsSummary``. Here a push to a repository with ``scanOnPush`` (or matched
   by an ``ENHANCED`` / ``SCAN_ON_PUSH`` rule of the registry's scanning configuration) is
   scanned, as is an image ``StartImageScan`` names; the scan is ``COMPLETE`` at once (AWS:
   ``IN_PROGRESS`` for seconds to minutes first) with the findings the emulator holds for that
   image: none, unless a self-test set some through the control route below. An image never
   scanned answers ``ScanNotFoundException``, as on AWS.
2. ``DescribeImages`` for an image that is not in the repository answered an empty list;
   AWS refuses it with ``ImageNotFoundException``, as ``DescribeImageScanFindings`` does.
3. Pushing an image again with the tag it already carries (same manifest, same tag) answered
   ``ImageTagAlreadyExistsException`` in an immutable repository; AWS answers
   ``ImageAlreadyExistsException`` (nothing changed) whatever the tag mutability.
4. A running task's containers had no ``imageDigest``. On AWS the agent resolves the image
   it pulled and reports the manifest digest. Here an image of this emulator's own registry
   (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>`` by tag or digest) is resolved
   in the repository, and its digest reported.
5. A task whose image is not in the emulator's registry (no such repository, tag or digest)
   ran anyway. On AWS it stops before running: ``stopCode`` ``TaskFailedToStart`` and
   ``stoppedReason`` ``CannotPullContainerError: ...``. Images of other registries (another
   account, Docker Hub, ``public.ecr.aws``) cannot be resolved offline and still run, with no
   digest.

Test-only control route (never used by the conformance checks):
``POST /_faithful/ecr/findings?region=&repositoryName=&imageDigest=&CRITICAL=<n>&HIGH=<n>...``
sets the findings (that many per severity) the image's scans report, and updates its latest scan
when it has one (a vulnerability published for an image already pushed, as a rescan finds it).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

log = logging.getLogger("faithful.registry")

_installed = False
CONTROL_PATH = "/_faithful/ecr/findings"
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repo>[^:@]+)"
    r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_lock = threading.Lock()
# (account, region, repository, digest) -> the image's latest scan
_scans: dict[tuple[str, str, str, str], dict[str, Any]] = {}
# (account, region, repository, digest) -> the findings a scan of that image reports (control route)
_known_findings: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
# (account, region) -> the registry's scanning configuration
_registry_scanning: dict[tuple[str, str], dict[str, Any]] = {}


def _scope() -> tuple[str, str]:
    from ministack.core.responses import get_account_id, get_region

    return get_account_id(), get_region()


def _json(payload: dict[str, Any]) -> Any:
    from ministack.core.responses import json_response

    return json_response(payload)


def _error(code: str, message: str) -> Any:
    from ministack.core.responses import error_response_json

    return error_response_json(code, message, 400)


def _find(repo: str, image_id: dict[str, Any]) -> dict[str, Any] | None:
    from ministack.services import ecr

    for image in ecr._images.get(repo, None) or []:
        if image_id.get("imageDigest") and image.get("imageDigest") != image_id["imageDigest"]:
            continue
        if image_id.get("imageTag") and image_id["imageTag"] not in (image.get("imageTags") or []):
            continue
        return dict(image)
    return None


def _not_found(repo: str, image_id: dict[str, Any]) -> Any:
    from ministack.services import ecr

    if repo not in ecr._repositories:
        return _error(
            "RepositoryNotFoundException", f"The repository with name '{repo}' does not exist in the registry"
        )
    shown = f"{{imageDigest:'{image_id.get('imageDigest')}', imageTag:'{image_id.get('imageTag') or 'null'}'}}"
    return _error(
        "ImageNotFoundException",
        f"The image with imageId {shown} does not exist within the repository with name '{repo}' in the registry",
    )


def _severity_counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        severity = str(finding.get("severity", "UNDEFINED")).upper()
        counts[severity] = counts.get(severity, 0) + 1
    return counts


def _scan(repo: str, digest: str) -> dict[str, Any]:
    """Gap 1: scan one image now (COMPLETE at once), with the findings known for it."""
    account, region = _scope()
    key = (account, region, repo, digest)
    now = time.time()
    with _lock:
        findings = [dict(f) for f in _known_findings.get(key, [])]
        _scans[key] = {"status": "COMPLETE", "completedAt": now, "sourceUpdatedAt": now, "findings": findings}
        return _scans[key]


def _scans_on_push(repo: str) -> bool:
    from ministack.services import ecr

    config = _registry_scanning.get(_scope(), {"scanType": "BASIC", "rules": []})
    for rule in config.get("rules") or []:
        wanted = "SCAN_ON_PUSH" if config.get("scanType") == "BASIC" else None
        if wanted and rule.get("scanFrequency") != wanted:
            continue
        for flt in rule.get("repositoryFilters") or []:
            pattern = "^" + re.escape(str(flt.get("filter", ""))).replace(r"\*", ".*") + "$"
            if re.match(pattern, repo):
                return True
    if config.get("scanType") == "ENHANCED":
        return False  # enhanced scanning ignores the repositories' own setting
    record = ecr._repositories.get(repo) or {}
    return bool((record.get("imageScanningConfiguration") or {}).get("scanOnPush"))


def _scan_status(scan: dict[str, Any]) -> dict[str, Any]:
    return {"status": scan["status"], "description": "The scan was completed successfully."}


def _put_image(original: Any) -> Any:
    def put_image(data: dict[str, Any]) -> Any:
        repo, tag = str(data.get("repositoryName", "")), data.get("imageTag")
        digest = data.get("imageDigest")
        if not digest:
            from ministack.services import ecr

            digest = ecr._image_digest(data.get("imageManifest", ""))
        existing = _find(repo, {"imageDigest": digest})
        if existing is not None and (not tag or tag in (existing.get("imageTags") or [])):
            # gap 3: nothing to change
            return _error(
                "ImageAlreadyExistsException",
                f"Image with digest '{digest}' and tag '{tag}' already exists in the repository with name '{repo}' "
                "in the registry",
            )
        status, headers, body = original(data)
        if status < 400 and _scans_on_push(repo):
            _scan(repo, digest)
        return status, headers, body

    return put_image


def _describe_images(original: Any) -> Any:
    def describe_images(data: dict[str, Any]) -> Any:
        repo = str(data.get("repositoryName", ""))
        for image_id in data.get("imageIds") or []:
            if _find(repo, image_id) is None:
                return _not_found(repo, image_id)  # gap 2
        status, headers, body = original(data)
        if status >= 400:
            return status, headers, body
        payload = json.loads(body)
        account, region = _scope()
        for detail in payload.get("imageDetails", []):
            scan = _scans.get((account, region, repo, str(detail.get("imageDigest"))))
            if scan is not None:  # gap 1
                detail["imageScanStatus"] = _scan_status(scan)
                detail["imageScanFindingsSummary"] = {
                    "imageScanCompletedAt": scan["completedAt"],
                    "vulnerabilitySourceUpdatedAt": scan["sourceUpdatedAt"],
                    "findingSeverityCounts": _severity_counts(scan["findings"]),
                }
        return _json(payload)

    return describe_images


def _describe_image_scan_findings(data: dict[str, Any]) -> Any:
    repo, image_id = str(data.get("repositoryName", "")), dict(data.get("imageId") or {})
    image = _find(repo, image_id)
    if image is None:
        return _not_found(repo, image_id)
    account, region = _scope()
    scan = _scans.get((account, region, repo, str(image["imageDigest"])))
    if scan is None:
        return _error(
            "ScanNotFoundException",
            f"Image scan does not exist for the image with '{image_id}' in the repository with name '{repo}' "
            "in the registry",
        )
    return _json(
        {
            "registryId": account,
            "repositoryName": repo,
            "imageId": {
                "imageDigest": image["imageDigest"],
                **({"imageTag": image_id["imageTag"]} if image_id.get("imageTag") else {}),
            },
            "imageScanStatus": _scan_status(scan),
            "imageScanFindings": {
                "imageScanCompletedAt": scan["completedAt"],
                "vulnerabilitySourceUpdatedAt": scan["sourceUpdatedAt"],
                "findingSeverityCounts": _severity_counts(scan["findings"]),
                "findings": scan["findings"],
            },
        }
    )


def _start_image_scan(data: dict[str, Any]) -> Any:
    repo, image_id = str(data.get("repositoryName", "")), dict(data.get("imageId") or {})
    image = _find(repo, image_id)
    if image is None:
        return _not_found(repo, image_id)
    _scan(repo, str(image["imageDigest"]))
    account, _ = _scope()
    return _json(
        {
            "registryId": account,
            "repositoryName": repo,
            "imageId": {"imageDigest": image["imageDigest"]},
            "imageScanStatus": {"status": "IN_PROGRESS"},
        }
    )


def _get_registry_scanning_configuration(data: dict[str, Any]) -> Any:
    account, region = _scope()
    config = _registry_scanning.get((account, region), {"scanType": "BASIC", "rules": []})
    return _json({"registryId": account, "scanningConfiguration": config})


def _put_registry_scanning_configuration(data: dict[str, Any]) -> Any:
    scan_type = data.get("scanType", "BASIC")
    if scan_type not in ("BASIC", "ENHANCED"):
        return _error("ValidationException", f"scanType {scan_type!r} is not BASIC or ENHANCED")
    config = {"scanType": scan_type, "rules": list(data.get("rules") or [])}
    _registry_scanning[_scope()] = config
    return _json({"registryScanningConfiguration": config})


_ACTIONS = {
    "DescribeImageScanFindings": _describe_image_scan_findings,
    "StartImageScan": _start_image_scan,
    "GetRegistryScanningConfiguration": _get_registry_scanning_configuration,
    "PutRegistryScanningConfiguration": _put_registry_scanning_configuration,
}


def _wrap_ecr() -> None:
    from ministack.services import ecr

    original = ecr.handle_request
    put_image = _put_image(ecr._put_image)
    describe_images = _describe_images(ecr._describe_images)

    async def handle_request(method, path, headers, body, query_params):  # MiniStack's signature
        action = str(headers.get("x-amz-target", "")).rsplit(".", 1)[-1]
        handler = {**_ACTIONS, "PutImage": put_image, "DescribeImages": describe_images}.get(action)
        if handler is None:
            return await original(method, path, headers, body, query_params)
        try:
            data = json.loads(body) if body else {}
        except json.JSONDecodeError:
            return _error("SerializationException", "Invalid JSON")
        return handler(data)

    original_reset = ecr.reset

    def reset() -> None:
        original_reset()
        with _lock:
            _scans.clear()
            _known_findings.clear()
            _registry_scanning.clear()

    ecr.handle_request = handle_request
    ecr.reset = reset


# ---------------------------------------------------------------------------
# ECS: the digest of the image a task runs, or CannotPullContainerError
# ---------------------------------------------------------------------------


def resolve(image: str) -> tuple[str | None, str | None]:
    """(digest, None) for an image of this emulator's registry that exists; (None, why) when it does
    not; (None, None) for an image of another registry, which cannot be resolved here."""
    from ministack.services import ecr

    match = _IMAGE.match(image)
    account, region = _scope()
    if not match or match["account"] != account or match["region"] != region:
        return None, None
    repo = match["repo"]
    if repo not in ecr._repositories:
        return None, f"repository {repo} not found"
    image_id = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    found = _find(repo, image_id)
    if found is None:
        ref = match["digest"] or (match["tag"] or "latest")
        return None, f"{image}: {ref} not found: manifest unknown: requested image not found"
    return str(found["imageDigest"]), None


def _wrap_ecs() -> None:
    from ministack.services import ecs

    original_build = ecs._build_task_containers
    original_run_task = ecs._run_task

    def _build_task_containers(td, container_overrides):
        containers = original_build(td, container_overrides)
        for container in containers:
            digest, _ = resolve(str(container.get("image", "")))
            if digest:  # gap 4
                container["imageDigest"] = digest
        return containers

    def _run_task(data):
        response = original_run_task(data)
        status, headers, body = response
        if status >= 400:
            return response
        payload = json.loads(body)
        changed = False
        for wire in payload.get("tasks", []):
            task = ecs._tasks.get(wire.get("taskArn"))
            if task is None:
                continue
            for container in task.get("containers", []):
                _, why = resolve(str(container.get("image", "")))
                if why:  # gap 5
                    reason = f"CannotPullContainerError: pull image manifest has been retried 5 time(s): {why}"
                    ecs._mark_task_stopped(task["taskArn"], task, reason, "TaskFailedToStart")
                    changed = True
                    break
        if not changed:
            return response
        payload["tasks"] = [ecs._sanitize(ecs._tasks.get(t["taskArn"]) or t) for t in payload["tasks"]]
        return status, headers, json.dumps(payload, ensure_ascii=False).encode("utf-8")

    ecs._build_task_containers = _build_task_containers
    ecs._run_task = _run_task
    ecs._ACTION_MAP["RunTask"] = _run_task


# ---------------------------------------------------------------------------
# the test-only control route
# ---------------------------------------------------------------------------


def _control(method: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
    """Set the findings of one image: ``?region=&repositoryName=&imageDigest=&CRITICAL=<n>&HIGH=<n>...``."""
    from ministack.core.responses import get_account_id

    def answer(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()

    def one(name: str, default: str = "") -> str:
        return (query.get(name) or [default])[0]

    if method != "POST":
        return answer(405, {"message": f"{CONTROL_PATH} takes POST"})
    region, repo, digest = one("region", "us-east-1"), one("repositoryName"), one("imageDigest")
    if not repo or not digest or not region:
        return answer(400, {"message": "expected repositoryName and imageDigest (and region)"})
    try:
        counts = {sev: int(one(sev, "0") or 0) for sev in SEVERITIES}
    except ValueError as exc:
        return answer(400, {"message": f"severity counts must be integers: {exc}"})
    findings = [
        {
            "name": f"CVE-0000-{sev[:4]}{i}",
            "description": f"a {sev.lower()} vulnerability the emulator's self-tests planted",
            "uri": "https://example.invalid/emulated-finding",
            "severity": sev,
            "attributes": [{"key": "package_name", "value": "emulated"}],
        }
        for sev, n in counts.items()
        for i in range(n)
    ]
    key = (get_account_id(), region, repo, digest)
    with _lock:
        _known_findings[key] = findings
        scan = _scans.get(key)
        if scan is not None:  # the image's next scan would find them: as if it ran now
            scan["findings"] = [dict(f) for f in findings]
            scan["completedAt"] = scan["sourceUpdatedAt"] = time.time()
    rescanned = scan is not None
    return answer(
        200, {"repositoryName": repo, "imageDigest": digest, "findings": len(findings), "rescanned": rescanned}
    )


def _wrap_app() -> None:
    from urllib.parse import parse_qs, urlsplit

    from ministack import app

    original = app._handle_pre_body_request

    async def _handle_pre_body_request(method, path, headers, query_params, request_id):
        if path.split("?", 1)[0].rstrip("/") == CONTROL_PATH:
            query = query_params if isinstance(query_params, dict) and query_params else parse_qs(urlsplit(path).query)
            return _control(method, {k: v if isinstance(v, list) else [v] for k, v in query.items()})
        return await original(method, path, headers, query_params, request_id)

    app._handle_pre_body_request = _handle_pre_body_request


def install() -> None:
    global _installed
    if _installed:
        return
    _wrap_ecr()
    _wrap_ecs()
    _wrap_app()
    _installed = True
