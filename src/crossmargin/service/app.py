"""The FastAPI application: ``create_app(config)``.

Routes: the JSON API under ``/v1`` (:mod:`crossmargin.service.api`), the dashboard at ``/``
(:mod:`crossmargin.service.dashboard`), its vendored assets under ``/static``, ``/healthz`` and
``/openapi.json``. FastAPI's interactive docs pages are off (they load scripts from a CDN);
docs/api.md is generated from the OpenAPI description.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from crossmargin import __version__
from crossmargin.service import api, dashboard
from crossmargin.service.config import ServiceConfig
from crossmargin.service.errors import error_body, install_error_handlers
from crossmargin.service.middleware import BodyLimit, SecurityHeaders
from crossmargin.service.openapi import install_openapi
from crossmargin.service.runtime import Service
from crossmargin.service.schemas import HealthzOut

__all__ = ["create_app"]

DESCRIPTION = """\
The crossmargin risk service: a live margin engine over HTTP.

Accounts, trades (pre-trade checked), collateral and market data in; margins, what-if checks
and events out. Every 2xx answer to an input means it is journaled (durable). Authenticate
with `Authorization: Bearer KEY` (the admin key, a feed key or an account key). Errors have
one shape: `{"error": {"path": ..., "reason": ...}}`.
"""


def static_dir() -> Any:
    """The package's static assets (own CSS/JS and vendored htmx)."""
    return resources.files("crossmargin.service") / "static"


def create_app(config: ServiceConfig, *, service: Service | None = None) -> FastAPI:
    """The service's ASGI application (started and stopped by its lifespan).

    Parameters
    ----------
    config
        How to run (database, opening market and accounts, model, keys, limits).
    service
        An already opened :class:`Service` of ``config`` (``crossmargin serve`` opens it
        before the server starts); default: opened by the lifespan.
    """
    svc = service if service is not None else Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    app = FastAPI(
        title="crossmargin risk service",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.service = svc
    install_error_handlers(app)

    @app.exception_handler(dashboard.LoginRequiredError)
    async def _login(request: Request, exc: dashboard.LoginRequiredError) -> Response:
        if request.headers.get("hx-request") or request.url.path.startswith("/ui/"):
            return JSONResponse(
                error_body("log in first", "session"),
                status_code=401,
                headers={"HX-Redirect": "/login"},
            )
        return RedirectResponse("/login", status_code=303)

    app.include_router(api.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=str(static_dir())), name="static")

    @app.get(
        "/healthz",
        response_model=HealthzOut,
        summary="Liveness",
        responses={503: {"model": HealthzOut, "description": "the engine stopped"}},
    )
    async def healthz(request: Request) -> JSONResponse:
        """``ok``, or 503 ``failed`` once the engine stopped after a store failure."""
        worker = svc.worker
        if worker is not None and worker.failed is not None:
            return JSONResponse({"status": "failed"}, status_code=503)
        return JSONResponse({"status": "ok"})

    install_openapi(app, max_batch=config.max_batch)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app
