"""The OpenAPI description: FastAPI's, plus the request-body schemas of the library's formats.

Routes read their bodies themselves (the library validates them; see
:mod:`crossmargin.service.schemas`), so the request schemas are added here as components:
``PortfolioIn`` (the portfolio file's account), ``TradeIn``, ``WhatIfIn``, ``CollateralIn``,
``KeyIn`` and ``MarketIn`` (one ``MarketUpdateIn`` or ``PythIn``, or an array of them).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from crossmargin.service.schemas import REQUEST_MODELS

__all__ = ["install_openapi"]

_REF = "#/components/schemas/{model}"


def _components(max_batch: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, model in REQUEST_MODELS.items():
        schema = model.model_json_schema(ref_template=_REF, mode="validation")
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    one = {"oneOf": [{"$ref": _REF.format(model=n)} for n in ("MarketUpdateIn", "PythIn")]}
    out["MarketIn"] = {
        "title": "MarketIn",
        "description": "One market update, or an array of them applied in order.",
        "oneOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": max_batch}],
    }
    return out


def install_openapi(app: FastAPI, *, max_batch: int) -> None:
    """Serve the completed description at ``/openapi.json`` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(_components(max_batch))
        spec["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key: the admin key, a feed key or an account key",
            }
        }
        for path, item in spec.get("paths", {}).items():
            if path.startswith("/v1/"):
                for op in item.values():
                    op["security"] = [{"bearer": []}]
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
