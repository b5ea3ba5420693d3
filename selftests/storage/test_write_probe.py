"""The S3 write probe leaves nothing behind: no object, no version, no delete marker.

Real emulator, the real platform deployed on it: the probe helper directly (passing, with
the wrong key, with its read-back failing, interrupted, with a delete S3 refuses), and the
real check run by the real suite against the good and a drifted stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from conformance.inventory import ProbeError
from selftests.drifts.runner import run_suite
from selftests.emulator.platform import deploy_platform
from tests.storage.probe import PREFIX, purge, versions_of, write_probe

SUFFIX = "wprobe"
CHECK = "test_transaction_bucket_stores_new_objects_with_environment_key"


@pytest.fixture(scope="module")
def stack(emulator: Any) -> Any:
    return deploy_platform(emulator.endpoint_url, env="dev", suffix=SUFFIX)


@pytest.fixture
def bucket(stack: Any, aws: Any) -> Any:
    """The stack's bucket, checked empty of probe objects before, its encryption restored after."""
    s3 = aws("s3")
    name = stack.TransactionLogsBucket
    assert not leftovers(s3, name)
    encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
    yield name
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=encryption)


def leftovers(s3: Any, bucket: str) -> list[str]:
    """Every object version and delete marker under the probe prefix, whatever the run."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=f"{PREFIX}/"):
        found += [f"{v['Key']}@{v['VersionId']}" for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    return found


class Wrapped:
    """An S3 client with some operations replaced (the rest go to the real client)."""

    def __init__(self, client: Any, **replaced: Any) -> None:
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced.get(name) or getattr(self._client, name)


def _client_error(code: str, operation: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


def test_probe_reads_back_the_environment_key_and_removes_its_object(stack, bucket, aws):
    s3 = aws("s3")
    result = write_probe(s3, bucket, "run-pass")
    assert result.key.startswith(f"{PREFIX}/run-pass/")
    assert result.stored["ServerSideEncryption"] == "aws:kms"
    assert result.stored["SSEKMSKeyId"] == stack.KMSKeyArn
    assert len(result.removed) == 1
    assert not leftovers(s3, bucket)


def test_probe_lists_the_key_only_when_its_write_was_retried(bucket, aws):
    """Three calls for a write S3 took at the first attempt; a retried write may have made two
    versions, so the key is listed and every version removed."""
    s3 = aws("s3")
    calls: list[str] = []

    def counted(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return getattr(s3, name)(*args, **kwargs)

        return call

    ops = ("put_object", "head_object", "delete_objects", "list_object_versions", "get_paginator")
    write_probe(Wrapped(s3, **{op: counted(op) for op in ops}), bucket, "run-calls")
    assert calls == ["put_object", "head_object", "delete_objects"]
    assert not leftovers(s3, bucket)

    def put_twice(**kwargs: Any) -> Any:  # the first attempt reached S3, its answer was lost
        s3.put_object(**kwargs)
        answer = s3.put_object(**kwargs)
        answer["ResponseMetadata"]["RetryAttempts"] = 1
        return answer

    calls.clear()
    result = write_probe(
        Wrapped(s3, put_object=put_twice, get_paginator=counted("get_paginator")), bucket, "run-retried"
    )
    assert "get_paginator" in calls  # the key was listed
    assert len(result.removed) == 2
    assert not leftovers(s3, bucket)


def test_probe_removes_its_object_when_the_bucket_uses_another_key(stack, bucket, aws):
    s3 = aws("s3")
    other = aws("kms").create_key(Description="self-test: not the environment key")["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other}}]
        },
    )
    result = write_probe(s3, bucket, "run-other-key")
    assert result.stored["SSEKMSKeyId"] == other
    assert not leftovers(s3, bucket)


def test_probe_removes_its_object_when_the_read_back_fails(bucket, aws):
    s3 = aws("s3")

    def head_object(**_: Any) -> Any:
        raise _client_error("InternalError", "HeadObject")

    with pytest.raises(ProbeError, match="could not read back"):
        write_probe(Wrapped(s3, head_object=head_object), bucket, "run-head-fails")
    assert not leftovers(s3, bucket)


def test_probe_removes_its_object_when_interrupted(bucket, aws):
    s3 = aws("s3")

    def head_object(**_: Any) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_probe(Wrapped(s3, head_object=head_object), bucket, "run-interrupted")
    assert not leftovers(s3, bucket)


def test_probe_says_what_it_could_not_remove(bucket, aws):
    s3 = aws("s3")

    def delete_objects(Bucket: str, Delete: dict) -> dict:
        return {"Errors": [{"Key": o["Key"], "VersionId": o["VersionId"], "Code": "AccessDenied"}
                           for o in Delete["Objects"]]}  # fmt: skip

    with pytest.raises(ProbeError, match=r"left s3://.* behind: version .*AccessDenied"):
        write_probe(Wrapped(s3, delete_objects=delete_objects), bucket, "run-undeletable")

    # and a probe that already failed keeps its own error, with the leftover as a note
    def head_object(**_: Any) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        write_probe(Wrapped(s3, delete_objects=delete_objects, head_object=head_object), bucket, "run-both")
    assert any("behind" in note for note in getattr(info.value, "__notes__", []))
    for key in {entry.split("@")[0] for entry in leftovers(s3, bucket)}:
        purge(s3, bucket, key)
    assert not leftovers(s3, bucket)


def test_purge_removes_every_version_and_delete_marker_of_exactly_its_key(bucket, aws):
    s3 = aws("s3")
    key = f"{PREFIX}/run-purge/object"
    for body in (b"1", b"2", b"3"):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.delete_object(Bucket=bucket, Key=key)  # a delete marker on top
    s3.put_object(Bucket=bucket, Key=f"{key}-sibling", Body=b"not the probe's")
    assert len(versions_of(s3, bucket, key)) == 4
    removed, problems = purge(s3, bucket, key)
    assert (len(removed), problems) == (4, [])
    assert [e.split("@")[0] for e in leftovers(s3, bucket)] == [f"{key}-sibling"]
    purge(s3, bucket, f"{key}-sibling")
    assert not leftovers(s3, bucket)


@pytest.mark.slow
def test_the_check_leaves_nothing_behind_passing_or_failing(stack, bucket, aws, emulator, tmp_path: Path):
    s3 = aws("s3")
    args = ("tests/storage/test_write_probe.py",)
    code, results, output = run_suite(
        endpoint_url=emulator.endpoint_url, envs=["dev"], suffix=SUFFIX, workdir=tmp_path / "good", extra_args=args
    )
    assert results[f"{CHECK}[dev]"].outcome == "passed", output[-2000:]
    assert not leftovers(s3, bucket)

    other = aws("kms").create_key(Description="self-test: not the environment key")["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other}}]
        },
    )
    code, results, output = run_suite(
        endpoint_url=emulator.endpoint_url, envs=["dev"], suffix=SUFFIX, workdir=tmp_path / "drifted", extra_args=args
    )
    assert results[f"{CHECK}[dev]"].outcome == "failed", output[-2000:]
    assert other in results[f"{CHECK}[dev]"].message
    assert code == 1
    assert not leftovers(s3, bucket)
