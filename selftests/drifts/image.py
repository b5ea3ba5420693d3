"""Drifts for the application image (tests/compute/test_container_image.py): each breaks it one way."""

from __future__ import annotations

from typing import Any

import requests

from core.rehearsalimage import MANIFEST, MEDIA_TYPE, TAG, repository_of
from selftests.drifts.compute import _family, _first_container, _new_task_revision
from selftests.drifts.registry import DriftContext, drift


def _repository(ctx: DriftContext) -> str:
    return repository_of(ctx.spec.container_image)


def _retag(ctx: DriftContext, image: str) -> None:
    def change(spec: dict[str, Any]) -> None:
        _first_container(spec)["image"] = image

    _new_task_revision(ctx, change)


@drift(
    "test_task_definition_images_pinned_from_own_ecr",
    "a new task definition revision runs the account's image by its tag, not its digest",
    id="image-task-by-tag",
    names=_family,
)
def drift_task_by_tag(ctx: DriftContext) -> None:
    _retag(ctx, f"{ctx.spec.container_image.split('@', 1)[0]}:{TAG}")


@drift(
    "test_running_tasks_run_pinned_images",
    "the service is moved to a task definition revision running a public image by a mutable tag",
    id="image-tasks-public",
)
def drift_tasks_public(ctx: DriftContext) -> None:
    _retag(ctx, "public.ecr.aws/nginx/nginx:stable-alpine")


@drift(
    "test_image_repository_scans_on_push",
    "the application's ECR repository stops scanning pushed images",
    id="image-repository-scan-off",
    names=_repository,
)
def drift_repository_scan_off(ctx: DriftContext) -> None:
    ctx.client("ecr").put_image_scanning_configuration(
        repositoryName=_repository(ctx), imageScanningConfiguration={"scanOnPush": False}
    )


@drift(
    "test_image_repository_tags_immutable",
    "the application's ECR repository lets tags be moved",
    id="image-repository-tags-mutable",
    names=_repository,
)
def drift_repository_tags_mutable(ctx: DriftContext) -> None:
    ctx.client("ecr").put_image_tag_mutability(repositoryName=_repository(ctx), imageTagMutability="MUTABLE")


@drift(
    "test_image_repository_encrypted_with_kms",
    "the application's ECR repository is recreated with the default AES-256 encryption (the image pushed again)",
    id="image-repository-aes256",
    names=_repository,
)
def drift_repository_aes256(ctx: DriftContext) -> None:
    ecr = ctx.client("ecr")
    repo = _repository(ctx)
    ecr.delete_repository(repositoryName=repo, force=True)  # encryption cannot change in place
    ecr.create_repository(
        repositoryName=repo,
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "AES256"},
    )
    ecr.put_image(repositoryName=repo, imageManifest=MANIFEST, imageManifestMediaType=MEDIA_TYPE, imageTag=TAG)


@drift(
    "test_running_images_scan_clean",
    "a rescan of the running image finds one critical and two high vulnerabilities",
    id="image-scan-findings",
)
def drift_scan_findings(ctx: DriftContext) -> None:
    # the emulator's test-only route (docs/emulator.md "Image registry"): what a vulnerability source
    # updated after the push would make the next scan of the same image report
    digest = ctx.spec.container_image.split("@", 1)[1]
    answer = requests.post(
        f"{ctx.aws.endpoint_url}/_faithful/ecr/findings",
        params={
            "region": ctx.spec.region,
            "repositoryName": _repository(ctx),
            "imageDigest": digest,
            "CRITICAL": "1",
            "HIGH": "2",
            "LOW": "3",
        },
        timeout=10,
    )
    answer.raise_for_status()
    assert answer.json()["rescanned"], answer.text
