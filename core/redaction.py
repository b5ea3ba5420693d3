"""Redaction: no secret value is written anywhere, by any process (controller and xdist workers).

Redaction happens before anything is written, on every channel:

* attachments: ``conformance.evidence.Evidence`` redacts what it attaches (secret-looking keys,
  registered secrets, secret-looking ``key: value`` text);
* log records: :func:`install_log_redaction` redacts each record as it is created, so no
  handler (live log, ``--log-file``, caplog, the captured log of a report) sees a secret;
* reports: ``conformance.reporting`` redacts the exception, the long representation and the
  captured sections of every test report before the terminal, JUnit XML and Allure read them.

A secret is *registered* when the suite learns it: :func:`watch_secrets` registers every value
``secretsmanager:GetSecretValue`` returns, and :func:`register_environment_secrets` registers
the values of secret-looking environment variables (AWS keys and session tokens, CI tokens).
Checks judge secrets by derived values (length, character classes), never by the value.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from typing import Any

SECRET_KEYS = re.compile(r"(secret|password|passwd|token|credential|private.?key|SecretString)", re.I)
# keys that name or point at a secret rather than hold it
_NON_SECRET_SUFFIXES = ("Arn", "Id", "Name", "arn", "_id", "_name", "Ref", "Policy", "Findings", "findings")
REDACTED = "***redacted***"
# `password: x`, `"SecretString": "x"`, `aws_secret_access_key=x`, `Authorization: Bearer x` in free text
SECRET_TEXT = re.compile(
    r"""(?P<key>(?:\\*["'])?(?:[\w.-]*(?:password|passwd|secret[_-]?access[_-]?key|session[_-]?token|SecretString|"""
    r"""private[_-]?key|client[_-]?secret|api[_-]?key)(?:\\*["'])?\s*[:=]\s*|Authorization:\s*(?:Bearer|Basic)\s+))"""
    # a quoted value, also inside an escaped (or twice-escaped) JSON document; else up to a delimiter
    r"""(?P<value>\\*"(?:[^"\\]|\\+.)*"|\\*'(?:[^'\\]|\\+.)*'|[^\s,;}\]\\"']+)""",
    re.I,
)
SECRET_ENV = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY)", re.I)
MIN_SECRET_LENGTH = 6

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a value that must never be written anywhere (masked wherever it appears)."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _known_secrets.add(value)
            # the JSON-escaped form too: a secret inside a serialised document
            escaped = json.dumps(value)[1:-1]
            if escaped != value:
                _known_secrets.add(escaped)


def register_secret_document(secret_string: str | None) -> None:
    """Register a SecretString and, when it is a JSON document, each string value in it."""
    if not secret_string:
        return
    register_secret(secret_string)
    try:
        doc = json.loads(secret_string)
    except (TypeError, ValueError):
        return
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, str) and SECRET_KEYS.search(str(key)):
                register_secret(value)


def register_environment_secrets(environ: dict[str, str] | None = None) -> None:
    """Register the values of secret-looking environment variables (AWS keys, CI tokens)."""
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if SECRET_ENV.search(name) and not name.endswith(("_FILE", "_PATH", "_URL", "_ARN")):
            register_secret(value)


def _after_get_secret_value(parsed: Any = None, **_: Any) -> None:
    if isinstance(parsed, dict):
        register_secret_document(parsed.get("SecretString"))
        binary = parsed.get("SecretBinary")
        if isinstance(binary, bytes | bytearray):
            register_secret(binary.decode("utf-8", "replace"))


def watch_secrets(client: Any) -> None:
    """Register every secret value a boto3 client reads (secretsmanager:GetSecretValue)."""
    client.meta.events.register_first(
        "after-call.secrets-manager.GetSecretValue",
        _after_get_secret_value,
        unique_id="payments-conformance-watch-secrets",
    )


URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?P<password>[^/\s@]+)(?=@)", re.I)


def url_has_credentials(url: str | None) -> bool:
    return bool(url) and URL_CREDENTIALS.search(str(url)) is not None


def redact_text(text: str) -> str:
    """``text`` with every registered secret, every secret-looking ``key: value`` and every
    password in a URL masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = URL_CREDENTIALS.sub(lambda m: m.group("head") + REDACTED, text)
    return SECRET_TEXT.sub(lambda m: m.group("key") + REDACTED, text)


def known_secrets() -> list[str]:
    with _lock:
        return sorted(_known_secrets)


# ---------------------------------------------------------------- the secrets a run learned, for its workers
#
# xdist workers start before the controller has collected the inventories (and read the DB secret):
# what it learned then reaches them sealed in the run directory, under a random key that exists only
# in memory (the controller's, and each worker's through xdist's own channel). The file is a
# one-time pad (SHAKE-256 keystream of key + nonce), so it holds no secret anyone can read.


def seal_secrets(key: bytes) -> bytes:
    nonce = os.urandom(16)
    plain = json.dumps(known_secrets()).encode()
    stream = hashlib.shake_256(key + nonce).digest(len(plain))
    return nonce + bytes(a ^ b for a, b in zip(plain, stream, strict=True))


def open_sealed_secrets(blob: bytes, key: bytes) -> int:
    """Register the secrets of a sealed blob; how many."""
    nonce, cipher = blob[:16], blob[16:]
    stream = hashlib.shake_256(key + nonce).digest(len(cipher))
    values = json.loads(bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode())
    for value in values:
        register_secret(value)
    return len(values)


# ---------------------------------------------------------------- what the inventory may keep

# A salt that is never written: a redacted value's hash lets two values of one run be compared
# (the same secret in two places, or in two environments) without any value being kept.
_SALT = os.urandom(16)


def redacted_marker(value: Any) -> str:
    text = str(value if value is not None else "")
    digest = hashlib.sha256(_SALT + text.encode()).hexdigest()[:16]
    return f"<redacted: {len(text)} characters, salted sha256 {digest}>"


def is_redacted_marker(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<redacted")


def is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(SECRET_KEYS.search(key)) and not key.endswith(_NON_SECRET_SUFFIXES)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys and every registered secret masked."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if is_secret_key(k) and isinstance(v, str | bytes):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list | tuple | set):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, str):
        return redact_text(value)
    return value


# ---------------------------------------------------------------- logging


class _RedactingFactory:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return record
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact_text(text), None
        return record


# Loggers that print request and response bodies at DEBUG (botocore prints SecretString there):
# held at WARNING whatever --log-level says.
NOISY_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def install_log_redaction() -> None:
    """Redact every log record of this process as it is created (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
