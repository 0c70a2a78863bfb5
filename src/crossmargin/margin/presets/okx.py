"""OKX portfolio margin (MR1–MR9) — the ``okx-pm`` preset (``okx-pm.md``).

Everything on one underlying is a **risk unit** (perpetuals, futures, options, and spot in
offset mode); units are margined independently and summed:

``unit MMR = max(max(MR1, MR2, MR6) + MR3 + MR4 + MR5 + MR9, MR7)``, ``unit IMR = 1.3 × MMR``,
``total MMR = Σ unit MMR + MR8`` and ``total IMR = Σ unit IMR + borrow IMR``.

Published (January-2025 parameters, reproduced on the ``position-builder`` example):

* **MR1** — worst loss over price moves (tier 1 BTC/ETH 0, ±4, ±8, ±12 %; tier 2 ±6/12/18 %;
  others ±8/16/25 %) × vol {down, same, up}; delta-one contracts move with the *index* price;
* **MR6** — 0.5 × the loss at the extreme move (±24 % / ±36 % / ±50 %);
* **MR4** — basis: ``|net delta| × move`` per expiry bucket, ``move = max(perp move, annualised
  move risk × T)`` (perp moves 0.2 % / 0.8 % observed for tiers 1 / 2);
* **MR7** — position-reduction cost: ``|net delta| × base rate`` × a size multiplier
  (1, 2, 4, 6, 8, 10, 12 over notional bands; base rates 0.45 % BTC, 0.70 % LTC observed);
* **MR8** — borrowing: liabilities × 2 % (MMR) and × 10 % (IMR), as observed.

Not published and implemented as labelled crossmargin approximations (``okx-pm`` gaps):
MR1 vol-shock sizes, MR2 (one day of option time decay), MR3 (vol term structure: non-parallel
vega across expiries), MR5 (rate shock on option rho), MR7 band edges and the base rate of
other underlyings; MR9 (USDT/USDC/USD legs) is 0 — the engine settles every linear contract in
the snapshot currency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.margin.batch import assemble_batch, group_labels
from crossmargin.margin.presets._common import (
    NonNegative,
    PresetInfo,
    PresetParams,
)
from crossmargin.margin.presets._grid import preset_grid
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.margin.rules import tiered_rate_amount
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.aggregate import group_positions, group_sum
from crossmargin.risk.arrays import VolStates, unit_pnl
from crossmargin.risk.volshock import shock_vols, vega_scale
from crossmargin.scenarios.grid import ScenarioSet

__all__ = ["OkxParams", "OkxTier", "OkxUnit", "okx_params", "okx_pm", "okx_units"]


class OkxTier(PresetParams):
    """Parameters of one risk tier."""

    mr1_moves: tuple[float, ...] = Field(description="positive MR1 price moves (mirrored, plus 0)")
    mr6_move: float = Field(gt=0.0, lt=1.0)
    annualised_move_risk: NonNegative
    perp_basis_move: float = Field(ge=0.0, description="MR4 move of a perpetual (observed)")


class OkxParams(PresetParams):
    """OKX portfolio-margin parameters (January 2025) and crossmargin choices for the gaps."""

    tiers: dict[str, OkxTier]
    mr1_tier: dict[str, str] = Field(description="underlying -> tier for MR1, MR4")
    mr6_tier: dict[str, str] = Field(description="underlying -> tier for MR6")
    default_tier: str = "other"
    mr6_factor: float = Field(default=0.5, gt=0.0)
    imr_factor: float = Field(default=1.3, ge=1.0)
    vol_shock_up: float = Field(default=0.5, ge=0.0, description="unpublished (crossmargin)")
    vol_shock_down: float = Field(default=0.25, ge=0.0, le=1.0, description="unpublished")
    short_term_vega_power: float = Field(default=0.3, ge=0.0)
    long_term_vega_power: float = Field(default=0.13, ge=0.0)
    mr7_base_rate: dict[str, NonNegative]
    mr7_default_rate: float = Field(default=0.01, ge=0.0, description="unpublished (crossmargin)")
    mr7_multipliers: tuple[NonNegative, ...] = (
        1.0,
        2.0,
        4.0,
        6.0,
        8.0,
        10.0,
        12.0,
    )
    mr7_band_edges: tuple[float, ...] = Field(
        default=(10_000.0, 50_000.0, 100_000.0, 200_000.0, 400_000.0, 700_000.0),
        description="USD notional band upper edges; only [0, 10k] and > 700k are published",
    )
    mr2_days: float = Field(default=1.0, ge=0.0, description="unpublished (crossmargin)")
    mr3_fraction: float = Field(default=0.5, ge=0.0, description="unpublished (crossmargin)")
    mr5_rate_shock: float = Field(default=0.01, ge=0.0, description="unpublished (crossmargin)")
    borrow_mmr_rate: float = Field(default=0.02, ge=0.0)
    borrow_imr_rate: float = Field(default=0.10, ge=0.0)


def okx_params() -> OkxParams:
    """January-2025 parameters (OKX announcement 2025-01-02) and the example's observed rates."""
    tier2_mr1 = (
        "LTC",
        "BCH",
        "EOS",
        "OKB",
        "DOT",
        "BSV",
        "LINK",
        "FIL",
        "ADA",
        "TRX",
        "UNI",
        "XRP",
    )
    tier2_mr6 = ("SOL", "DOGE", "PEPE", "XRP", "BNB", "SHIB", "LTC", "ORDI", "WLD", "BCH", "ADA")
    return OkxParams(
        tiers={
            "tier1": OkxTier(
                mr1_moves=(0.04, 0.08, 0.12),
                mr6_move=0.24,
                annualised_move_risk=0.05,
                perp_basis_move=0.002,
            ),
            "tier2": OkxTier(
                mr1_moves=(0.06, 0.12, 0.18),
                mr6_move=0.36,
                annualised_move_risk=0.15,
                perp_basis_move=0.008,
            ),
            "other": OkxTier(
                mr1_moves=(0.08, 0.16, 0.25),
                mr6_move=0.50,
                annualised_move_risk=0.30,
                perp_basis_move=0.016,
            ),
        },
        mr1_tier={"BTC": "tier1", "ETH": "tier1", **dict.fromkeys(tier2_mr1, "tier2")},
        mr6_tier={"BTC": "tier1", "ETH": "tier1", **dict.fromkeys(tier2_mr6, "tier2")},
        mr7_base_rate={"BTC": 0.0045, "ETH": 0.0045, "LTC": 0.007},
    )


@dataclass(frozen=True, slots=True, eq=False)
class OkxUnit:
    """Per risk unit (account × underlying): every MR term, MMR and IMR (snapshot currency)."""

    account: np.ndarray
    und: np.ndarray
    mr1: FloatArray
    mr1_cell: np.ndarray
    mr2: FloatArray
    mr3: FloatArray
    mr4: FloatArray
    mr5: FloatArray
    mr6: FloatArray
    mr6_loss: FloatArray
    mr7: FloatArray
    mr9: FloatArray
    mmr: FloatArray
    imr: FloatArray
    delta_usd: FloatArray
    pnl: FloatArray
    grid_moves: tuple[FloatArray, ...]


def _tier(p: OkxParams, table: dict[str, str], und: str) -> OkxTier:
    return p.tiers[table.get(und, p.default_tier)]


def okx_units(rb: ResolvedBook, p: OkxParams) -> OkxUnit:
    """MR1–MR7, MR9, MMR and IMR of every risk unit of ``rb``."""
    inst, pos = rb.instruments, rb.positions
    unds = inst.underlyings
    n = inst.n
    # MR1 grid per underlying: moves (0, ±m) x vol (down, same, up); MR6 extreme moves appended
    grids = []
    for u in unds:
        t1, t6 = _tier(p, p.mr1_tier, u), _tier(p, p.mr6_tier, u)
        m = sorted({0.0, *t1.mr1_moves, *(-x for x in t1.mr1_moves)})
        grids.append(np.asarray([*m, -t6.mr6_move, t6.mr6_move]))
    width = max((3 * (g.size - 2) + 2 for g in grids), default=2)
    moves = np.zeros((max(len(unds), 1), width))
    vol = np.zeros((max(len(unds), 1), width), np.int64)
    for k, g in enumerate(grids):
        std = g[:-2]
        moves[k, : 3 * std.size] = np.repeat(std, 3)
        vol[k, : 3 * std.size] = np.tile([-1, 0, 1], std.size)
        moves[k, width - 2 :] = g[-2:]
    # the engine's one risk-array function: delta-one contracts move with the index (OKX)
    up, dn = np.zeros(n), np.zeros(n)
    rows = np.flatnonzero(~inst.settled & (inst.kind == KIND_OPTION))
    if rows.size:
        s = vega_scale(
            inst.dte[rows], short_power=p.short_term_vega_power, long_power=p.long_term_vega_power
        )
        up[rows], dn[rows] = shock_vols(
            inst.sigma[rows], s, vol_up=p.vol_shock_up, vol_down=p.vol_shock_down
        )
    unit = unit_pnl(inst, moves, row=inst.und, vol=VolStates(vol, up, dn), delta_one="index")
    groups = group_positions(pos, inst)
    G = groups.n
    Q = sparse.csr_matrix((pos.quantity, (groups.of_position, pos.instrument)), shape=(G, n))
    pnl = np.asarray(Q @ unit, dtype=np.float64) if G else np.zeros((0, width))
    loss = -pnl
    mr1 = np.maximum(loss[:, : width - 2].max(axis=1), 0.0) if G else np.zeros(0)
    mr1_cell = np.argmax(loss[:, : width - 2], axis=1) if G else np.zeros(0, np.int64)
    mr6_loss = np.maximum(loss[:, width - 2 :].max(axis=1), 0.0) if G else np.zeros(0)
    mr6 = p.mr6_factor * mr6_loss
    ii = pos.instrument
    d_usd_pos = pos.quantity * inst.delta[ii] * inst.spot[ii]
    d_usd = group_sum(groups, d_usd_pos)
    # MR4: per expiry bucket |net delta| x max(perp move, annualised move risk x T)
    t_tier = [_tier(p, p.mr1_tier, u) for u in unds]
    perp_mv = np.asarray([t.perp_basis_move for t in t_tier])[inst.und] if n else np.zeros(0)
    ann = np.asarray([t.annualised_move_risk for t in t_tier])[inst.und] if n else np.zeros(0)
    mv4 = np.maximum(perp_mv, ann * inst.t)
    nk = int(inst.expiry_key.max()) + 1 if n else 1
    bkey = groups.of_position * nk + inst.expiry_key[ii]
    ub, binv = np.unique(bkey, return_inverse=True)
    b_d = sum_by(binv.astype(np.int64), d_usd_pos, ub.size)
    b_mv = np.zeros(ub.size)
    b_mv[binv] = mv4[ii]
    mr4 = sum_by((ub // nk).astype(np.int64), np.abs(b_d) * b_mv, G)
    # option Greeks for MR2/MR3/MR5
    is_opt = (inst.kind[ii] == KIND_OPTION) & ~inst.settled[ii]
    mr2 = np.zeros(G)
    mr3 = np.zeros(G)
    mr5 = np.zeros(G)
    if is_opt.any():
        gk = black76_greeks(
            inst.spot, inst.fwd, inst.strike, inst.t, inst.sigma, inst.discount, inst.is_call
        )
        qo = np.where(is_opt, pos.quantity * inst.mult[ii], 0.0)
        mr2 = np.maximum(0.0, -group_sum(groups, qo * gk.theta[ii]) * p.mr2_days)
        s_all = vega_scale(
            inst.dte, short_power=p.short_term_vega_power, long_power=p.long_term_vega_power
        )
        v_pos = qo * gk.vega[ii] * 100.0 * inst.sigma[ii] * p.vol_shock_up * s_all[ii]
        b_v = sum_by(binv.astype(np.int64), v_pos, ub.size)
        gross_v = sum_by((ub // nk).astype(np.int64), np.abs(b_v), G)
        mr3 = p.mr3_fraction * np.maximum(gross_v - np.abs(group_sum(groups, v_pos)), 0.0)
        rho = qo * inst.t[ii] * (gk.delta[ii] * inst.spot[ii] - gk.price[ii])
        mr5 = p.mr5_rate_shock * np.abs(group_sum(groups, rho))
    # MR7: |net delta| x base rate x progressive size multiplier
    base_rate = np.asarray([p.mr7_base_rate.get(u, p.mr7_default_rate) for u in unds])
    edges = np.asarray([*p.mr7_band_edges, np.inf])
    mults = np.asarray(p.mr7_multipliers)
    if mults.size != edges.size:
        mults = np.resize(mults, edges.size)
    absd = np.abs(d_usd)
    mr7 = tiered_rate_amount(absd, edges, mults) * base_rate[groups.und] if G else np.zeros(0)
    mr9 = np.zeros(G)
    mmr = np.maximum(np.maximum(np.maximum(mr1, mr2), mr6) + mr3 + mr4 + mr5 + mr9, mr7)
    return OkxUnit(
        account=groups.account,
        und=groups.und,
        mr1=mr1,
        mr1_cell=mr1_cell.astype(np.int64),
        mr2=mr2,
        mr3=mr3,
        mr4=mr4,
        mr5=mr5,
        mr6=mr6,
        mr6_loss=mr6_loss,
        mr7=mr7,
        mr9=mr9,
        mmr=mmr,
        imr=p.imr_factor * mmr,
        delta_usd=d_usd,
        pnl=pnl,
        grid_moves=tuple(moves),
    )


def okx_pm(book: ResolvedBook, p: OkxParams, *, detail: bool = False) -> MarginBatch:
    """Margin every account."""
    u = okx_units(book, p)
    A = book.n_accounts
    inst = book.instruments
    col = book.collateral
    liab = np.maximum(-col.market_value, 0.0)
    mr8 = col.per_account(liab * p.borrow_mmr_rate, A)
    b_imr = col.per_account(liab * p.borrow_imr_rate, A)
    labels = group_labels(inst.underlyings, u.und)
    acc = np.arange(A, dtype=np.int64)
    top = np.maximum(np.maximum(u.mr1, u.mr2), u.mr6)
    inner = top + u.mr3 + u.mr4 + u.mr5 + u.mr9

    def row(name: str, amount: FloatArray, what: str) -> AddOnRows:
        return AddOnRows(name, u.account, labels, amount, what)

    # rows add up: MR1 (scan) + rows = unit IMR; MR2/MR6/MR7 raw values are in the scenario
    # P&L (MR6 cells) and in okx_units()
    addons = (
        row(
            "mr2_mr6_excess",
            top - u.mr1,
            "max(MR1, MR2 time value, MR6 = 0.5 x extreme-move loss) - MR1",
        ),
        row("mr3_vol_term_structure", u.mr3, "non-parallel vega across expiries (approximation)"),
        row("mr4_basis", u.mr4, "|net delta| per expiry x max(perp move, annual move x T)"),
        row("mr5_interest_rate", u.mr5, "rate shock on option rho (approximation)"),
        row(
            "mr7_minimum",
            u.mmr - inner,
            "raise to MR7 = |net delta| x base rate x size multiplier",
        ),
        row(
            "imr_factor",
            (p.imr_factor - 1.0) * u.mmr,
            f"unit IMR = {p.imr_factor:g} x unit MMR",
        ),
        AddOnRows(
            "mr8_borrowing",
            acc,
            ("borrow",) * A,
            b_imr,
            f"liabilities x {p.borrow_imr_rate:g} (MMR: x {p.borrow_mmr_rate:g})",
        ),
    )
    grids = []
    for k in range(len(inst.underlyings)):
        mv = u.grid_moves[k]
        S = mv.size
        vn = ["down", "unchanged", "up"] * ((S - 2) // 3) + ["unchanged", "unchanged"]
        kinds = ["standard"] * (S - 2) + ["tail", "tail"]
        labs = [f"MR1 spot {m:+.0%} vol {v}" for m, v in zip(mv[: S - 2], vn, strict=False)]
        labs += [f"MR6 extreme {m:+.0%}" for m in mv[S - 2 :]]
        grids.append(preset_grid(mv, vn, [1.0] * S, kinds, labs))
    G = u.account.size
    return assemble_batch(
        INFO.name,
        book,
        account=u.account,
        und=u.und,
        im=u.imr,
        mm=u.mmr,
        delta=_delta_units(book, u),
        delta_notional=u.delta_usd,
        scan=u.mr1,
        worst=u.mr1_cell,
        addons=addons,
        account_im=b_imr,
        account_mm=mr8,
        scenarios=ScenarioSet.stack(inst.underlyings, grids) if grids else None,
        scenario_pnl=u.pnl if detail else None,
        scenario_class=u.und if G else np.zeros(0, np.int64),
    )


def _delta_units(book: ResolvedBook, u: OkxUnit) -> FloatArray:
    spot = np.ones(max(len(book.instruments.underlyings), 1))
    spot[book.instruments.und] = book.instruments.spot
    return np.asarray(u.delta_usd / spot[u.und], dtype=np.float64)


INFO = PresetInfo(
    name="okx-pm",
    venue="OKX",
    title="OKX portfolio margin: risk units, MR1-MR9, IMR = 1.3 x MMR",
    status="structure and aggregation reproduced on the published position-builder example; "
    "option terms MR2/MR3/MR5 unpublished",
    sources=(
        "OKX API v5 POST /api/v5/account/position-builder (okx-pm.md)",
        "OKX announcement 'OKX will further adjust portfolio margin parameters' (2025-01-02)",
        "OKX help 'Portfolio margin mode: cross margin trading'",
    ),
    covers=(
        "risk units per underlying, summed; unit MMR = max(max(MR1,MR2,MR6)+MR3+MR4+MR5+MR9, MR7)",
        "MR1 tiered price moves x vol states (index-priced delta-one); MR6 = 0.5 x extreme loss",
        "MR4 basis, MR7 size-tiered reduction cost, MR8 borrowing; IMR = 1.3 x MMR",
    ),
    gaps=(
        "MR1 vol-shock sizes unpublished: Deribit-style 0.5 / 0.25 x (30/DTE)^p (crossmargin)",
        "MR2, MR3, MR5 definitions unpublished: labelled approximations (theta over mr2_days, "
        "non-parallel vega x mr3_fraction, rho x mr5_rate_shock)",
        "MR4 perp move per tier (0.2% / 0.8%) and MR7 base rates (0.45% BTC, 0.7% LTC) are "
        "observed ratios; MR7 band edges and other rates are crossmargin guesses",
        "MR9 (USDT/USDC/USD hedge legs) is 0: USDT-, USDC- and coin-margined linear products "
        "are all valued in the snapshot currency (the stables at par)",
        "adjusted equity: OKX's tiered collateral discount rates are not published; collateral "
        "counts at the risk configuration's haircuts",
        "spot-derivatives offset mode: spot positions in the book join their risk unit, "
        "collateral balances do not; spot orders are not modelled",
    ),
    margin=okx_pm,
    defaults=okx_params,
)
