"""docs/api.md's reference is the OpenAPI description the service serves, rendered."""

from __future__ import annotations

from pathlib import Path

from crossmargin.service.reference import (
    REFERENCE_BEGIN,
    REFERENCE_END,
    app_spec,
    markdown_reference,
)

DOC = Path(__file__).parents[2] / "docs" / "api.md"


def test_the_api_reference_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = REFERENCE_BEGIN + text.split(REFERENCE_BEGIN, 1)[1].split(REFERENCE_END, 1)[0]
    assert block + REFERENCE_END == markdown_reference(app_spec()), (
        "docs/api.md is stale: python -m crossmargin.service.reference docs/api.md"
    )
    for path in app_spec()["paths"]:
        assert f" {path}` — " in text
