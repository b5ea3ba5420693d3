"""Compute suite: the application image, from the account's private ECR repository, pinned and scanned."""

from __future__ import annotations

from conformance.checks import check, primary, supporting
from conformance.evidence import Evidence
from conformance.inventory import Inventory, ProbeError
from conformance.inventory.compute import ecr_image, image_key
from conformance.inventory.shapes import EcrRepository

# the scan findings that block a release (PCI DSS 6.3.3: critical and high patched within a month)
BLOCKING = ("CRITICAL", "HIGH")


def _td_arn(inv: Inventory) -> str:
    return inv.compute.task_definition.get("taskDefinitionArn") or inv.compute.service.get("taskDefinition", "")


def _registry(inv: Inventory) -> str:
    return f"{inv.account}.dkr.ecr.{inv.region}.amazonaws.com"


def _unpinned(inv: Inventory, images: dict[str, str]) -> dict[str, str]:
    """Container -> why its image is not one of the account's own ECR images pinned by digest."""
    wrong: dict[str, str] = {}
    for name, image in images.items():
        m = ecr_image(image)
        if m is None:
            wrong[name] = f"{image or '(no image)'} (not a private ECR repository)"
        elif (m.account, m.region) != (inv.account, inv.region):
            wrong[name] = f"{image} (the registry of account {m.account} in {m.region})"
        elif not m.digest:
            wrong[name] = f"{image} (by tag, not by digest)"
        elif m.tag:
            wrong[name] = f"{image} (a tag beside the digest)"
    return wrong


def _repositories(inv: Inventory) -> dict[str, EcrRepository]:
    """The own-account ECR repositories the task definition's containers name; raise when none is read."""
    named = {
        m.repository
        for c in inv.compute.containers
        if (m := ecr_image(str(c.get("image", "")))) and (m.account, m.region) == (inv.account, inv.region)
    }
    found = inv.compute.image_repositories
    missing = sorted(named - set(found))
    assert not missing, (
        f"task definition {_td_arn(inv)} names ECR repositories {missing} that do not exist in {_registry(inv)}, "
        "expected the account baseline's image repository"
    )
    return {name: found[name] for name in sorted(named)}


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:6.3.3",
            "The task definition runs exactly the image whose scan the registry holds: a digest cannot be moved to "
            "unscanned or unpatched content, a tag or a public image can.",
        ),
        supporting(
            "PCI-DSS-4.0:6.5.1",
            "What production runs changes only through a new task definition revision (change control), never by "
            "a tag moved in a registry.",
        ),
    ],
    rationale="Every container image comes from the account's own private ECR repository, pinned by digest.",
)
def test_task_definition_images_pinned_from_own_ecr(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    images = {str(c.get("name")): str(c.get("image", "")) for c in inv.compute.containers}
    evidence.attach("container images", images)
    assert images, f"task definition {_td_arn(inv)} has no containers, expected images from {_registry(inv)}"
    wrong = _unpinned(inv, images)
    assert not wrong, (
        f"task definition {_td_arn(inv)} runs {wrong} (container: image), "
        f"expected {_registry(inv)}/<repository>@sha256:<digest> for every container"
    )


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:6.3.3",
            "The tasks actually running were started from the pinned, scanned image: the digest each container "
            "reports is the one the task definition names.",
        ),
        supporting("PCI-DSS-4.0:6.5.1", "No task runs an image other than the released revision's."),
    ],
    rationale="Every running task's containers report the account's own ECR image and the digest they were pinned to.",
)
def test_running_tasks_run_pinned_images(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    observed = {
        f"{str(t.get('taskArn', '')).rsplit('/', 1)[-1]}/{c.get('name')}": {
            "image": str(c.get("image", "")),
            "imageDigest": str(c.get("imageDigest") or ""),
        }
        for t in inv.compute.tasks
        for c in t.get("containers", [])
    }
    evidence.attach("running containers: image and imageDigest", observed)
    assert observed, (
        f"service {inv.outputs.ECSServiceName} has no running task to observe, expected tasks running "
        f"images from {_registry(inv)}"
    )
    wrong = _unpinned(inv, {k: v["image"] for k, v in observed.items()})
    for name, seen in observed.items():
        m = ecr_image(seen["image"])
        if name in wrong or m is None:
            continue
        if not seen["imageDigest"]:
            wrong[name] = f"{seen['image']} (no imageDigest reported)"
        elif seen["imageDigest"] != m.digest:
            wrong[name] = f"{seen['image']} running {seen['imageDigest']}"
    assert not wrong, (
        f"service {inv.outputs.ECSServiceName} runs {wrong} (task/container: image), expected every container "
        f"running {_registry(inv)}/<repository>@sha256:<digest> with that digest reported"
    )


def _scans_on_push(inv: Inventory, repository: str, repo: EcrRepository) -> bool:
    registry = inv.compute.registry_scanning
    for rule in registry.get("rules", []):
        if registry.get("scanType") == "BASIC" and rule.get("scanFrequency") != "SCAN_ON_PUSH":
            continue
        for flt in rule.get("repositoryFilters", []):
            pattern = str(flt.get("filter", ""))
            if pattern == repository or (pattern.endswith("*") and repository.startswith(pattern[:-1])):
                return True
    if registry.get("scanType") == "ENHANCED":
        return False  # enhanced scanning ignores the repository's own setting
    return bool(repo.get("imageScanningConfiguration", {}).get("scanOnPush"))


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:6.3.1",
            "Vulnerabilities in the application image are identified: every image pushed to the repository is "
            "scanned against a vulnerability source.",
        ),
        supporting(
            "PCI-DSS-4.0:11.3.1",
            "The image scan is the vulnerability scan of the containers' software; it does not cover the "
            "platform's other components.",
        ),
    ],
    rationale="The application's ECR repository scans every image on push (basic, or enhanced scanning rules).",
)
def test_image_repository_scans_on_push(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    repos = _repositories(inv)
    registry = inv.compute.registry_scanning
    scanned = {name: _scans_on_push(inv, name, r) for name, r in repos.items()}
    observed = {
        name: {
            "scanOnPush": bool(r.get("imageScanningConfiguration", {}).get("scanOnPush")),
            "registry scanType": registry.get("scanType"),
            "scanned on push": scanned[name],
        }
        for name, r in repos.items()
    }
    evidence.attach("repository and registry scanning", {"repositories": observed, "registry": registry})
    assert repos, f"task definition {_td_arn(inv)} names no ECR repository of {_registry(inv)} to judge"
    off = sorted(name for name, on in scanned.items() if not on)
    assert not off, (
        f"ECR repositories {off} of {_registry(inv)} do not scan images on push (scanOnPush false, registry "
        f"scanType {registry.get('scanType')} with no matching rule), expected every push scanned"
    )


@check(
    severity="medium",
    links=[
        primary(
            "PCI-DSS-4.0:6.5.1",
            "A released image's tag cannot be moved to other content outside the change process: tags are "
            "immutable in the repository.",
        ),
    ],
    rationale="The application's ECR repository has immutable tags.",
)
def test_image_repository_tags_immutable(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    repos = _repositories(inv)
    observed = {name: r.get("imageTagMutability") for name, r in repos.items()}
    evidence.attach("imageTagMutability by repository", observed)
    assert repos, f"task definition {_td_arn(inv)} names no ECR repository of {_registry(inv)} to judge"
    mutable = {name: m for name, m in observed.items() if m not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")}
    assert not mutable, f"ECR repositories {mutable} (repository: tag mutability) allow moving tags, expected IMMUTABLE"


@check(
    severity="low",
    operational="hygiene: the images, application code and no card data, are encrypted with a KMS key",
    rationale="The application's ECR repository encrypts images with KMS (not the default AES-256).",
)
def test_image_repository_encrypted_with_kms(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    repos = _repositories(inv)
    observed = {name: dict(r.get("encryptionConfiguration", {})) for name, r in repos.items()}
    evidence.attach("encryptionConfiguration by repository", observed)
    assert repos, f"task definition {_td_arn(inv)} names no ECR repository of {_registry(inv)} to judge"
    plain = {
        name: c.get("encryptionType")
        for name, c in observed.items()
        if c.get("encryptionType") not in ("KMS", "KMS_DSSE")
    }
    assert not plain, f"ECR repositories {plain} (repository: encryption) are not encrypted with KMS, expected KMS"


@check(
    severity="high",
    links=[
        primary(
            "PCI-DSS-4.0:6.3.3",
            "The image the service runs has no known critical or high vulnerability: its latest scan is complete "
            "and reports none.",
        ),
        supporting(
            "PCI-DSS-4.0:6.3.1",
            "The running image has been scanned, so its vulnerabilities are identified.",
        ),
        supporting(
            "PCI-DSS-4.0:11.3.1",
            "The scan's high-risk and critical findings are resolved for the containers' software.",
        ),
    ],
    rationale="The latest scan of every image the service runs is COMPLETE with no CRITICAL or HIGH finding.",
)
def test_running_images_scan_clean(env_name: str, inv: Inventory, evidence: Evidence) -> None:
    digests = sorted(
        {
            image_key(m.repository, digest=m.digest)
            for c in inv.compute.containers
            if (m := ecr_image(str(c.get("image", ""))))
            and m.digest
            and (m.account, m.region) == (inv.account, inv.region)
        }
        | {
            image_key(m.repository, digest=str(c["imageDigest"]))
            for t in inv.compute.tasks
            for c in t.get("containers", [])
            if (m := ecr_image(str(c.get("image", ""))))
            and c.get("imageDigest")
            and (m.account, m.region) == (inv.account, inv.region)
        }
    )
    scans = inv.compute.image_scans
    status = {k: str(v.get("imageScanStatus", {}).get("status", "")) for k, v in scans.items()}
    counts = {
        k: {str(sev): n for sev, n in v.get("imageScanFindings", {}).get("findingSeverityCounts", {}).items()}
        for k, v in scans.items()
    }
    observed = {
        key: {
            "status": status.get(key),
            "findingSeverityCounts": counts.get(key),
            "imageScanCompletedAt": str(scans[key].get("imageScanFindings", {}).get("imageScanCompletedAt", ""))
            if key in scans
            else None,
        }
        for key in digests
    }
    evidence.attach("latest scan by running image", observed)
    assert digests, (
        f"task definition {_td_arn(inv)} runs no image of {_registry(inv)} by digest, so no scan can be judged; "
        "expected the account's ECR image pinned by digest"
    )
    gone = [key for key in digests if key not in inv.compute.images]
    assert not gone, (
        f"images {gone} the service runs are no longer in {_registry(inv)} (deleted or expired), so their scans "
        "cannot be read, expected them kept while they run"
    )
    unscanned = [key for key in digests if key not in scans]
    if unscanned:
        raise ProbeError(
            f"ECR holds no scan of images {unscanned} of {_registry(inv)} (ScanNotFoundException): their "
            "vulnerabilities are unknown; scan them (StartImageScan) and run again."
        )
    incomplete = {key: status[key] for key in digests if status[key] != "COMPLETE"}
    assert not incomplete, (
        f"the latest scans of images {incomplete} (image: scan status) of {_registry(inv)} did not complete, "
        "expected COMPLETE"
    )
    found = {key: {sev: n for sev, n in counts[key].items() if sev in BLOCKING and n} for key in digests}
    blocking = {key: by_severity for key, by_severity in found.items() if by_severity}
    assert not blocking, (
        f"images {blocking} (image: findings by severity) that service {inv.outputs.ECSServiceName} runs "
        f"have CRITICAL or HIGH findings in their latest scan, expected none"
    )
