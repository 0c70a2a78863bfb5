"""Risk arrays: the scenario P&L of one unit of each contract — written once, used by every model.

``unit_pnl(instruments, move, row=..., vol=..., weight=...)`` returns an ``(n_contracts, S)``
matrix: the P&L, in the snapshot currency and including the multiplier, of holding **one unit**
of each contract when its underlying's spot moves by ``move[row[i], s]`` (relative) and its vol
moves as ``vol`` says, times the scenario weight. A position's scenario P&L is its quantity times
its row; an account's is the sum of its rows (:mod:`crossmargin.risk.aggregate`). Revaluation is
done once per contract, however many accounts hold it — the SPAN "risk array" design. A grid
(:mod:`crossmargin.risk.pnl`), joint historical and Monte Carlo sets, and every venue preset
(Deribit, OKX, Paradex, SPAN; Derive through :func:`scenario_values`) call this one function;
what differs between them is data — moves, vol shocks, weights — and three parameters.

Semantics (instantaneous unless ``time_shift``; sticky strike — each option keeps its own vol):

* spot ``S' = S (1 + m)``; forward ``F' = F (1 + m)`` (forwards move proportionally with spot);
* **linear delta-one** (spot, perpetual, future): ``mult · P · m`` with ``P`` the contract's
  mark (``delta_one="mark"``: the forward, the perp mark or the spot) or the underlying's index
  price (``delta_one="index"``: OKX moves delta-one contracts with the index);
* **inverse delta-one** (USD face, coin settled): ``mult · m · S / F`` (the coin P&L
  ``mult (1/F − 1/F')`` valued at the scenario spot);
* **linear option**: ``mult (V(F', σ', T − Δt) − V)``;
* **inverse option** (premium held in coin, valued at the scenario spot):
  ``mult (V(F', σ', T − Δt) − V (1 + m))``;
* **settled** contracts: 0;
* times ``weight`` (tail dampening of a grid, a venue's scenario weights).

``vol`` is a :class:`VolShock`: vol states with per-option up/down vols (grids, Deribit, OKX),
log moves scaled per option (joint scenarios), or an explicit matrix (Paradex, SPAN).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.kernels.black76 import black76_price_block
from crossmargin.kernels.blocks import BLOCK, for_blocks
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.terms import KIND_OPTION, KIND_SPOT

__all__ = [
    "BlockPricer",
    "LogVolMoves",
    "VolMatrix",
    "VolShock",
    "VolStates",
    "scenario_values",
    "unit_pnl",
]

#: Prices one block of options in place: ``(F, K, T, sigma, D, is_call, out)``, broadcasting.
BlockPricer = Callable[
    [FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray], None
]


class VolShock(Protocol):
    """How implied vols move in each scenario."""

    def shocked(self, rows: IntArray, sigma: FloatArray, srow: IntArray) -> FloatArray:
        """Shocked vols ``(b, S)`` of contracts ``rows`` with vols ``sigma`` and scenario rows ``srow``."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class VolStates:
    """Each scenario says vol *up*, *unchanged* or *down*; each option has its up and down vol."""

    state: IntArray
    """``(R, S)`` +1 up, 0 unchanged, −1 down."""
    up: FloatArray
    """``(n,)`` vol of each contract in an *up* scenario."""
    down: FloatArray
    """``(n,)`` vol of each contract in a *down* scenario."""

    def shocked(self, rows: IntArray, sigma: FloatArray, srow: IntArray) -> FloatArray:
        """See :class:`VolShock`."""
        st = self.state[srow]
        return np.asarray(
            np.where(
                st > 0, self.up[rows, None], np.where(st < 0, self.down[rows, None], sigma[:, None])
            ),
            dtype=np.float64,
        )


@dataclass(frozen=True, slots=True, eq=False)
class LogVolMoves:
    """``σ' = σ · exp(v · s)``: a log move per scenario row, scaled per contract."""

    move: FloatArray
    """``(R, S)`` log vol moves."""
    scale: FloatArray
    """``(n,)`` per-contract scale of the move (a term-structure factor)."""

    def shocked(self, rows: IntArray, sigma: FloatArray, srow: IntArray) -> FloatArray:
        """See :class:`VolShock`."""
        return np.asarray(
            sigma[:, None] * np.exp(self.move[srow] * self.scale[rows, None]), dtype=np.float64
        )


@dataclass(frozen=True, slots=True, eq=False)
class VolMatrix:
    """Explicit shocked vols per contract and scenario."""

    sigma: FloatArray
    """``(n, S)`` shocked vols (rows of non-options are not read)."""

    def shocked(self, rows: IntArray, sigma: FloatArray, srow: IntArray) -> FloatArray:
        """See :class:`VolShock`."""
        return np.asarray(self.sigma[rows], dtype=np.float64)


def scenario_values(
    F: FloatArray,
    K: FloatArray,
    T: FloatArray,
    D: FloatArray,
    is_call: BoolArray,
    *,
    factor: FloatArray,
    sigma: FloatArray,
    fixed: FloatArray | None = None,
    price: BlockPricer = black76_price_block,
) -> FloatArray:
    """Value of one unit of each of ``n`` options in ``S`` scenarios, ``(n, S)``, blocked by rows.

    The forward becomes ``F' = fixed + F · factor`` (``F``: the part of the forward that moves,
    ``fixed``: a part already fixed, e.g. by a settlement average; none by default) and the vol
    ``sigma``; ``K, T, D, is_call`` are per option. ``price`` is the engine's Black-76 block
    kernel or a venue's documented adapter of it (e.g. Derive's caps).
    """
    n = F.shape[0]
    S = factor.shape[1] if factor.ndim == 2 else 1
    out = np.empty((n, S), dtype=np.float64)
    if n == 0 or S == 0:
        return out
    per_block = max(1, BLOCK // S)

    def run(a: int, b: int) -> None:
        sl = slice(a, b)
        Fs = F[sl, None] * factor[sl]
        if fixed is not None:
            Fs = fixed[sl, None] + Fs
        price(Fs, K[sl, None], T[sl, None], sigma[sl], D[sl, None], is_call[sl, None], out[sl])

    for_blocks(n, run, block=per_block)
    return out


def unit_pnl(
    inst: InstrumentTable,
    move: FloatArray,
    *,
    row: IntArray,
    vol: VolShock | None = None,
    weight: FloatArray | None = None,
    time_shift: float = 0.0,
    delta_one: Literal["mark", "index"] = "mark",
    only: IntArray | None = None,
    price: BlockPricer = black76_price_block,
) -> FloatArray:
    """Scenario P&L of one unit of each contract, ``(n, S)`` (module docstring).

    Parameters
    ----------
    inst
        The instrument table (terms and marks).
    move
        ``(R, S)`` relative spot moves of ``R`` scenario rows (a risk class, an asset, a contract).
    row
        ``(n,)`` scenario row of every contract of ``inst``.
    vol
        How vols move; ``None``: unchanged.
    weight
        ``(R, S)`` or ``(S,)`` multiplier of the P&L; ``None``: 1.
    time_shift
        Years that pass before the revaluation (SPAN's look-ahead); 0: instantaneous.
    delta_one
        Price a linear delta-one contract's move applies to: its ``mark`` or the ``index``.
    only
        Contracts to revalue (rows of the result, in this order); default all.
    price
        Block pricer of the options (:func:`scenario_values`).
    """
    S = move.shape[1]
    sel = np.arange(inst.n, dtype=np.int64) if only is None else np.asarray(only, np.int64)
    out = np.zeros((sel.size, S), dtype=np.float64)
    if sel.size == 0:
        return out
    live = ~inst.settled[sel]
    opt = (inst.kind[sel] == KIND_OPTION) & live
    lin = ~(inst.kind[sel] == KIND_OPTION) & live
    inverse = inst.inverse[sel]
    r = row[sel]
    w = None
    if weight is not None:
        w = weight[r] if weight.ndim == 2 else np.broadcast_to(weight, (sel.size, S))

    def weighted(x: FloatArray, at: IntArray) -> FloatArray:
        return x if w is None else np.asarray(x * w[at], dtype=np.float64)

    price_d1 = inst.spot if delta_one == "index" else inst.fwd
    for mask, unit in (
        (lin & ~inverse, inst.mult * np.where(inst.kind == KIND_SPOT, inst.spot, price_d1)),
        (lin & inverse, inst.mult * inst.spot / inst.fwd),
    ):
        at = np.flatnonzero(mask)
        if at.size:
            out[at] = weighted(unit[sel[at], None] * move[r[at]], at)
    at = np.flatnonzero(opt)
    if at.size == 0:
        return out
    rows = sel[at]
    sig = inst.sigma[rows]
    T = np.maximum(inst.t[rows] - time_shift, 0.0) if time_shift else inst.t[rows]
    per_block = max(1, BLOCK // S)

    def run(a: int, b: int) -> None:
        sl = slice(a, b)
        m = move[r[at[sl]]]
        sg = (
            np.broadcast_to(sig[sl, None], m.shape)
            if vol is None
            else vol.shocked(rows[sl], sig[sl], r[at[sl]])
        )
        V = scenario_values(
            inst.fwd[rows[sl]],
            inst.strike[rows[sl]],
            T[sl],
            inst.discount[rows[sl]],
            inst.is_call[rows[sl]],
            factor=1.0 + m,
            sigma=sg,
            price=price,
        )
        V0 = inst.value[rows[sl], None]
        base = np.where(inst.inverse[rows[sl], None], V0 * (1.0 + m), V0)
        out[at[sl]] = weighted(inst.mult[rows[sl], None] * (V - base), at[sl])

    for_blocks(at.size, run, block=per_block)
    return out
