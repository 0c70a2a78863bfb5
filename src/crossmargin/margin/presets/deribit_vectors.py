"""Deribit PM risk vectors, aggregation and the IM/MM assembly (``deribit-pm.md`` §3–§6).

Per instrument, P&L per unit of quantity in its settlement currency over the standard table
(price moves × vol up/same/down) and the extended table (scaled back to the edge of the standard
range); per (account, underlying, settlement currency) the vectors with gains × ``pnl_offset``;
per (account, currency) the cell-wise sum, worst case, roll and delta shocks, and
``IM = round9(RMM + …)``, ``MM = mm_factor × RMM``. See :mod:`.deribit` for the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.margin.presets.deribit_params import DeribitParams
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_FUTURE, KIND_PERP
from crossmargin.risk.arrays import VolMatrix, unit_pnl
from crossmargin.risk.volshock import shock_vols, vega_scale

__all__ = ["DeribitVectors", "assemble_margins", "deribit_vectors", "round9"]


def round9(x: FloatArray) -> FloatArray:
    """Round half away from zero at 9 decimals (Deribit's ``initial_margin`` rounding)."""
    y = np.asarray(x, dtype=np.float64)
    return np.asarray(np.sign(y) * np.floor(np.abs(y) * 1e9 + 0.5) / 1e9, dtype=np.float64)


def assemble_margins(
    risk_matrix_margin: FloatArray,
    mm_factor: float,
    *,
    open_orders_margin: float | FloatArray = 0.0,
    mmp_margin: float | FloatArray = 0.0,
    spot_margin: float | FloatArray = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """``IM = round9(rmm + open orders + MMP + spot)`` and ``MM = mm_factor · rmm`` (§6)."""
    rmm = np.asarray(risk_matrix_margin, dtype=np.float64)
    im = round9(rmm + open_orders_margin + mmp_margin + spot_margin)
    return im, mm_factor * rmm


@dataclass(frozen=True, slots=True, eq=False)
class DeribitVectors:
    """Risk vectors and margins of a book (amounts in each row's settlement currency).

    ``unit_std``/``unit_ext``: per contract and unit of quantity; ``std``/``ext``: per group
    (account, underlying, settlement currency) before the offset; ``agg_*`` after it. ``ccy_*``:
    per (account, currency).
    """

    columns: tuple[tuple[float, str], ...]
    ext_moves: tuple[float, ...]
    unit_std: FloatArray
    unit_ext: FloatArray
    g_account: IntArray
    g_und: IntArray
    g_ccy: IntArray
    g_ccy_group: IntArray
    underlyings: tuple[str, ...]
    currencies: tuple[str, ...]
    std: FloatArray
    ext: FloatArray
    agg_std: FloatArray
    agg_ext: FloatArray
    g_worst: FloatArray
    g_worst_cell: IntArray
    g_roll: FloatArray
    g_delta_shock: FloatArray
    g_delta_usd: FloatArray
    ccy_account: IntArray
    ccy_ccy: IntArray
    ccy_price: FloatArray
    ccy_worst: FloatArray
    ccy_rmm: FloatArray
    ccy_im: FloatArray
    ccy_mm: FloatArray


def deribit_vectors(rb: ResolvedBook, p: DeribitParams) -> DeribitVectors:
    """Risk vectors, worst cases, roll and delta shocks, IM and MM of every account (§3–§6)."""
    inst, pos = rb.instruments, rb.positions
    n, nb = inst.n, p.buckets_count
    unds = inst.underlyings
    pair = [p.pairs.get(u, p.default_pair) for u in unds]

    def par(name: str) -> FloatArray:
        return (
            np.asarray([getattr(x, name) for x in pair], dtype=np.float64)[inst.und]
            if n
            else np.zeros(0)
        )

    pr = par("price_range")
    b = np.arange(-nb, nb + 1, dtype=np.float64) / nb
    u_std = np.repeat(pr[:, None] * b[None, :], 3, axis=1)  # (n, 3(2nb+1)), vol order up/same/down
    vol_of_col = np.tile(np.asarray([1, 0, -1]), 2 * nb + 1)
    ext = np.asarray(p.extended_moves, dtype=np.float64)
    u_ext = np.broadcast_to(ext, (n, ext.size))
    # shocked vols
    scale = vega_scale(
        inst.dte,
        short_power=par("short_term_vega_power"),
        long_power=par("long_term_vega_power"),
        cutoff_days=p.vega_power_cutoff_days,
        floor_days=p.dte_floor_days,
    )
    sig_up, sig_dn = shock_vols(
        inst.sigma,
        scale,
        vol_up=par("volatility_range_up"),
        vol_down=par("volatility_range_down"),
        min_vol_up=par("min_volatility_for_shock_up"),
    )
    sig_std = np.where(
        vol_of_col[None, :] > 0,
        sig_up[:, None],
        np.where(vol_of_col[None, :] < 0, sig_dn[:, None], inst.sigma[:, None]),
    )
    usd_std = _usd_pnl(rb, u_std, sig_std)
    usd_ext = _usd_pnl(rb, u_ext, np.broadcast_to(sig_up[:, None], u_ext.shape))
    S = inst.spot
    inv = inst.inverse
    unit_std = np.where(inv[:, None], usd_std / (S[:, None] * (1.0 + u_std)), usd_std)
    edge = pr[:, None] * np.sign(u_ext)
    scaled = usd_ext * (pr[:, None] / np.abs(u_ext)) * par("extended_table_factor")[:, None]
    unit_ext = np.where(inv[:, None], scaled / (S[:, None] * (1.0 + edge)), scaled)

    # groups: (account, underlying, settlement currency)
    base = rb.snapshot.base_currency
    ccy_names = list(dict.fromkeys([*unds, base]))
    ccy_of_und = np.asarray([ccy_names.index(u) for u in unds], dtype=np.int64)
    i_ccy = (
        np.where(inv, ccy_of_und[inst.und], ccy_names.index(base)) if n else np.zeros(0, np.int64)
    )
    nu, nc = max(len(unds), 1), len(ccy_names)
    ii = pos.instrument
    key = (pos.account * nu + inst.und[ii]) * nc + i_ccy[ii]
    g_key, g_of_pos = np.unique(key, return_inverse=True)
    G = int(g_key.size)
    g_ccy = (g_key % nc).astype(np.int64)
    g_und = ((g_key // nc) % nu).astype(np.int64)
    g_account = (g_key // (nc * nu)).astype(np.int64)
    Q = sparse.csr_matrix((pos.quantity, (g_of_pos, ii)), shape=(G, n))
    std = np.asarray(Q @ unit_std, dtype=np.float64) if G else np.zeros((0, unit_std.shape[1]))
    extv = np.asarray(Q @ unit_ext, dtype=np.float64) if G else np.zeros((0, ext.size))

    # currency parameters and prices (USD amounts -> currency units)
    cpar = [p.currencies.get(c, p.default_currency) for c in ccy_names]
    c_price = np.asarray(
        [1.0 if c == base else rb.snapshot.price(c, needed_by="deribit-pm") for c in ccy_names]
    )
    offset = np.asarray([c.pnl_offset for c in cpar])[g_ccy]
    cap = (np.asarray([c.max_offsetable_pnl for c in cpar]) / c_price)[g_ccy]
    damp = (np.asarray([c.extended_dampener for c in cpar]) / c_price)[g_ccy]

    def offset_gains(v: FloatArray, off: FloatArray, cp: FloatArray) -> FloatArray:
        return np.where(v > 0, np.minimum(v * off[:, None], cp[:, None]), v)

    agg_std = offset_gains(std, offset, cap)
    agg_ext = offset_gains(extv, offset, cap)
    g_worst, g_cell = _worst(agg_std, agg_ext, damp)

    # roll shock (futures/perps) and delta shock per group
    lin = np.isin(inst.kind, (KIND_FUTURE, KIND_PERP)) & ~inst.settled
    size_ccy = np.where(inv, inst.mult / inst.fwd, inst.mult * inst.fwd)  # per unit of quantity
    cur = [cpar[int(c)] for c in i_ccy] if n else []
    move = (
        np.maximum(
            np.asarray([c.min_annualised_move for c in cur]),
            np.asarray([c.annualised_move_risk for c in cur]) * inst.t,
        )
        if n
        else np.zeros(0)
    )
    roll_pos = np.where(lin[ii], np.abs(pos.quantity) * size_ccy[ii] * move[ii], 0.0)
    g_roll = sum_by(g_of_pos.astype(np.int64), roll_pos, G)
    d_usd = sum_by(g_of_pos.astype(np.int64), pos.quantity * inst.delta[ii] * inst.spot[ii], G)
    thr = np.asarray([x.delta_total_liq_shock_threshold for x in pair])[g_und] if G else np.zeros(0)
    slope = np.asarray([x.m_inc for x in pair])[g_und] if G else np.zeros(0)
    mx = np.asarray([x.max_delta_shock for x in pair])[g_und] if G else np.zeros(0)
    absd = np.abs(d_usd)
    shock = (
        np.minimum(mx, slope * np.maximum(absd - thr, 0.0) / p.m_inc_unit_usd) if G else np.zeros(0)
    )
    g_ds = absd * shock / c_price[g_ccy] if G else np.zeros(0)

    # per (account, currency): cell-wise sum of the offset vectors, then the margins
    ckey = g_account * nc + g_ccy
    c_key, g_cg = np.unique(ckey, return_inverse=True)
    C = int(c_key.size)
    to_c = sparse.csr_matrix((np.ones(G), (g_cg, np.arange(G))), shape=(C, G))
    c_ccy = (c_key % nc).astype(np.int64)
    c_std = np.asarray(to_c @ agg_std) if C else np.zeros((0, agg_std.shape[1]))
    c_ext = np.asarray(to_c @ agg_ext) if C else np.zeros((0, ext.size))
    c_worst, _ = _worst(
        c_std, c_ext, (np.asarray([c.extended_dampener for c in cpar]) / c_price)[c_ccy]
    )
    rmm = round9(c_worst) + sum_by(g_cg.astype(np.int64), g_roll + g_ds, C)
    c_im, c_mm = assemble_margins(rmm, p.mm_factor)
    labels = tuple((f"{u:g}", ["up", "same", "down"][j]) for u in b for j in range(3))
    return DeribitVectors(
        columns=tuple((float(x), v) for x, v in labels),
        ext_moves=tuple(float(x) for x in ext),
        unit_std=unit_std,
        unit_ext=unit_ext,
        g_account=g_account,
        g_und=g_und,
        g_ccy=g_ccy,
        g_ccy_group=g_cg.astype(np.int64),
        underlyings=tuple(unds),
        currencies=tuple(ccy_names),
        std=std,
        ext=extv,
        agg_std=agg_std,
        agg_ext=agg_ext,
        g_worst=g_worst,
        g_worst_cell=g_cell,
        g_roll=g_roll,
        g_delta_shock=g_ds,
        g_delta_usd=d_usd,
        ccy_account=(c_key // nc).astype(np.int64),
        ccy_ccy=c_ccy,
        ccy_price=c_price[c_ccy],
        ccy_worst=c_worst,
        ccy_rmm=rmm,
        ccy_im=c_im,
        ccy_mm=c_mm,
    )


def _worst(std: FloatArray, ext: FloatArray, damp: FloatArray) -> tuple[FloatArray, IntArray]:
    """``max(0, −min std, −min damped ext)`` and the worst cell (extended cells after std)."""
    ext_d = np.minimum(0.0, ext + damp[:, None])
    allc = np.hstack([std, ext_d])
    if allc.shape[0] == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    cell = np.argmin(allc, axis=1).astype(np.int64)
    worst = np.maximum(0.0, -allc[np.arange(allc.shape[0]), cell])
    return worst, cell


def _usd_pnl(rb: ResolvedBook, u: FloatArray, sig: FloatArray) -> FloatArray:
    """USD P&L per unit of quantity (multiplier included) for relative moves ``u`` (``(n, S)``).

    The engine's one risk-array function with a move and a shocked vol per contract and cell
    (inverse contracts: coin P&L valued at the shocked index).
    """
    inst = rb.instruments
    return unit_pnl(inst, u, row=np.arange(inst.n, dtype=np.int64), vol=VolMatrix(sig))
