"""Evidence: what a check judged, attached to its report entry after redaction (``core.redaction``).

Every attachment is redacted before it is written: secret-looking keys, every registered secret
and secret-looking ``key: value`` text are masked (see ``core.redaction`` for the other channels:
log records, test reports).
"""

from __future__ import annotations

import json
from typing import Any

import allure

from core.redaction import redact, redact_text


class Evidence:
    """``evidence.attach(name, data)`` adds a redacted JSON attachment to the running check's report.

    Stateless (Allure attaches to the test that is running), so one instance serves every check.
    """

    def attach(self, name: str, data: Any) -> None:
        clean = redact(data)
        allure.attach(
            json.dumps(clean, indent=2, default=str, sort_keys=True),
            name=name,
            attachment_type=allure.attachment_type.JSON,
        )

    def text(self, name: str, text: str) -> None:
        clean = redact_text(text)
        allure.attach(clean, name=name, attachment_type=allure.attachment_type.TEXT)

    def http(self, name: str, observation: Any) -> None:
        """An HTTP observation: the status line and response headers (text), and the whole as JSON."""
        headers = dict(getattr(observation, "headers", {}) or {})
        lines = [f"GET {observation.url}", observation.status_line, *(f"{k}: {v}" for k, v in headers.items())]
        self.text(f"{name}: status line and response headers", "\n".join(lines))
        self.attach(
            name,
            {
                "url": observation.url,
                "status_line": observation.status_line,
                "headers": headers,
                "attempts": getattr(observation, "attempts", None),
                "elapsed_seconds": getattr(observation, "elapsed", None),
            },
        )
