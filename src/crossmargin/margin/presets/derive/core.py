"""Derive PMRM_2 arithmetic on arranged arrays (``derive-pmrm2.md`` §2–§7, §9).

The input is the venue's *arranged portfolio* for many accounts at once
(:class:`DeriveInputs`): each account has cash, collateral tokens and one or more
*subaccounts* — one per base market (PMRM_2 margins one underlying per instance) — holding a
perpetual and European options grouped by expiry. Everything is vectorised:

1. each unique option contract is revalued once per column — mark, the two basis-contingency
   forwards and every scenario — by Derive's Black-76 (:mod:`.kernel`);
2. one sparse product sums holdings into *expiry groups* (subaccount × expiry);
3. static discounts by the sign of each shocked expiry value, dampening and the skew rule
   ``−|P&L|`` are element-wise; perp and risk-cancelling collateral P&L are outer products;
4. contingencies, loss factors and the account's mark value combine into the signed surplus

   ``MM = minSPAN·mmFactor − MMcont + totalMtM + C``,
   ``IM = minSPAN·factorIM − IMcont − MMcont + totalMtM + C`` (≥ 0 healthy).

All money is in the cash asset's units; the caller converts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._time import SECONDS_PER_YEAR  # Derive's year too: 365 days of seconds
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.kernels.blocks import BLOCK
from crossmargin.margin.presets.derive.kernel import derive_black76_block
from crossmargin.margin.presets.derive.params import DeriveParams
from crossmargin.risk.arrays import scenario_values

__all__ = [
    "SECONDS_PER_YEAR",
    "DeriveInputs",
    "DeriveResult",
    "derive_margin",
    "skew_multiplier",
    "static_discounts",
    "vol_shock_multipliers",
]

_THIRTY_DAYS = 2_592_000.0


@dataclass(frozen=True, slots=True, eq=False)
class DeriveInputs:
    """Arranged PMRM_2 portfolios of many accounts (amounts in cash units).

    Attributes
    ----------
    cash, stable_price
        Per account: signed cash balance ``C`` and the price ``s`` of the cash stable.
    g_account, g_spot, g_spot_conf
        Per subaccount (base market): owning account, spot ``S`` and its confidence ``c_S``.
    g_perp_qty, g_perp_price, g_perp_conf, g_perp_value
        Perp position ``q_p``, perp price ``P_p``, its confidence ``c_p`` and the unrealised
        P&L plus funding ``V_p``.
    e_seconds, e_forward, e_forward_fixed, e_rate, e_conf
        Per expiry (market data): seconds to expiry ``T`` (0 if expired), forward ``F``, its
        fixed part ``F_fix``, rate (floored at 0 here) and ``min(forward, rate confidence)``.
    o_expiry, o_strike, o_call, o_vol
        Per option contract: expiry index, strike, call flag, implied vol.
    h_group, h_option, h_amount, h_vol_conf
        Per option holding: subaccount, option contract, signed amount, vol-feed confidence.
    c_account, c_group, c_value, c_conf, c_mm_haircut, c_im_haircut
        Per collateral holding: account, subaccount whose scenarios it joins when
        risk-cancelling (−1 otherwise), value ``v = a·p/s``, confidence ``min(c_j, c_S)`` and
        the MM / IM (on top of MM) haircuts.
    """

    cash: FloatArray
    stable_price: FloatArray
    g_account: IntArray
    g_spot: FloatArray
    g_spot_conf: FloatArray
    g_perp_qty: FloatArray
    g_perp_price: FloatArray
    g_perp_conf: FloatArray
    g_perp_value: FloatArray
    e_seconds: FloatArray
    e_forward: FloatArray
    e_forward_fixed: FloatArray
    e_rate: FloatArray
    e_conf: FloatArray
    o_expiry: IntArray
    o_strike: FloatArray
    o_call: BoolArray
    o_vol: FloatArray
    h_group: IntArray
    h_option: IntArray
    h_amount: FloatArray
    h_vol_conf: FloatArray
    c_account: IntArray
    c_group: IntArray
    c_value: FloatArray
    c_conf: FloatArray
    c_mm_haircut: FloatArray
    c_im_haircut: FloatArray

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return int(self.cash.shape[0])

    @property
    def n_groups(self) -> int:
        """Number of subaccounts."""
        return int(self.g_account.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class DeriveResult:
    """Every intermediate of the PMRM_2 computation (cash units; contingencies ≥ 0).

    Per expiry (market): ``up``, ``down`` vol multipliers, ``sd_pos``, ``sd_neg`` static
    discounts, ``discount``. Per expiry group (``eg_*``, subaccount × expiry): mark value, values
    at the two basis forwards, basis contingency, naked shorts, gross contracts, confidence. Per subaccount (``g_*``): scenario
    P&L ``(G, S)``, basis contingency ``BC``, ``min_span``, worst scenario (``S`` = the basis
    contingency), option mark value and contingencies. Per collateral row: haircut and
    confidence charges. Per account: loss factors, ``total_mtm`` (= ``V_p + Σ mtm + Σ v``),
    mark value ``total_mtm + C``, contingency totals and the signed ``mm``, ``im``.
    """

    params: DeriveParams
    up: FloatArray
    down: FloatArray
    sd_pos: FloatArray
    sd_neg: FloatArray
    discount: FloatArray
    eg_group: IntArray
    eg_expiry: IntArray
    eg_mtm: FloatArray
    eg_up: FloatArray
    eg_down: FloatArray
    eg_basis: FloatArray
    eg_naked: FloatArray
    eg_gross: FloatArray
    eg_conf: FloatArray
    scenario_pnl: FloatArray
    g_basis: FloatArray
    g_min_span: FloatArray
    g_worst: IntArray
    g_option_mtm: FloatArray
    g_conf: FloatArray
    g_mm_perp: FloatArray
    g_im_perp: FloatArray
    g_mm_option: FloatArray
    g_im_option: FloatArray
    g_oracle: FloatArray
    c_mm: FloatArray
    c_im: FloatArray
    c_oracle: FloatArray
    factor_mm: FloatArray
    factor_im: FloatArray
    total_mtm: FloatArray
    mark: FloatArray
    mm_cont: FloatArray
    im_cont: FloatArray
    mm: FloatArray
    im: FloatArray


def _conf_charge(conf: FloatArray, notional: FloatArray, p: DeriveParams) -> FloatArray:
    o = p.other
    return np.where(conf < o.conf_threshold, (1.0 - conf) * o.conf_margin * notional, 0.0)


def vol_shock_multipliers(
    seconds: FloatArray, p: DeriveParams
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(μ, up, down)`` per expiry: ``μ = (30 d / max(T, dteFloor))^power`` (§4.2)."""
    vs = p.vol_shock
    T = np.asarray(seconds, dtype=np.float64)
    floor_s = np.floor(vs.dte_floor_days * 86_400.0)
    with np.errstate(divide="ignore"):
        tau30 = _THIRTY_DAYS / np.maximum(T, floor_s)
    power = np.where(T <= _THIRTY_DAYS, vs.short_term_power, vs.long_term_power)
    mu = tau30**power
    return mu, 1.0 + vs.vol_range_up * mu, np.maximum(0.0, 1.0 - vs.vol_range_down * mu)


def static_discounts(
    t: FloatArray, rate: FloatArray, p: DeriveParams
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(D, sdPos, sdNeg)`` per expiry from year fraction and rate (floored at 0) (§4.3)."""
    mg = p.margin
    r = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    D = np.exp(-r * t)
    sd_pos = mg.long_base_static_discount * np.exp(
        -t * (r * mg.long_rate_mult_scale + mg.long_rate_add_scale)
    )
    sd_neg = np.minimum(
        1.0 / D,
        mg.short_base_static_discount
        * np.exp(t * (r * mg.short_rate_mult_scale + mg.short_rate_add_scale)),
    )
    return D, sd_pos, sd_neg


def skew_multiplier(
    k: FloatArray, sqrt_t: FloatArray, base_cap: float, c_base: float, p: DeriveParams
) -> FloatArray:
    """Vol multiplier of a skew rotation at log-moneyness ``k`` (use ``|k|`` for ABS) (§5.1)."""
    sk = p.skew
    sqt = sqrt_t
    cap = c_base * sqt + base_cap
    kstar = np.maximum(
        sk.min_k_star, sqt * sk.width_scale * (sk.vol_param_static + sqt * sk.vol_param_scale)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = k * cap / kstar
    pos = 1.0 + np.minimum(cap, lin)
    neg = 1.0 + np.maximum(-cap, lin)
    return np.where(k >= 0, pos, neg)


def derive_margin(x: DeriveInputs, p: DeriveParams) -> DeriveResult:
    """Compute PMRM_2 MM and IM (signed surplus, cash units) of every account of ``x``."""
    scen = p.scenarios
    # skew rotations never shock spot (§5.1): a lenient case list with x != 1 is read as x = 1
    shock = np.asarray(
        [1.0 if s.vol in ("linear", "abs") else s.spot_shock for s in scen], dtype=np.float64
    )
    damp = np.asarray([s.dampening for s in scen], dtype=np.float64)
    vdir = [s.vol for s in scen]
    S = shock.size
    A, G = x.n_accounts, x.n_groups
    vs, mg, oth = p.vol_shock, p.margin, p.other

    # -- per expiry (§4) --------------------------------------------------------------------
    T = x.e_seconds
    t = T / SECONDS_PER_YEAR
    r = np.maximum(x.e_rate, 0.0)
    f_fix = x.e_forward_fixed
    f_var = x.e_forward - f_fix
    _, up, down = vol_shock_multipliers(T, p)
    D, sd_pos, sd_neg = static_discounts(t, r, p)
    bc_factor = p.basis.add_factor + p.basis.mult_factor * t
    sqt = np.sqrt(t)

    # -- unit values of every option contract under every column -----------------------------
    e = x.o_expiry
    xs = np.concatenate([[1.0, p.basis.scenario_spot_up, p.basis.scenario_spot_down], shock])
    sig = x.o_vol
    n_opt = sig.shape[0]
    vol_cols = np.empty((n_opt, 3 + S), dtype=np.float64)
    vol_cols[:, :3] = sig[:, None]
    with np.errstate(divide="ignore"):
        k = np.log(x.o_strike / (f_var[e] + f_fix[e])) if n_opt else np.zeros(0)
    for j, d in enumerate(vdir):
        c = 3 + j
        if d == "up":
            vol_cols[:, c] = np.maximum(vs.min_vol_up_shock, sig * up[e])
        elif d == "down":
            vol_cols[:, c] = sig * down[e]
        elif d == "none":
            vol_cols[:, c] = sig
        elif d == "linear":
            mult = skew_multiplier(k, sqt[e], p.skew.linear_base_cap, p.skew.linear_c_base, p)
            vol_cols[:, c] = sig * np.maximum(mult, 0.0)
        else:  # abs
            mult = skew_multiplier(np.abs(k), sqt[e], p.skew.abs_base_cap, p.skew.abs_c_base, p)
            vol_cols[:, c] = sig * np.maximum(mult, 0.0)
    vol_cols[t[e] <= 0.0] = 0.0  # expired: intrinsic value whatever the (possibly infinite) shock
    # the engine's revaluation: forward ``F_fix + F_var · x`` per column, Derive's pricer
    V = scenario_values(
        f_var[e],
        x.o_strike,
        t[e],
        D[e],
        x.o_call,
        factor=np.broadcast_to(xs, vol_cols.shape),
        sigma=vol_cols,
        fixed=f_fix[e],
        price=derive_black76_block,
    )

    # -- holdings → expiry groups (sparse) ------------------------------------------------------
    n_exp = max(int(T.shape[0]), 1)
    h_exp = e[x.h_option] if x.h_option.size else np.zeros(0, np.int64)
    eg_key = x.h_group * n_exp + h_exp
    uniq, eg_of_h = np.unique(eg_key, return_inverse=True)
    n_eg = int(uniq.shape[0])
    eg_group = (uniq // n_exp).astype(np.int64)
    eg_exp = (uniq % n_exp).astype(np.int64)
    Q = sparse.csr_matrix((x.h_amount, (eg_of_h, x.h_option)), shape=(n_eg, n_opt))
    skew = np.asarray([d in ("linear", "abs") for d in vdir], dtype=np.bool_)
    mtm = np.zeros(n_eg)
    m_up = np.zeros(n_eg)
    m_dn = np.zeros(n_eg)
    pnl = np.zeros((G, S))
    # expiry groups are sorted by subaccount: evaluate them in cache-sized blocks and fold each
    # block into its subaccounts with one reduceat (no Python loop over accounts)
    block = max(1, BLOCK // max(S, 1))
    for a in range(0, n_eg, block):
        b = min(a + block, n_eg)
        M = np.asarray(Q[a:b] @ V, dtype=np.float64)
        mtm[a:b], m_up[a:b], m_dn[a:b] = M[:, 0], M[:, 1], M[:, 2]
        ex = eg_exp[a:b]
        Ms = M[:, 3:]
        sd = np.where(Ms >= 0, sd_pos[ex, None], sd_neg[ex, None])
        Ms *= sd
        Ms -= M[:, :1]
        Ms *= damp[None, :]
        if skew.any():
            Ms[:, skew] = -np.abs(Ms[:, skew])
        gb = eg_group[a:b]
        starts = np.flatnonzero(np.r_[True, gb[1:] != gb[:-1]])
        pnl[gb[starts]] += np.add.reduceat(Ms, starts, axis=0)
    eg_bc = np.minimum(np.minimum(m_up - mtm, m_dn - mtm), 0.0) * bc_factor[eg_exp]

    # -- subaccount P&L: options + perp + risk-cancelling collateral -----------------------------
    move = (shock - 1.0) * damp
    pnl += (x.g_perp_qty * x.g_perp_price)[:, None] * move[None, :]
    rc = x.c_group >= 0
    v_rc = sum_by(x.c_group[rc], x.c_value[rc], G)
    pnl += v_rc[:, None] * move[None, :]
    g_bc = sum_by(eg_group, eg_bc, G)
    worst_pnl = pnl.min(axis=1) if G else np.zeros(0)
    g_min = np.minimum(g_bc, worst_pnl)
    g_worst = np.where(g_bc < worst_pnl, S, np.argmin(pnl, axis=1) if G else 0).astype(np.int64)

    # -- contingencies (§6) -------------------------------------------------------------------
    g_conf = np.where(x.g_perp_qty != 0.0, np.minimum(x.g_spot_conf, x.g_perp_conf), x.g_spot_conf)
    perp_notional = np.abs(x.g_perp_qty) * x.g_spot
    # naked shorts: calls and puts pooled per strike within an expiry group (integer keys)
    strikes, k_rank = np.unique(x.o_strike, return_inverse=True)
    n_k = max(int(strikes.size), 1)
    sk_key, sk_inv = np.unique(
        eg_of_h.astype(np.int64) * n_k + k_rank.astype(np.int64)[x.h_option], return_inverse=True
    )
    net_at_strike = sum_by(sk_inv.astype(np.int64), x.h_amount, int(sk_key.size))
    eg_naked = sum_by((sk_key // n_k).astype(np.int64), np.maximum(0.0, -net_at_strike), n_eg)
    eg_gross = sum_by(eg_of_h, np.abs(x.h_amount), n_eg)
    eg_conf = np.minimum(x.e_conf[eg_exp], g_conf[eg_group])
    if x.h_option.size:
        np.minimum.at(eg_conf, eg_of_h, x.h_vol_conf)
    eg_spot = x.g_spot[eg_group]
    g_mm_perp = perp_notional * oth.mm_perp_percent
    g_im_perp = perp_notional * oth.im_perp_percent
    g_mm_opt = sum_by(eg_group, eg_naked * eg_spot * oth.mm_option_percent, G)
    g_im_opt = sum_by(eg_group, eg_naked * eg_spot * oth.im_option_percent, G)
    g_oracle = _conf_charge(g_conf, perp_notional, p) + sum_by(
        eg_group, _conf_charge(eg_conf, eg_gross * eg_spot, p), G
    )
    c_mm = x.c_value * x.c_mm_haircut
    c_im = x.c_value * x.c_im_haircut
    c_oracle = _conf_charge(x.c_conf, x.c_value, p)

    # -- margin (§7) ------------------------------------------------------------------------
    s = x.stable_price
    factor_mm = np.full(A, mg.mm_factor)
    factor_im = np.where(
        s < oth.peg_loss_threshold,
        mg.im_factor + oth.peg_loss_factor * (oth.peg_loss_threshold - s),
        mg.im_factor,
    )
    g_opt_mtm = sum_by(eg_group, mtm, G)
    total_mtm = sum_by(x.g_account, x.g_perp_value + g_opt_mtm, A) + sum_by(
        x.c_account, x.c_value, A
    )
    mark = total_mtm + x.cash
    mm_cont = sum_by(x.g_account, g_mm_perp + g_mm_opt, A) + sum_by(x.c_account, c_mm, A)
    im_cont = sum_by(x.g_account, g_im_perp + g_im_opt + g_oracle, A) + sum_by(
        x.c_account, c_im + c_oracle, A
    )
    span_mm = sum_by(x.g_account, g_min * factor_mm[x.g_account], A)
    span_im = sum_by(x.g_account, g_min * factor_im[x.g_account], A)
    mm = span_mm - mm_cont + mark
    im = span_im - im_cont - mm_cont + mark
    return DeriveResult(
        params=p,
        up=up,
        down=down,
        sd_pos=sd_pos,
        sd_neg=sd_neg,
        discount=D,
        eg_group=eg_group,
        eg_expiry=eg_exp,
        eg_mtm=mtm,
        eg_up=m_up,
        eg_down=m_dn,
        eg_basis=eg_bc,
        eg_naked=eg_naked,
        eg_gross=eg_gross,
        eg_conf=eg_conf,
        scenario_pnl=pnl,
        g_basis=g_bc,
        g_min_span=g_min,
        g_worst=g_worst,
        g_option_mtm=g_opt_mtm,
        g_conf=g_conf,
        g_mm_perp=g_mm_perp,
        g_im_perp=g_im_perp,
        g_mm_option=g_mm_opt,
        g_im_option=g_im_opt,
        g_oracle=g_oracle,
        c_mm=c_mm,
        c_im=c_im,
        c_oracle=c_oracle,
        factor_mm=factor_mm,
        factor_im=factor_im,
        total_mtm=total_mtm,
        mark=mark,
        mm_cont=mm_cont,
        im_cont=im_cont,
        mm=mm,
        im=im,
    )
