"""TemplateURL (and StackPolicyURL) in every form AWS accepts, read from the emulator's own S3.

Gap in MiniStack 1.5.33 (measured with boto3 against the running emulator): a TemplateURL was
split as ``/<bucket>/<key>`` whatever its host, so

* the virtual-hosted form AWS documents and the deployer uses on AWS,
  ``https://<bucket>.s3.<region>.amazonaws.com/<key>`` (and ``<bucket>.s3.amazonaws.com``),
  was refused ("Invalid TemplateURL") or read the wrong bucket;
* a URL on any other host (``https://example.com/bucket/key``) was read from the emulator's
  S3 as if it were an S3 URL; AWS refuses it ("TemplateURL must be a supported URL.");
* a percent-encoded key and a ``?versionId=`` were not honoured.

Here the URL is resolved as AWS resolves it: virtual-hosted or path-style on an S3 host
(``s3.amazonaws.com``, ``s3.<region>.amazonaws.com``, ``s3-<region>.amazonaws.com``, the
dualstack forms, ``.com.cn``), or path-style on the emulator itself (a loopback host, as the
deployer addresses it offline); the key is percent-decoded and ``versionId`` selects a version.
An object that is not there is refused with AWS's sentence ("TemplateURL must reference a valid
S3 object to which you have access."). MiniStack's own 1,000,000-byte limit for a template read
from S3 and its 51,200-byte limit for an inline body are kept as they are.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("faithful.template_url")

_S3_HOST = re.compile(
    r"^(?:(?P<bucket>[a-z0-9][a-z0-9.\-]*[a-z0-9])\.)?"
    r"s3(?:[.\-](?:dualstack\.)?(?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?"
    r"\.amazonaws\.com(?:\.cn)?$"
)
UNSUPPORTED = "{url_key} must be a supported URL."
NOT_FOUND = "{url_key} must reference a valid S3 object to which you have access."

_installed = False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def locate(url: str) -> tuple[str, str, str | None] | None:
    """``(bucket, key, version_id)`` named by an S3 URL in a form AWS accepts, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    path = parts.path.lstrip("/")
    match = _S3_HOST.match(host)
    if match and match.group("bucket"):
        bucket, key = match.group("bucket"), path
    elif match or _is_loopback(host):
        bucket, _, key = path.partition("/")
    else:
        return None
    if not bucket or not key:
        return None
    versions = parse_qs(parts.query).get("versionId")
    version = versions[0] if versions else None
    return bucket, unquote(key), version


def install() -> None:
    global _installed
    if _installed:
        return
    from ministack.services import s3 as _s3
    from ministack.services.cloudformation import helpers

    limit = helpers.TEMPLATE_URL_MAX_BYTES

    def _resolve_document(params: Any, body_key: str, url_key: str, label: str) -> tuple[Any, Any]:
        body = helpers._p(params, body_key)
        url = helpers._p(params, url_key)
        if body:
            return body, None
        if not url:
            return None, None
        located = locate(url)
        if located is None:
            return None, helpers._error("ValidationError", UNSUPPORTED.format(url_key=url_key))
        bucket, key, version = located
        data = _s3._get_object_data(bucket, key, version)
        if data is None:
            return None, helpers._error("ValidationError", NOT_FOUND.format(url_key=url_key))
        if body_key == "TemplateBody" and len(data) > limit:
            return None, helpers._error("ValidationError", f"Template may not exceed {limit} bytes in size.")
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            return None, helpers._error("ValidationError", f"{label} at {url_key} is not UTF-8 text.")

    # _resolve_template and every handler look the name up in helpers when they run
    helpers._resolve_document = _resolve_document
    _installed = True
    log.info("template_url extension installed")
