"""Revaluation helpers shared by the presets: Black-76 over contracts × scenario columns.

Every preset revalues each *unique* contract once per scenario (a risk array, as in SPAN) with
the engine's blocked Black-76 kernel (:func:`crossmargin.kernels.black76.black76_price_block`);
positions and accounts are then aggregated by sparse products. The helpers here only shape
the inputs: shocked forwards and shocked vols as ``(n_contracts, n_columns)`` matrices.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import BoolArray, FloatArray
from crossmargin.kernels.black76 import black76_price_block
from crossmargin.kernels.blocks import BLOCK, for_blocks

__all__ = ["price_matrix", "vega_scale"]


def price_matrix(
    F: FloatArray,
    K: FloatArray,
    T: FloatArray,
    sigma: FloatArray,
    D: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """Black-76 values of ``n`` options under ``S`` columns of shocked inputs.

    Parameters
    ----------
    F, sigma
        ``(n, S)`` shocked forwards and vols.
    K, T, D, is_call
        ``(n,)`` strike, year fraction, discount factor, call flag.

    Returns
    -------
    numpy.ndarray
        ``(n, S)`` prices per unit of underlying.
    """
    n = F.shape[0]
    S = F.shape[1] if F.ndim == 2 else 1
    out = np.empty((n, S), dtype=np.float64)
    if n == 0 or S == 0:
        return out
    per_block = max(1, BLOCK // S)

    def run(a: int, b: int) -> None:
        sl = slice(a, b)
        black76_price_block(
            F[sl], K[sl, None], T[sl, None], sigma[sl], D[sl, None], is_call[sl, None], out[sl]
        )

    for_blocks(n, run, block=per_block)
    return out


def vega_scale(
    dte_days: FloatArray,
    *,
    short_power: float,
    long_power: float,
    cutoff_days: float = 30.0,
    floor_days: float = 1.0,
    short_inclusive: bool = False,
) -> FloatArray:
    """``(cutoff / max(DTE, floor))^p`` with the short-term power below ``cutoff`` days.

    The DTE-scaled vol shock used by Deribit PM, Paradex PM and Derive PMRM_2 (Derive applies
    the short-term power up to and *including* 30 days: ``short_inclusive=True``).
    """
    dte = np.asarray(dte_days, dtype=np.float64)
    short = dte <= cutoff_days if short_inclusive else dte < cutoff_days
    power = np.where(short, short_power, long_power)
    return np.asarray((cutoff_days / np.maximum(dte, floor_days)) ** power, dtype=np.float64)
