"""docs/api.md's route reference, rendered from the OpenAPI description the service serves.

``python -m crossmargin.service.reference docs/api.md`` rewrites the block between the markers;
a test checks that the committed file is up to date.
"""

from __future__ import annotations

from typing import Any

from crossmargin.service.api import ACCESS
from crossmargin.service.app import create_app
from crossmargin.service.config import ServiceConfig

__all__ = ["REFERENCE_BEGIN", "REFERENCE_END", "app_spec", "markdown_reference", "update_docs"]

#: Markers of the generated reference in docs/api.md.
REFERENCE_BEGIN = (
    "<!-- reference: generated from /openapi.json by crossmargin.service.reference -->"
)
REFERENCE_END = "<!-- end of reference -->"


def markdown_reference(spec: dict[str, Any]) -> str:
    """The route reference of docs/api.md, rendered from the OpenAPI description ``spec``.

    One section per operation: method and path, who may call it, summary and description,
    parameters, request body schema name and the status codes with their meaning.
    """
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


if __name__ == "__main__":  # python -m crossmargin.service.reference docs/api.md
    import sys

    print("updated" if update_docs(sys.argv[1]) else "up to date")
