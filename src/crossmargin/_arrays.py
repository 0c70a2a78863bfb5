"""Small typed array helpers shared by the kernels and models."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from crossmargin._typing import FloatArray, IntArray

__all__ = ["Rows", "field_names", "sum_by"]


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """Names of a dataclass's constructor fields, in order (looked up once per class)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls) if f.init)
    return names


class Rows:
    """Mixin of a table dataclass whose first field has one entry per row: ``n`` counts them."""

    __slots__ = ()

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(getattr(self, field_names(type(self))[0]))


def sum_by(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """Sum ``weights`` per ``index`` value into an array of length ``n`` (``np.bincount``)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)
