"""The artifacts bucket: where the deployer puts the template CloudFormation reads by TemplateURL.

CloudFormation takes a template inline (``TemplateBody``, at most 51,200 bytes) or from S3
(``TemplateURL``, at most 1,000,000 bytes). The platform template is past the inline limit as
YAML and close to it as compact JSON, so the deployer always sends it by URL, as
``aws cloudformation deploy --s3-bucket`` and TaskCat do: one code path, exercised by every
deploy (the offline rehearsal included), whatever the template's size.

* One bucket per account and region, named ``payments-conformance-artifacts-<account>-<region>``
  (deterministic: every deploy of that account and region finds it). Every call names the
  expected owner (``ExpectedBucketOwner``): a bucket by that name in another account is refused,
  never written to.
* Hardened on every deploy (each setting is idempotent, and a bucket left half-configured by an
  interrupted deploy is completed): bucket owner enforced (no ACLs), the four public access
  blocks on, default encryption (SSE-S3), a bucket policy that denies any request not made over
  TLS, and a lifecycle rule that expires templates after ``EXPIRE_DAYS`` days (CloudFormation
  keeps its own copy of a stack's template: GetTemplate does not read the bucket).
* Keys are content-addressed: ``templates/<sha256 of the body>.json``. The body is the
  template's compact JSON, the same bytes that were sent inline before, so GetTemplate's digest
  (the stack's template SHA-256, the consistency check's "same template") is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from core.aws import AwsSession, error_code
from core.errors import DeploymentFailed, RefusedError, UsageError
from deploy.tags import CREATOR_TAG, CREATOR_VALUE

BUCKET_PREFIX = "payments-conformance-artifacts"
KEY_PREFIX = "templates/"
EXPIRE_DAYS = 90
MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for an inline TemplateBody (never used here)
MAX_TEMPLATE_URL_BODY = 1_000_000  # CloudFormation's limit for a template read from S3
Printer = Callable[[str], None]

# environments deployed at once by one process share the bucket: one of them makes it, the others
# find it (rather than each creating it and saying so)
_ENSURE_LOCKS: dict[str, threading.Lock] = {}
_ENSURE_LOCKS_GUARD = threading.Lock()


def bucket_name(account: str, region: str) -> str:
    return f"{BUCKET_PREFIX}-{account}-{region}"


def template_key(body: str) -> str:
    return f"{KEY_PREFIX}{hashlib.sha256(body.encode('utf-8')).hexdigest()}.json"


def tls_only_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


LIFECYCLE = {
    "Rules": [
        {
            "ID": "expire-templates",
            "Status": "Enabled",
            "Filter": {"Prefix": KEY_PREFIX},
            "Expiration": {"Days": EXPIRE_DAYS},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
}
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


class ArtifactsBucket:
    """The account's artifacts bucket in the session's region: made and hardened on first use."""

    def __init__(self, aws: AwsSession, *, out: Printer = print) -> None:
        self.aws = aws
        self.out = out
        self.s3 = aws.client("s3")
        self._account: str | None = None

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = self.aws.check_credentials()
        return self._account

    @property
    def name(self) -> str:
        return bucket_name(self.account, self.aws.region)

    def ensure(self) -> str:
        """Create the bucket if absent, (re)apply its hardening, return its name."""
        name, owner = self.name, self.account
        with _ENSURE_LOCKS_GUARD:
            lock = _ENSURE_LOCKS.setdefault(name, threading.Lock())
        with lock:
            if not self._exists(name, owner):
                self._create(name)
                self.out(f"artifacts bucket {name}: created in {self.aws.region}")
            self._harden(name, owner)
        return name

    def _exists(self, name: str, owner: str) -> bool:
        try:
            self.s3.head_bucket(Bucket=name, ExpectedBucketOwner=owner)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                return False
            if code in ("403", "AccessDenied", "Forbidden"):
                raise RefusedError(
                    f"the artifacts bucket {name} exists but does not belong to account {owner} (or these "
                    "credentials cannot read it); the deployer never writes a template into another account's "
                    "bucket: grant s3:ListBucket on it, or delete the bucket in its owner's account."
                ) from None
            raise
        return True

    def _create(self, name: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
        if self.aws.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
        try:
            self.s3.create_bucket(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "BucketAlreadyOwnedByYou":  # another deploy made it a moment ago
                return
            if error_code(exc) == "BucketAlreadyExists":
                raise RefusedError(
                    f"the artifacts bucket name {name} is taken by another account; the deployer never writes a "
                    "template into another account's bucket: free the name or deploy from its owner's account."
                ) from None
            raise DeploymentFailed(
                f"could not create the artifacts bucket {name} ({error_code(exc)}); the deploying identity needs "
                f's3:CreateBucket and s3:PutBucketOwnershipControls (README, "Deploying to AWS"); nothing was deployed.'
            ) from None

    def _harden(self, name: str, owner: str) -> None:
        s3, expected = self.s3, {"Bucket": name, "ExpectedBucketOwner": owner}
        tags = [{"Key": CREATOR_TAG, "Value": CREATOR_VALUE}, {"Key": "ManagedBy", "Value": "deploy"}]
        for action, call in (
            ("s3:PutBucketOwnershipControls", lambda: s3.put_bucket_ownership_controls(
                **expected, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})),
            ("s3:PutBucketPublicAccessBlock", lambda: s3.put_public_access_block(
                **expected, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)),
            ("s3:PutEncryptionConfiguration", lambda: s3.put_bucket_encryption(
                **expected, ServerSideEncryptionConfiguration=ENCRYPTION)),
            ("s3:PutBucketPolicy", lambda: s3.put_bucket_policy(**expected, Policy=json.dumps(tls_only_policy(name)))),
            ("s3:PutLifecycleConfiguration", lambda: s3.put_bucket_lifecycle_configuration(
                **expected, LifecycleConfiguration=LIFECYCLE)),
            ("s3:PutBucketTagging", lambda: s3.put_bucket_tagging(**expected, Tagging={"TagSet": tags})),
        ):  # fmt: skip
            self._call(name, action, call)

    def _call(self, name: str, action: str, call: Callable[[], Any]) -> Any:
        """One write to the bucket; a refusal becomes one sentence naming the permission it needs."""
        try:
            return call()
        except botocore.exceptions.ClientError as exc:
            raise DeploymentFailed(
                f"the artifacts bucket {name} refused {action.split(':')[1]} ({error_code(exc)}); the deploying "
                f'identity needs {action} on it (README, "Deploying to AWS"); nothing was deployed.'
            ) from None

    def upload_template(self, body: str) -> str:
        """Put a template body under its content address; return the TemplateURL CloudFormation reads."""
        data = body.encode("utf-8")
        if len(data) > MAX_TEMPLATE_URL_BODY:
            raise UsageError(
                f"the template is {len(data)} bytes, over CloudFormation's limit of {MAX_TEMPLATE_URL_BODY} for a "
                "template read from S3; split it into nested stacks."
            )
        name = self.ensure()
        key = template_key(body)
        self._call(
            name,
            "s3:PutObject",
            lambda: self.s3.put_object(
                Bucket=name,
                Key=key,
                Body=data,
                ContentType="application/json",
                ServerSideEncryption="AES256",
                ExpectedBucketOwner=self.account,
            ),
        )
        return self.url(name, key)

    def url(self, bucket: str, key: str) -> str:
        """The object's URL in the form CloudFormation accepts: virtual-hosted on AWS
        (``https://<bucket>.s3.<region>.amazonaws.com/<key>``), path-style on an endpoint."""
        if self.aws.endpoint_url:
            return f"{self.aws.endpoint_url.rstrip('/')}/{bucket}/{key}"
        suffix = "amazonaws.com.cn" if self.aws.region.startswith("cn-") else "amazonaws.com"
        return f"https://{bucket}.s3.{self.aws.region}.{suffix}/{key}"
