"""Joint scenario sets (historical, filtered historical, Monte Carlo) and their risk arrays.

A grid moves each underlying on its own; a *joint* scenario moves every asset at once — the
historical co-movement is where cross-asset netting comes from (CME SPAN 2, Eurex Prisma, OCC
STANS). Scenario ``s`` gives each asset a relative spot move ``m[a, s]`` and a log implied-vol
move ``v[a, s]`` (of 30-day at-the-money vol), and carries a probability weight ``w_s``
(weights sum to 1; they are probabilities, not P&L multipliers as in the grid's tails).

:func:`joint_unit_pnl` is the risk-array kernel for such sets, the twin of
:func:`crossmargin.risk.pnl.unit_pnl`: one full revaluation per unique contract and scenario,
in blocks. For an option of underlying ``a`` (instantaneous, sticky strike, as the grid)::

    F' = F (1 + m),   σ' = σ · exp(v · s_T),   s_T = (cutoff / max(DTE, floor))^p

with ``s_T`` the risk class's Deribit term-structure scale (the grid's vol-shock scaling), so a
30-day vol move is amplified for short expiries and damped for long ones. Delta-one contracts
and the linear/inverse conventions are exactly those of the grid kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import ModelError
from crossmargin.kernels.black76 import black76_price_block
from crossmargin.kernels.blocks import BLOCK, for_blocks
from crossmargin.resolve.instruments import KIND_OPTION, InstrumentTable
from crossmargin.risk.pnl import shocked_vols

__all__ = [
    "SEGMENT_DEPEG",
    "SEGMENT_LOOKBACK",
    "SEGMENT_MC",
    "SEGMENT_NAMES",
    "SEGMENT_STRESS",
    "JointScenarioSet",
    "joint_unit_pnl",
    "live_underlyings",
]

SEGMENT_LOOKBACK = 0
SEGMENT_STRESS = 1
SEGMENT_DEPEG = 2
SEGMENT_MC = 3
SEGMENT_NAMES = ("lookback", "stress", "depeg", "monte_carlo")


@dataclass(frozen=True, slots=True, eq=False)
class JointScenarioSet:
    """Joint moves of several assets.

    Attributes
    ----------
    assets
        Asset symbols; row ``a`` of ``spot_move``/``vol_move``.
    spot_move
        ``(n_assets, S)`` relative spot moves (``-0.1`` = −10 %).
    vol_move
        ``(n_assets, S)`` log moves of implied vol (``ln σ'/σ`` at 30 days).
    weight
        ``(S,)`` scenario probabilities (sum 1).
    labels
        Human label per scenario (window dates, path number, depeg).
    segment
        ``(S,)`` segment code (:data:`SEGMENT_NAMES`).
    info
        Provenance: method, history source and window, counts, notes (for explain).
    """

    assets: tuple[str, ...]
    spot_move: FloatArray
    vol_move: FloatArray
    weight: FloatArray
    labels: tuple[str, ...]
    segment: IntArray
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios."""
        return int(self.weight.shape[0])

    def row(self, asset: str) -> int:
        """Row of ``asset`` (−1 if it does not move in this set)."""
        return self.assets.index(asset) if asset in self.assets else -1

    def asset_rows(self, names: tuple[str, ...], *, what: str = "underlying") -> IntArray:
        """Rows of several assets; every one must be present.

        Raises
        ------
        ModelError
            Naming an asset without scenarios.
        """
        out = np.empty(len(names), np.int64)
        for i, a in enumerate(names):
            r = self.row(a)
            if r < 0:
                raise ModelError(f"the scenario set has no moves for {what} {a}", path="scenarios")
            out[i] = r
        return out


def live_underlyings(inst: InstrumentTable) -> tuple[str, ...]:
    """Underlyings of the contracts that still carry risk (not settled), in table order."""
    used = np.unique(inst.und[~inst.settled])
    return tuple(inst.underlyings[int(u)] for u in used)


def joint_unit_pnl(
    inst: InstrumentTable,
    scen: JointScenarioSet,
    config: RiskConfig,
    *,
    only: IntArray | None = None,
) -> FloatArray:
    """Scenario P&L of one unit of each contract, ``(n_contracts, S)`` (see module docstring).

    With ``only`` (contract indices) just those rows are revalued and returned, in that order.

    Raises
    ------
    ModelError
        A live contract's underlying has no moves in ``scen``.
    """
    S = scen.n_scenarios
    sel = np.arange(inst.n, dtype=np.int64) if only is None else np.asarray(only, np.int64)
    n = sel.size
    out = np.zeros((n, S), dtype=np.float64)
    if n == 0:
        return out
    live = ~inst.settled[sel]
    und_row = np.full(max(len(inst.underlyings), 1), -1, np.int64)
    needed = np.unique(inst.und[sel][live])
    und_row[needed] = scen.asset_rows(tuple(inst.underlyings[int(u)] for u in needed))
    row = und_row[inst.und[sel]]
    inst = _subset(inst, sel) if only is not None else inst
    opt = (inst.kind == KIND_OPTION) & live
    lin = ~(inst.kind == KIND_OPTION) & live
    lin_lin = np.flatnonzero(lin & ~inst.inverse)
    lin_inv = np.flatnonzero(lin & inst.inverse)
    out[lin_lin] = (inst.mult * inst.fwd)[lin_lin, None] * scen.spot_move[row[lin_lin]]
    out[lin_inv] = (inst.mult * inst.spot / inst.fwd)[lin_inv, None] * scen.spot_move[row[lin_inv]]
    rows = np.flatnonzero(opt)
    if rows.size == 0:
        return out
    grids = [config.risk_classes[c].grid for c in inst.classes]
    _, _, scale = shocked_vols(inst.sigma[rows], inst.dte[rows], inst.cls[rows], grids)
    r = row[rows]
    sig, F, K = inst.sigma[rows], inst.fwd[rows], inst.strike[rows]
    T, D, C = inst.t[rows], inst.discount[rows], inst.is_call[rows]
    V0, mult, inverse = inst.value[rows], inst.mult[rows], inst.inverse[rows]
    per_block = max(1, BLOCK // S)

    def run(a: int, b: int) -> None:
        sl = slice(a, b)
        m = scen.spot_move[r[sl]]
        Fs = F[sl, None] * (1.0 + m)
        sg = sig[sl, None] * np.exp(scen.vol_move[r[sl]] * scale[sl, None])
        V = np.empty_like(Fs)
        black76_price_block(Fs, K[sl, None], T[sl, None], sg, D[sl, None], C[sl, None], V)
        base = np.where(inverse[sl, None], V0[sl, None] * (1.0 + m), V0[sl, None])
        out[rows[sl]] = mult[sl, None] * (V - base)

    for_blocks(rows.size, run, block=per_block)
    return out


def _subset(inst: InstrumentTable, sel: IntArray) -> InstrumentTable:
    """The rows ``sel`` of an instrument table (index arrays kept, names sliced)."""
    from dataclasses import fields, replace

    arrays = {
        f.name: getattr(inst, f.name)[sel]
        for f in fields(inst)
        if isinstance(getattr(inst, f.name), np.ndarray)
    }
    return replace(
        inst,
        contracts=tuple(inst.contracts[int(i)] for i in sel),
        names=tuple(inst.names[int(i)] for i in sel),
        **arrays,
    )
