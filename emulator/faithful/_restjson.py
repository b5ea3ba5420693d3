"""Helpers for the REST-JSON services the extensions serve (GuardDuty, Security Hub, Access Analyzer).

Not an extension (its name starts with ``_``, so :func:`faithful.install_all` skips it).
A service is routed the way MiniStack routes its own: by the SigV4 credential scope of the
request (``router.SERVICE_PATTERNS[<scope>]``, then ``app.SERVICE_HANDLERS[<scope>]``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
Route = tuple[str, "re.Pattern[str]", Callable[..., Reply]]


def reply(status: int, doc: dict[str, Any]) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(doc).encode()


def error(status: int, code: str, message: str) -> Reply:
    """An AWS REST-JSON error: the code in ``x-amzn-ErrorType`` and the body, both casings of message."""
    body = {"__type": code, "message": message, "Message": message}
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return status, headers, json.dumps(body).encode()


def iso_now() -> str:
    """Now as the ISO-8601 text these services answer (UTC, milliseconds)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def register(scope: str, routes: list[Route]) -> None:
    """Serve ``routes`` (method, path regex, handler(match, body, query)) for the credential scope ``scope``."""
    from ministack import app
    from ministack.core import router

    async def handle_request(method: str, path: str, headers: Any, body: bytes, query_params: Any) -> Reply:
        try:
            doc = json.loads(body) if body else {}
        except ValueError:
            return error(400, "BadRequestException", "The request body is not valid JSON.")
        query = {k: (v[0] if isinstance(v, list) and v else v) for k, v in dict(query_params).items()}
        for verb, pattern, handler in routes:
            if verb == method and (match := pattern.fullmatch(path.rstrip("/") or "/")):
                return handler(match, doc if isinstance(doc, dict) else {}, query)
        return error(404, "ResourceNotFoundException", f"{method} {path} is not served by the emulator's {scope}.")

    served: Callable[..., Awaitable[Reply]] = handle_request
    router.SERVICE_PATTERNS[scope] = {"credential_scope": scope}
    app.SERVICE_HANDLERS[scope] = served


def route(method: str, pattern: str, handler: Callable[..., Reply]) -> Route:
    return method, re.compile(pattern), handler


def on_reset(clear: Callable[[], None]) -> None:
    """Run ``clear`` whenever the emulator's state is reset (``/_ministack/reset``)."""
    from ministack import app

    original = app._reset_all_state

    def reset_all_state() -> None:
        original()
        clear()

    app._reset_all_state = reset_all_state
