"""Stack deletion: a non-empty bucket fails to delete, as on AWS.

Gap in MiniStack 1.5.33: deleting a stack drops an ``AWS::S3::Bucket`` (DeletionPolicy
``Delete``) together with its objects, and the stack reaches ``DELETE_COMPLETE``. On AWS
CloudFormation calls DeleteBucket, which refuses a bucket that holds objects or object
versions (``BucketNotEmpty``): the resource ends ``DELETE_FAILED`` with that reason and the
stack ``DELETE_FAILED``. This makes the provisioner's bucket delete refuse the same way (the
S3 API's own DeleteBucket already does). ``DeletionPolicy: Retain`` was already faithful
(``DELETE_SKIPPED``, the bucket and its objects kept).
"""

from __future__ import annotations

import logging

from faithful._ministack import resource_handlers

log = logging.getLogger("faithful.stackdelete")

NOT_EMPTY = "The bucket you tried to delete is not empty (Service: S3, Status Code: 409, Error Code: BucketNotEmpty)"


def install() -> None:
    from ministack.services import s3 as _s3

    handler = resource_handlers()["AWS::S3::Bucket"]
    original = handler["delete"]

    def delete(physical_id, props):
        bucket = _s3._buckets.get(physical_id)
        if bucket is not None and (bucket.get("objects") or _s3._bucket_has_versions(physical_id)):
            raise RuntimeError(NOT_EMPTY)
        return original(physical_id, props)

    handler["delete"] = delete
    log.info("stack delete of non-empty buckets installed")
