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

__all__ = [
    "REFERENCE_BEGIN",
    "REFERENCE_END",
    "app_spec",
    "install_openapi",
    "markdown_reference",
    "update_docs",
]

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


#: Markers of the generated reference in docs/api.md.
REFERENCE_BEGIN = "<!-- reference: generated from /openapi.json by crossmargin.service.openapi -->"
REFERENCE_END = "<!-- end of reference -->"


def markdown_reference(spec: dict[str, Any]) -> str:
    """The route reference of docs/api.md, rendered from the OpenAPI description ``spec``.

    One section per operation: method and path, who may call it, summary and description,
    parameters, request body schema name and the status codes with their meaning.
    """
    from crossmargin.service.api import ACCESS

    who = {
        "admin": "admin key",
        "own": "admin key, or the account's own key",
        "market": "admin key, or a feed key (its own feed)",
        "events": "admin key (all), or an account key (its own events)",
    }
    out = [REFERENCE_BEGIN, ""]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            out.append(f"### `{method.upper()} {path}` — {op.get('summary', '')}")
            out.append("")
            access = ACCESS.get((method.upper(), path))
            out.append(f"*Auth:* {who[access] if access else 'none'}.")
            out.append("")
            desc = " ".join(str(op.get("description", "")).split())
            if desc:
                out += [desc, ""]
            params = op.get("parameters") or []
            if params:
                out.append("| parameter | in | type | |")
                out.append("|---|---|---|---|")
                for p in params:
                    schema = p.get("schema", {})
                    kind = schema.get("type") or " or ".join(
                        str(s.get("type", s.get("$ref", "?")).rsplit("/", 1)[-1])
                        for s in schema.get("anyOf", [])
                    )
                    text = " ".join(str(p.get("description", "")).split())
                    out.append(f"| `{p['name']}` | {p['in']} | {kind} | {text} |")
                out.append("")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref")
            if ref:
                out += [f"*Body:* `{ref.rsplit('/', 1)[-1]}` (see `/openapi.json`).", ""]
            codes = ", ".join(
                f"{code} {' '.join(str(r.get('description', '')).split())}"
                for code, r in sorted(op.get("responses", {}).items())
            )
            out += [f"*Answers:* {codes}.", ""]
    out.append(REFERENCE_END)
    return "\n".join(out)


def app_spec() -> dict[str, Any]:
    """The description the service serves (built without starting it)."""
    from crossmargin.service.app import create_app
    from crossmargin.service.config import ServiceConfig

    return create_app(ServiceConfig(db="unused.db")).openapi()


def update_docs(path: str) -> bool:
    """Rewrite the reference block of ``path`` (docs/api.md); whether it changed."""
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8")
    head, _, rest = text.partition(REFERENCE_BEGIN)
    _, _, tail = rest.partition(REFERENCE_END)
    new = head + markdown_reference(app_spec()) + tail
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m crossmargin.service.openapi docs/api.md
    import sys

    print("updated" if update_docs(sys.argv[1]) else "up to date")
