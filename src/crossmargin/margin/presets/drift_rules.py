"""Drift v2 weight and liquidation arithmetic (``drift-v2.md``; ``drift-labs/protocol-v2`` @0ae3e3b1).

* :func:`size_premium_weight` / :func:`size_discount_weight` — the ``√size`` IMF premium on
  liability weights and margin ratios, ``max(w, 0.8·w + f·√S)``, and the discount on asset
  weights, ``min(w, 1.1 / (1 + f·√S))`` — in Drift's integer precisions (weights 1e4, IMF 1e6,
  sizes 1e9, ``√S`` as ``isqrt(size·10 + 1)`` = 1e5) with truncation at every step, vectorised;
* :func:`scaled_initial_asset_weight` — a spot market's initial asset weight scaled down once the
  market's total deposit value passes ``scale_initial_asset_weight_start``
  (``w·start/deposit_value``, ``spot_market.rs``; then the size discount applies on top);
* :func:`liquidate_perp` — ``liquidate_perp`` covering a margin shortage with the 2 % buffer,
  liquidator fee and insurance-fund fee (:func:`if_fee_rate`; ``controller/liquidation.rs``).
  Every quote amount moved is accounted for: user + liquidator + insurance fund sum to zero
  (money is conserved).

This module is the single implementation of these rules: the liquidation engine's test oracle
(:mod:`crossmargin.liquidation.reference`) is a thin adapter over it.

Apache-2.0 source; formulas restated in our own words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray, IntArray

__all__ = [
    "DriftLiquidation",
    "if_fee_rate",
    "isqrt_size",
    "liquidate_perp",
    "scaled_initial_asset_weight",
    "size_discount_weight",
    "size_premium_weight",
]

WEIGHT_PRECISION = 10_000
IMF_PRECISION = 1_000_000
BASE_PRECISION = 1_000_000_000
QUOTE_PRECISION = 1_000_000


def isqrt_size(size: FloatArray) -> FloatArray:
    """``isqrt(size_1e9 · 10 + 1)`` (= ``√S × 1e5``, truncated) for token sizes ``S`` ≥ 0.

    Exact in unsigned 64-bit integers up to ~1.8·10⁹ tokens; beyond, a float square root
    (returned as float64 so that no size overflows an integer type).
    """
    s = np.asarray(size, dtype=np.float64)
    big = s >= 1.8e9
    s1e9 = np.rint(np.where(big, 0.0, s) * BASE_PRECISION).astype(np.uint64)
    x = s1e9 * np.uint64(10) + np.uint64(1)
    r = np.floor(np.sqrt(x.astype(np.float64))).astype(np.uint64)
    # correct the float estimate in exact integer arithmetic
    r = np.where(r * r > x, r - np.uint64(1), r)
    r = np.where((r + np.uint64(1)) * (r + np.uint64(1)) <= x, r + np.uint64(1), r)
    return np.asarray(np.where(big, np.floor(np.sqrt(s * 1e10)), r.astype(np.float64)))


#: Below this, ``isqrt × imf`` is computed exactly in int64; above, in float64 (relative 1e-16).
_EXACT_PRODUCT = 4e18


def _imf_term(size: FloatArray, f: IntArray, divisor: int) -> FloatArray:
    """``floor(isqrt_size(S) · f / divisor)``: exact integers where int64 holds the product."""
    sq = isqrt_size(size)
    prod = sq * f.astype(np.float64)
    exact = prod < _EXACT_PRODUCT
    sq_i = np.where(exact, sq, 0.0).astype(np.int64)
    return np.where(exact, (sq_i * f) // divisor, np.floor(prod / divisor))


def size_premium_weight(size: FloatArray, imf: FloatArray, weight: FloatArray) -> FloatArray:
    """Liability weight or margin ratio with the size premium: ``max(w, 0.8·w + f·√S)``.

    ``size`` in tokens/base units, ``imf`` and ``weight`` as fractions (converted to Drift's
    integer precisions and truncated as the program does; sizes whose product overflows 64-bit
    integers are computed in float64, never wrapped).
    """
    w = np.rint(np.asarray(weight) * WEIGHT_PRECISION).astype(np.int64)
    f = np.rint(np.asarray(imf) * IMF_PRECISION).astype(np.int64)
    prem = (w - w // 5) + _imf_term(size, f, 100_000 * IMF_PRECISION // WEIGHT_PRECISION)
    out = np.where(f == 0, w, np.maximum(w, prem))
    return np.asarray(out / WEIGHT_PRECISION, dtype=np.float64)


def size_discount_weight(size: FloatArray, imf: FloatArray, weight: FloatArray) -> FloatArray:
    """Asset weight with the size discount: ``min(w, 1.1 / (1 + f·√S))`` (integer, truncated)."""
    w = np.rint(np.asarray(weight) * WEIGHT_PRECISION).astype(np.int64)
    f = np.rint(np.asarray(imf) * IMF_PRECISION).astype(np.int64)
    num = (IMF_PRECISION + IMF_PRECISION // 10) * WEIGHT_PRECISION
    disc = np.floor(num / (IMF_PRECISION + _imf_term(size, f, 100_000)))
    out = np.where(f == 0, w, np.minimum(w, disc))
    return np.asarray(out / WEIGHT_PRECISION, dtype=np.float64)


def scaled_initial_asset_weight(weight: float, start: float, deposit_value: float) -> float:
    """Initial asset weight of a spot market scaled by its total deposits (``drift-v2.md`` §3).

    ``w`` while the market's deposit value is below ``start`` (or ``start`` is 0, the feature
    off), else ``w·start/deposit_value`` — in Drift's integers: weight 1e4, quote amounts 1e6,
    truncated (``SpotMarket::get_scaled_initial_asset_weight``).

    Parameters
    ----------
    weight
        The market's ``initial_asset_weight`` (fraction).
    start
        ``scale_initial_asset_weight_start`` (quote amount; 0 = no scaling).
    deposit_value
        The market's total deposits × oracle price (quote amount).
    """
    w = round(weight * WEIGHT_PRECISION)
    s = round(start * QUOTE_PRECISION)
    dv = math.floor(deposit_value * QUOTE_PRECISION)
    if s == 0 or dv < s:
        return w / WEIGHT_PRECISION
    return (w * s // dv) / WEIGHT_PRECISION


def if_fee_rate(
    mr_buffer: float,
    liquidator_fee: float,
    shortage: float,
    liability_value: float,
    if_liquidation_fee: float,
) -> float:
    """Insurance-fund liquidation fee rate of a perp liquidation (``drift-v2.md`` §6.2).

    ``min(if_liquidation_fee, 0.95·max(0, mr_buf − liqFee − shortage / (|base|·P)))``.

    Parameters
    ----------
    mr_buffer
        Maintenance margin ratio plus the liquidation buffer (``mr_buf``).
    liquidator_fee
        Liquidator fee rate (``liqFee``).
    shortage
        Margin shortage (quote units, ≥ 0).
    liability_value
        ``|base| · P`` of the position (quote units, > 0).
    if_liquidation_fee
        The market's insurance-fund liquidation fee (the cap).
    """
    room = mr_buffer - liquidator_fee - shortage / liability_value
    return min(if_liquidation_fee, 0.95 * max(0.0, room))


@dataclass(frozen=True, slots=True)
class DriftLiquidation:
    """Result of one ``liquidate_perp`` (amounts in quote units, sizes in base units)."""

    margin_shortage: float
    if_fee: float
    base_to_cover: float
    base_transferred: float
    transfer_price: float
    user_base: float
    user_quote: float
    liquidator_base: float
    liquidator_quote: float
    insurance_fund_fee: float


def liquidate_perp(
    *,
    user_base: float,
    user_quote: float,
    oracle: float,
    deposits: float,
    maintenance_ratio: float,
    buffer_ratio: float,
    liquidator_fee: float,
    if_liquidation_fee: float,
    liquidator_base: float = 0.0,
    liquidator_quote: float = 0.0,
    max_base: float | None = None,
) -> DriftLiquidation:
    """Transfer enough of a perp position to a liquidator to cover the margin shortage.

    ``shortage = |base|·P·(mr + buffer) − (collateral + buffer·negative collateral)``, where
    collateral is ``deposits + uPnL`` (``uPnL = base·P + quote``) and the negative components
    that carry the buffer (``drift-v2.md`` §6.1) are a negative uPnL and a negative (borrowed)
    quote deposit — Drift adds ``buffer × liability value`` of a borrow to the requirement,
    the same amount;
    ``ifFee = min(if_liquidation_fee, 0.95·max(0, mr_buf − liqFee − shortage/(|base|·P)))``;
    ``base = shortage / (P·(mr_buf − liqFee) − P·ifFee)`` (capped by the position and
    ``max_base``); the liquidator takes it at ``P·(1 ∓ liqFee)`` and the user pays
    ``ifFee·base·P`` to the insurance fund.
    """
    P = oracle
    q = abs(user_base)
    side = 1.0 if user_base > 0 else -1.0
    mr_buf = maintenance_ratio + buffer_ratio
    upnl = user_base * P + user_quote
    collateral = deposits + upnl
    coll_buf = collateral + buffer_ratio * (min(upnl, 0.0) + min(deposits, 0.0))
    req_buf = q * P * mr_buf
    shortage = max(0.0, req_buf - coll_buf)
    if q == 0.0 or shortage == 0.0:
        return DriftLiquidation(
            shortage,
            0.0,
            0.0,
            0.0,
            P,
            user_base,
            user_quote,
            liquidator_base,
            liquidator_quote,
            0.0,
        )
    if_fee = if_fee_rate(mr_buf, liquidator_fee, shortage, q * P, if_liquidation_fee)
    denom = P * (mr_buf - liquidator_fee) - P * if_fee
    cover = shortage / denom if denom > 0 else q
    take = min(q, cover, max_base if max_base is not None else q)
    price = P * (1.0 - side * liquidator_fee)
    fee = take * P * if_fee
    return DriftLiquidation(
        margin_shortage=shortage,
        if_fee=if_fee,
        base_to_cover=cover,
        base_transferred=take,
        transfer_price=price,
        user_base=user_base - side * take,
        user_quote=user_quote + side * take * price - fee,
        liquidator_base=liquidator_base + side * take,
        liquidator_quote=liquidator_quote - side * take * price,
        insurance_fund_fee=fee,
    )
