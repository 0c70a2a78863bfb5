"""Arrange a resolved book as Derive PMRM_2 portfolios (``derive-pmrm2.md`` §2, §9 step 1).

Mapping from the engine's book and snapshot:

* **subaccounts** — one per (account, underlying) held through a perpetual or an option, plus
  one per underlying of a risk-cancelling collateral (PMRM_2 margins one base market per
  instance; several underlyings in one account are margined side by side and summed);
* **cash** ``C`` — the account's balance of ``params.cash_asset`` (face value, may be negative);
  the **stable price** ``s`` is that asset's snapshot price (1 if it is the snapshot currency);
* **perp** — linear perpetuals: ``q_p = Σ q·mult``, perp price = the snapshot's ``perp.mark``,
  confidence ``perp.confidence``, ``V_p`` = their mark-to-market against entry;
* **options** — linear European options; per expiry: seconds to expiry ``T`` (0 once expired,
  valued at the snapshot's settlement price), forward, ``forward_fixed`` (else the settlement-TWAP
  rule for ``T < twap``), rate (the expiry's, else implied by its discount, else the asset's),
  ``forward_confidence``/``rate_confidence``; per option: the mark vol of its strike if the
  snapshot lists one, else the expiry's SVI evaluated by Derive's rule, else the engine's vol;
  vol confidence from the mark, else the expiry's ``vol_confidence``;
* **collateral** — every other balance: ``v = amount·price/s``, confidence ``min(c_j, c_S)``,
  haircuts and risk-cancelling flag from ``params.collaterals`` (else the configuration's
  haircuts and "risk-cancelling iff the account trades that underlying").

Dated futures, spot positions and inverse contracts are not PMRM_2 products and are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crossmargin._time import SECONDS_PER_YEAR, format_instant
from crossmargin._typing import FloatArray, IntArray
from crossmargin.errors import MarketDataError, ModelError
from crossmargin.instruments.contracts import Option
from crossmargin.margin.presets._common import require_supported
from crossmargin.margin.presets.derive.core import DeriveInputs
from crossmargin.margin.presets.derive.kernel import derive_svi_vols
from crossmargin.margin.presets.derive.params import DeriveParams
from crossmargin.market.snapshot import ExpiryMarket, OptionMark
from crossmargin.market.vol import MarkedVol, SVIVol, VolSurface
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION, KIND_PERP

__all__ = ["Arranged", "arrange"]


@dataclass(frozen=True, slots=True, eq=False)
class Arranged:
    """PMRM_2 inputs of a resolved book plus the map back to the book.

    Attributes
    ----------
    inputs
        The arranged arrays (cash units).
    underlyings
        Names indexed by ``g_und``.
    g_und
        Underlying index of each subaccount.
    c_row
        Collateral-table row of each collateral holding.
    cash_asset
        The cash asset's symbol.
    """

    inputs: DeriveInputs
    underlyings: tuple[str, ...]
    g_und: IntArray
    c_row: IntArray
    cash_asset: str


def _svi_of(surface: VolSurface | None) -> SVIVol | None:
    if isinstance(surface, SVIVol):
        return surface
    if isinstance(surface, MarkedVol):
        return _svi_of(surface.base)
    return None


def _mark_for(
    marks: tuple[OptionMark, ...], strike: float, right: str
) -> tuple[float | None, float | None]:
    vol: float | None = None
    conf: float | None = None
    for mk in marks:
        if mk.strike != strike or (mk.right is not None and mk.right != right):
            continue
        if mk.vol is not None and (vol is None or mk.right is not None):
            vol = mk.vol
        if conf is None or mk.right is not None:
            conf = mk.confidence
    return vol, conf


def arrange(rb: ResolvedBook, p: DeriveParams) -> Arranged:
    """Arrange every account of ``rb`` for the PMRM_2 core.

    Raises
    ------
    ModelError
        A position is not a linear perpetual or option, or a non-cash collateral balance is
        negative.
    MarketDataError
        The cash asset, an SVI surface or an underlying of risk-cancelling collateral lacks data.
    """
    require_supported(rb, "derive-pmrm2", kinds=(KIND_PERP, KIND_OPTION), inverse=False)
    snap, inst, pos, col = rb.snapshot, rb.instruments, rb.positions, rb.collateral
    A = rb.n_accounts
    cash_asset = p.cash_asset
    if cash_asset == snap.base_currency and cash_asset not in snap.assets:
        s = 1.0
    elif snap.has_price(cash_asset):
        s = snap.price(cash_asset)
    else:
        raise MarketDataError(
            f"no price for the cash asset {cash_asset} (derive-pmrm2 needs the stable price)",
            path=f"assets.{cash_asset}",
        )

    # -- subaccounts: position underlyings + risk-cancelling collateral underlyings ----------------
    unds = list(inst.underlyings)
    und_ix = {u: i for i, u in enumerate(unds)}
    pos_und = inst.und[pos.instrument] if pos.n else np.zeros(0, np.int64)
    is_cash = np.asarray([a == cash_asset for a in col.assets], dtype=np.bool_)[col.asset]
    c_rows = np.flatnonzero(~is_cash).astype(np.int64)
    c_asset = col.asset[c_rows]
    c_acc = col.account[c_rows].astype(np.int64)
    if np.any(col.amount[c_rows] < 0):
        r = int(c_rows[np.argmax(col.amount[c_rows] < 0)])
        asset = col.assets[int(col.asset[r])]
        acc = int(col.account[r])
        raise ModelError(
            f"a negative {asset} balance: derive-pmrm2 lends only its cash asset {cash_asset}",
            path=f"accounts[{acc}].collateral.{asset}" if A > 1 else f"collateral.{asset}",
        )
    # per asset (not per balance): haircuts, risk-cancelling rule and target underlying
    n_assets = len(col.assets)
    a_mm = np.zeros(n_assets)
    a_im = np.zeros(n_assets)
    a_rule = np.zeros(n_assets, np.int64)  # 0 never, 1 always, 2 iff the account trades it
    a_target = np.full(n_assets, -1, np.int64)
    for k, asset in enumerate(col.assets):
        cp = p.collaterals.get(asset)
        rows_k = np.flatnonzero(col.asset == k)
        if cp is not None:
            a_mm[k], a_im[k] = cp.mm_haircut, cp.im_haircut
            a_rule[k] = 1 if cp.risk_cancelling else 0
            target = cp.underlying or asset
        else:
            if rows_k.size:
                a_mm[k] = float(col.haircut_mm[rows_k[0]])
                a_im[k] = max(float(col.haircut_im[rows_k[0]]) - a_mm[k], 0.0)
            a_rule[k] = 2
            target = asset
        if a_rule[k] == 1 and target not in und_ix:
            und_ix[target] = len(unds)
            unds.append(target)
        a_target[k] = und_ix.get(target, -1)
    n_und = max(len(unds), 1)
    trades = np.zeros((A, n_und), dtype=np.bool_)
    if pos.n:
        trades[pos.account, pos_und] = True
    tgt = a_target[c_asset]
    rule = a_rule[c_asset]
    auto_rc = (tgt >= 0) & trades[c_acc, np.maximum(tgt, 0)]
    rc_row = np.where(rule == 1, True, np.where(rule == 2, auto_rc, False)) & (tgt >= 0)
    c_und = np.where(rc_row, tgt, -1).astype(np.int64)
    c_mm = a_mm[c_asset]
    c_im = a_im[c_asset]
    keys = np.concatenate(
        [pos.account * n_und + pos_und, (c_acc * n_und + c_und)[c_und >= 0]]
    ).astype(np.int64)
    g_key, g_inv = np.unique(keys, return_inverse=True)
    G = int(g_key.size)
    g_account = (g_key // n_und).astype(np.int64)
    g_und = (g_key % n_und).astype(np.int64)
    pos_group = g_inv[: pos.n].astype(np.int64)
    c_group = np.full(c_rows.size, -1, np.int64)
    c_group[c_und >= 0] = g_inv[pos.n :]

    # per-underlying market data (spot, confidences, perp mark)
    spot_u = np.zeros(n_und)
    conf_u = np.ones(n_und)
    perp_conf_u = np.ones(n_und)
    for u, sym in enumerate(unds):
        a = snap.asset(sym, needed_by="derive-pmrm2")
        spot_u[u] = a.price
        conf_u[u] = a.confidence
        perp_conf_u[u] = a.perp_confidence
    g_spot = spot_u[g_und]
    g_spot_conf = conf_u[g_und]

    # -- perps ------------------------------------------------------------------------------
    ii = pos.instrument
    is_perp = inst.kind[ii] == KIND_PERP if pos.n else np.zeros(0, np.bool_)
    perp_q = np.where(is_perp, pos.quantity * inst.mult[ii], 0.0) if pos.n else np.zeros(0)
    g_perp_qty = np.bincount(pos_group, weights=perp_q, minlength=G).astype(np.float64)
    g_perp_value = np.bincount(
        pos_group, weights=np.where(is_perp, pos.mtm, 0.0), minlength=G
    ).astype(np.float64)
    g_perp_price = np.zeros(G)
    if is_perp.any():
        g_perp_price[pos_group[is_perp]] = inst.fwd[ii[is_perp]]

    # -- options: contracts, expiries ---------------------------------------------------------
    opt_rows = np.flatnonzero(inst.kind == KIND_OPTION)
    o_of_inst = np.full(inst.n, -1, np.int64)
    o_of_inst[opt_rows] = np.arange(opt_rows.size)
    exp_ix: dict[tuple[int, object], int] = {}
    o_expiry = np.zeros(opt_rows.size, np.int64)
    e_T: list[float] = []
    e_F: list[float] = []
    e_fix: list[float] = []
    e_r: list[float] = []
    e_c: list[float] = []
    e_mk: list[ExpiryMarket | None] = []
    for n, i in enumerate(opt_rows):  # unique contracts (not positions)
        c = inst.contracts[int(i)]
        assert isinstance(c, Option)
        key = (int(inst.und[i]), c.expiry)
        if key not in exp_ix:
            exp_ix[key] = len(e_T)
            em = snap.expiry(c.underlying, c.expiry)
            settled = bool(inst.settled[i])
            T = 0.0 if settled else max((c.expiry - snap.as_of).total_seconds(), 0.0)
            F = float(inst.fwd[i])
            if settled or T <= 0.0:
                fix = F
            elif em is not None and em.forward_fixed is not None:
                fix = em.forward_fixed
            elif p.settlement_twap_seconds > T:
                fix = F * (p.settlement_twap_seconds - T) / p.settlement_twap_seconds
            else:
                fix = 0.0
            if em is not None and em.rate is not None:
                rate = em.rate
            elif em is not None and em.discount is not None and T > 0:
                rate = -math.log(em.discount) / (T / SECONDS_PER_YEAR)
            else:
                rate = snap.rate(c.underlying, c.expiry)
            e_T.append(T)
            e_F.append(F)
            e_fix.append(fix)
            e_r.append(rate)
            e_c.append(min(em.forward_confidence, em.rate_confidence) if em is not None else 1.0)
            e_mk.append(em)
        o_expiry[n] = exp_ix[key]
    o_strike = inst.strike[opt_rows]
    o_call = inst.is_call[opt_rows]
    o_vol = inst.sigma[opt_rows].copy()
    o_conf = np.ones(opt_rows.size)
    # vols: mark of the strike, else the expiry's SVI by Derive's rule, else the engine's vol
    svi_rows: dict[int, list[int]] = {}
    for n, i in enumerate(opt_rows):
        em = e_mk[int(o_expiry[n])]
        right = "call" if o_call[n] else "put"
        if em is not None:
            vol, conf = _mark_for(em.marks, float(o_strike[n]), right)
            o_conf[n] = conf if conf is not None else em.vol_confidence
            if vol is not None:
                o_vol[n] = vol
            elif _svi_of(em.surface) is not None:
                svi_rows.setdefault(int(o_expiry[n]), []).append(n)
        if inst.settled[i]:
            o_vol[n] = 0.0
    for e, rows_ in svi_rows.items():
        em = e_mk[e]
        assert em is not None
        sv = _svi_of(em.surface)
        assert sv is not None
        rows = np.asarray(rows_, dtype=np.int64)
        c0 = inst.contracts[int(opt_rows[rows[0]])]
        assert isinstance(c0, Option)
        f_fit = sv.forward if sv.forward is not None else e_F[e]
        t_fit = sv.t if sv.t is not None else e_T[e] / SECONDS_PER_YEAR
        one = np.ones(rows.size)
        o_vol[rows] = derive_svi_vols(
            o_strike[rows],
            sv.a * one,
            sv.b * one,
            sv.rho * one,
            sv.m * one,
            sv.sigma * one,
            f_fit * one,
            t_fit * one,
            path=f"assets.{c0.underlying}.expiries.{format_instant(c0.expiry)}.svi",
        )

    is_opt = inst.kind[ii] == KIND_OPTION if pos.n else np.zeros(0, np.bool_)
    h = np.flatnonzero(is_opt & (pos.quantity != 0.0))
    h_option = o_of_inst[ii[h]]
    inputs = DeriveInputs(
        cash=np.bincount(col.account[is_cash], weights=col.amount[is_cash], minlength=A).astype(
            np.float64
        ),
        stable_price=np.full(A, s),
        g_account=g_account,
        g_spot=g_spot,
        g_spot_conf=g_spot_conf,
        g_perp_qty=g_perp_qty,
        g_perp_price=g_perp_price,
        g_perp_conf=perp_conf_u[g_und],
        g_perp_value=g_perp_value,
        e_seconds=np.asarray(e_T, dtype=np.float64),
        e_forward=np.asarray(e_F, dtype=np.float64),
        e_forward_fixed=np.asarray(e_fix, dtype=np.float64),
        e_rate=np.asarray(e_r, dtype=np.float64),
        e_conf=np.asarray(e_c, dtype=np.float64),
        o_expiry=o_expiry,
        o_strike=o_strike,
        o_call=o_call,
        o_vol=o_vol,
        h_group=pos_group[h],
        h_option=h_option,
        h_amount=(pos.quantity * inst.mult[ii])[h],
        h_vol_conf=o_conf[h_option],
        c_account=c_acc,
        c_group=c_group,
        c_value=col.amount[c_rows] * col.price[c_rows] / s,
        c_conf=_collateral_conf(rb, c_rows, g_account, g_spot_conf, A),
        c_mm_haircut=c_mm,
        c_im_haircut=c_im,
    )
    return Arranged(inputs, tuple(unds), g_und, c_rows, cash_asset)


def _collateral_conf(
    rb: ResolvedBook, rows: IntArray, g_account: IntArray, g_conf: FloatArray, A: int
) -> FloatArray:
    """``min(c_j, c_S)`` with ``c_S`` the lowest spot confidence among the account's markets."""
    col, snap = rb.collateral, rb.snapshot
    acc_spot = np.ones(A)
    if g_account.size:
        np.minimum.at(acc_spot, g_account, g_conf)
    asset_conf = np.asarray(
        [snap.assets[a].confidence if a in snap.assets else 1.0 for a in col.assets],
        dtype=np.float64,
    )
    own = asset_conf[col.asset[rows]] if rows.size else np.zeros(0)
    return np.minimum(own, acc_spot[col.account[rows]])
