"""emulator/faithful/registry.py: ECR scans images pushed to a scan-on-push repository, answers their
findings, refuses unknown images, and ECS reports the digest of an image its tasks run (or fails to
start a task whose image the registry does not hold)."""

from __future__ import annotations

import botocore.exceptions
import pytest
import requests

from core.aws import AwsSession
from core.rehearsalimage import (
    DIGEST,
    MANIFEST,
    MEDIA_TYPE,
    TAG,
    ensure_repository,
    publish,
    repository_properties,
)

REPO = "payments-app"


@pytest.fixture
def session(emulator) -> AwsSession:
    emulator.reset()
    return AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_the_rehearsal_repository_is_the_baseline_definition(session):
    ecr = session.client("ecr")
    ensure_repository(ecr, REPO)
    repo = ecr.describe_repositories(repositoryNames=[REPO])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert "countType" in ecr.get_lifecycle_policy(repositoryName=REPO)["lifecyclePolicyText"]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ecr.get_repository_policy(repositoryName=REPO)
    assert _code(exc) == "RepositoryPolicyNotFoundException"
    assert repository_properties()["RepositoryName"] == REPO
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert {"Key": "Owner", "Value": "platform-team"} in tags  # the baseline's parameter default
    ensure_repository(ecr, REPO)  # again: nothing to do
    assert session.client("cloudformation").list_stacks()["StackSummaries"] == []  # no stack beside the environments


def test_push_is_scanned_and_the_digest_is_the_manifests(session):
    ecr = session.client("ecr")
    ensure_repository(ecr, REPO)
    assert publish(ecr, REPO) == DIGEST
    assert publish(ecr, REPO) == DIGEST  # again: ImageAlreadyExistsException, the same digest
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ecr.put_image(repositoryName=REPO, imageManifest=MANIFEST, imageManifestMediaType=MEDIA_TYPE, imageTag=TAG)
    assert _code(exc) == "ImageAlreadyExistsException"  # gap 3 (MiniStack: ImageTagAlreadyExistsException)
    other = MANIFEST.replace("rehearsal", "other build")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ecr.put_image(repositoryName=REPO, imageManifest=other, imageManifestMediaType=MEDIA_TYPE, imageTag=TAG)
    assert _code(exc) == "ImageTagAlreadyExistsException"  # immutable: the tag cannot move
    detail = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": DIGEST}])["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"
    assert detail["imageScanFindingsSummary"]["findingSeverityCounts"] == {}
    found = ecr.describe_image_scan_findings(repositoryName=REPO, imageId={"imageDigest": DIGEST})
    assert found["imageScanStatus"]["status"] == "COMPLETE"
    assert found["imageScanFindings"]["findings"] == []


def test_unknown_images_and_unscanned_images_are_refused(session):
    ecr = session.client("ecr")
    ensure_repository(ecr, REPO)
    missing = {"imageDigest": "sha256:" + "1" * 64}
    for call in (
        lambda: ecr.describe_images(repositoryName=REPO, imageIds=[missing]),  # gap 2: MiniStack said []
        lambda: ecr.describe_image_scan_findings(repositoryName=REPO, imageId=missing),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            call()
        assert _code(exc) == "ImageNotFoundException"
    ecr.put_image_scanning_configuration(repositoryName=REPO, imageScanningConfiguration={"scanOnPush": False})
    publish(ecr, REPO)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        ecr.describe_image_scan_findings(repositoryName=REPO, imageId={"imageDigest": DIGEST})
    assert _code(exc) == "ScanNotFoundException"
    assert "imageScanStatus" not in ecr.describe_images(repositoryName=REPO)["imageDetails"][0]
    assert ecr.start_image_scan(repositoryName=REPO, imageId={"imageDigest": DIGEST})["imageScanStatus"] == {
        "status": "IN_PROGRESS"
    }
    found = ecr.describe_image_scan_findings(repositoryName=REPO, imageId={"imageTag": TAG})
    assert found["imageScanStatus"]["status"] == "COMPLETE"


def test_registry_scanning_configuration(session):
    ecr = session.client("ecr")
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    rules = [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "pay*", "filterType": "WILDCARD"}]}]
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert config == {"scanType": "ENHANCED", "rules": rules}
    ecr.create_repository(repositoryName="payments-other")  # scanOnPush false: the enhanced rule scans it
    ecr.put_image(repositoryName="payments-other", imageManifest=MANIFEST, imageManifestMediaType=MEDIA_TYPE)
    found = ecr.describe_image_scan_findings(repositoryName="payments-other", imageId={"imageDigest": DIGEST})
    assert found["imageScanStatus"]["status"] == "COMPLETE"


def test_planted_findings_reach_the_scan(session, emulator):
    ecr = session.client("ecr")
    ensure_repository(ecr, REPO)
    publish(ecr, REPO)
    url = f"{emulator.endpoint_url}/_faithful/ecr/findings"
    query = {"region": "us-east-1", "repositoryName": REPO, "imageDigest": DIGEST, "CRITICAL": "1", "HIGH": "2"}
    answer = requests.post(url, params=query, timeout=10)
    assert answer.status_code == 200 and answer.json()["rescanned"], answer.text
    found = ecr.describe_image_scan_findings(repositoryName=REPO, imageId={"imageDigest": DIGEST})
    assert found["imageScanFindings"]["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 2}
    assert {f["severity"] for f in found["imageScanFindings"]["findings"]} == {"CRITICAL", "HIGH"}
    summary = ecr.describe_images(repositoryName=REPO)["imageDetails"][0]["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 2}
    assert requests.post(url, params={**query, "HIGH": "many"}, timeout=10).status_code == 400
    assert requests.get(url, params=query, timeout=10).status_code == 405


def _run(session: AwsSession, image: str) -> dict:
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName="registry-test")
    arn = ecs.register_task_definition(
        family="registry-test", containerDefinitions=[{"name": "app", "image": image, "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    task = ecs.run_task(cluster="registry-test", taskDefinition=arn)["tasks"][0]
    return dict(ecs.describe_tasks(cluster="registry-test", tasks=[task["taskArn"]])["tasks"][0])


def test_tasks_report_the_digest_or_cannot_pull(session):
    ecr = session.client("ecr")
    ensure_repository(ecr, REPO)
    publish(ecr, REPO)
    uri = ecr.describe_repositories(repositoryNames=[REPO])["repositories"][0]["repositoryUri"]
    for image in (f"{uri}@{DIGEST}", f"{uri}:{TAG}"):  # gap 4: by digest or by tag, the digest reported
        task = _run(session, image)
        assert task["lastStatus"] == "RUNNING", task.get("stoppedReason")
        assert task["containers"][0]["imageDigest"] == DIGEST
    for image in (f"{uri}@sha256:{'2' * 64}", f"{uri}:no-such-tag", f"{uri.rsplit('/', 1)[0]}/no-such-repo:1"):
        task = _run(session, image)  # gap 5: the registry does not hold it
        assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "TaskFailedToStart", image
        assert task["stoppedReason"].startswith("CannotPullContainerError:"), task["stoppedReason"]
    task = _run(session, "111122223333.dkr.ecr.us-east-1.amazonaws.com/payments-app:1")  # another account's
    assert task["lastStatus"] == "RUNNING" and "imageDigest" not in task["containers"][0]


def test_a_service_moved_to_a_missing_digest_rolls_back(emulator, session):
    """Gap 5 through a service: its circuit breaker counts the tasks that cannot pull, as on AWS."""
    from selftests.emulator.platform import deploy_platform

    outputs = deploy_platform(emulator.endpoint_url, suffix="pull")
    ecs = session.client("ecs")
    cluster, service = outputs.ECSClusterName, outputs.ECSServiceName
    current = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    td = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "cpu", "memory",
            "requiresCompatibilities")  # fmt: skip
    spec = {k: td[k] for k in keep if td.get(k)}
    image = spec["containerDefinitions"][0]["image"]
    spec["containerDefinitions"][0]["image"] = f"{image.split('@', 1)[0]}@sha256:{'3' * 64}"
    ecs.update_service(cluster=cluster, service=service, taskDefinition=ecs.register_task_definition(**spec)[
        "taskDefinition"]["taskDefinitionArn"])  # fmt: skip
    stopped = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED")["taskArns"]
    assert stopped
    reasons = {t["stopCode"]: t["stoppedReason"] for t in ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]}
    assert list(reasons) == ["TaskFailedToStart"] and reasons["TaskFailedToStart"].startswith(
        "CannotPullContainerError"
    )
    deployments = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["deployments"]
    assert [(d["status"], d["rolloutState"]) for d in deployments if d["taskDefinition"] == current] == [
        ("PRIMARY", "COMPLETED")
    ]  # rolled back: the pinned image still runs
    running = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=running)["tasks"]
    assert tasks and all(c.get("imageDigest") == image.split("@", 1)[1] for t in tasks for c in t["containers"])
