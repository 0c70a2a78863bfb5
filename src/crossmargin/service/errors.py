"""One error shape for every failure: ``{"error": {"path": ..., "reason": ...}}``.

======  ==================================================================================
status  when
======  ==================================================================================
400     the body is not JSON (or not UTF-8, nested too deep, a duplicate key)
401     no key, or a key that is unknown or revoked (``WWW-Authenticate: Bearer``)
403     a valid key without the right to this route or to this account
404     no such route, account or key
405     method not allowed on the route
409     refused by a rule on the current state: the pre-trade check, a withdrawal below IM,
        an account that exists, stale market data (the refusal may be journaled: ``seq``)
413     the body is larger than the limit (refused before it is read)
415     the body is not ``application/json``
422     valid JSON with an invalid field (``path`` names it)
503     the engine is unavailable (its store failed; restart recovers from the journal)
======  ==================================================================================

Library errors map by type (:class:`~crossmargin.errors.InputError` → 422,
:class:`~crossmargin.errors.MarketDataError` → 409, :class:`~crossmargin.errors.StoreError` →
503). Anything else is a bug: 500 with a generic reason, the details in the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossmargin.errors import CrossMarginError, InputError, MarketDataError, StoreError

__all__ = ["ApiError", "error_body", "install_error_handlers"]

log = logging.getLogger("crossmargin.service")


class ApiError(StarletteHTTPException):
    """An error answered with the one error shape.

    Parameters
    ----------
    status
        HTTP status.
    reason
        What is wrong.
    path
        The offending field or parameter (``None``: the request as a whole).
    extra
        More members of the error object (e.g. ``seq`` of a journaled refusal).
    headers
        Response headers.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        path: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, reason, headers=headers)
        self.reason = reason
        self.path = path
        self.extra = extra or {}


def error_body(reason: str, path: str | None = None, **extra: Any) -> dict[str, Any]:
    """The error object."""
    return {"error": {"path": path, "reason": reason, **extra}}


def _response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "header", "cookie", "body")]
    return ".".join(parts) or str(loc[0]) if loc else ""


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the one shape (module docstring)."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return _response(
            exc.status_code, error_body(exc.reason, exc.path, **exc.extra), exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and reason == "Not Found":
            reason = "no such route"
        return _response(exc.status_code, error_body(reason), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        path = _loc(tuple(first.get("loc", ())))
        reason = str(first.get("msg", "invalid value"))
        return _response(422, error_body(reason, path or None))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return _response(422, error_body(exc.reason, exc.path or None))

    @app.exception_handler(MarketDataError)
    async def _market(request: Request, exc: MarketDataError) -> JSONResponse:
        return _response(409, error_body(exc.reason, exc.path or None))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store error on %s %s: %s", request.method, request.url.path, exc)
        return _response(503, error_body("the engine is unavailable: " + exc.reason, "store"))

    @app.exception_handler(CrossMarginError)
    async def _other(request: Request, exc: CrossMarginError) -> JSONResponse:
        return _response(422, error_body(exc.reason, exc.path or None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _response(500, error_body("internal error (see the server log)"))
