"""What the inventory may keep: no secret value, ever (``scrub``).

Every value that looks secret becomes a redacted marker (its length and a salted hash) before an
inventory exists or is written; the markers come from ``core.redaction``, the judgement of what
looks secret from the compute collector's ``secret_reason`` and ``credential_kind``.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.inventory.compute import credential_kind, secret_reason
from core.redaction import is_redacted_marker, is_secret_key, known_secrets, redacted_marker

_PAIR_NAMES = ("name", "Name", "Key", "key", "ParameterKey", "OptionName")
_PAIR_VALUES = ("value", "Value", "ParameterValue", "OptionValue")


def scrub(value: Any, reason: Any = None) -> Any:
    """``value`` with no secret left in it: every value that looks secret becomes a redacted marker
    (its length and a salted hash): a secret-looking key's string, the value of a secret-looking
    name/value pair (environment variables, tags, parameters), a string holding a credential (an
    access key id, a private key, a URL with a password, a token), a registered secret, and the
    same inside JSON documents held as strings (e.g. drift detection's ActualProperties).

    ``reason(name, value) -> str`` says why a name/value pair looks secret ('' when it does not).
    """
    if reason is None:
        reason = secret_reason
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        pair_name = next((value[k] for k in _PAIR_NAMES if isinstance(value.get(k), str)), None)
        for k, v in value.items():
            secret_pair = pair_name is not None and k in _PAIR_VALUES
            if (isinstance(v, str) and not is_redacted_marker(v)
                    and (is_secret_key(k) or (secret_pair and reason(pair_name, v)))):  # fmt: skip
                out[k] = redacted_marker(v)
                continue
            out[k] = scrub(v, reason)
        return out
    if isinstance(value, list):
        return [scrub(v, reason) for v in value]
    if isinstance(value, str):
        return _scrub_text(value, reason)
    return value


def _scrub_text(text: str, reason: Any) -> str:
    if not text or is_redacted_marker(text):
        return text
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(stripped) > 1:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict | list):
            clean = scrub(doc, reason)
            return text if clean == doc else json.dumps(clean)
    if credential_kind(text):
        return redacted_marker(text)
    secrets = [s for s in known_secrets() if s in text]
    if secrets:
        return redacted_marker(text)
    return text
