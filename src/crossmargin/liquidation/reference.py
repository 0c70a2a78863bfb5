"""Venue liquidation formulas, restated exactly: Drift v2 and dYdX v4 (test oracles).

These are the published rules the general engine is validated against (the worked examples of
``../shared/methodologies/drift-v2.md`` §6 and ``dydx-v4.md`` §3, reproduced in
``tests/liquidation/test_reference.py``). They are written from the specifications in our own
words — no venue code is copied (Drift v2 is Apache-2.0; dYdX v4 is AGPL-3.0, formulas only).

* **Drift v2** ``liquidate_perp`` (``programs/drift/src/math/liquidation.rs``): with the
  maintenance ratio plus buffer ``mr_buf``, liquidator fee ``l`` and insurance-fund fee
  ``f = min(if_fee_max, 0.95 · max(0, mr_buf − l − shortage / (|base| · P)))``, the base amount
  that covers a margin shortage is ``shortage / (P · (mr_buf − l) − P · f)``; the liquidator takes
  it at ``P · (1 ∓ l)`` and the user also pays ``f · base · P`` to the insurance fund.
* **dYdX v4** (``x/clob/keeper/liquidations.go``), exact rationals as on chain:
  bankruptcy quote ``−DNNV − TNC · |DMMR| / TMMR`` (rounded towards +∞),
  fillable price ``(PNNV − ABR · SMMR · PMMR) / PS`` with
  ``ABR = clamp(BA · (1 − TNC / TMMR), 0, 1)``, and the insurance-fund delta
  ``δ = Q − bankruptcy quote`` (fee ``min(|Q| · max_fee, δ)`` when positive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "DriftPerpLiquidation",
    "drift_if_fee",
    "drift_liquidate_perp",
    "dydx_bankruptcy_quote",
    "dydx_fillable_price",
    "dydx_insurance_fund_delta",
]


def drift_if_fee(
    mr_buffer: float,
    liquidator_fee: float,
    shortage: float,
    base: float,
    price: float,
    if_fee_max: float,
) -> float:
    """Drift's insurance-fund liquidation fee rate for a perp liquidation."""
    room = mr_buffer - liquidator_fee - shortage / (abs(base) * price)
    return min(if_fee_max, 0.95 * max(0.0, room))


@dataclass(frozen=True, slots=True)
class DriftPerpLiquidation:
    """Outcome of Drift's ``liquidate_perp`` for one position (quote in USDC)."""

    shortage: float
    if_fee_rate: float
    base_taken: float
    transfer_price: float
    user_base: float
    user_quote: float
    liquidator_quote: float
    if_fee: float
    collateral_after: float
    requirement_after: float


def drift_liquidate_perp(
    *,
    base: float,
    quote: float,
    price: float,
    deposit: float,
    maintenance_ratio: float,
    buffer_ratio: float,
    liquidator_fee: float,
    if_fee_max: float,
) -> DriftPerpLiquidation:
    """Liquidate a single perp position the Drift way (drift-v2.md §6.2, no time ramp).

    ``base`` > 0 is a long. Collateral = deposit + unrealised P&L (``base · price + quote``);
    requirement + buffer = ``|base| · price · (maintenance_ratio + buffer_ratio)``.
    """
    mr_buf = maintenance_ratio + buffer_ratio
    collateral = deposit + base * price + quote
    shortage = max(0.0, abs(base) * price * mr_buf - collateral)
    f = drift_if_fee(mr_buf, liquidator_fee, shortage, base, price, if_fee_max)
    take = min(abs(base), shortage / (price * (mr_buf - liquidator_fee) - price * f))
    sign = math.copysign(1.0, base)
    transfer = price * (1.0 - sign * liquidator_fee)
    fee = f * take * price
    user_base = base - sign * take
    user_quote = quote + sign * take * transfer - fee
    return DriftPerpLiquidation(
        shortage=shortage,
        if_fee_rate=f,
        base_taken=take,
        transfer_price=transfer,
        user_base=user_base,
        user_quote=user_quote,
        liquidator_quote=-sign * take * transfer,
        if_fee=fee,
        collateral_after=deposit + user_base * price + user_quote,
        requirement_after=abs(user_base) * price * mr_buf,
    )


def dydx_bankruptcy_quote(
    tnc: Fraction, tmmr: Fraction, dnnv: Fraction, dmmr: Fraction
) -> Fraction:
    """Quote received (positive when selling) at which a fill leaves zero equity pro rata to MMR.

    ``−DNNV − floor(TNC · |DMMR| / TMMR)`` — the floor of the subtracted term rounds the quote
    towards +∞ (so closing at it never needs the insurance fund).
    """
    term = Fraction(tnc) * abs(Fraction(dmmr)) / Fraction(tmmr)
    return -Fraction(dnnv) - math.floor(term)


def dydx_fillable_price(
    *,
    pnnv: Fraction,
    pmmr: Fraction,
    ps: Fraction,
    tnc: Fraction,
    tmmr: Fraction,
    bankruptcy_adjustment: Fraction,
    spread_to_mmr: Fraction,
) -> Fraction:
    """Worst price a liquidation order accepts: ``(PNNV − ABR · SMMR · PMMR) / PS``."""
    abr = Fraction(bankruptcy_adjustment) * (1 - Fraction(tnc) / Fraction(tmmr))
    abr = min(max(abr, Fraction(0)), Fraction(1))
    return (Fraction(pnnv) - abr * Fraction(spread_to_mmr) * Fraction(pmmr)) / Fraction(ps)


def dydx_insurance_fund_delta(
    quote: Fraction, bankruptcy_quote: Fraction, max_fee_rate: Fraction
) -> Fraction:
    """Insurance-fund delta of a fill: the fee (≥ 0) it receives, or minus what it pays."""
    delta = Fraction(quote) - Fraction(bankruptcy_quote)
    if delta <= 0:
        return delta
    return min(abs(Fraction(quote)) * Fraction(max_fee_rate), delta)
