"""Paradex portfolio margin (beta) — the ``paradex-pm`` preset (``paradex-pm.md``).

Per (account, underlying):

* **SCAN risk** = ``max_s weight_s × loss_s`` over 24 scenarios: spot moves ±4/8/12/16 % each
  with vol shocks +40 % and −22 % (weight 1) and eight tail moves with vol +40 % and weights
  ≈ 16 %/|move|; ``ShockedIV = IV·(1 + VolShock·(30/max(DTE_floor, DTE))^VegaPower)``, options
  revalued with Black-76 on the proportionally shocked forward (engine kernel);
* **minimum delta requirement** ``(2 %·|net Δ| + 1 %·hedged Δ)·spot``, hedged Δ = gross − |net|;
* ``IMR = max(SCAN, MDR) + funding provision + fee provision``,
  ``MMR = 0.5·max(SCAN, MDR) + provisions``; the account sums its underlyings (Paradex publishes
  no cross-underlying offset).

Funding provision: each perpetual's 8-hour funding at the snapshot's ``perp.funding_rate`` when
it is a cost; fee provision: ``fee_provision_rate`` × gross notional (rate unpublished, 0 by
default). Collateral: USDC only (other assets counted at 0 in equity).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray
from crossmargin.margin.batch import group_labels
from crossmargin.margin.presets._common import (
    NonNegative,
    PresetInfo,
    PresetParams,
    accepted_collateral,
    equity_upnl,
    excluded_rows,
    group_batch,
    require_supported,
    underlying_spot,
)
from crossmargin.margin.presets._grid import preset_grid
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION, KIND_PERP
from crossmargin.risk.aggregate import group_positions, group_sum
from crossmargin.risk.arrays import VolMatrix, unit_pnl
from crossmargin.risk.volshock import vega_scale
from crossmargin.scenarios.grid import ScenarioSet

__all__ = ["ParadexParams", "ParadexTail", "paradex_params", "paradex_pm", "paradex_scan"]


class ParadexTail(PresetParams):
    """One tail scenario: spot move and weight (vol shock = the up shock)."""

    move: float = Field(gt=-1.0, allow_inf_nan=False)
    weight: NonNegative


class ParadexParams(PresetParams):
    """Paradex portfolio-margin parameters (values marked *re-verify* in the spec)."""

    spot_moves: tuple[float, ...] = (-0.16, -0.12, -0.08, -0.04, 0.04, 0.08, 0.12, 0.16)
    vol_shocks: tuple[float, ...] = (0.40, -0.22)
    tails: tuple[ParadexTail, ...]
    include_zero_move: bool = False
    short_term_vega_power: float = Field(default=0.30, ge=0.0)
    long_term_vega_power: float = Field(default=0.13, ge=0.0)
    vega_power_cutoff_days: float = Field(default=30.0, gt=0.0)
    dte_floor_days: float = Field(default=1.0, gt=0.0)
    min_delta_net_rate: float = Field(default=0.02, ge=0.0)
    min_delta_hedged_rate: float = Field(default=0.01, ge=0.0)
    mm_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    funding_provision_hours: float = Field(default=8.0, ge=0.0)
    fee_provision_rate: float = Field(default=0.0, ge=0.0)
    accepted_collateral: tuple[str, ...] = ("USDC",)


def paradex_params() -> ParadexParams:
    """The spec's scenario set and rates (``paradex-pm.md`` §2–§4)."""
    tails = [(-0.66, 0.24), (-0.33, 0.48), (0.5, 0.32), (1.0, 0.16), (2.0, 0.08)]
    tails += [(3.0, 0.0533), (4.0, 0.04), (5.0, 0.032)]
    return ParadexParams(tails=tuple(ParadexTail(move=m, weight=w) for m, w in tails))


def _scenarios(p: ParadexParams) -> tuple[FloatArray, FloatArray, FloatArray, list[str]]:
    moves = list(p.spot_moves) + ([0.0] if p.include_zero_move else [])
    mv: list[float] = []
    vs: list[float] = []
    w: list[float] = []
    kind: list[str] = []
    for m in sorted(moves):
        for v in p.vol_shocks:
            mv.append(m)
            vs.append(v)
            w.append(1.0)
            kind.append("standard")
    up = max(p.vol_shocks)
    for t in p.tails:
        mv.append(t.move)
        vs.append(up)
        w.append(t.weight)
        kind.append("tail")
    return np.asarray(mv), np.asarray(vs), np.asarray(w), kind


def paradex_scan(rb: ResolvedBook, p: ParadexParams) -> tuple[FloatArray, FloatArray]:
    """Weighted scenario P&L per unit of each contract ``(n, S)`` and the scenario weights.

    The engine's one risk-array function with Paradex's data: one row of spot moves for every
    contract, relative vol shocks ``σ·max(0, 1 + shock·scale)`` per option, scenario weights.
    """
    inst = rb.instruments
    mv, vs, w, _ = _scenarios(p)
    sig = np.zeros((inst.n, mv.size))
    rows = np.flatnonzero((inst.kind == KIND_OPTION) & ~inst.settled)
    if rows.size:
        scale = vega_scale(
            inst.dte[rows],
            short_power=p.short_term_vega_power,
            long_power=p.long_term_vega_power,
            cutoff_days=p.vega_power_cutoff_days,
            floor_days=p.dte_floor_days,
        )
        sig[rows] = inst.sigma[rows, None] * np.maximum(0.0, 1.0 + vs[None, :] * scale[:, None])
    unit = unit_pnl(inst, mv[None, :], row=np.zeros(inst.n, np.int64), vol=VolMatrix(sig), weight=w)
    return unit, w


def paradex_pm(book: ResolvedBook, p: ParadexParams, *, detail: bool = False) -> MarginBatch:
    """Margin every account."""
    require_supported(book, INFO.name, kinds=(KIND_PERP, KIND_OPTION), inverse=False)
    inst, pos = book.instruments, book.positions
    A = book.n_accounts
    unit, _ = paradex_scan(book, p)
    groups = group_positions(pos, inst)
    G = groups.n
    Q = sparse.csr_matrix((pos.quantity, (groups.of_position, pos.instrument)), shape=(G, inst.n))
    pnl = np.asarray(Q @ unit, dtype=np.float64) if G else np.zeros((0, unit.shape[1]))
    worst_loss = np.max(-pnl, axis=1) if G else np.zeros(0)
    scan = np.maximum(worst_loss, 0.0)
    worst = np.argmax(-pnl, axis=1).astype(np.int64) if G else np.zeros(0, np.int64)
    ii = pos.instrument
    d_pos = pos.quantity * inst.delta[ii]
    net = group_sum(groups, d_pos)
    gross = group_sum(groups, np.abs(d_pos))
    spot = underlying_spot(book)[groups.und]
    hedged = np.maximum(gross - np.abs(net), 0.0)
    mdr = (p.min_delta_net_rate * np.abs(net) + p.min_delta_hedged_rate * hedged) * spot
    net_req = np.maximum(scan, mdr)
    # funding provision: 8-hour funding when it is a cost; fee provision on gross notional
    rate_und = np.asarray(
        [book.snapshot.asset(u).perp_funding_rate or 0.0 for u in inst.underlyings]
    )
    is_perp = inst.kind[ii] == KIND_PERP
    cost = np.where(
        is_perp,
        pos.quantity
        * inst.mult[ii]
        * inst.fwd[ii]
        * rate_und[inst.und[ii]]
        * (p.funding_provision_hours / 8.0),
        0.0,
    )
    fund = group_sum(groups, np.maximum(cost, 0.0))
    fee = group_sum(groups, p.fee_provision_rate * pos.notional)
    g_im = net_req + fund + fee
    g_mm = p.mm_fraction * net_req + fund + fee
    ok, excluded = accepted_collateral(book, p.accepted_collateral)
    labels = group_labels(inst.underlyings, groups.und)
    addons = (
        AddOnRows(
            "minimum_delta",
            groups.account,
            labels,
            net_req - scan,
            f"raise to ({p.min_delta_net_rate:g} |net delta| + {p.min_delta_hedged_rate:g} "
            "hedged delta) x spot",
        ),
        AddOnRows("funding_provision", groups.account, labels, fund, "8-hour funding cost"),
        AddOnRows("fee_provision", groups.account, labels, fee, "fee rate x gross notional"),
        excluded_rows(book, excluded, "Paradex"),
    )
    mv, vs, w, kinds = _scenarios(p)
    labs = [
        f"spot {m:+.0%} vol {v:+.0%}" + (f" (tail, weight {wt:g})" if k == "tail" else "")
        for m, v, wt, k in zip(mv, vs, w, kinds, strict=True)
    ]
    vnames = ["up" if v > 0 else "down" for v in vs]
    grid = preset_grid(mv, vnames, w, kinds, labs)
    return group_batch(
        INFO.name,
        book,
        groups,
        im=g_im,
        mm=g_mm,
        delta=net,
        spot=spot,
        scan=scan,
        worst=worst,
        addons=addons,
        upnl=equity_upnl(book, ok + sum_by(pos.account, pos.mtm, A)),
        scenarios=ScenarioSet.stack(("paradex-pm",), (grid,)),
        scenario_pnl=pnl if detail else None,
        scenario_class=np.zeros(G, dtype=np.int64),
    )


INFO = PresetInfo(
    name="paradex-pm",
    venue="Paradex",
    title="Paradex portfolio margin (beta): weighted SCAN, minimum delta, provisions",
    status="published structure only (no worked example published; several values re-verify)",
    sources=(
        "docs.paradex.trade/risk/portfolio-margin (paradex-pm.md)",
        "docs.paradex.trade/risk/margin-system; api system/get-margin-config",
    ),
    covers=(
        "24 weighted scenarios (8 moves x 2 vol shocks + 8 tails with weights ~16%/|move|)",
        "DTE-scaled relative vol shocks; Black-76 options; linear perpetuals",
        "minimum delta requirement; IMR = max(SCAN, MDR) + provisions; MMR = 0.5 x net + provisions",
    ),
    gaps=(
        "no public worked example; scenario set, vega powers, DTE floor and delta rates are "
        "marked re-verify in the spec",
        "funding provision estimator unpublished: 8-hour funding at perp.funding_rate when a cost",
        "fee provision unpublished: fee_provision_rate x gross notional, 0 by default",
        "whether a 0% move is in the grid is unresolved (include_zero_move, off by default)",
        "forward vs spot shocking and the perpetual-option model are unpublished",
        "the USDC balance's valuation is unpublished: instruments are valued in USD as published "
        "and the USDC balance at its snapshot price (not at par)",
        "perpetual options, RFQ bounds and the margin-config endpoint's per-asset parameters are "
        "not loaded (load them as configuration)",
    ),
    margin=paradex_pm,
    defaults=paradex_params,
)
