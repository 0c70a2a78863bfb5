"""Optional numba accelerator for the Black-76 price kernel.

numba is never required: :func:`available` says whether it imported, and the NumPy kernel in
:mod:`crossmargin.kernels.black76` stays the reference. Select it with
``CROSSMARGIN_BACKEND=numba`` (used by :func:`crossmargin.kernels.price_cells`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from crossmargin._typing import BoolArray, FloatArray

__all__ = ["available", "black76_price_numba"]

try:  # pragma: no cover - exercised when numba is installed
    import numba

    _njit: Callable[..., Any] = numba.njit(cache=False, fastmath=False, nogil=True)
    _AVAILABLE = True
except ImportError:  # pragma: no cover - exercised when numba is absent

    def _njit(f: Callable[..., Any]) -> Callable[..., Any]:
        return f

    _AVAILABLE = False


def available() -> bool:
    """Whether numba imported."""
    return _AVAILABLE


@_njit
def _price_loop(F, K, T, sigma, D, is_call, out):  # type: ignore[no-untyped-def]
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for i in range(F.shape[0]):
        v = sigma[i] * math.sqrt(max(T[i], 0.0))
        s = 1.0 if is_call[i] else -1.0
        if v <= 1e-12:
            out[i] = D[i] * max(s * (F[i] - K[i]), 0.0)
            continue
        d1 = (math.log(F[i] / K[i]) + 0.5 * v * v) / v
        d2 = d1 - v
        n1 = 0.5 * math.erfc(-s * d1 * inv_sqrt2)
        n2 = 0.5 * math.erfc(-s * d2 * inv_sqrt2)
        out[i] = D[i] * max(s * (F[i] * n1 - K[i] * n2), 0.0)


def black76_price_numba(
    F: FloatArray,
    K: FloatArray,
    T: FloatArray,
    sigma: FloatArray,
    D: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """Black-76 price of 1-D arrays with a compiled loop (pure Python if numba is absent)."""
    out = np.empty(F.shape[0], dtype=np.float64)
    _price_loop(F, K, T, sigma, D, is_call, out)
    return out
