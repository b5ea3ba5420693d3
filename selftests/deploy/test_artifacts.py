"""deploy/artifacts.py: the deployer sends every template by TemplateURL from a hardened artifacts bucket.

A template over CloudFormation's 51,200-byte inline limit deploys (created, then updated through
a change set) on the emulator; no request of the deployer carries a TemplateBody; the bucket is
made once per account and region with its hardening; GetTemplate answers the uploaded body, so
the stack's template digest is what it was when the body was sent inline.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.inventory.stack import template_digest
from core.aws import AwsSession
from core.errors import DeploymentFailed
from core.outputs import OUTPUT_KEYS
from core.selfsigned import with_self_signed_certificate
from core.spec import load_environment
from core.template import compact_json
from deploy.artifacts import (
    EXPIRE_DAYS,
    MAX_TEMPLATE_BODY,
    PUBLIC_ACCESS_BLOCK,
    ArtifactsBucket,
    bucket_name,
)
from deploy.deployer import Deployer
from selftests.faults.test_faults import Proxy

ACCOUNT = "000000000000"  # the emulator's account


@pytest.fixture
def session(emulator):
    emulator.reset()
    return AwsSession(region="us-east-1", endpoint_url=emulator.endpoint_url)


def _big_template(tmp_path: Path, spec: Any, topics: int) -> Path:
    """A template that declares the environment's parameters and is over the inline limit as compact JSON."""
    doc: dict[str, Any] = {
        "Parameters": {p["ParameterKey"]: {"Type": "String"} for p in spec.template_parameters()},
        "Metadata": {"Padding": "p" * (MAX_TEMPLATE_BODY + 4_000)},
        "Resources": {f"Topic{i}": {"Type": "AWS::SNS::Topic"} for i in range(topics)},
        # the contract's outputs, which the deployer reads back (placeholders here)
        "Outputs": {key: {"Value": f"{key.lower()}-a,{key.lower()}-b"} for key in OUTPUT_KEYS},
    }
    path = tmp_path / "big.yaml"
    path.write_text(json.dumps(doc, indent=2))  # JSON is YAML
    return path


def _record_template_params(session: AwsSession) -> list[tuple[str, set[str]]]:
    """Every CloudFormation request's operation and parameter names, as sent."""
    seen: list[tuple[str, set[str]]] = []

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, set(params)))

    cfn = session.client("cloudformation")
    cfn.meta.events.register("provide-client-params.cloudformation.*", hook)
    return seen


def test_a_template_over_the_inline_limit_is_created_and_updated_by_url(session, tmp_path):
    spec = with_self_signed_certificate(load_environment("dev").with_overrides(suffix="big"), session)
    path = _big_template(tmp_path, spec, topics=2)
    body = compact_json(path)
    assert len(body.encode()) > MAX_TEMPLATE_BODY
    seen = _record_template_params(session)
    try:
        lines: list[str] = []
        deployer = Deployer(spec, session, out=lines.append, template_path=path)
        deployer.up()
        state = deployer.state()
        assert state is not None and state.status == "CREATE_COMPLETE"
        # a second, bigger template updates the stack through a change set, by URL as well
        _big_template(tmp_path, spec, topics=3)
        Deployer(spec, session, out=lines.append, template_path=path).up()
        state = deployer.state()
        assert state is not None and state.status == "UPDATE_COMPLETE"
    finally:
        session.client("cloudformation").meta.events.unregister("provide-client-params.cloudformation.*")
    sent = {op: names for op, names in seen if op in ("CreateStack", "CreateChangeSet")}
    assert set(sent) == {"CreateStack", "CreateChangeSet"}, seen
    for op, names in sent.items():
        assert "TemplateURL" in names and "TemplateBody" not in names, (op, names)
    assert not [op for op, names in seen if "TemplateBody" in names], "the deployer sent a template inline"
    # GetTemplate answers the uploaded body (botocore parses a JSON body), so the stack's template
    # digest is the one the same body sent inline gives; the object's key is the body's sha256
    cfn, s3 = session.client("cloudformation"), session.client("s3")
    deployed = cfn.get_template(StackName=spec.stack_name, TemplateStage="Original")["TemplateBody"]
    assert deployed == json.loads(compact_json(path))
    assert template_digest(deployed) == template_digest(json.loads(compact_json(path)))
    digest = hashlib.sha256(compact_json(path).encode()).hexdigest()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name(ACCOUNT, "us-east-1"))["Contents"]]
    assert f"templates/{digest}.json" in keys and len(keys) == 2, keys


def test_the_platform_template_digest_is_unchanged_by_the_upload(session):
    """The body uploaded is the compact JSON that used to be sent inline: GetTemplate's digest
    (the stack check, the consistency check's "same template") is the one it was."""
    url = ArtifactsBucket(session, out=lambda _: None).upload_template(compact_json())
    key = url.split("/", 4)[4]  # http://host:port/bucket/key
    obj = session.client("s3").get_object(Bucket=bucket_name(ACCOUNT, "us-east-1"), Key=key)["Body"].read()
    assert obj == compact_json().encode()
    assert key == f"templates/{hashlib.sha256(obj).hexdigest()}.json"


def test_the_artifacts_bucket_is_hardened(session):
    lines: list[str] = []
    bucket = ArtifactsBucket(session, out=lines.append)
    name = bucket.ensure()
    assert name == f"payments-conformance-artifacts-{ACCOUNT}-us-east-1"
    assert lines == [f"artifacts bucket {name}: created in us-east-1"]
    s3 = session.client("s3")
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCK
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    owner = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert owner == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    statements = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])["Statement"]
    assert any(
        st["Effect"] == "Deny"
        and st["Action"] == "s3:*"
        and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and f"arn:aws:s3:::{name}/*" in st["Resource"]
        for st in statements
    ), statements
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert [(r["Status"], r["Filter"], r["Expiration"]) for r in lifecycle] == [
        ("Enabled", {"Prefix": "templates/"}, {"Days": EXPIRE_DAYS})
    ]
    # a second deploy finds the bucket (no second creation) and puts a loosened setting back
    s3.delete_public_access_block(Bucket=name)
    lines.clear()
    assert ArtifactsBucket(session, out=lines.append).ensure() == name
    assert lines == []
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCK
    assert sum(1 for b in s3.list_buckets()["Buckets"] if b["Name"] == name) == 1


def test_a_bucket_write_refused_stops_the_deploy_naming_the_permission(emulator, session):
    """AccessDenied on PutBucketPolicy (a real fault-injection proxy in front of the emulator):
    one sentence naming the permission the deploying identity lacks, exit 3, no CreateStack."""
    proxy = Proxy(emulator.endpoint_url)
    try:
        proxy.rules(
            [{"service": "s3", "operation": "PutBucketPolicy", "error": {"code": "AccessDenied", "status": 403}}]
        )
        through = AwsSession(region="us-east-1", endpoint_url=proxy.url)
        spec = with_self_signed_certificate(load_environment("dev").with_overrides(suffix="denied"), through)
        with pytest.raises(DeploymentFailed) as failed:
            Deployer(spec, through, out=lambda _: None).up()
        assert proxy.fired(), "the fault was never injected"
    finally:
        proxy.stop()
    message = str(failed.value)
    assert (
        "s3:PutBucketPolicy" in message and "AccessDenied" in message and bucket_name(ACCOUNT, "us-east-1") in message
    )
    assert failed.value.exit_code == 3
    assert "cloudformation:CreateStack" not in through.call_log.calls
