"""ASGI middleware: the request body cap, security headers, a request clock.

Pure ASGI (no ``BaseHTTPMiddleware``): streams pass through untouched.

* :class:`BodyLimit` refuses a body over the cap with 413 *before* it is parsed: at once when
  ``Content-Length`` says so, and while it is received otherwise (chunked bodies are counted;
  the excess is never buffered). Request headers over :data:`MAX_HEADER_BYTES` in total are
  refused with 431 before any route sees them (uvicorn's httptools parser sets no limit).
* :class:`SecurityHeaders` adds ``X-Content-Type-Options``, ``Referrer-Policy``,
  ``X-Frame-Options``, a strict ``Content-Security-Policy`` (scripts, styles, images and
  connections from this origin only: the dashboard's assets are vendored) and
  ``Cache-Control: no-store`` on API and dashboard responses (they carry account data).
* The receive time of each request (``scope["state"]["received_ns"]``) is taken here, first
  thing, for the tick-to-event latency.
"""

from __future__ import annotations

import json
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "MAX_HEADER_BYTES", "BodyLimit", "BodyTooLargeError", "SecurityHeaders"]

#: Largest total size of a request's headers (names and values), bytes.
MAX_HEADER_BYTES = 64 * 1024

#: Content-Security-Policy of every response (the dashboard loads nothing from elsewhere).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class BodyTooLargeError(Exception):
    """The request body exceeded the cap (raised from ``receive``)."""


def _too_large(limit: int, what: str = "body", status: int = 413) -> tuple[Message, Message]:
    body = json.dumps(
        {"error": {"path": None, "reason": f"request {what} larger than {limit} bytes"}}
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 (module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["received_ns"] = time.perf_counter_ns()
        state["received_wall_ms"] = time.time_ns() // 1_000_000
        limit = self.max_bytes
        headers = scope.get("headers", ())
        if sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            for message in _too_large(MAX_HEADER_BYTES, "headers", 431):
                await send(message)
            return
        for name, value in headers:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit or declared < 0:
                    for message in _too_large(limit):
                        await send(message)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                for message in _too_large(limit):
                    await send(message)


class SecurityHeaders:
    """Add security headers to every HTTP response (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        private = not path.startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra: list[tuple[bytes, bytes]] = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", CSP.encode()),
                ]
                if private and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend(h for h in extra if h[0] not in names)
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, with_headers)


def received_at(scope: MutableMapping[str, Any]) -> tuple[int, int]:
    """When the request reached the service: ``perf_counter_ns`` and wall-clock milliseconds."""
    state = scope.get("state") or {}
    perf = state.get("received_ns")
    wall = state.get("received_wall_ms")
    return (
        int(perf) if isinstance(perf, int) else time.perf_counter_ns(),
        int(wall) if isinstance(wall, int) else time.time_ns() // 1_000_000,
    )
