"""The offline rehearsal's application image: published into the emulator's ECR repository.

The template takes the application image by digest from the account's private ECR repository
(``ContainerImage``, the environment file's ``container_image``); an emulator holds none of the
real account's images, so before deploying, the controller (and ``python -m deploy up`` against
an emulator) publishes a small fixed image manifest into the emulator's repository of the same
name, with ECR's own PutImage, and deploys with its digest. The manifest never changes, so the
digest is the same on every run and every machine.

The repository is the account baseline's (``deploy/account-baseline.yaml``, resource
``ImageRepository``). When the emulator holds no such repository (no baseline stood up), the
rehearsal creates it from that resource's properties, with the calls CloudFormation makes for it:
the repository checks then judge the baseline's own definition, and no stack beside the
environments' appears.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from core.aws import AwsSession, error_code
from core.errors import InfrastructureError
from core.spec import REPO_ROOT, EnvironmentSpec
from core.template import load_template

if TYPE_CHECKING:
    from types_boto3_ecr.client import ECRClient
    from types_boto3_ecr.type_defs import EncryptionConfigurationTypeDef

BASELINE_PATH = REPO_ROOT / "deploy" / "account-baseline.yaml"
REPOSITORY_RESOURCE = "ImageRepository"
MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
# the tag the rehearsal image carries in the repository (immutable there, like every tag)
TAG = "rehearsal-1"


def _descriptor(media_type: str, content: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": f"sha256:{hashlib.sha256(content).hexdigest()}", "size": len(content)}


# an OCI image of one empty layer: the config and the layer are described by their own digests,
# as a registry holds them; the manifest is serialised once, compactly, so its digest is fixed
_CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}},
    separators=(",", ":"),
    sort_keys=True,
).encode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE,
        "config": _descriptor("application/vnd.oci.image.config.v1+json", _CONFIG),
        "layers": [],
        "annotations": {"org.opencontainers.image.title": "payments offline rehearsal"},
    },
    separators=(",", ":"),
    sort_keys=True,
)
DIGEST = f"sha256:{hashlib.sha256(MANIFEST.encode()).hexdigest()}"


def repository_of(image: str) -> str:
    """The repository an ECR image reference names: ``<registry>/<repository>@sha256:...``."""
    return image.split(".amazonaws.com/", 1)[-1].split("@", 1)[0]


def publish(ecr: ECRClient, repository: str) -> str:
    """Put the rehearsal manifest into ``repository``; its digest (already there: the same digest)."""
    try:
        answer = ecr.put_image(
            repositoryName=repository, imageManifest=MANIFEST, imageManifestMediaType=MEDIA_TYPE, imageTag=TAG
        )
    except ecr.exceptions.ClientError as exc:
        if error_code(exc) in ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException"):
            return DIGEST
        if error_code(exc) == "RepositoryNotFoundException":
            raise InfrastructureError(
                f"the emulator has no ECR repository {repository!r}: stand up the account baseline "
                "(deploy/account-baseline.yaml) before the environments, or correct container_image."
            ) from None
        raise
    return str(answer["image"]["imageId"].get("imageDigest") or DIGEST)


def _resolved(value: Any, parameters: dict[str, Any]) -> Any:
    """A property value with ``Ref``s to the baseline's parameters replaced by their defaults."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]["Default"]
    if isinstance(value, dict):
        return {k: _resolved(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, parameters) for v in value]
    return value


def repository_properties() -> dict[str, Any]:
    """The account baseline's image repository, as its template declares it (parameters at their defaults)."""
    baseline = load_template(BASELINE_PATH)
    props = baseline["Resources"][REPOSITORY_RESOURCE]["Properties"]
    return dict(_resolved(props, baseline.get("Parameters") or {}))


_ensure_lock = threading.Lock()


def ensure_repository(ecr: ECRClient, repository: str) -> None:
    """The emulator's image repository: when missing, created as the baseline declares it (CreateRepository,
    PutLifecyclePolicy, SetRepositoryPolicy: the calls CloudFormation makes for AWS::ECR::Repository)."""
    with _ensure_lock:  # the environments of one run are prepared concurrently
        try:
            ecr.describe_repositories(repositoryNames=[repository])
            return
        except ecr.exceptions.RepositoryNotFoundException:
            pass
        props = repository_properties()
        if props.get("RepositoryName") != repository:
            raise InfrastructureError(
                f"container_image names the ECR repository {repository!r}, but the account baseline's "
                f"{REPOSITORY_RESOURCE} is {props.get('RepositoryName')!r}; make them agree."
            )
        encryption = props.get("EncryptionConfiguration") or {}
        encryption_configuration: EncryptionConfigurationTypeDef = {
            "encryptionType": encryption.get("EncryptionType", "AES256")
        }
        if encryption.get("KmsKey"):
            encryption_configuration["kmsKey"] = encryption["KmsKey"]
        ecr.create_repository(
            repositoryName=repository,
            imageTagMutability=props.get("ImageTagMutability", "MUTABLE"),
            imageScanningConfiguration={
                "scanOnPush": str((props.get("ImageScanningConfiguration") or {}).get("ScanOnPush")).lower() == "true"
            },
            encryptionConfiguration=encryption_configuration,
            tags=[{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get("Tags") or []],
        )
        lifecycle = (props.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
        if lifecycle:
            ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=lifecycle)
        if props.get("RepositoryPolicyText"):
            policy = props["RepositoryPolicyText"]
            ecr.set_repository_policy(
                repositoryName=repository, policyText=policy if isinstance(policy, str) else json.dumps(policy)
            )


def with_rehearsal_image(spec: EnvironmentSpec, aws: AwsSession) -> EnvironmentSpec:
    """``spec`` with the rehearsal image published into the emulator behind ``aws``, by digest, in the
    repository the environment file names, of the emulator's account and the spec's region."""
    ecr: ECRClient = aws.client("ecr")
    repository = repository_of(spec.container_image)
    ensure_repository(ecr, repository)
    digest = publish(ecr, repository)
    uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    return spec.with_overrides(container_image=f"{uri}@{digest}")
