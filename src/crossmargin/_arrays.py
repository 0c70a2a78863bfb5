"""Small typed array helpers shared by the kernels and models."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from crossmargin._typing import FloatArray, IntArray

__all__ = ["Rows", "sum_by"]


class Rows:
    """Mixin of a table dataclass whose first field has one entry per row: ``n`` counts them."""

    __slots__ = ()

    @property
    def n(self) -> int:
        """Number of rows."""
        table: Any = self
        return len(getattr(table, fields(table)[0].name))


def sum_by(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """Sum ``weights`` per ``index`` value into an array of length ``n`` (``np.bincount``)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)
