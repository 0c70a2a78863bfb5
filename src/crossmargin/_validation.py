"""Edge validation helpers: finite/positive number types and pydantic error translation.

Numbers at the edge are strict (a JSON string is not a number, ``true`` is not 1) and must be
finite; error messages name the path the way a user writes it: ``positions[3].quantity``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ValidationError, WithJsonSchema

from crossmargin._checks import number_value
from crossmargin.errors import InputError
from crossmargin.limits import load_json_bounded
from crossmargin.ranges import MAX_RATE, MAX_VOL

T = TypeVar("T")

__all__ = [
    "Finite",
    "NonNegative",
    "Positive",
    "Rate",
    "Unit",
    "Vol",
    "domain",
    "format_loc",
    "read_json",
    "translate",
    "validate_document",
]

M = TypeVar("M", bound=BaseModel)


def _number(v: Any) -> float:
    return number_value(v)


def _finite(v: Any) -> float:
    return number_value(v)


def _positive(v: Any) -> float:
    return number_value(v, positive=True)


def _non_negative(v: Any) -> float:
    return number_value(v, non_negative=True)


def _unit(v: Any) -> float:
    x = number_value(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {x!r}")
    return x


def _rate(v: Any) -> float:
    x = number_value(v)
    if abs(x) > MAX_RATE:
        raise ValueError(
            f"must be between {-MAX_RATE:g} and {MAX_RATE:g} (a continuously compounded rate per "
            f"year; {MAX_RATE:g} = {MAX_RATE:.0%}), got {x!r}"
        )
    return x


def _vol(v: Any) -> float:
    x = number_value(v, positive=True)
    if x > MAX_VOL:
        raise ValueError(
            f"must be at most {MAX_VOL:g} ({MAX_VOL:.0%} a year; a vol is a fraction, 0.55 = 55%), "
            f"got {x!r}"
        )
    return x


def domain(build: Callable[[], T]) -> T:
    """Run a domain constructor inside a pydantic validator.

    Its :class:`InputError` becomes the ``ValueError`` pydantic reports at the field's path (one
    rule, kept in the domain constructor).
    """
    try:
        return build()
    except InputError as exc:
        field = exc.path.partition(".")[2]
        raise ValueError(f"{field} {exc.reason}" if field else exc.reason) from None


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
Rate = Annotated[
    float,
    BeforeValidator(_rate),
    WithJsonSchema({"type": "number", "minimum": -MAX_RATE, "maximum": MAX_RATE}),
]
Vol = Annotated[
    float,
    BeforeValidator(_vol),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_VOL}),
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
    """Read a JSON file under the input limits (:func:`crossmargin.limits.load_json_bounded`).

    A missing file, a syntax error, a duplicate key or a limit exceeded is an
    :class:`InputError` naming the file.
    """
    return load_json_bounded(path, what=what)
