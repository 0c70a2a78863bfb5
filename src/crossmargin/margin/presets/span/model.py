"""The ``span`` preset: CME SPAN on any resolved book, with risk arrays generated from the snapshot.

Risk arrays (``span.md`` §2) are generated per unique contract: each combined commodity (one per
underlying) has a price scan range ``PSR`` (a fraction of price) and a vol scan range ``VSR``;
the 16 scenarios are ``0, ±⅓, ±⅔, ±1 PSR`` × vol ±VSR plus the extremes ``±m·PSR`` (vol
unchanged) weighted by the cover fraction ``c``; options are revalued with Black-76 at the
look-ahead time (``T −`` one day, so scenarios 1–2 carry time decay), delta-one contracts
linearly; the composite delta is the weighted average of deltas at the seven price points
``−3/3 … +3/3 PSR``. Tiers are the underlying's expiries (perpetuals and spot first); a
calendar spread between two tiers is charged ``spot × max(min_move, annual_move × ΔT)`` per
unit of spread delta (the risk class's basis parameters), adjacent tiers first; the
inter-commodity spreads are the configuration's pairs. The arithmetic is :mod:`.core` (the
same code that margins a risk-parameter file, :mod:`.files`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from crossmargin._time import SECONDS_PER_YEAR
from crossmargin._typing import FloatArray, IntArray
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.margin.batch import assemble_batch, group_labels
from crossmargin.margin.presets._common import (
    Fraction,
    PresetInfo,
    PresetParams,
)
from crossmargin.margin.presets._grid import preset_grid
from crossmargin.margin.presets.span.core import (
    SpanBook,
    SpanCC,
    SpanLeg,
    SpanResult,
    SpanSpread,
    span_margin,
)
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.arrays import VolMatrix, unit_pnl
from crossmargin.scenarios.grid import ScenarioSet

__all__ = [
    "SCAN_POINTS",
    "SpanInterSpread",
    "SpanParams",
    "span_params",
    "span_preset",
    "span_risk_arrays",
]

#: (price move in PSR, vol move in VSR) of the 16 standard scenarios (``span.md`` §2).
SCAN_POINTS: tuple[tuple[float, int], ...] = (
    (0.0, 1), (0.0, -1),
    (1 / 3, 1), (1 / 3, -1), (-1 / 3, 1), (-1 / 3, -1),
    (2 / 3, 1), (2 / 3, -1), (-2 / 3, 1), (-2 / 3, -1),
    (1.0, 1), (1.0, -1), (-1.0, 1), (-1.0, -1),
)  # fmt: skip


class SpanInterSpread(PresetParams):
    """An inter-commodity spread between two underlyings (A long vs B short)."""

    legs: tuple[str, str]
    ratio: tuple[float, float] = (1.0, 1.0)
    credit: Fraction


class SpanParams(PresetParams):
    """Risk-array generation and SPAN parameters (crossmargin defaults where CME files decide).

    Unlisted underlyings take their risk class's values: ``PSR`` = the grid's larger price range,
    short option minimum = ``short_option_minimum``, calendar rates = the ``basis`` move.
    """

    price_scan_range: dict[str, float] = Field(default_factory=dict)
    vol_scan_range: float = Field(default=0.25, ge=0.0)
    vol_scan_mode: Literal["relative", "absolute"] = "relative"
    extreme_multiple: float = Field(default=2.0, gt=0.0)
    extreme_cover: float = Field(default=0.35, ge=0.0, le=1.0)
    lookahead_days: float = Field(default=1.0, ge=0.0)
    delta_weights: tuple[float, ...] = (0.037, 0.111, 0.217, 0.270, 0.217, 0.111, 0.037)
    som_rate: dict[str, float] = Field(default_factory=dict)
    intra_min_move: dict[str, float] = Field(default_factory=dict)
    intra_annual_move: dict[str, float] = Field(default_factory=dict)
    spot_rate_outright: float = Field(default=0.0, ge=0.0)
    inter_spreads: tuple[SpanInterSpread, ...] | None = None
    wfpr_method: Literal["normal", "scan_range", "scan_range_cap"] = "normal"
    initial_ratio: float = Field(default=1.1, ge=1.0)


def span_params() -> SpanParams:
    """CME-style defaults: extreme 2 × PSR at 35 % cover, 1-day look-ahead, speculator 1.1."""
    return SpanParams()


@dataclass(frozen=True, slots=True, eq=False)
class _Arrays:
    losses: FloatArray
    delta: FloatArray
    psr: FloatArray
    tier: IntArray
    tier_times: list[FloatArray]


def span_risk_arrays(rb: ResolvedBook, p: SpanParams) -> _Arrays:
    """Risk arrays (loss of one long unit, 16 scenarios), composite deltas and tiers."""
    inst, cfg = rb.instruments, rb.config
    n = inst.n
    unds = inst.underlyings
    psr_u = np.asarray(
        [
            p.price_scan_range.get(
                u,
                max(
                    cfg.risk_classes[inst.classes[_cls_of(inst, k)]].grid.price_range_down,
                    cfg.risk_classes[inst.classes[_cls_of(inst, k)]].grid.price_range_up,
                ),
            )
            for k, u in enumerate(unds)
        ]
    )
    psr = psr_u[inst.und] if n else np.zeros(0)
    mv = np.asarray([m for m, _ in SCAN_POINTS] + [p.extreme_multiple, -p.extreme_multiple])
    vs = np.asarray([v for _, v in SCAN_POINTS] + [0, 0], dtype=np.float64)
    w = np.asarray([1.0] * 14 + [p.extreme_cover] * 2)
    u = psr[:, None] * mv[None, :]
    opt = (inst.kind == KIND_OPTION) & ~inst.settled
    rows = np.flatnonzero(opt)
    sg = inst.sigma[:, None]
    sig = (
        sg * (1.0 + vs[None, :] * p.vol_scan_range)
        if p.vol_scan_mode == "relative"
        else sg + vs[None, :] * p.vol_scan_range
    )
    # the engine's one risk-array function, with SPAN's look-ahead time and cover weights
    losses = -unit_pnl(
        inst,
        u,
        row=np.arange(n, dtype=np.int64),
        vol=VolMatrix(np.maximum(sig, 0.0)),
        weight=w,
        time_shift=p.lookahead_days / 365.0,
    )
    # composite delta: weighted deltas at -3/3..+3/3 PSR (options); delta-one: the engine delta
    delta = inst.delta.copy()
    if rows.size:
        k = np.linspace(-1.0, 1.0, len(p.delta_weights))
        wt = np.asarray(p.delta_weights) / np.sum(p.delta_weights)
        shift = 1.0 + psr[rows, None] * k[None, :]
        g = black76_greeks(
            inst.spot[rows, None] * shift,
            inst.fwd[rows, None] * shift,
            inst.strike[rows, None],
            inst.t[rows, None],
            inst.sigma[rows, None],
            inst.discount[rows, None],
            inst.is_call[rows, None],
        )
        d = g.delta
        d = np.where(inst.inverse[rows, None], d - g.price / (inst.spot[rows, None] * shift), d)
        delta[rows] = inst.mult[rows] * (d @ wt)
    # tiers: expiries of each underlying in time order (perpetual/spot first)
    tier = np.zeros(n, np.int64)
    tier_times: list[FloatArray] = []
    for k_u in range(len(unds)):
        sel = np.flatnonzero(inst.und == k_u)
        ts, inv_t = np.unique(np.round(inst.t[sel] * SECONDS_PER_YEAR), return_inverse=True)
        tier[sel] = inv_t
        tier_times.append(ts / SECONDS_PER_YEAR)
    return _Arrays(losses, delta, psr, tier, tier_times)


def _cls_of(inst: InstrumentTable, k_und: int) -> int:
    """Risk-class index of underlying ``k_und``."""
    return int(inst.cls[np.argmax(inst.und == k_und)])


def span_book(rb: ResolvedBook, p: SpanParams) -> tuple[SpanBook, _Arrays]:
    """The resolved book as a :class:`SpanBook` with generated arrays and spreads."""
    cfg = rb.config
    inst, pos = rb.instruments, rb.positions
    arr = span_risk_arrays(rb, p)
    unds = inst.underlyings
    ccs = []
    for k, u in enumerate(unds):
        rc = cfg.risk_classes[inst.classes[_cls_of(inst, k)]]
        spot = float(inst.spot[np.argmax(inst.und == k)])
        T = arr.tier_times[k]
        mn = p.intra_min_move.get(u, rc.basis.min_move)
        an = p.intra_annual_move.get(u, rc.basis.annual_move)
        pairs = sorted(
            ((i, j) for i in range(T.size) for j in range(i + 1, T.size)),
            key=lambda ij: (ij[1] - ij[0], ij[0]),
        )
        intra = tuple(
            SpanSpread(
                (SpanLeg(i, 1.0, "A"), SpanLeg(j, 1.0, "B")),
                spot * max(mn, an * float(T[j] - T[i])),
                f"tier {i}/{j}",
            )
            for i, j in pairs
        )
        psr = float(arr.psr[np.argmax(inst.und == k)])
        ccs.append(
            SpanCC(
                name=u,
                n_tiers=max(T.size, 1),
                intra_spreads=intra,
                spot_tiers=(0,) if p.spot_rate_outright > 0 else (),
                spot_rate_outright=p.spot_rate_outright * spot,
                wfpr_method=p.wfpr_method,
                scan_range_per_delta=psr * spot,
                initial_ratio=p.initial_ratio,
            )
        )
    index = {u: i for i, u in enumerate(unds)}
    pairs_cfg = (
        p.inter_spreads
        if p.inter_spreads is not None
        else tuple(
            SpanInterSpread(legs=ic.legs, ratio=ic.ratio, credit=ic.credit)
            for ic in cfg.inter_commodity
        )
    )
    inter = tuple(
        SpanSpread(
            (
                SpanLeg(index[s.legs[0]], s.ratio[0], "A"),
                SpanLeg(index[s.legs[1]], s.ratio[1], "B"),
            ),
            s.credit,
            f"{s.legs[0]}/{s.legs[1]}",
        )
        for s in pairs_cfg
        if s.legs[0] in index and s.legs[1] in index
    )
    som_rate = np.asarray(
        [
            p.som_rate.get(u, cfg.risk_classes[inst.classes[_cls_of(inst, k)]].short_option_minimum)
            for k, u in enumerate(unds)
        ]
    )
    is_opt = inst.kind == KIND_OPTION
    book = SpanBook(
        n_accounts=rb.n_accounts,
        ccs=tuple(ccs),
        inter_spreads=inter,
        k_cc=inst.und.astype(np.int64),
        k_tier=arr.tier,
        k_array=arr.losses,
        k_delta=arr.delta,
        k_option=is_opt & ~inst.settled,
        k_call=inst.is_call,
        k_som=(som_rate[inst.und] if inst.n else np.zeros(0)) * inst.fwd * inst.mult,
        k_value=inst.value * inst.mult,
        k_premium=is_opt,
        p_account=pos.account,
        p_contract=pos.instrument,
        p_quantity=pos.quantity,
    )
    return book, arr


def span_preset(book: ResolvedBook, p: SpanParams, *, detail: bool = False) -> MarginBatch:
    """Margin every account."""
    inst = book.instruments
    sb, arr = span_book(book, p)
    r: SpanResult = span_margin(sb)
    labels = group_labels(inst.underlyings, r.g_cc)
    scan = np.maximum(r.scan, 0.0)
    core = scan + r.intra + r.spot - r.credit

    def row(name: str, amount: FloatArray, what: str) -> AddOnRows:
        return AddOnRows(name, r.g_account, labels, amount, what)

    # rows add up: scan + rows = initial requirement of the CC
    addons = (
        row("intra_commodity", r.intra, "calendar spreads between expiry tiers, adjacent first"),
        row("spot_month", r.spot, "delta held in the spot tier"),
        row("inter_commodity_credit", -r.credit, "SPAN inter-commodity credit (WFPR x rate)"),
        row(
            "short_option_minimum",
            r.risk - core,
            "raise to max(short calls, short puts) x SOM (risk floored at 0)",
        ),
        row("initial_ratio", r.initial - r.risk, f"initial = maintenance x {p.initial_ratio:g}"),
    )
    grids = []
    mv = [m for m, _ in SCAN_POINTS] + [p.extreme_multiple, -p.extreme_multiple]
    vn = ["up" if v > 0 else "down" for _, v in SCAN_POINTS] + ["unchanged", "unchanged"]
    kinds = ["standard"] * 14 + ["tail", "tail"]
    wts = [1.0] * 14 + [p.extreme_cover] * 2
    for k in range(len(inst.underlyings)):
        psr = float(arr.psr[np.argmax(inst.und == k)])
        labs = [
            f"SPAN {i + 1}: price {m * psr:+.1%}, vol {v}"
            for i, (m, v) in enumerate(zip(mv, vn, strict=True))
        ]
        grids.append(preset_grid([m * psr for m in mv], vn, wts, kinds, labs))
    und_spot = np.ones(max(len(inst.underlyings), 1))
    und_spot[inst.und] = inst.spot
    return assemble_batch(
        INFO.name,
        book,
        account=r.g_account,
        und=r.g_cc,
        im=r.initial,
        mm=r.risk,
        delta=r.net_delta,
        delta_notional=r.net_delta * und_spot[r.g_cc],
        scan=scan,
        worst=r.active,
        addons=addons,
        totals=(r.initial_total, r.maintenance_total),
        scenarios=ScenarioSet.stack(inst.underlyings, grids) if grids else None,
        scenario_pnl=-r.losses if detail else None,
        scenario_class=r.g_cc,
    )


INFO = PresetInfo(
    name="span",
    venue="CME Group",
    title="CME SPAN: 16-scenario risk arrays, composite delta, spreads, short option minimum",
    status="standard algorithm; CME's published spread examples and a constructed scan "
    "reproduced; WFPR decomposition to verify against PC-SPAN",
    sources=(
        "CME Group 'Margin: spread calculations' and 'Components of SPAN' (span.md)",
        "CME SPAN report definitions; CBOT 'SPAN Margin System' (1991)",
    ),
    covers=(
        "16 scenarios (price 0, +-1/3, +-2/3, +-1 PSR x vol +-VSR; extremes x cover fraction)",
        "composite delta; tier net deltas; intra-commodity spreads by priority; spot-month charge",
        "inter-commodity credits (WFPR normal / scan range / capped); short option minimum; NOV",
        "risk-parameter files (crossmargin-span-1 JSON) with published arrays: venue-case span",
    ),
    gaps=(
        "PriceRisk = scan - time - volatility risk is the literature decomposition (verify on a "
        "PC-SPAN / CME CORE run)",
        "PA2 / PC-SPAN XML parsers are not included: convert to the JSON layout",
        "generated arrays use crossmargin defaults (PSR from the risk class grid, VSR 25% of vol, "
        "m 2 / c 0.35, 1-day look-ahead, calendar rates from the basis parameters)",
        "spread tie-breaking beyond file priority, somMeth variants and capAnov are not modelled",
        "generated short option minimum: som_rate x the underlying's forward notional per short "
        "contract (CME sets it as a share of one futures contract's outright margin)",
        "one performance-bond currency (the snapshot's): PA2 currency-conversion records are not "
        "applied; initial = maintenance x initial_ratio (1.1 speculator; 1.0 for members/hedgers "
        "by override)",
    ),
    margin=span_preset,
    defaults=span_params,
)
