"""Small typed array helpers shared by the kernels and models."""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray, IntArray

__all__ = ["sum_by"]


def sum_by(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """Sum ``weights`` per ``index`` value into an array of length ``n`` (``np.bincount``)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=n), dtype=np.float64)
