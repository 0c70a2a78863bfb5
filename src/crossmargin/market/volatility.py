"""One volatility policy: the daily volatility of an asset, from the best source the data offers.

Every consumer of a "how volatile is this asset" number — the liquidity and concentration
add-ons, dynamic collateral haircuts, close-out prices of the liquidation engine and the price
impact of a cascade — asks :func:`daily_vol`, which tries, in this one order:

1. **implied** — the snapshot's at-the-money implied vol of the asset (``assets.<sym>.vol``),
   else the implied vol the caller read from the options it holds on it (``implied``: the mean
   of their marked vols);
2. **EWMA** — the RiskMetrics exponentially weighted volatility of the asset's own price history
   carried by the snapshot (``MarketSnapshot.history``), up to ``as_of``
   (:func:`ewma_daily_vol`; J.P. Morgan/Reuters, RiskMetrics Technical Document, 1996);
3. **configured** — a volatility the risk configuration states for the asset (``configured``,
   e.g. ``dynamic_haircuts.vols``).

Annual vols become daily ones over a 365-day year (:func:`annual_to_daily`, the crypto and
calendar-day convention). None of the three is an error naming the field (or ``None`` where the
caller can do without, e.g. a stablecoin sold at its half-spread only). The backtest's
point-in-time pricing vols (:mod:`crossmargin.backtest.vol`) are a different quantity — a vol
*series* over a calendar chosen per book — and share the EWMA recursion (:func:`ewma_filter`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.errors import MarketDataError
from crossmargin.market.history import PriceHistory, as_datetime64
from crossmargin.market.returns import ewma_variance, joint_returns
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["annual_to_daily", "daily_vol", "daily_vols", "ewma_daily_vol"]

#: Returns spanning more calendar days than this are data holes, not observations.
MAX_GAP_DAYS = 5.0


def annual_to_daily(annual_vol: FloatArray | float) -> FloatArray:
    """Daily volatility from an annualised one (365-day year, crypto and calendar-day convention)."""
    return np.asarray(np.asarray(annual_vol, dtype=np.float64) / np.sqrt(365.0), dtype=np.float64)


def ewma_daily_vol(
    history: PriceHistory, symbol: str, *, until: np.datetime64, lam: float
) -> float:
    """EWMA volatility per day of ``symbol``'s returns up to ``until`` (module docstring, step 2)."""
    jr = joint_returns(history, (symbol,), until=until, max_gap_days=MAX_GAP_DAYS, needed_by=symbol)
    x = np.where(jr.valid[:, None], jr.x, np.nan)
    _, var_now = ewma_variance(x, lam)
    return float(np.sqrt(var_now[0] / max(jr.spacing_days, 1e-9)))


def daily_vol(
    symbol: str,
    snapshot: MarketSnapshot,
    *,
    ewma_lambda: float,
    implied: float | None = None,
    configured: float | None = None,
    needed_by: str,
    required: bool = True,
) -> float | None:
    """Daily volatility of ``symbol`` by the policy of the module docstring.

    Parameters
    ----------
    symbol
        The asset.
    snapshot
        Market data (its asset vol, its price history, its ``as_of``).
    ewma_lambda
        Decay of the EWMA step.
    implied
        The annual implied vol of the options held on ``symbol`` (step 1, after the asset vol).
    configured
        An annual vol stated in the configuration (step 3).
    needed_by
        Who asks (error messages).
    required
        Raise when no source has a volatility (else return ``None``).

    Raises
    ------
    MarketDataError
        ``required`` and none of the sources has a volatility for ``symbol``.
    """
    a = snapshot.assets.get(symbol)
    if a is not None and a.vol is not None:
        return float(annual_to_daily(a.vol))
    if implied is not None:
        return float(annual_to_daily(implied))
    hist = snapshot.history
    if hist is not None and hist.has(symbol):
        return ewma_daily_vol(hist, symbol, until=as_datetime64(snapshot.as_of), lam=ewma_lambda)
    if configured is not None:
        return float(annual_to_daily(configured))
    if not required:
        return None
    raise MarketDataError(
        f"{needed_by} needs a volatility for {symbol}: give assets.{symbol}.vol in the snapshot "
        f"or a price history with a {symbol} column",
        path=f"assets.{symbol}.vol",
    )


def daily_vols(
    symbols: Sequence[str],
    snapshot: MarketSnapshot,
    *,
    ewma_lambda: float,
    implied: Mapping[str, float] | None = None,
    needed_by: str,
    required: bool = True,
) -> FloatArray:
    """:func:`daily_vol` of several symbols (NaN where none and not ``required``)."""
    imp = implied or {}
    out = np.full(len(symbols), np.nan)
    for j, sym in enumerate(symbols):
        v = daily_vol(
            sym,
            snapshot,
            ewma_lambda=ewma_lambda,
            implied=imp.get(sym),
            needed_by=needed_by,
            required=required,
        )
        if v is not None:
            out[j] = v
    return out
