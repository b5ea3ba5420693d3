"""Evidence: what a check judged, attached to its report entry after redaction (``core.redaction``).

Every attachment is redacted before it is written: secret-looking keys, every registered secret
and secret-looking ``key: value`` text are masked (see ``core.redaction`` for the other channels:
log records, test reports).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import re
from typing import Any

import allure

from core.redaction import redact, redact_text

# ---------------------------------------------------------------- attachments


ARN = re.compile(r"\barn:aws[\w-]*:[\w-]+:[\w-]*:\d{12}:[^\s\"',\]}]+")
OPERATION_NAME = re.compile(r"^(Describe|Get|List|Head|Lookup|Search)[A-Z]\w*")
MAX_RESOURCES = 20


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# What the running check observes: set per check by the report integration (conformance.reporting)
# from the check's fixtures (the environment's inventory, every inventory, or the template).
_observation: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("observation", default=None)


def set_observation(context: dict[str, Any] | None) -> None:
    _observation.set(context)


def _arns(value: Any) -> list[str]:
    found = ARN.findall(json.dumps(value, default=str))
    return list(dict.fromkeys(a.rstrip("\\.") for a in found))


def provenance(name: str, data: Any, *, operation: str | None = None, resource: str | list[str] | None = None,
               observed_at: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Where an attachment's data comes from: when it was observed (UTC), in which account and
    region, by which AWS operation, about which resources (ARNs)."""
    ctx = dict(_observation.get() or {})
    if operation is None:
        m = OPERATION_NAME.match(name)
        operation = m.group(0) if m else ctx.get("operation", "")
    resources = [resource] if isinstance(resource, str) else list(resource or [])
    resources = resources or _arns(data)[:MAX_RESOURCES] or ctx.get("resources", [])
    out = {
        "observed_at_utc": observed_at or ctx.get("observed_at_utc") or utc_now(),
        "environment": ctx.get("environment", ""),
        "account": ctx.get("account", ""),
        "region": ctx.get("region", ""),
        "operation": operation,
        "resources": resources,
    }
    if ctx.get("collected_by"):
        out["collected_by"] = ctx["collected_by"]
    return out


class Evidence:
    """``evidence.attach(name, data)`` adds a redacted JSON attachment to the running check's report.

    Each attachment is ``{"observed": provenance, "data": data}``: observed-at (UTC: when the
    inventory it was read from was collected, or now for a data-plane probe), account, region,
    operation (given, or the attachment's name when it is one, e.g. ``DescribeClusters``, else the
    inventory's collection and its operations) and the resources' ARNs (given, or those in the
    data, else the environment's stack). Stateless (Allure attaches to the test that is running),
    so one instance serves every check.
    """

    def attach(self, name: str, data: Any, *, operation: str | None = None, resource: str | list[str] | None = None,
               observed_at: str | None = None) -> None:  # fmt: skip
        clean = redact(data)
        document = {
            "observed": redact(
                provenance(name, clean, operation=operation, resource=resource, observed_at=observed_at)
            ),
            "data": clean,
        }
        allure.attach(
            json.dumps(document, indent=2, default=str, sort_keys=False),
            name=name,
            attachment_type=allure.attachment_type.JSON,
        )

    def text(self, name: str, text: str, *, operation: str | None = None, observed_at: str | None = None) -> None:
        clean = redact_text(text)
        observed = provenance(name, clean, operation=operation, observed_at=observed_at)
        head = "".join(f"# {k}: {', '.join(v) if isinstance(v, list) else v}\n" for k, v in observed.items())
        allure.attach(redact_text(head) + clean, name=name, attachment_type=allure.attachment_type.TEXT)

    def http(self, name: str, observation: Any) -> None:
        """An HTTP observation: the status line and response headers (text), and the whole as JSON."""
        now = utc_now()
        headers = dict(getattr(observation, "headers", {}) or {})
        lines = [f"GET {observation.url}", observation.status_line, *(f"{k}: {v}" for k, v in headers.items())]
        self.text(f"{name}: status line and response headers", "\n".join(lines), operation="HTTP GET", observed_at=now)
        self.attach(
            name,
            {
                "url": observation.url,
                "status_line": observation.status_line,
                "headers": headers,
                "attempts": getattr(observation, "attempts", None),
                "elapsed_seconds": getattr(observation, "elapsed", None),
            },
            operation="HTTP GET",
            observed_at=now,
        )
