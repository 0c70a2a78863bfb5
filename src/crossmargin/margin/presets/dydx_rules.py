"""dYdX v4 margin and liquidation arithmetic, in the chain's integer units (``dydx-v4.md``).

Quote amounts are *quote quantums* (10⁻⁶ USDC) and rates *ppm*, exactly as the chain computes
them (``protocol/x/perpetuals``, ``protocol/x/clob/keeper/liquidations.go``); every function
here is a pure function of integers (Python ``int``, arbitrary precision) or of
:class:`fractions.Fraction`, so the published examples reproduce digit for digit:

* :func:`adjusted_imf_ppm` — open-interest-scaled initial margin fraction (floor, ppm);
* :func:`margin_quantums` — ``IMR = ceil(|n|·IMF)``, ``MMR = ceil(ceil(|n|·IMF_base)·mf)``;
* :func:`bankruptcy_quote` — quote amount at which closing leaves zero equity pro rata;
* :func:`fillable_price` — the worst price a liquidation order accepts;
* :func:`insurance_fund_delta` and :func:`liquidation_transfers` — fee to / payout from the
  insurance fund and the resulting transfers (money is conserved to the quantum);
* :func:`liquidatable_size` — how much of a position one block may liquidate.

Vectorised versions used by the ``dydx-v4`` margin model are in :mod:`.dydx`. This module is the
single implementation of these rules: the liquidation engine's test oracle
(:mod:`crossmargin.liquidation.reference`) adapts it to amounts in USDC.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "QUANTUMS_PER_USDC",
    "LiquidationTransfers",
    "adjusted_imf_ppm",
    "bankruptcy_quote",
    "ceil_div",
    "fillable_price",
    "insurance_fund_delta",
    "liquidatable_size",
    "liquidation_transfers",
    "margin_quantums",
]

QUANTUMS_PER_USDC = 1_000_000
PPM = 1_000_000


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers (``b > 0``)."""
    return -((-a) // b)


def adjusted_imf_ppm(base_ppm: int, lower_cap: int, upper_cap: int, open_interest: int) -> int:
    """Initial margin fraction scaled by market open interest (``GetAdjustedInitialMarginPpm``).

    ``lower_cap``, ``upper_cap`` and ``open_interest`` (open notional) in quote quantums.
    """
    if upper_cap == 0 or open_interest <= lower_cap:
        return base_ppm
    if open_interest >= upper_cap:
        return PPM
    return base_ppm + ((PPM - base_ppm) * (open_interest - lower_cap)) // (upper_cap - lower_cap)


def margin_quantums(notional: int, imf_ppm: int, base_imf_ppm: int, mf_ppm: int) -> tuple[int, int]:
    """``(IMR, MMR)`` of one position of absolute notional ``notional`` (quote quantums)."""
    n = abs(notional)
    imr = ceil_div(n * imf_ppm, PPM)
    mmr = ceil_div(ceil_div(n * base_imf_ppm, PPM) * mf_ppm, PPM)
    return imr, mmr


def bankruptcy_quote(delta_nnv: int, delta_mmr: int, tnc: int, tmmr: int) -> int:
    """Quote quantums received (sell, > 0) or paid (buy, < 0) at the bankruptcy price.

    ``−DNNV − floor(TNC·|DMMR| / TMMR)``: closing at this amount leaves the account at zero
    equity pro rata to the maintenance margin freed (rounds toward +∞, so the insurance fund is
    never needed at the rounded price).
    """
    if tmmr <= 0:
        raise ValueError("total maintenance margin must be positive")
    return -delta_nnv - (tnc * abs(delta_mmr)) // tmmr


def fillable_price(
    pnnv: Fraction,
    pmmr: Fraction,
    size: Fraction,
    tnc: Fraction,
    tmmr: Fraction,
    bankruptcy_adjustment: Fraction,
    spread_to_mmr: Fraction,
) -> Fraction:
    """Worst price a liquidation order accepts, exact (``(PNNV − ABR·SMMR·PMMR) / PS``).

    ``ABR = clamp(BA·(1 − TNC/TMMR), 0, 1)``; ``pnnv`` and ``size`` are signed.
    """
    abr = bankruptcy_adjustment * (1 - tnc / tmmr)
    abr = min(max(abr, Fraction(0)), Fraction(1))
    return (pnnv - abr * spread_to_mmr * pmmr) / size


def insurance_fund_delta(quote: int, bankruptcy: int, max_fee_ppm: int) -> tuple[int, int]:
    """``(fee to the insurance fund ≥ 0, payout from it ≥ 0)`` of a liquidation fill.

    ``δ = Q − bankruptcy quote``; ``δ ≤ 0``: the fund pays ``|δ|``; otherwise the fee is
    ``min(|Q|·max_fee, δ)``, rounded down to the quantum.
    """
    delta = quote - bankruptcy
    if delta <= 0:
        return 0, -delta
    return min(abs(quote) * max_fee_ppm // PPM, delta), 0


@dataclass(frozen=True, slots=True)
class LiquidationTransfers:
    """Quote-quantum and base changes of one liquidation fill (each row sums to zero)."""

    account_quote: int
    counterparty_quote: int
    insurance_fund: int
    account_base: Fraction
    counterparty_base: Fraction


def liquidation_transfers(
    size: Fraction, price: Fraction, bankruptcy: int, max_fee_ppm: int
) -> LiquidationTransfers:
    """Transfers of a liquidation fill closing ``size`` (signed, opposite to the position).

    The liquidated account sells ``−size`` (or buys) at ``price`` against a counterparty; it pays
    the liquidation fee to the insurance fund or receives the fund's payout.
    """
    quote = int(-size * price * QUANTUMS_PER_USDC)  # > 0 when the account sells
    fee, payout = insurance_fund_delta(quote, bankruptcy, max_fee_ppm)
    return LiquidationTransfers(
        account_quote=quote - fee + payout,
        counterparty_quote=-quote,
        insurance_fund=fee - payout,
        account_base=size,
        counterparty_base=-size,
    )


def liquidatable_size(
    position: Fraction,
    price: Fraction,
    step: Fraction,
    *,
    min_position_notional: Fraction,
    max_position_portion_ppm: int,
    subaccount_notional_left: Fraction,
) -> Fraction:
    """Base amount (≥ 0) of ``position`` one block may liquidate (``GetLiquidatablePositionSizeDelta``)."""
    q = abs(position)
    notional = q * price
    min_notional = min(min_position_notional, notional)
    max_pos = max(min_notional, notional * max_position_portion_ppm / PPM)
    cap = min(max_pos, subaccount_notional_left)
    if notional <= cap or q <= step:
        return q
    base = cap / price
    base = (base // step) * step
    return min(max(base, step), q)
