"""emulator/faithful/stackdelete.py: a non-empty bucket fails its stack's deletion; Retain keeps it."""

from __future__ import annotations

from selftests.emulator.platform import settled_stack

_TEMPLATE = """
Resources:
  Logs:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: {name}
"""


def test_non_empty_bucket_fails_to_delete_and_the_stack_ends_delete_failed(emulator, aws):
    emulator.reset()
    cfn, s3 = aws("cloudformation"), aws("s3")
    cfn.create_stack(StackName="sd-full", TemplateBody=_TEMPLATE.format(name="sd-full-bucket"))
    assert settled_stack(cfn, "sd-full")["StackStatus"] == "CREATE_COMPLETE"
    s3.put_object(Bucket="sd-full-bucket", Key="k", Body=b"x")
    cfn.delete_stack(StackName="sd-full")
    stack = settled_stack(cfn, "sd-full")
    assert stack["StackStatus"] == "DELETE_FAILED"
    events = cfn.describe_stack_events(StackName="sd-full")["StackEvents"]
    (failed,) = [e for e in events if e["LogicalResourceId"] == "Logs" and e["ResourceStatus"] == "DELETE_FAILED"]
    assert "BucketNotEmpty" in failed["ResourceStatusReason"]
    assert s3.list_objects_v2(Bucket="sd-full-bucket")["KeyCount"] == 1  # nothing deleted by force


def test_empty_bucket_deletes_and_retain_keeps_a_full_one(emulator, aws):
    emulator.reset()
    cfn, s3 = aws("cloudformation"), aws("s3")
    cfn.create_stack(StackName="sd-empty", TemplateBody=_TEMPLATE.format(name="sd-empty-bucket"))
    settled_stack(cfn, "sd-empty")
    cfn.delete_stack(StackName="sd-empty")
    assert settled_stack(cfn, "sd-empty")["StackStatus"] == "DELETE_COMPLETE"
    retain = _TEMPLATE.format(name="sd-kept-bucket").replace(
        "Type: AWS::S3::Bucket", "Type: AWS::S3::Bucket\n    DeletionPolicy: Retain"
    )
    cfn.create_stack(StackName="sd-kept", TemplateBody=retain)
    settled_stack(cfn, "sd-kept")
    s3.put_object(Bucket="sd-kept-bucket", Key="k", Body=b"x")
    cfn.delete_stack(StackName="sd-kept")
    assert settled_stack(cfn, "sd-kept")["StackStatus"] == "DELETE_COMPLETE"
    names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    assert "sd-empty-bucket" not in names and "sd-kept-bucket" in names
    assert s3.list_objects_v2(Bucket="sd-kept-bucket")["KeyCount"] == 1
