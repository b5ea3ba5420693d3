"""S3: the transaction-logs bucket as AWS reports it after CloudFormation and after drifts.

Gaps closed (MiniStack 1.5.33, measured with a create_stack and S3 calls):

1. ``AWS::S3::Bucket`` ignores ``BucketEncryption`` (GetBucketEncryption says AES256),
   ``LifecycleConfiguration`` (NoSuchLifecycleConfiguration), ``Tags`` (NoSuchTagSet),
   ``OwnershipControls`` (only the default happens to match) and a ``Suspended``
   versioning status. -> :func:`_bucket_create` / :func:`_bucket_update` put each through
   the S3 API functions MiniStack itself serves, on create and when a stack update changes
   the property (a value set through the API stays until the template changes it). Buckets
   get the stack-level and ``aws:cloudformation:*`` tags, as on AWS.
2. An object put without encryption headers into an SSE-KMS bucket reports the key as the
   template named it and no bucket key; on AWS, ``SSEKMSKeyId`` is the key ARN and
   ``BucketKeyEnabled`` follows the bucket (unless the request says otherwise).
   -> :func:`_resolve_sse_write_headers`.
3. After ``delete_bucket_encryption`` new objects get no encryption at all; AWS encrypts
   every object with SSE-S3 (AES256) by default since January 2023.
   -> :func:`_bucket_default_sse_headers`.

4. ``AWS::S3::Bucket`` ignores ``LoggingConfiguration`` (GetBucketLogging answered no
   LoggingEnabled); PutBucketLogging stored any target, even a bucket that does not exist,
   which AWS refuses (InvalidTargetBucketForLogging). -> :func:`_logging_xml` puts the
   declared server access logging through MiniStack's own PutBucketLogging, and
   :func:`_put_bucket_logging` refuses a missing target bucket.

Checked and already faithful: versioning Enabled, PublicAccessBlockConfiguration, the bucket
policy (GetBucketPolicy returns it; its TLS-only deny is not enforced on plain HTTP, see
docs/emulator.md), and drifts through the S3 API.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml.ElementTree import fromstring
from faithful._ministack import resource_handlers
from faithful.kms import key_arn
from ministack.services import s3 as _s3
from ministack.services.cloudformation import provisioners as _prov

_orig: dict[str, Any] = {}

_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
_SSE = "x-amz-server-side-encryption"
_SSE_KEY = "x-amz-server-side-encryption-aws-kms-key-id"


def _check(result: tuple, what: str) -> None:
    if result[0] >= 400:
        raise ValueError(f"AWS::S3::Bucket {what} rejected: {result[2]!r}")


def _bool_text(value: Any) -> str:
    return str(_prov._cfn_bool(value)).lower()


# --------------------------------------------------------------------------- template -> XML


def _encryption_xml(config: dict) -> bytes:
    root = Element("ServerSideEncryptionConfiguration", xmlns=_s3.S3_NS)
    for rule in config.get("ServerSideEncryptionConfiguration") or []:
        rule_el = SubElement(root, "Rule")
        default = rule.get("ServerSideEncryptionByDefault") or {}
        if default:
            d = SubElement(rule_el, "ApplyServerSideEncryptionByDefault")
            SubElement(d, "SSEAlgorithm").text = str(default.get("SSEAlgorithm", "AES256"))
            if default.get("KMSMasterKeyID"):
                SubElement(d, "KMSMasterKeyID").text = str(default["KMSMasterKeyID"])
        SubElement(rule_el, "BucketKeyEnabled").text = _bool_text(rule.get("BucketKeyEnabled", False))
    return tostring(root, encoding="utf-8")


def _filter_xml(rule_el: Element, rule: dict) -> None:
    prefix = rule.get("Prefix")
    tags = rule.get("TagFilters") or []
    sizes = [(k, rule[k]) for k in ("ObjectSizeGreaterThan", "ObjectSizeLessThan") if rule.get(k) is not None]
    filt = SubElement(rule_el, "Filter")
    parent = SubElement(filt, "And") if len(tags) + len(sizes) + (prefix is not None) > 1 else filt
    if prefix is not None or not (tags or sizes):
        SubElement(parent, "Prefix").text = str(prefix or "")
    for tag in tags:
        t = SubElement(parent, "Tag")
        SubElement(t, "Key").text = str(tag.get("Key", ""))
        SubElement(t, "Value").text = str(tag.get("Value", ""))
    for key, value in sizes:
        SubElement(parent, key).text = str(int(value))


def _lifecycle_xml(config: dict) -> bytes:
    """A CloudFormation ``LifecycleConfiguration`` as the PutBucketLifecycleConfiguration body."""
    root = Element("LifecycleConfiguration", xmlns=_s3.S3_NS)
    for rule in config.get("Rules") or []:
        r = SubElement(root, "Rule")
        if rule.get("Id"):
            SubElement(r, "ID").text = str(rule["Id"])
        _filter_xml(r, rule)
        SubElement(r, "Status").text = str(rule.get("Status", "Enabled"))
        transitions = list(rule.get("Transitions") or []) + ([rule["Transition"]] if rule.get("Transition") else [])
        for t in transitions:
            te = SubElement(r, "Transition")
            if t.get("TransitionDate"):
                SubElement(te, "Date").text = str(t["TransitionDate"])
            else:
                SubElement(te, "Days").text = str(int(t.get("TransitionInDays", 0)))
            SubElement(te, "StorageClass").text = str(t.get("StorageClass", "STANDARD_IA"))
        expiration = {}
        if rule.get("ExpirationInDays") is not None:
            expiration["Days"] = str(int(rule["ExpirationInDays"]))
        if rule.get("ExpirationDate"):
            expiration["Date"] = str(rule["ExpirationDate"])
        if rule.get("ExpiredObjectDeleteMarker") is not None:
            expiration["ExpiredObjectDeleteMarker"] = _bool_text(rule["ExpiredObjectDeleteMarker"])
        if expiration:
            ee = SubElement(r, "Expiration")
            for k, v in expiration.items():
                SubElement(ee, k).text = v
        nv_transitions = list(rule.get("NoncurrentVersionTransitions") or [])
        if rule.get("NoncurrentVersionTransition"):
            nv_transitions.append(rule["NoncurrentVersionTransition"])
        for t in nv_transitions:
            te = SubElement(r, "NoncurrentVersionTransition")
            SubElement(te, "NoncurrentDays").text = str(int(t.get("TransitionInDays", 0)))
            SubElement(te, "StorageClass").text = str(t.get("StorageClass", "STANDARD_IA"))
            if t.get("NewerNoncurrentVersions") is not None:
                SubElement(te, "NewerNoncurrentVersions").text = str(int(t["NewerNoncurrentVersions"]))
        nve = rule.get("NoncurrentVersionExpiration") or (
            {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
            if rule.get("NoncurrentVersionExpirationInDays") is not None
            else None
        )
        if nve:
            ne = SubElement(r, "NoncurrentVersionExpiration")
            SubElement(ne, "NoncurrentDays").text = str(int(nve.get("NoncurrentDays", 0)))
            if nve.get("NewerNoncurrentVersions") is not None:
                SubElement(ne, "NewerNoncurrentVersions").text = str(int(nve["NewerNoncurrentVersions"]))
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort:
            ae = SubElement(r, "AbortIncompleteMultipartUpload")
            SubElement(ae, "DaysAfterInitiation").text = str(int(abort.get("DaysAfterInitiation", 7)))
    return tostring(root, encoding="utf-8")


def _tagging_xml(tags: dict[str, str]) -> bytes:
    root = Element("Tagging", xmlns=_s3.S3_NS)
    tag_set = SubElement(root, "TagSet")
    for k, v in tags.items():
        t = SubElement(tag_set, "Tag")
        SubElement(t, "Key").text = k
        SubElement(t, "Value").text = v
    return tostring(root, encoding="utf-8")


def _ownership_xml(config: dict) -> bytes:
    root = Element("OwnershipControls", xmlns=_s3.S3_NS)
    for rule in config.get("Rules") or []:
        SubElement(SubElement(root, "Rule"), "ObjectOwnership").text = str(rule.get("ObjectOwnership", ""))
    return tostring(root, encoding="utf-8")


def _logging_xml(config: dict) -> bytes:
    """A CloudFormation ``LoggingConfiguration`` as the PutBucketLogging body."""
    root = Element("BucketLoggingStatus", xmlns=_s3.S3_NS)
    if config.get("DestinationBucketName"):
        enabled = SubElement(root, "LoggingEnabled")
        SubElement(enabled, "TargetBucket").text = str(config["DestinationBucketName"])
        SubElement(enabled, "TargetPrefix").text = str(config.get("LogFilePrefix", ""))
    return tostring(root, encoding="utf-8")


def _put_bucket_logging(name: str, body: bytes):
    """AWS refuses a logging target bucket that does not exist (InvalidTargetBucketForLogging)."""
    try:
        target = next(
            (el.text or "" for el in fromstring(body).iter() if el.tag.rsplit("}", 1)[-1] == "TargetBucket"), None
        )
    except Exception:
        target = None
    if target is not None and target not in _s3._buckets:
        return _s3._error(
            "InvalidTargetBucketForLogging", f"The target bucket for logging does not exist: {target}", 400
        )
    return _orig["put_logging"](name, body)


# --------------------------------------------------------------------------- CloudFormation


def _apply_bucket_props(name: str, old: dict | None, new: dict) -> None:
    """Put what the template declares; on update only what changed, and delete what it dropped."""

    def changed(prop: str) -> bool:
        return old is None or old.get(prop) != new.get(prop)

    def dropped(prop: str) -> bool:
        return old is not None and prop in old and prop not in new

    if changed("BucketEncryption"):
        if new.get("BucketEncryption"):
            _check(_s3._put_bucket_encryption(name, _encryption_xml(new["BucketEncryption"])), "BucketEncryption")
        elif dropped("BucketEncryption"):
            _s3._delete_bucket_encryption(name)
    if changed("LifecycleConfiguration"):
        if new.get("LifecycleConfiguration"):
            _check(
                _s3._put_bucket_lifecycle(name, _lifecycle_xml(new["LifecycleConfiguration"])),
                "LifecycleConfiguration",
            )
        elif dropped("LifecycleConfiguration"):
            _s3._delete_bucket_lifecycle(name)
    if changed("OwnershipControls"):
        if new.get("OwnershipControls"):
            _check(
                _s3._put_bucket_ownership_controls(name, _ownership_xml(new["OwnershipControls"])),
                "OwnershipControls",
            )
        elif dropped("OwnershipControls"):
            _s3._delete_bucket_ownership_controls(name)
    if changed("Tags"):
        tags = _prov._tag_map(new.get("Tags"))
        if tags:
            _check(_s3._put_bucket_tagging(name, _tagging_xml(tags)), "Tags")
        elif old is not None:
            _s3._delete_bucket_tagging(name)
    if changed("LoggingConfiguration") and (new.get("LoggingConfiguration") or dropped("LoggingConfiguration")):
        config = new.get("LoggingConfiguration") or {}
        _check(_s3._put_bucket_logging(name, _logging_xml(config)), "LoggingConfiguration")
    status = (new.get("VersioningConfiguration") or {}).get("Status")
    if changed("VersioningConfiguration") and status == "Suspended" and name in _s3._bucket_versioning:
        _s3._bucket_versioning[name] = "Suspended"  # MiniStack handles Enabled only


def _bucket_create(logical_id, props, stack_name):
    name, attrs = _orig["create"](logical_id, props, stack_name)
    _apply_bucket_props(name, None, props)
    return name, attrs


def _bucket_update(physical_id, old_props, new_props, stack_name):
    name, attrs = _orig["update"](physical_id, old_props, new_props, stack_name)
    if name == physical_id:  # else the rename went through _bucket_create
        _apply_bucket_props(name, old_props, new_props)
    return name, attrs


# --------------------------------------------------------------------------- object encryption


def _bucket_default(bucket_name: str) -> dict[str, str]:
    """SSEAlgorithm, KMSMasterKeyID and BucketKeyEnabled of the bucket's explicit default, if any."""
    raw = _s3._bucket_encryption.get(bucket_name)
    if not raw:
        return {}
    try:
        root = fromstring(raw)
    except Exception:
        return {}
    out = {}
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag in ("SSEAlgorithm", "KMSMasterKeyID", "BucketKeyEnabled") and el.text and tag not in out:
            out[tag] = el.text.strip()
    return out


def _bucket_default_sse_headers(bucket_name: str) -> dict:
    headers = _orig["default_sse"](bucket_name)
    if not headers and not _s3._bucket_encryption.get(bucket_name):
        # "Amazon S3 now applies server-side encryption with Amazon S3 managed keys (SSE-S3)
        # as the base level of encryption for every bucket" (5 January 2023).
        return {_SSE: "AES256"}
    return headers


def _resolve_sse_write_headers(headers: dict, bucket_name: str):
    out, err = _orig["resolve_sse"](headers, bucket_name)
    if err is not None or not out or out.get(_SSE) != "aws:kms":
        return out, err
    out = dict(out)
    if out.get(_SSE_KEY):
        out[_SSE_KEY] = key_arn(out[_SSE_KEY])  # S3 reports the key ARN
    requested = headers.get(_BUCKET_KEY)
    if requested is not None:
        enabled = str(requested).lower() == "true"
    else:  # without the header an SSE-KMS object follows the bucket's S3 Bucket Key setting
        enabled = _bucket_default(bucket_name).get("BucketKeyEnabled", "false").lower() == "true"
    if enabled:
        out[_BUCKET_KEY] = "true"
    return out, None


def install() -> None:
    if _orig:
        return
    _orig.update(
        create=_prov._s3_create,
        update=_prov._s3_update,
        default_sse=_s3._bucket_default_sse_headers,
        resolve_sse=_s3._resolve_sse_write_headers,
        put_logging=_s3._put_bucket_logging,
    )
    _s3._put_bucket_logging = _put_bucket_logging
    _prov._s3_create = _bucket_create
    _prov._s3_update = _bucket_update
    resource_handlers()["AWS::S3::Bucket"].update(create=_bucket_create, update=_bucket_update)
    _prov._STACK_TAG_PROPERTY.setdefault("AWS::S3::Bucket", ("Tags", "list"))
    _s3._bucket_default_sse_headers = _bucket_default_sse_headers
    _s3._resolve_sse_write_headers = _resolve_sse_write_headers
    # The bucket-key flag is stored with the object's other SSE headers (reported by
    # HEAD/GET, dropped by a copy that re-encrypts), like the rest of _SSE_STORED_HEADERS.
    if _BUCKET_KEY not in _s3._SSE_STORED_HEADERS:
        # MiniStack's literal is inferred as a tuple of exactly four names: it is any number of them.
        _s3._SSE_STORED_HEADERS = (*_s3._SSE_STORED_HEADERS, _BUCKET_KEY)  # type: ignore[assignment]
