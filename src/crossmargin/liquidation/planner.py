"""Liquidation plans: what to close, and how much, for every account being liquidated.

A plan is made per **unit** (:mod:`~crossmargin.liquidation.units`: a whole account under the
account-wide regimes, one position with its own margin under ``isolated``).

Policies:

* ``full`` — the seed's *simultaneous closure*: every position of the unit is closed.
* ``partial`` — close the fewest/cheapest positions until ``equity ≥ MM + buffer`` and no
  further (Mango v4 #447: never liquidate past the target):

  1. **rank** positions by margin relief per unit of close-out cost, from a leave-one-out
     re-margin: ``relief_i = (MM + B) − (MM + B)_without i``, ``cost_i`` = slippage + fee of
     closing ``i``; positions that bring no relief (a hedge leg) are never closed partially;
  2. find the shortest prefix of that ranking whose closure meets the target;
  3. close only the **fraction** ``f`` of its last position at which the target is met exactly,
     by a safeguarded secant (Illinois) search on ``gap(f) = equity − MM − B``.

  If no prefix meets the target the unit is closed in full. The buffer ``B`` is
  ``rate × MM`` (Derive) or ``rate × gross notional`` (Drift), measured after the close.

Every candidate is evaluated by re-margining **virtual accounts**
(:mod:`~crossmargin.liquidation.virtual`) with the regime's own model, vectorised across all
units at once: a round costs a handful of margin calls however many accounts liquidate. Amounts
are in the snapshot currency.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.liquidation.closeout import CloseOutPricer
from crossmargin.liquidation.units import Units, ranges, unit_value
from crossmargin.liquidation.virtual import Evaluation, evaluate, expand
from crossmargin.resolve.book import ResolvedBook

__all__ = ["TARGET_TOL", "plan_units"]

#: Relative tolerance of "the target is met" (of the unit's requirement, at least 1 currency unit).
TARGET_TOL = 1e-9


def plan_units(
    rb: ResolvedBook,
    pricer: CloseOutPricer,
    units: Units,
    *,
    policy: str,
    model: str,
) -> FloatArray:
    """Fraction of each unit row (``units.row``) to close under ``policy``.

    Position units are evaluated under ``cross`` (one position and its allocation form a
    one-position account), account units under the regime's ``model``.
    """
    close = np.ones(units.row.shape[0])
    if policy == "full" or units.n == 0:
        return close
    for scope, mdl in ((True, "cross"), (False, model)):
        sel = np.flatnonzero(units.position_scope == scope)
        if sel.size == 0:
            continue
        sub = units.take(sel)
        frac = _partial(rb, pricer, sub, model=mdl)
        close[ranges(units.start[sel], units.counts[sel])] = frac
    return close


def _partial(rb: ResolvedBook, pricer: CloseOutPricer, units: Units, *, model: str) -> FloatArray:
    """Close fractions per row of ``units`` under the partial policy (module docstring)."""
    U = units.n
    M = units.row.shape[0]
    uv = unit_value(rb, units)

    def run(v_unit: IntArray, keep_fn: object) -> tuple[Evaluation, IntArray, IntArray, FloatArray]:
        vp_v, vp_m, rank = expand(units, v_unit)
        keep = keep_fn(vp_v, rank)  # type: ignore[operator]
        ev = evaluate(rb, pricer, units, v_unit, vp_v, vp_m, keep, model=model, values=uv)
        return ev, vp_v, vp_m, keep

    all_u = np.arange(U, dtype=np.int64)
    base, _, _, _ = run(all_u, lambda vp_v, rank: np.ones(rank.shape[0]))
    tol = TARGET_TOL * np.maximum(1.0, base.requirement)
    # every unit was triggered by its status; one already at the target (rounding) is left alone
    need = base.gap < 0.0
    close = np.zeros(M)
    if not need.any():
        return close
    # 1. leave-one-out relief per unit cost
    nu = np.flatnonzero(need)
    cnt = units.counts
    loo_unit = np.repeat(nu, cnt[nu])
    loo_rank = ranges(np.zeros(nu.size, np.int64), cnt[nu])
    loo, _, _, _ = run(loo_unit, lambda vp_v, rank: (rank != loo_rank[vp_v]).astype(np.float64))
    relief = base.requirement[loo_unit] - loo.requirement
    cost = loo.slippage + loo.fee_raw
    useful = relief > tol[loo_unit]  # closing it lowers the requirement
    score = np.where(useful, relief / np.maximum(cost, 1e-12 * np.maximum(relief, 1.0)), -np.inf)
    m_idx = units.start[loo_unit] + loo_rank
    order = np.lexsort((loo_rank, -score, loo_unit))  # within unit: best score first
    new_rows = units.row.copy()
    new_rows[np.sort(m_idx)] = units.row[m_idx[order]]
    ranked = units.with_row_order(new_rows)
    n_useful = np.bincount(loo_unit[useful], minlength=U)
    # 2. prefixes k = 1..n_useful (close the k best)
    has = nu[n_useful[nu] > 0]
    full = np.zeros(U, np.bool_)
    full[nu[n_useful[nu] == 0]] = True
    k_star = np.zeros(U, np.int64)
    if has.size:
        pre_unit = np.repeat(has, n_useful[has])
        pre_k = ranges(np.ones(has.size, np.int64), n_useful[has])
        vp_v, vp_m, rank = expand(ranked, pre_unit)
        keep = (rank >= pre_k[vp_v]).astype(np.float64)
        pre = evaluate(rb, pricer, ranked, pre_unit, vp_v, vp_m, keep, model=model, values=uv)
        ok = pre.gap >= 0.0
        # smallest feasible k per unit
        big = np.iinfo(np.int64).max
        kk = np.full(U, big, np.int64)
        np.minimum.at(kk, pre_unit[ok], pre_k[ok])
        feasible = kk[has] != big
        full[has[~feasible]] = True
        fu = has[feasible]
        k_star[fu] = kk[fu]
        # gaps at prefix k-1 (lo) and k (hi)
        g_hi = np.zeros(U)
        g_lo = np.zeros(U)
        pos_in = np.full(U, -1, np.int64)
        first_pre = np.concatenate([[0], np.cumsum(n_useful[has])[:-1]])
        pos_in[has] = first_pre
        g_hi[fu] = pre.gap[pos_in[fu] + k_star[fu] - 1]
        lo_from_pre = k_star[fu] > 1
        g_lo[fu] = np.where(
            lo_from_pre, pre.gap[pos_in[fu] + np.maximum(k_star[fu] - 2, 0)], base.gap[fu]
        )
        frac = _fraction(rb, pricer, ranked, fu, k_star[fu], g_lo[fu], g_hi[fu], tol, model, uv)
        # assemble: rank < k-1 closed, rank == k-1 closed by frac
        rk = np.arange(M) - ranked.start[ranked.row_unit]
        u_of = ranked.row_unit
        f_u = np.zeros(U)
        f_u[fu] = frac
        sel = np.isin(u_of, fu)
        close_ranked = np.zeros(M)
        close_ranked[sel] = np.where(
            rk[sel] < k_star[u_of[sel]] - 1,
            1.0,
            np.where(rk[sel] == k_star[u_of[sel]] - 1, f_u[u_of[sel]], 0.0),
        )
        # map back to the original row order of ``units``
        back = np.empty(M, np.int64)
        back[np.sort(m_idx)] = m_idx[order]
        close[back[sel]] = close_ranked[sel]
    fr = np.isin(units.row_unit, np.flatnonzero(full))
    close[fr] = 1.0
    return close


def _fraction(
    rb: ResolvedBook,
    pricer: CloseOutPricer,
    ranked: Units,
    fu: IntArray,
    k: IntArray,
    g_lo: FloatArray,
    g_hi: FloatArray,
    tol: FloatArray,
    model: str,
    uv: FloatArray,
) -> FloatArray:
    """Smallest fraction of the k-th ranked position meeting the target (Illinois secant)."""
    a = np.zeros(fu.size)
    b = np.ones(fu.size)
    fa = g_lo.copy()
    fb = g_hi.copy()
    side = np.zeros(fu.size, np.int64)
    t = tol[fu]
    active = fb > t
    for _ in range(60):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        denom = fb[idx] - fa[idx]
        c = b[idx] - fb[idx] * (b[idx] - a[idx]) / np.where(denom != 0, denom, 1.0)
        bad = ~((c > a[idx]) & (c < b[idx])) | (denom == 0)
        c = np.where(bad, 0.5 * (a[idx] + b[idx]), c)
        v_unit = fu[idx]
        vp_v, vp_m, rank = expand(ranked, v_unit)
        kv = k[idx][vp_v]
        keep = np.where(rank < kv - 1, 0.0, np.where(rank == kv - 1, 1.0 - c[vp_v], 1.0))
        ev = evaluate(rb, pricer, ranked, v_unit, vp_v, vp_m, keep, model=model, values=uv)
        fc = ev.gap
        ok = fc >= 0.0
        i_ok, i_no = idx[ok], idx[~ok]
        b[i_ok], fb[i_ok] = c[ok], fc[ok]
        fa[i_ok] = np.where(side[i_ok] == 1, 0.5 * fa[i_ok], fa[i_ok])
        side[i_ok] = 1
        a[i_no], fa[i_no] = c[~ok], fc[~ok]
        fb[i_no] = np.where(side[i_no] == -1, 0.5 * fb[i_no], fb[i_no])
        side[i_no] = -1
        # fb may have been halved (Illinois); convergence is judged on the true gap
        true_hi = np.where(ok, fc, np.inf)
        done = (true_hi <= t[idx]) | (b[idx] - a[idx] < 1e-13)
        active[idx[done]] = False
    return b
