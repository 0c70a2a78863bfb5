"""Edge validation helpers: finite/positive number types and pydantic error translation.

Numbers at the edge are strict (a JSON string is not a number, ``true`` is not 1) and must be
finite; error messages name the path the way a user writes it: ``positions[3].quantity``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ValidationError, WithJsonSchema

from crossmargin.errors import InputError

__all__ = [
    "Finite",
    "NonNegative",
    "Positive",
    "Unit",
    "format_loc",
    "read_json",
    "translate",
    "validate_document",
]

M = TypeVar("M", bound=BaseModel)


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"must be a number, got {type(v).__name__} {v!r}"[:120])
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"must be finite, got {_show(x)}")
    return x


def _show(x: float) -> str:
    return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _finite(v: Any) -> float:
    return _number(v)


def _positive(v: Any) -> float:
    x = _number(v)
    if x <= 0:
        raise ValueError(f"must be positive, got {x!r}")
    return x


def _non_negative(v: Any) -> float:
    x = _number(v)
    if x < 0:
        raise ValueError(f"must be non-negative, got {x!r}")
    return x


def _unit(v: Any) -> float:
    x = _number(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {x!r}")
    return x


# The JSON Schema states the same constraints the validators enforce (finite is implied by JSON).
Finite = Annotated[float, BeforeValidator(_finite), WithJsonSchema({"type": "number"})]
Positive = Annotated[
    float, BeforeValidator(_positive), WithJsonSchema({"type": "number", "exclusiveMinimum": 0})
]
NonNegative = Annotated[
    float, BeforeValidator(_non_negative), WithJsonSchema({"type": "number", "minimum": 0})
]
Unit = Annotated[
    float, BeforeValidator(_unit), WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})
]


def format_loc(loc: tuple[int | str, ...], root: str = "") -> str:
    """``('positions', 3, 'quantity')`` → ``positions[3].quantity``."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "json-or-python", "union", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
}


def translate(exc: ValidationError, root: str = "") -> InputError:
    """The first pydantic error as an :class:`InputError` with a user-style path."""
    err = exc.errors()[0]
    msg = _MESSAGES.get(err["type"], err["msg"])
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return InputError(msg, path=format_loc(tuple(err["loc"]), root) or root or "input")


def validate_document(model: type[M], obj: Any, *, what: str, path: str) -> M:
    """Validate a parsed JSON document into ``model`` (an object, else an error naming ``path``)."""
    if not isinstance(obj, dict):
        raise InputError(f"a {what} file must be a JSON object", path=path)
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise translate(exc) from None


def read_json(path: str | Path, *, what: str) -> Any:
    """Read a JSON file; a missing file or a syntax error is an :class:`InputError`."""
    import json

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} file not found", path=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file: {exc.strerror}", path=str(p)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=str(p)) from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path=str(p)
        ) from None
    except _DuplicateKeyError as exc:
        # the json module would silently keep the last value (e.g. of a repeated "quantity")
        raise InputError(f"duplicate key {exc.key!r} in a JSON object", path=str(p)) from None


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKeyError(k)
        out[k] = v
    return out
