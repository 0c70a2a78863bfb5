"""DTE-scaled implied-vol shocks shared by the grid model and the venue presets.

Deribit PM (deribit-pm.md §3.2), Paradex PM and Derive PMRM_2 scale their vol shocks by
``s = (cutoff / max(DTE, floor))^p`` with a short-term power below ``cutoff`` days and a
long-term power beyond; the shocked vols are
``σ_up = max(σ (1 + vol_up · s), min_vol_up)`` and ``σ_down = σ · max(0, 1 − vol_down · s)``.
Parameters may be scalars or per-option arrays.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray

__all__ = ["shock_vols", "vega_scale"]


def vega_scale(
    dte_days: FloatArray,
    *,
    short_power: FloatArray | float,
    long_power: FloatArray | float,
    cutoff_days: FloatArray | float = 30.0,
    floor_days: FloatArray | float = 1.0,
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


def shock_vols(
    sigma: FloatArray,
    scale: FloatArray,
    *,
    vol_up: FloatArray | float,
    vol_down: FloatArray | float,
    min_vol_up: FloatArray | float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Vol up and vol down of each option given its DTE scale (module docstring)."""
    up = np.maximum(sigma * (1.0 + np.asarray(vol_up) * scale), min_vol_up)
    down = sigma * np.maximum(0.0, 1.0 - np.asarray(vol_down) * scale)
    return np.asarray(up, dtype=np.float64), np.asarray(down, dtype=np.float64)
