"""Scenario P&L per unit of each contract: the risk arrays.

``unit_pnl(instruments, scenarios)`` returns an ``(n_contracts, n_scenarios)`` matrix: the P&L, in
the snapshot currency and including the multiplier, of holding **one unit** of each contract when
its underlying moves by the scenario's spot move and its vol by the scenario's vol state, times
the scenario weight (tail dampening). A position's scenario P&L is its quantity times its row;
an account's is the sum of its rows (:mod:`crossmargin.risk.aggregate`). Revaluation is done once
per contract, however many accounts hold it — the SPAN "risk array" design.

Revaluation (instantaneous, no time decay; sticky strike — each option keeps its own implied vol):

* forward under spot move ``m``: ``F' = F (1 + m)`` (forwards move proportionally with spot);
* vol up: ``σ' = max(σ (1 + vol_up · s), min_vol_up)``; vol down: ``σ' = σ · max(0, 1 − vol_down · s)``
  with ``s = (cutoff / max(DTE, dte_floor))^p``, ``p`` the short-term power below ``cutoff`` days
  and the long-term power beyond (Deribit PM §3.2);
* linear option: ``mult (V(F', σ') − V)``; inverse option (coin P&L valued at the scenario spot):
  ``mult (V(F', σ') − V (1 + m))``;
* linear delta-one: ``mult · price · m``; inverse delta-one (USD face): ``mult · m · S / F``;
* settled contracts: 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import GridConfig, RiskConfig
from crossmargin.kernels.black76 import black76_price_block
from crossmargin.kernels.blocks import BLOCK, for_blocks
from crossmargin.resolve.instruments import KIND_OPTION, InstrumentTable
from crossmargin.risk.volshock import shock_vols, vega_scale
from crossmargin.scenarios.grid import ScenarioSet, build_grid

__all__ = ["scenario_set_for", "shocked_vols", "unit_pnl"]


def scenario_set_for(inst: InstrumentTable, config: RiskConfig) -> ScenarioSet:
    """Grids of the risk classes present in ``inst`` (in ``inst.classes`` order), stacked."""
    grids = [build_grid(config.risk_classes[c].grid) for c in inst.classes]
    return ScenarioSet.stack(inst.classes, grids)


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


def unit_pnl(inst: InstrumentTable, scen: ScenarioSet, config: RiskConfig) -> FloatArray:
    """Scenario P&L of one unit of each contract, ``(n_contracts, n_scenarios)``."""
    n, S = inst.n, scen.n_scenarios
    out = np.zeros((n, S), dtype=np.float64)
    if n == 0:
        return out
    cls = inst.cls
    move = scen.spot_move[cls]
    weight = scen.weight[cls]
    live = ~inst.settled
    opt = (inst.kind == KIND_OPTION) & live
    lin = (~(inst.kind == KIND_OPTION)) & live
    # delta-one: closed form
    lin_lin = lin & ~inst.inverse
    lin_inv = lin & inst.inverse
    out[lin_lin] = (inst.mult * inst.fwd)[lin_lin, None] * move[lin_lin] * weight[lin_lin]
    out[lin_inv] = (
        (inst.mult * inst.spot / inst.fwd)[lin_inv, None] * move[lin_inv] * weight[lin_inv]
    )
    rows = np.flatnonzero(opt)
    if rows.size == 0:
        return out
    grids = [config.risk_classes[c].grid for c in inst.classes]
    up, down, _ = shocked_vols(inst.sigma[rows], inst.dte[rows], cls[rows], grids)
    vstate = scen.vol_state[cls[rows]]
    sig = inst.sigma[rows]
    F = inst.fwd[rows]
    K = inst.strike[rows]
    T = inst.t[rows]
    D = inst.discount[rows]
    C = inst.is_call[rows]
    V0 = inst.value[rows]
    mult = inst.mult[rows]
    inverse = inst.inverse[rows]
    m = move[rows]
    w = weight[rows]
    per_block = max(1, BLOCK // S)

    def run(a: int, b: int) -> None:
        sl = slice(a, b)
        Fs = F[sl, None] * (1.0 + m[sl])
        vs = vstate[sl]
        sg = np.where(vs > 0, up[sl, None], np.where(vs < 0, down[sl, None], sig[sl, None]))
        V = np.empty_like(Fs)
        black76_price_block(Fs, K[sl, None], T[sl, None], sg, D[sl, None], C[sl, None], V)
        base = np.where(inverse[sl, None], V0[sl, None] * (1.0 + m[sl]), V0[sl, None])
        out[rows[sl]] = mult[sl, None] * (V - base) * w[sl]

    for_blocks(rows.size, run, block=per_block)
    return out
