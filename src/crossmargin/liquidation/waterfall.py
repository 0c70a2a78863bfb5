"""The loss waterfall's building blocks: insurance fund, auto-deleveraging, socialised loss.

Order (every step recorded in the :class:`~crossmargin.liquidation.ledger.Ledger`):

1. **Insurance fund** pays bankrupt deficits in account order until it is empty
   (Drift ``resolve_perp_bankruptcy`` step 1; Binance/dYdX insurance funds).
2. **Last resort**, for what the fund cannot pay (``liquidation.last_resort``):

   * ``adl`` — auto-deleveraging (dYdX v4 ``deleveraging.go``, Binance ADL): the part of a
     bankrupt account's positions the fund cannot afford to close in the market is taken over by
     accounts holding the **opposite** side of the same contract, ranked by
     ``profit% × leverage`` (Binance's ADL ranking; ``profit% / leverage`` for losing
     positions), at the bankrupt account's **bankruptcy price** — the price at which the
     transfer leaves it at exactly zero equity, the deficit spread over its positions pro rata
     to gross notional (dYdX §3.3 spreads it pro rata to MMR; the two agree for one position).
     ADL'd accounts close at that price with no fee and no market impact.
   * ``socialize_profitable`` — a pro-rata haircut on unrealised profit (Drift socialises a
     perp loss over the open interest through cumulative funding);
   * ``socialize_all`` — a pro-rata haircut on every depositor's collateral (Drift spot /
     Mango: depositors' balances shrink through the cumulative deposit interest);
   * ``none`` — the deficit stays as uncovered bad debt.

   A haircut never exceeds the weight it is charged on; what no step can cover is reported as
   uncovered bad debt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray

__all__ = ["AdlMatch", "adl_match", "adl_score", "allocate_fund", "socialize"]


def allocate_fund(deficit: FloatArray, balance: float) -> FloatArray:
    """Fund payment per deficit, paid in order until ``balance`` runs out (vectorised)."""
    d = np.maximum(np.asarray(deficit, dtype=np.float64), 0.0)
    before = np.cumsum(d) - d
    return np.asarray(np.clip(balance - before, 0.0, d), dtype=np.float64)


def socialize(amount: float, weights: FloatArray) -> FloatArray:
    """Pro-rata charge of ``amount`` on ``weights`` (≥ 0), each charge capped at its weight."""
    w = np.maximum(np.asarray(weights, dtype=np.float64), 0.0)
    total = float(w.sum())
    if amount <= 0 or total <= 0:
        return np.zeros_like(w)
    return np.asarray(np.minimum(w, w * (amount / total)), dtype=np.float64)


def adl_score(pnl: FloatArray, notional: FloatArray, leverage: FloatArray) -> FloatArray:
    """Binance ADL ranking: ``pnl% × leverage`` if profitable, else ``pnl% / leverage``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(notional > 0, pnl / notional, 0.0)
        lev = np.maximum(leverage, 1e-12)
    return np.asarray(np.where(pct > 0, pct * lev, pct / lev), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class AdlMatch:
    """Result of matching ADL demand against counterparties.

    Attributes
    ----------
    fill_ratio
        Per demand row: the share of its quantity that found counterparties.
    fill
        Per candidate: quantity (absolute) taken over.
    pay
        Per candidate: value it transfers to the bankrupt accounts (negative: it receives);
        ``fill × pooled transfer per unit`` of its (contract, side).
    """

    fill_ratio: FloatArray
    fill: FloatArray
    pay: FloatArray


def adl_match(
    d_instrument: IntArray,
    d_quantity: FloatArray,
    d_transfer: FloatArray,
    c_instrument: IntArray,
    c_quantity: FloatArray,
    c_score: FloatArray,
    n_instruments: int,
    c_cap: FloatArray | None = None,
) -> AdlMatch:
    """Match bankrupt positions (``d_*``) with opposite-side holders (``c_*``), best rank first.

    Parameters
    ----------
    d_instrument, d_quantity, d_transfer
        Per demand row: contract, signed quantity of the bankrupt position to transfer and the
        value the transfer moves to the bankrupt account when fully filled.
    c_instrument, c_quantity, c_score
        Per eligible candidate position: contract, signed quantity and ADL rank score.
    n_instruments
        Number of contracts (for keys).
    c_cap
        Per candidate: the most it can pay (its maintenance equity); a candidate takes over no
        more than that buys at the pooled transfer per unit, so ADL never makes it bankrupt.

    Returns
    -------
    AdlMatch
        Fill ratio per demand row, fill and payment per candidate. Only candidates of the
        opposite sign in the same contract are ever filled; payments are pro rata to fills and
        sum to the executed transfer of their (contract, side).
    """
    n_keys = 2 * max(n_instruments, 1)
    d_key = 2 * d_instrument + (d_quantity > 0)
    c_key = 2 * c_instrument + (c_quantity < 0)  # a short candidate absorbs a bankrupt long
    demand = sum_by(d_key, np.abs(d_quantity), n_keys)
    full_transfer = sum_by(d_key, d_transfer, n_keys)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(demand > 0, full_transfer / demand, 0.0)  # value per unit taken over
    size = np.abs(c_quantity)
    if c_cap is not None:
        r = rate[c_key]
        with np.errstate(divide="ignore", invalid="ignore"):
            afford = np.where(r > 0, np.maximum(c_cap, 0.0) / np.where(r > 0, r, 1.0), np.inf)
        size = np.minimum(size, afford)
    cap = sum_by(c_key, size, n_keys)
    filled = np.minimum(demand, cap)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_k = np.where(demand > 0, filled / demand, 0.0)
    order = np.lexsort((-c_score, c_key))
    ck = c_key[order]
    aq = size[order]
    cum = np.cumsum(aq)
    first_of_key = np.concatenate([[0.0], cum])[np.searchsorted(ck, ck, side="left")]
    cum_in = cum - first_of_key
    fill_sorted = np.clip(filled[ck] - (cum_in - aq), 0.0, aq)
    fill = np.zeros_like(aq)
    fill[order] = fill_sorted
    ratio = ratio_k[d_key]
    return AdlMatch(fill_ratio=ratio, fill=fill, pay=fill * rate[c_key])
