"""Evidence: what a check judged, attached to its report entry after redaction."""

from __future__ import annotations

import json
import re
from typing import Any

import allure

SECRET_KEYS = re.compile(r"(secret|password|passwd|token|credential|private.?key|SecretString)", re.I)
REDACTED = "***redacted***"
_known_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a value that must never be written anywhere (masked wherever it appears)."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys and every registered secret masked."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and SECRET_KEYS.search(k) and isinstance(v, str) and not k.endswith(("Arn", "Id")):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        for secret in _known_secrets:
            value = value.replace(secret, REDACTED)
        return value
    return value


class Evidence:
    """Per-test collector: ``evidence.attach(name, data)`` adds a JSON attachment to the report."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def attach(self, name: str, data: Any) -> None:
        clean = redact(data)
        self.items.append((name, clean))
        allure.attach(
            json.dumps(clean, indent=2, default=str, sort_keys=True),
            name=name,
            attachment_type=allure.attachment_type.JSON,
        )

    def text(self, name: str, text: str) -> None:
        clean = redact(text)
        self.items.append((name, clean))
        allure.attach(clean, name=name, attachment_type=allure.attachment_type.TEXT)
