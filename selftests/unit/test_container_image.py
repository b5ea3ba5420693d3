"""Unit tests of the image checks (tests/compute/test_container_image.py) on built inventories.

The drifts prove each check turns red on a deployed stack; these pin the edges: a scan that does
not exist or could not be read (could not observe, never a pass), a tag beside the digest, another
account's registry, enhanced scanning by a registry rule, a scan still in progress.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from conformance.evidence import Evidence
from conformance.inventory import ProbeError
from conformance.inventory.compute import ComputeSection
from core.spec import load_environment
from tests.compute.test_container_image import (
    test_image_repository_scans_on_push as scans_on_push,
)
from tests.compute.test_container_image import (
    test_running_images_scan_clean as scan_clean,
)
from tests.compute.test_container_image import (
    test_running_tasks_run_pinned_images as tasks_pinned,
)
from tests.compute.test_container_image import (
    test_task_definition_images_pinned_from_own_ecr as pinned,
)

ACCOUNT, REGION = "123456789012", "us-east-1"
DIGEST = "sha256:" + "a" * 64
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments-app@{DIGEST}"
KEY = f"payments-app@{DIGEST}"


class _Evidence(Evidence):
    def attach(self, name: str, data: Any, **_: Any) -> None:
        pass


def _inventory(image: str = IMAGE, errors: dict[str, str] | None = None, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "task_definition": {"taskDefinitionArn": "arn:td/payments-dev-a-task:2", "containerDefinitions": [
            {"name": "app", "image": image}]},
        "tasks": [{"taskArn": "arn:task/c/t1", "containers": [{"name": "app", "image": image, "imageDigest": DIGEST}]}],
        "image_repositories": {"payments-app": {"repositoryName": "payments-app", "imageTagMutability": "IMMUTABLE",
                                                "imageScanningConfiguration": {"scanOnPush": True},
                                                "encryptionConfiguration": {"encryptionType": "KMS"}}},
        "images": {KEY: {"repositoryName": "payments-app", "imageDigest": DIGEST}},
        "image_scans": {KEY: {"imageScanStatus": {"status": "COMPLETE"},
                              "imageScanFindings": {"findingSeverityCounts": {"LOW": 2}}}},
        "registry_scanning": {"scanType": "BASIC", "rules": []},
    }  # fmt: skip
    values.update(fields)
    compute = ComputeSection(**values, errors=errors or {})
    compute.seal()
    return SimpleNamespace(
        compute=compute,
        account=ACCOUNT,
        region=REGION,
        outputs=SimpleNamespace(ECSServiceName="payments-dev-a-service"),
    )


def test_the_good_image_passes_every_check():
    inv = _inventory()
    for check in (pinned, tasks_pinned, scans_on_push, scan_clean):
        check("dev", inv, _Evidence())


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments-app:1.0", "by tag"),
        (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/payments-app:1.0@{DIGEST}", "a tag beside the digest"),
        (f"111122223333.dkr.ecr.{REGION}.amazonaws.com/payments-app@{DIGEST}", "account 111122223333"),
        (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/payments-app@{DIGEST}", "in eu-west-1"),
        ("public.ecr.aws/nginx/nginx:stable-alpine", "not a private ECR repository"),
    ],
)
def test_images_not_pinned_from_the_own_registry_fail(image, why):
    with pytest.raises(AssertionError, match=why):
        pinned("dev", _inventory(image), _Evidence())
    with pytest.raises(AssertionError, match=why):
        tasks_pinned("dev", _inventory(image), _Evidence())


def test_a_task_running_another_digest_fails():
    other = "sha256:" + "b" * 64
    inv = _inventory(tasks=[{"taskArn": "arn:task/c/t1", "containers": [{"name": "app", "image": IMAGE,
                                                                          "imageDigest": other}]}])  # fmt: skip
    with pytest.raises(AssertionError, match=f"running {other}"):
        tasks_pinned("dev", inv, _Evidence())


def test_a_missing_scan_is_a_probe_error_not_a_pass():
    with pytest.raises(ProbeError, match="ScanNotFoundException"):
        scan_clean("dev", _inventory(image_scans={}), _Evidence())
    failed = {"ecr:DescribeImageScanFindings": "ThrottlingException: Rate exceeded"}
    with pytest.raises(ProbeError, match="Rate exceeded"):
        scan_clean("dev", _inventory(errors=failed), _Evidence())


def test_a_scan_in_progress_or_with_high_findings_fails():
    running = {KEY: {"imageScanStatus": {"status": "IN_PROGRESS"}, "imageScanFindings": {}}}
    with pytest.raises(AssertionError, match="IN_PROGRESS"):
        scan_clean("dev", _inventory(image_scans=running), _Evidence())
    high = {KEY: {"imageScanStatus": {"status": "COMPLETE"},
                  "imageScanFindings": {"findingSeverityCounts": {"HIGH": 1, "MEDIUM": 4}}}}  # fmt: skip
    with pytest.raises(AssertionError, match="'HIGH': 1"):
        scan_clean("dev", _inventory(image_scans=high), _Evidence())


def test_enhanced_scanning_by_a_registry_rule_counts_and_overrides_the_repository():
    repo = {"payments-app": {"repositoryName": "payments-app", "imageScanningConfiguration": {"scanOnPush": False}}}
    rule = {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "payments-*", "filterType": "WILDCARD"}],
    }
    enhanced = {"scanType": "ENHANCED", "rules": [rule]}
    scans_on_push("dev", _inventory(image_repositories=repo, registry_scanning=enhanced), _Evidence())
    on = {"payments-app": {"repositoryName": "payments-app", "imageScanningConfiguration": {"scanOnPush": True}}}
    with pytest.raises(AssertionError, match="payments-app"):
        scans_on_push("dev", _inventory(image_repositories=on, registry_scanning={"scanType": "ENHANCED", "rules": []}),
                      _Evidence())  # fmt: skip


def test_container_image_reaches_the_template_and_must_be_a_digest():
    spec = load_environment("dev")
    sent = {p["ParameterKey"]: p["ParameterValue"] for p in spec.template_parameters()}
    assert sent["ContainerImage"] == spec.container_image
    rehearsal = f"000000000000.dkr.ecr.us-east-1.amazonaws.com/payments-app@{DIGEST}"
    assert spec.with_overrides(container_image=rehearsal).container_image == rehearsal
    for bad in ("public.ecr.aws/nginx/nginx:stable-alpine", f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1"):
        with pytest.raises(Exception, match="container_image"):
            spec.with_overrides(container_image=bad)
