"""Derive's Black-76 and SVI conventions: a documented adapter of the engine's Black-76 kernel.

The engine's revaluation (:func:`crossmargin.risk.arrays.scenario_values`, blocked Black-76)
prices every cell; :func:`derive_black76_block` is the block pricer it is given for Derive, which
applies the few rules by which Derive's ``Black76.sol`` / ``SVI.sol`` (``derive-utils`` @
``8f6962cb``) differ, vectorised (``derive-pmrm2.md`` §2.2, §3):

* total vol ``v = σ√t ≥ 24`` saturates: call = ``F·D``, put = ``K·D``;
* caps ``call ≤ F·D`` and ``put ≤ K·D``; ``K = 0``: call ``F·D``, put 0; ``v = 0``: discounted
  intrinsic value (0 at ``F = K``) — the engine kernel already does the last two;
* puts: the engine kernel prices them with their own formula rather than Derive's put–call
  parity; the two agree to ~1e-16 × F (far inside the venue's 1e-8 comparison tolerance);
* SVI: log-moneyness from the fit's forward ``F_svi`` clamped to ``±4·sqrt(a + b·ς)``, total
  variance capped at 144, negative variance an error, ``σ = sqrt(w / τ_svi)``.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from crossmargin._typing import BoolArray, FloatArray
from crossmargin.errors import MarketDataError
from crossmargin.kernels.black76 import black76_price_block
from crossmargin.risk.arrays import scenario_values

__all__ = [
    "SATURATION_TOTAL_VOL",
    "SVI_MAX_TOTAL_VARIANCE",
    "derive_black76_block",
    "derive_prices",
    "derive_svi_vols",
]

#: Total vol ``σ√t`` at and above which Derive's Black-76 returns the saturated values.
SATURATION_TOTAL_VOL = 24.0
#: Cap on SVI total variance in Derive's ``SVI.sol``.
SVI_MAX_TOTAL_VARIANCE = 144.0


#: Derive's Black-76 of one block: the engine's block kernel with Derive's caps and saturation.
derive_black76_block = partial(black76_price_block, saturation=SATURATION_TOTAL_VOL)


def derive_prices(
    F: FloatArray,
    K: FloatArray,
    t: FloatArray,
    sigma: FloatArray,
    D: FloatArray,
    is_call: BoolArray,
) -> FloatArray:
    """Option values under ``S`` columns of shocked forwards ``F`` and vols ``sigma`` (``(n, S)``).

    ``K, t, D, is_call`` are per option (``(n,)``). Returns ``(n, S)`` values per contract.
    """
    return scenario_values(
        np.ones(F.shape[0]), K, t, D, is_call, factor=F, sigma=sigma, price=derive_black76_block
    )


def derive_svi_vols(
    strike: FloatArray,
    a: FloatArray,
    b: FloatArray,
    rho: FloatArray,
    m: FloatArray,
    sig: FloatArray,
    f_svi: FloatArray,
    tau_svi: FloatArray,
    *,
    path: str = "svi",
) -> FloatArray:
    """Implied vol at each strike from raw SVI as Derive evaluates it (all arrays ``(n,)``).

    Raises
    ------
    MarketDataError
        If ``a + b·ς < 0``, the fit's year fraction is not positive, or the total variance at a
        strike is negative.
    """
    K = np.asarray(strike, dtype=np.float64)
    inner = a + b * sig
    if np.any(inner < 0) or not np.all(np.isfinite(inner)):
        raise MarketDataError("SVI a + b·sigma is negative; the surface is invalid", path=path)
    if np.any(tau_svi <= 0):
        raise MarketDataError("SVI fit year fraction must be positive", path=path)
    B = 4.0 * np.sqrt(inner)
    with np.errstate(divide="ignore"):
        ratio = K / f_svi
        k = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), -B)
    k = np.clip(k, -B, B)
    d = k - m
    w = a + b * (np.sqrt(d * d + sig * sig) + rho * d)
    if np.any(w < 0):
        raise MarketDataError("SVI total variance is negative at a held strike", path=path)
    w = np.minimum(w, SVI_MAX_TOTAL_VARIANCE)
    vol = np.sqrt(w / tau_svi)
    return np.asarray(np.where(K > 0, vol, 0.0), dtype=np.float64)
