"""Venue liquidation formulas as test oracles: Drift v2 and dYdX v4, in USDC.

These are the published rules the general engine is validated against (the worked examples of
``docs/methodologies/drift-v2.md`` §6 and ``dydx-v4.md`` §3, reproduced in
``tests/liquidation/test_reference.py``). The rules themselves have a single implementation, in
the venue presets (:mod:`crossmargin.margin.presets.drift_rules` and
:mod:`crossmargin.margin.presets.dydx_rules`, which carry the venues' precisions); this module
only adapts their units and result shapes to the engine's tests:

* **Drift v2** ``liquidate_perp`` (:func:`.drift_rules.liquidate_perp`): with the maintenance
  ratio plus buffer ``mr_buf``, liquidator fee ``l`` and insurance-fund fee
  ``f = min(if_fee_max, 0.95 · max(0, mr_buf − l − shortage / (|base| · P)))``, the base amount
  that covers a margin shortage is ``shortage / (P · (mr_buf − l) − P · f)``; the liquidator takes
  it at ``P · (1 ∓ l)`` and the user also pays ``f · base · P`` to the insurance fund. The
  shortage carries the buffer on negative collateral (a negative uPnL or deposit), §6.1.
* **dYdX v4** (:mod:`.dydx_rules`, ``x/clob/keeper/liquidations.go``): amounts here are exact
  rationals in USDC, converted to the chain's quote quantums (10⁻⁶ USDC) and ppm rates, so the
  chain's roundings apply at the quantum: bankruptcy quote ``−DNNV − floor(TNC · |DMMR| / TMMR)``,
  fillable price ``(PNNV − ABR · SMMR · PMMR) / PS`` with ``ABR = clamp(BA · (1 − TNC / TMMR),
  0, 1)``, and the insurance-fund delta ``δ = Q − bankruptcy quote`` (fee
  ``min(|Q| · max_fee, δ)``, floored to the quantum, when positive).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from crossmargin.margin.presets import drift_rules, dydx_rules

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
    """Drift's insurance-fund liquidation fee rate (:func:`.drift_rules.if_fee_rate`)."""
    return drift_rules.if_fee_rate(
        mr_buffer, liquidator_fee, shortage, abs(base) * price, if_fee_max
    )


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

    ``base`` > 0 is a long; the liquidator starts flat. ``collateral_after`` is the user's total
    collateral after the fill (``deposit + base · price + quote``), ``requirement_after`` its
    requirement plus buffer (``|base| · price · (maintenance_ratio + buffer_ratio)``), as in the
    spec's worked example (§6.3, step 6).
    """
    r = drift_rules.liquidate_perp(
        user_base=base,
        user_quote=quote,
        oracle=price,
        deposits=deposit,
        maintenance_ratio=maintenance_ratio,
        buffer_ratio=buffer_ratio,
        liquidator_fee=liquidator_fee,
        if_liquidation_fee=if_fee_max,
    )
    return DriftPerpLiquidation(
        shortage=r.margin_shortage,
        if_fee_rate=r.if_fee,
        base_taken=r.base_transferred,
        transfer_price=r.transfer_price,
        user_base=r.user_base,
        user_quote=r.user_quote,
        liquidator_quote=r.liquidator_quote,
        if_fee=r.insurance_fund_fee,
        collateral_after=deposit + r.user_base * price + r.user_quote,
        requirement_after=abs(r.user_base) * price * (maintenance_ratio + buffer_ratio),
    )


def _quantums(usdc: Fraction, name: str) -> int:
    """``usdc`` in quote quantums; the chain holds whole quantums only."""
    q = Fraction(usdc) * dydx_rules.QUANTUMS_PER_USDC
    if q.denominator != 1:
        raise ValueError(f"{name} = {usdc} USDC is not a whole number of quote quantums (1e-6)")
    return q.numerator


def _usdc(quantums: int) -> Fraction:
    return Fraction(quantums, dydx_rules.QUANTUMS_PER_USDC)


def dydx_bankruptcy_quote(
    tnc: Fraction, tmmr: Fraction, dnnv: Fraction, dmmr: Fraction
) -> Fraction:
    """Quote (USDC, positive when selling) at which a fill leaves zero equity pro rata to MMR.

    ``−DNNV − floor(TNC · |DMMR| / TMMR)`` in quote quantums (:func:`.dydx_rules.bankruptcy_quote`):
    the floor of the subtracted term rounds the quote towards +∞, so closing at it never needs
    the insurance fund.

    Raises
    ------
    ValueError
        An amount is not a whole number of quote quantums, or ``tmmr`` ≤ 0.
    """
    return _usdc(
        dydx_rules.bankruptcy_quote(
            _quantums(dnnv, "dnnv"),
            _quantums(dmmr, "dmmr"),
            _quantums(tnc, "tnc"),
            _quantums(tmmr, "tmmr"),
        )
    )


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
    """Worst price a liquidation order accepts: ``(PNNV − ABR · SMMR · PMMR) / PS`` (exact)."""
    return dydx_rules.fillable_price(
        Fraction(pnnv),
        Fraction(pmmr),
        Fraction(ps),
        Fraction(tnc),
        Fraction(tmmr),
        Fraction(bankruptcy_adjustment),
        Fraction(spread_to_mmr),
    )


def dydx_insurance_fund_delta(
    quote: Fraction, bankruptcy_quote: Fraction, max_fee_rate: Fraction
) -> Fraction:
    """Insurance-fund delta of a fill (USDC): the fee (≥ 0) it receives, or minus what it pays.

    :func:`.dydx_rules.insurance_fund_delta` in quote quantums; ``max_fee_rate`` is a fraction
    (the chain's ``max_liquidation_fee_ppm`` / 10⁶).

    Raises
    ------
    ValueError
        An amount is not a whole number of quote quantums, or the rate not a whole ppm.
    """
    ppm = Fraction(max_fee_rate) * dydx_rules.PPM
    if ppm.denominator != 1:
        raise ValueError(f"max_fee_rate = {max_fee_rate} is not a whole number of ppm")
    fee, payout = dydx_rules.insurance_fund_delta(
        _quantums(quote, "quote"), _quantums(bankruptcy_quote, "bankruptcy_quote"), ppm.numerator
    )
    return _usdc(fee - payout)
