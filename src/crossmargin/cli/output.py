"""Output helpers: JSON (strict, NaN → null) and number formatting (files: :mod:`.files`)."""

from __future__ import annotations

import json
from typing import Any

from crossmargin._format import fmt_money, fmt_num, fmt_pct, json_number

__all__ = ["dumps", "dumps_line", "fmt_money", "fmt_num", "fmt_pct"]


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return json_number(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (no NaN/Infinity tokens), indented."""
    return json.dumps(_clean(obj), indent=2, allow_nan=False)


def dumps_line(obj: Any) -> str:
    """Strict JSON (no NaN/Infinity tokens) on one line: a JSON Lines record."""
    return json.dumps(_clean(obj), allow_nan=False, separators=(", ", ": "))
