"""Risk arrays of the engine's own scenario sets: the grid and joint (historical, Monte Carlo) sets.

Both are the one risk-array function (:func:`crossmargin.risk.arrays.unit_pnl`, which holds the
linear / inverse / spot / option semantics) fed with a scenario set's data:

* **grid** (:func:`grid_unit_pnl`): each risk class's spot moves × vol states, tails weighted
  ``edge / |move|``;
* **joint** (:func:`joint_unit_pnl`): every asset's joint spot move and log vol move.

Grid vol shocks (sticky strike — each option keeps its own implied vol):

* vol up: ``σ' = max(σ (1 + vol_up · s), min_vol_up)``; vol down: ``σ' = σ · max(0, 1 − vol_down · s)``
  with ``s = (cutoff / max(DTE, dte_floor))^p``, ``p`` the short-term power below ``cutoff`` days
  and the long-term power beyond (Deribit PM §3.2).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import GridConfig, RiskConfig
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.arrays import LogVolMoves, VolStates, unit_pnl
from crossmargin.risk.volshock import shock_vols, vega_scale
from crossmargin.scenarios.grid import ScenarioSet, build_grid
from crossmargin.scenarios.joint import JointScenarioSet

__all__ = ["grid_unit_pnl", "joint_unit_pnl", "scenario_set_for", "shocked_vols"]


def scenario_set_for(inst: InstrumentTable, config: RiskConfig) -> ScenarioSet:
    """Grids of the risk classes present in ``inst`` (in ``inst.classes`` order), stacked.

    Built once per (classes, grid configurations) and shared (its arrays are read-only): a
    per-call cost the live engine's small re-margins would otherwise pay every time.
    """
    return _stacked_grids(tuple((c, config.risk_classes[c].grid) for c in inst.classes))


@functools.lru_cache(maxsize=256)
def _stacked_grids(grids: tuple[tuple[str, GridConfig], ...]) -> ScenarioSet:
    out = ScenarioSet.stack([c for c, _ in grids], [build_grid(g) for _, g in grids])
    for a in (out.spot_move, out.vol_state, out.weight):
        a.flags.writeable = False
    return out


def shocked_vols(
    sigma: FloatArray, dte: FloatArray, cls: IntArray, grids: Sequence[GridConfig]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vol up and vol down of each option and its DTE scale ``s``.

    Parameters
    ----------
    sigma, dte
        Implied vol and days to expiry per option.
    cls
        Risk-class index of each option into ``grids``.
    grids
        Grid configuration per risk class.
    """

    def par(name: str) -> FloatArray:
        return np.asarray([getattr(g, name) for g in grids], dtype=np.float64)[cls]

    vol_up, vol_dn, min_up = par("vol_up"), par("vol_down"), par("min_vol_up")
    p_short, p_long = par("short_term_vega_power"), par("long_term_vega_power")
    cutoff, floor = par("vega_power_cutoff_days"), par("dte_floor_days")
    scale = vega_scale(
        dte, short_power=p_short, long_power=p_long, cutoff_days=cutoff, floor_days=floor
    )
    up, down = shock_vols(sigma, scale, vol_up=vol_up, vol_down=vol_dn, min_vol_up=min_up)
    return up, down, scale


def grid_unit_pnl(
    inst: InstrumentTable, scen: ScenarioSet, config: RiskConfig, *, only: IntArray | None = None
) -> FloatArray:
    """Grid scenario P&L of one unit of each contract, ``(n_contracts, n_scenarios)``.

    The one risk-array function (:func:`~crossmargin.risk.arrays.unit_pnl`) with the grid's
    data: each risk class's spot moves and tail weights, vol states with DTE-scaled up/down
    vols (module docstring).
    """
    up = np.zeros(inst.n)
    down = np.zeros(inst.n)
    opt = np.flatnonzero((inst.kind == KIND_OPTION) & ~inst.settled)
    if opt.size:
        grids = [config.risk_classes[c].grid for c in inst.classes]
        up[opt], down[opt], _ = shocked_vols(inst.sigma[opt], inst.dte[opt], inst.cls[opt], grids)
    return unit_pnl(
        inst,
        scen.spot_move,
        row=inst.cls,
        vol=VolStates(scen.vol_state, up, down),
        weight=scen.weight,
        only=only,
    )


def joint_unit_pnl(
    inst: InstrumentTable,
    scen: JointScenarioSet,
    config: RiskConfig,
    *,
    only: IntArray | None = None,
) -> FloatArray:
    """Joint-scenario P&L of one unit of each contract, ``(n_contracts, S)``.

    The one risk-array function with a joint set's data: every asset's spot move and its log
    30-day vol move, scaled per option by the risk class's term-structure factor
    ``s_T = (cutoff / max(DTE, floor))^p`` (:func:`shocked_vols`), so a 30-day vol move is
    amplified for short expiries and damped for long ones. With ``only`` (contract indices) just
    those rows are revalued and returned, in that order.

    Raises
    ------
    ModelError
        A live contract's underlying has no moves in ``scen``.
    """
    sel = np.arange(inst.n, dtype=np.int64) if only is None else np.asarray(only, np.int64)
    und_row = np.full(max(len(inst.underlyings), 1), -1, np.int64)
    needed = np.unique(inst.und[sel][~inst.settled[sel]])
    und_row[needed] = scen.asset_rows(tuple(inst.underlyings[int(u)] for u in needed))
    scale = np.zeros(inst.n)
    opt = sel[(inst.kind[sel] == KIND_OPTION) & ~inst.settled[sel]]
    if opt.size:
        grids = [config.risk_classes[c].grid for c in inst.classes]
        _, _, scale[opt] = shocked_vols(inst.sigma[opt], inst.dte[opt], inst.cls[opt], grids)
    return unit_pnl(
        inst,
        scen.spot_move,
        row=und_row[inst.und],
        vol=LogVolMoves(scen.vol_move, scale),
        only=sel,
    )
