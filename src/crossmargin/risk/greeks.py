"""Account Greeks: the first-order picture a risk desk reads beside the margin number.

Per unit of each contract, in the snapshot currency (USD P&L), from the resolved marks:

* **delta** ``∂P/∂S`` — the resolved delta (Black-76 for options, ``F/S`` for futures, ``1/F``
  per USD of face for inverse delta-one, ``Δ − V/S`` for inverse options held against coin);
* **gamma** ``∂²P/∂S²`` (Black-76, forward ∝ spot; delta-one contracts: 0);
* **vega** per vol point (Black-76; delta-one: 0);
* **theta** per calendar day, the value's change as one day passes at unchanged spot, vol and
  rates (Black-76 theta for options; the carry roll of a linear future's forward,
  ``−b F / 365`` with ``b = ln(F/S)/T``; perpetuals, spot and inverse delta-one: 0).

Times the multiplier and the position quantity, summed per (account, underlying). The
per-underlying table gives delta in underlying units and in cash (``Δ S``), gamma in units and
as *cash gamma* ``Γ S² / 100`` (the change of cash delta for a 1 % move, summable across
underlyings), vega and theta; the account line sums the cash figures. Settled contracts carry
no sensitivity. Formulas: F. Black, "The pricing of commodity contracts", J. Financial
Economics 3, 1976; the unit conventions of :mod:`crossmargin.pricing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_FUTURE, KIND_OPTION

__all__ = ["AccountGreeks", "account_greeks", "unit_greeks"]


def unit_greeks(rb: ResolvedBook, ix: IntArray) -> tuple[FloatArray, ...]:
    """``(delta, gamma, vega, theta)`` per unit of contracts ``ix`` (USD P&L, × multiplier)."""
    inst = rb.instruments
    n = ix.size
    S, F, T = inst.spot[ix], inst.fwd[ix], inst.t[ix]
    delta = inst.delta[ix].copy()
    gamma, vega, theta = np.zeros(n), np.zeros(n), np.zeros(n)
    live = ~inst.settled[ix]
    opt = (inst.kind[ix] == KIND_OPTION) & live
    if opt.any():
        o = ix[opt]
        g = black76_greeks(
            S[opt], F[opt], inst.strike[o], T[opt], inst.sigma[o], inst.discount[o], inst.is_call[o]
        )
        gamma[opt], vega[opt], theta[opt] = g.gamma, g.vega, g.theta
    fut = (inst.kind[ix] == KIND_FUTURE) & live & ~inst.inverse[ix] & (T > 0)
    if fut.any():
        carry = np.log(F[fut] / S[fut]) / T[fut]
        theta[fut] = -carry * F[fut] / 365.0
    mult = inst.mult[ix]
    return delta, gamma * mult, vega * mult, theta * mult


@dataclass(frozen=True, slots=True, eq=False)
class AccountGreeks:
    """Greeks of one account per underlying (snapshot currency), see the module docstring."""

    underlyings: tuple[str, ...]
    spot: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray

    @property
    def delta_cash(self) -> FloatArray:
        """Delta × spot."""
        return self.delta * self.spot

    @property
    def gamma_cash(self) -> FloatArray:
        """Gamma × spot² / 100: the change of cash delta for a 1 % move."""
        return self.gamma * self.spot**2 / 100.0


def account_greeks(rb: ResolvedBook, i: int) -> AccountGreeks:
    """Greeks of account ``i``'s net positions, per underlying (vectorised over positions)."""
    pos, inst = rb.positions, rb.instruments
    sel = np.flatnonzero(pos.account == i)
    ix = pos.instrument[sel]
    q = pos.quantity[sel]
    d, g, v, t = unit_greeks(rb, ix)
    und = inst.und[ix]
    u_ids = np.unique(und)
    k = np.searchsorted(u_ids, und)
    m = u_ids.size

    def agg(x: FloatArray) -> FloatArray:
        return np.bincount(k, weights=q * x, minlength=m).astype(np.float64)

    spot = np.zeros(m)
    spot[k] = inst.spot[ix]
    return AccountGreeks(
        underlyings=tuple(inst.underlyings[int(u)] for u in u_ids),
        spot=spot,
        delta=agg(d),
        gamma=agg(g),
        vega=agg(v),
        theta=agg(t),
    )
