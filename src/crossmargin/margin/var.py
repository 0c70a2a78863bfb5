"""The ``var`` and ``es`` models: portfolio VaR / expected shortfall over joint scenarios.

Per account, over a joint scenario set (:mod:`crossmargin.scenarios.for_book`: filtered
historical simulation by default, plain HS or Monte Carlo) with probabilities ``w_s``:

1. **risk arrays**: one full revaluation per unique contract and scenario
   (:func:`~crossmargin.risk.pnl.joint_unit_pnl`), aggregated to (account, underlying)
   groups by one sparse product per block of accounts — the grid model's design, so cost grows
   with contracts × scenarios plus positions × scenarios, never with a Python loop;
2. **core requirement** ``R = max(0, VaR_α(L))`` (``var``, α = 99 %) or ``max(0, ES_α(L))``
   (``es``, α = 97.5 %) of the account's scenario losses ``L`` — all underlyings together, so
   cross-asset hedges net through their historical co-movement
   (:mod:`crossmargin.scenarios.tail`);
3. **add-ons** (``margin_addons``; on for var/es by default): liquidity close-out cost and
   concentration per underlying, correlation breakdown per pair of underlyings (capped, per
   account, at the diversification benefit it claws back: ``Σ_u standalone_u − R``), wrong-way
   collateral per collateral asset;
4. **anti-procyclicality** (EMIR RTS 153/2013 Art. 28(1)): ``releasable_buffer`` adds
   ``apc_buffer × f × R``, ``f`` the release factor of the account's stress ratio (current over
   long-run volatility, :mod:`crossmargin.margin.apc`); ``buffer`` adds ``apc_buffer × R`` on
   every day; ``stress_weight`` is already in the scenario weights; ``floor`` adds
   ``max(0, R_10y − R)`` with ``R_10y`` the same measure over plain HS of ``apc_floor_years``.

``IM = R + add-ons``, ``MM = mm_factor × IM``; then netting never costs: the requirement net of
the size-driven and collateral add-ons is at most the sum of the account's positions margined
alone (:mod:`crossmargin.margin.netting`, a ``netting_cap`` credit when it binds; the positions
alone by homogeneity, :func:`positions_alone_netted`). The per-underlying breakdown reports each
group's *component* (Euler allocation: ES components are tail-weighted group losses and sum to
``R``; VaR components are the group losses in the VaR scenario) as its requirement, plus its own
liquidity add-ons, and the group's *standalone* measure as its scan risk. ``explain`` adds the
scenario dates driving the tail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

import numpy as np
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.margin.addons.basis import basis_addon, basis_of_cells
from crossmargin.margin.addons.correlation import PreparedPair, prepare_stresses
from crossmargin.margin.addons.liquidity import liquidity_addons
from crossmargin.margin.addons.wrong_way import exposure_assets, wrong_way_addon
from crossmargin.margin.apc import account_ratio, release_factor, stress_ratios
from crossmargin.margin.base import ModelInfo
from crossmargin.margin.batch import assemble_batch
from crossmargin.margin.netting import cap_netting
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.margin.var_engine import AccountPass, UnitCache, aggregate, risk_measure
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.history import bundled_history, history_warnings
from crossmargin.resolve.book import ResolvedBook
from crossmargin.risk.aggregate import Groups, group_positions, group_sum
from crossmargin.risk.pnl import joint_unit_pnl
from crossmargin.scenarios.for_book import book_scenarios
from crossmargin.scenarios.freshness import history_freshness
from crossmargin.scenarios.joint import JointScenarioSet

__all__ = ["ES", "VAR", "JointScenarioMargin", "positions_alone_netted", "var_batch"]


@dataclass(frozen=True, slots=True, eq=False)
class _Combo:
    """The accounts holding one set of underlyings, their scenario set and results."""

    core: tuple[str, ...]
    accounts: IntArray
    groups: IntArray
    cols: IntArray
    scen: JointScenarioSet
    result: AccountPass
    stresses: list[PreparedPair]


def _subgroups(groups: Groups, g_sel: IntArray, accs: IntArray) -> Groups:
    """The groups ``g_sel`` with their accounts renumbered to positions in ``accs``."""
    return Groups(
        account=np.searchsorted(accs, groups.account[g_sel]).astype(np.int64),
        und=groups.und[g_sel],
        of_position=np.zeros(0, np.int64),
        n_und=groups.n_und,
    )


def _scenario_collateral(book: ResolvedBook, name: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The collateral assets that can change an account's scenario set, and who holds them.

    With the wrong-way add-on every held collateral asset moves in the scenarios; otherwise only
    the configured depeg coins add scenarios. Returns the assets and an ``(accounts × assets)``
    holding mask.
    """
    cfg = book.config
    col = book.collateral
    relevant = [
        k
        for k, a in enumerate(col.assets)
        if name in cfg.margin_addons.wrong_way.models or a in cfg.var.depeg
    ]
    held = np.zeros((book.n_accounts, len(relevant)), np.bool_)
    if relevant:
        pos = np.full(len(col.assets), -1, np.int64)
        pos[relevant] = np.arange(len(relevant))
        rows = (pos[col.asset] >= 0) & (col.amount != 0)
        held[col.account[rows], pos[col.asset[rows]]] = True
    return tuple(col.assets[k] for k in relevant), held


def _run_combo(
    book: ResolvedBook,
    name: str,
    kind: str,
    alpha: float,
    q: sparse.csr_matrix,
    groups: Groups,
    mask: np.ndarray,
    accs: IntArray,
    g_sel: IntArray,
    *,
    detail: bool,
    cache: UnitCache,
    collateral: tuple[str, ...],
) -> _Combo:
    """Margin the accounts ``accs`` (groups ``g_sel``) holding exactly ``mask`` and ``collateral``."""
    inst, cfg = book.instruments, book.config
    add = cfg.margin_addons
    core = tuple(inst.underlyings[int(u)] for u in np.flatnonzero(mask))
    cols = np.flatnonzero(mask[inst.und]).astype(np.int64)
    scen = book_scenarios(
        book, core, with_collateral=name in add.wrong_way.models, collateral=collateral
    )
    unit = cache.rows(scen, cols)
    sub = _subgroups(groups, g_sel, accs)
    qs = q[g_sel][:, cols]
    lookup = sub.lookup(accs.size)
    stresses = []
    if name in add.correlation_breakdown.models and len(core) > 1:
        stresses = prepare_stresses(book, scen, cols, core, cache.rows)
    res = aggregate(
        qs,
        unit,
        sub,
        accs.size,
        scen.weight,
        alpha,
        kind,
        stresses=stresses,
        lookup=lookup,
        keep=detail,
    )
    return _Combo(core, accs, g_sel, cols, scen, res, stresses)


def var_batch(
    name: str, kind: str, book: ResolvedBook, *, detail: bool = False, cap: bool = True
) -> MarginBatch:
    """Compute the ``var`` (``kind="var"``) or ``es`` batch of a resolved book (module docstring).

    Accounts are margined per *set of underlyings held* and of the collateral assets that shape
    their scenarios (wrong-way moves, depeg scenarios) — each set gets its own scenario set on
    the common calendar of just those assets — so an account's margin never depends on what
    other accounts hold. With ``cap`` (the default) no account pays more than its positions
    margined alone (:func:`crossmargin.margin.netting.cap_netting`).
    """
    cfg = book.config
    vc = cfg.var
    alpha = vc.var_confidence if kind == "var" else vc.es_confidence
    inst, pos = book.instruments, book.positions
    n_acc = book.n_accounts
    groups = group_positions(pos, inst)
    G = groups.n
    add = cfg.margin_addons
    ii = pos.instrument
    d_units = pos.quantity * inst.delta[ii]
    g_delta = group_sum(groups, d_units)
    g_dn = group_sum(groups, d_units * inst.spot[ii])
    # which underlyings each account holds live (settled-only groups carry no scenario risk)
    live_g = group_sum(groups, (~inst.settled[ii]).astype(np.float64)) > 0
    held = np.zeros((n_acc, max(len(inst.underlyings), 1)), np.bool_)
    held[groups.account[live_g], groups.und[live_g]] = True
    q = sparse.csr_matrix((pos.quantity, (groups.of_position, ii)), shape=(G, inst.n))
    measure = np.zeros(n_acc)
    worst = np.zeros(n_acc, np.int64)
    worst_loss = np.zeros(n_acc)
    comp = np.zeros(G)
    stand = np.zeros(G)
    combos: list[_Combo] = []
    combo_of = np.full(n_acc, -1, np.int64)
    cache = UnitCache(book)
    if n_acc and held.any():
        col_assets, col_held = _scenario_collateral(book, name)
        n_und = held.shape[1]
        keys, inv = _unique_rows(np.concatenate([held, col_held], axis=1))
        acc_order = np.argsort(inv, kind="stable")
        acc_start = np.searchsorted(inv[acc_order], np.arange(len(keys) + 1))
        g_start = np.searchsorted(groups.account, np.arange(n_acc + 1))
        for c, key in enumerate(keys):
            mask = key[:n_und]
            if not mask.any():
                continue
            accs = acc_order[acc_start[c] : acc_start[c + 1]].astype(np.int64)
            g_sel = _ranges(g_start[accs], g_start[accs + 1])
            cb = _run_combo(
                book,
                name,
                kind,
                alpha,
                q,
                groups,
                mask,
                accs,
                g_sel,
                detail=detail,
                cache=cache,
                collateral=tuple(a for a, k in zip(col_assets, key[n_und:], strict=True) if k),
            )
            combo_of[accs] = len(combos)
            combos.append(cb)
            measure[accs] = cb.result.measure
            worst[accs] = cb.result.worst
            worst_loss[accs] = cb.result.worst_loss
            comp[cb.groups] = cb.result.component
            stand[cb.groups] = cb.result.standalone
    core = np.maximum(measure, 0.0)
    comp = np.where(measure[groups.account] > 0, comp, 0.0)
    addons: list[AddOnRows] = []
    g_extra = np.zeros(G)
    if name in add.basis.models and G:
        amt, row = basis_addon(book, groups)
        g_extra = g_extra + amt
        addons.append(row)
    if name in add.liquidity.models and G:
        cost, conc, rows = liquidity_addons(
            book, groups, g_dn, np.maximum(stand, 0.0), concentration=add.liquidity.concentration
        )
        g_extra = g_extra + cost + conc
        addons.extend(rows)
    # the correlation-breakdown add-on claws back at most the diversification benefit
    # (Σ standalone per underlying − account measure): netting never costs more than none
    benefit = np.maximum(sum_by(groups.account, np.maximum(stand, 0.0), n_acc) - core, 0.0)
    pair_rows = [
        r
        for cb in combos
        if cb.stresses
        for r in _pair_rows(cb.stresses, cb.result.stress_excess, cb.accounts)
    ]
    addons.extend(_cap_rows(pair_rows, benefit))
    if name in add.wrong_way.models and book.collateral.account.size and combos:
        addons.append(_wrong_way(book, combos, combo_of, worst, worst_loss))
    apc_rows, apc_state = _apc_rows(kind, book, core, combos, q, groups, alpha, stand)
    addons.extend(apc_rows)
    im = core + sum_by(groups.account, g_extra, n_acc)
    for r in addons:
        if r.name not in _GROUP_ADDONS:
            im = im + sum_by(r.account, r.amount, n_acc)
    g_im = comp + g_extra
    explain: Callable[[int, float], dict[str, Any]] | None = None
    if detail and combos:
        from crossmargin.margin.var_explain import var_explain

        def explain(i: int, fx: float) -> dict[str, Any]:
            k = int(combo_of[i])
            cb = combos[k] if k >= 0 else None
            return var_explain(
                i,
                fx,
                kind=kind,
                alpha=alpha,
                book=book,
                groups=groups,
                core=core,
                comp=comp,
                stand=stand,
                addons=addons,
                combo=cb,
                apc=apc_state.get(k) if k >= 0 else None,
            )

    batch = assemble_batch(
        name,
        book,
        account=groups.account,
        und=groups.und,
        im=g_im,
        mm=cfg.mm_factor * g_im,
        delta=g_delta,
        delta_notional=g_dn,
        scan=stand,
        addons=addons,
        totals=(im, cfg.mm_factor * im),
        explain_extra=explain,
        warnings=_history_warnings(book, combos),
    )
    if not cap:
        return batch
    # every multi-position account is checked, under es too: ES is sub-additive on one scenario
    # set (Acerbi & Tasche 2002), but an account's set can differ from its positions' (the
    # common calendar of its underlyings, depeg scenarios of the collateral it holds)
    return cap_netting(
        batch,
        book,
        lambda rb: var_batch(name, kind, rb, cap=False),
        alone=lambda: positions_alone_netted(name, kind, book, cache=cache),
    )


def _unique_rows(bits: np.ndarray) -> tuple[np.ndarray, IntArray]:
    """``np.unique(bits, axis=0, return_inverse=True)`` of a boolean matrix, by integer codes.

    Rows are read as binary numbers (first column most significant), so the keys come out in
    the same lexicographic order as ``np.unique`` gives, without its row-wise sort.
    """
    m = bits.shape[1]
    if m > 62:
        keys, inv = np.unique(bits, axis=0, return_inverse=True)
        return keys, inv.ravel().astype(np.int64)
    weight = np.left_shift(np.int64(1), np.arange(m - 1, -1, -1, dtype=np.int64))
    codes, inv = np.unique(bits.astype(np.int64) @ weight, return_inverse=True)
    keys = (codes[:, None] & weight[None, :]) != 0
    return keys, inv.ravel().astype(np.int64)


def _ranges(start: IntArray, stop: IntArray) -> IntArray:
    """The concatenated ranges ``start[i]:stop[i]`` (sorted when the ranges are)."""
    n = stop - start
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offset = np.repeat(start - np.concatenate([[0], np.cumsum(n)[:-1]]), n)
    return np.asarray(np.arange(total, dtype=np.int64) + offset, dtype=np.int64)


def positions_alone_netted(
    name: str, kind: str, book: ResolvedBook, *, cache: UnitCache | None = None
) -> FloatArray:
    """Per net position: its requirement margined alone, net of the add-ons reported apart.

    What :func:`var_batch` gives a one-position account (no collateral), less its liquidity
    and concentration add-ons (:data:`~crossmargin.margin.netting.APART_ADDONS`): the core
    measure, the basis add-on and the anti-procyclicality add-on (one underlying: no
    correlation breakdown). Such an account's scenarios are its underlying's own set, its loss
    is ``q`` times the unit loss and VaR/ES are positively homogeneous, so
    ``R(q) = |q| · R(sign(q) · 1 unit)``: the measure is taken once per contract and direction
    (``2 × contracts`` rows of ``S`` scenarios), not once per position. ``cache``: the risk
    arrays of the book's own pass, reused.
    """
    inst, pos, cfg = book.instruments, book.positions, book.config
    alpha = cfg.var.var_confidence if kind == "var" else cfg.var.es_confidence
    cache = UnitCache(book) if cache is None else cache
    add = cfg.margin_addons
    ii, qty = pos.instrument, pos.quantity
    aq = np.abs(qty)
    short = (qty < 0).astype(np.int64)
    live = ~inst.settled[ii]
    core = np.zeros(pos.n)
    extra = np.zeros(pos.n)
    apc = cfg.var.anti_procyclicality
    for u in np.flatnonzero(np.bincount(inst.und[ii[live]], minlength=1)):
        core_u = (inst.underlyings[int(u)],)
        cols = np.flatnonzero(inst.und == u).astype(np.int64)  # the cache's key: all of u
        at = np.full(inst.n, -1, np.int64)
        at[cols] = np.arange(cols.size)
        sel = np.flatnonzero(live & (inst.und[ii] == u))
        c = at[ii[sel]]
        scen = book_scenarios(
            book, core_u, with_collateral=name in add.wrong_way.models, collateral=()
        )
        m = _unit_measures(cache.rows(scen, cols), scen.weight, alpha, kind)
        core[sel] = np.maximum(aq[sel] * m[short[sel], c], 0.0)
        if apc == "floor":
            fs = book_scenarios(book, core_u, with_collateral=False, floor=True)
            unit = joint_unit_pnl(inst, fs, cfg, only=cols)
            mf = np.maximum(
                aq[sel] * _unit_measures(unit, fs.weight, alpha, kind)[short[sel], c], 0
            )
            extra[sel] = np.maximum(mf - core[sel], 0.0)
        if apc == "releasable_buffer":
            hist = book.snapshot.require_history(needed_by="anti-procyclicality release")
            sr = stress_ratios(hist, core_u, book.snapshot.as_of, cfg.var)
            f = release_factor(sr.ratio, cfg.var.apc_buffer, cfg.var.apc_release_from)[0]
            extra[sel] = cfg.var.apc_buffer * f * core[sel]
    if apc == "buffer":
        extra = cfg.var.apc_buffer * core
    out = core + extra
    if name in add.basis.models and pos.n:
        d_not = qty * inst.delta[ii] * inst.spot[ii]
        out = out + basis_of_cells(d_not[:, None], inst.t[ii][:, None], inst.und[ii], inst, cfg)
    return out


def _unit_measures(unit: FloatArray, w: FloatArray, alpha: float, kind: str) -> FloatArray:
    """``(2, n)``: the measure of one long (row 0) and one short (row 1) unit of each contract."""
    n = unit.shape[0]
    return risk_measure(np.concatenate([-unit, unit]), w, alpha, kind).reshape(2, n)


def _history_warnings(book: ResolvedBook, combos: list[_Combo]) -> tuple[MarketWarning, ...]:
    """``bundled_history`` and (opted-in) ``history_stale`` warnings of the scenarios' history."""
    core = sorted({u for cb in combos for u in cb.core})
    if not core:
        return ()
    hist = book.snapshot.require_history(needed_by=f"{', '.join(core)} scenarios")
    as_of = book.snapshot.as_of
    bundled = history_warnings(hist, core, as_of, bundled=hist is bundled_history())
    return (*bundled, *history_freshness(hist, core, as_of, book.config.var))


#: Add-ons attached to (account, underlying) groups (already in the group requirements).
_GROUP_ADDONS = ("basis", "liquidity", "concentration")


def _wrong_way(
    book: ResolvedBook,
    combos: list[_Combo],
    combo_of: IntArray,
    worst: IntArray,
    worst_loss: FloatArray,
) -> AddOnRows:
    """Wrong-way collateral rows: each row's asset move in its account's worst scenario."""
    col = book.collateral
    move = np.zeros(col.account.size)
    ck = combo_of[col.account]
    for k, cb in enumerate(combos):
        rows = np.flatnonzero(ck == k)
        if rows.size == 0:
            continue
        rmap = {a: i for i, a in enumerate(cb.scen.assets)}
        r_asset = np.asarray([rmap.get(a, -1) for a in exposure_assets(col)], np.int64)[
            col.asset[rows]
        ]
        s = worst[col.account[rows]]
        move[rows] = np.where(r_asset >= 0, cb.scen.spot_move[np.maximum(r_asset, 0), s], 0.0)
    return wrong_way_addon(col, move, (worst_loss[col.account] > 0) & (ck >= 0))


def _pair_rows(
    pairs: list[PreparedPair], excess: list[FloatArray], accounts: IntArray
) -> list[AddOnRows]:
    """Per pair: the largest excess over its stresses, reported on the stress that gave it."""
    out: list[AddOnRows] = []
    n_acc = accounts.size
    acc = accounts.astype(np.int64)
    for pair, ex in zip(pairs, excess, strict=True):
        u, v = pair.specs[0].u, pair.specs[0].v
        best = np.argmax(ex, axis=0)
        top = np.maximum(ex[best, np.arange(n_acc)], 0.0)
        for j, spec in enumerate(pair.specs):
            amt = np.where(best == j, top, 0.0)
            if not amt.any():
                continue
            out.append(
                AddOnRows(
                    "correlation_breakdown", acc, (f"{u}/{v}",) * n_acc, amt, spec.label, f"{u}/{v}"
                )
            )
    return out


def _cap_rows(rows: list[AddOnRows], limit: FloatArray) -> list[AddOnRows]:
    """The rows scaled so that each account's total is at most ``limit[account]``."""
    if not rows:
        return rows
    total = np.zeros(limit.size)
    for r in rows:
        total += sum_by(r.account, r.amount, limit.size)
    f = np.divide(limit, total, out=np.ones(limit.size), where=total > limit)
    return [replace(r, amount=r.amount * f[r.account]) for r in rows]


def _apc_rows(
    kind: str,
    book: ResolvedBook,
    core: FloatArray,
    combos: list[_Combo],
    q: sparse.csr_matrix,
    groups: Groups,
    alpha: float,
    stand: FloatArray,
) -> tuple[list[AddOnRows], dict[int, dict[str, Any]]]:
    """Anti-procyclicality buffer, releasable buffer or 10-year floor (EMIR RTS 153/2013 Art. 28(1)).

    Returns the add-on rows and, for the releasable buffer, per combo the state that explains
    it (stress ratios, account ratio and release factor per account).
    """
    vc = book.config.var
    n_acc = book.n_accounts
    acc = np.arange(n_acc, dtype=np.int64)
    if vc.anti_procyclicality == "buffer":
        return [
            AddOnRows(
                "apc_buffer",
                acc,
                ("*",) * n_acc,
                vc.apc_buffer * core,
                f"anti-procyclicality buffer {vc.apc_buffer:.0%} (EMIR RTS 153/2013 Art. 28(1)(a))",
            )
        ], {}
    if vc.anti_procyclicality == "releasable_buffer":
        return _releasable_buffer(book, core, combos, groups, stand)
    if vc.anti_procyclicality != "floor" or not combos:
        return [], {}
    inst = book.instruments
    extra = np.zeros(n_acc)
    windows = []
    for cb in combos:
        fs = book_scenarios(book, cb.core, with_collateral=False, floor=True)
        unit = joint_unit_pnl(inst, fs, book.config, only=cb.cols)
        sub = _subgroups(groups, cb.groups, cb.accounts)
        p = aggregate(
            q[cb.groups][:, cb.cols],
            unit,
            sub,
            cb.accounts.size,
            fs.weight,
            alpha,
            kind,
            full=False,
        )
        extra[cb.accounts] = np.maximum(np.maximum(p.measure, 0.0) - core[cb.accounts], 0.0)
        windows.append(str(fs.info["lookback"]))
    return [
        AddOnRows(
            "apc_floor",
            acc,
            ("*",) * n_acc,
            extra,
            f"floor at the {vc.apc_floor_years:g}-year plain-HS {kind.upper()} "
            f"({', '.join(sorted(set(windows)))}; EMIR RTS 153/2013 Art. 28(1)(c))",
        )
    ], {}


def _releasable_buffer(
    book: ResolvedBook,
    core: FloatArray,
    combos: list[_Combo],
    groups: Groups,
    stand: FloatArray,
) -> tuple[list[AddOnRows], dict[int, dict[str, Any]]]:
    """``b · f(x) · R`` per account, ``x`` its stress ratio (:mod:`crossmargin.margin.apc`)."""
    vc = book.config.var
    n_acc = book.n_accounts
    amount = np.zeros(n_acc)
    state: dict[int, dict[str, Any]] = {}
    if combos:
        hist = book.snapshot.require_history(needed_by="anti-procyclicality release")
    for k, cb in enumerate(combos):
        sr = stress_ratios(hist, cb.core, book.snapshot.as_of, vc)
        pos = {u: j for j, u in enumerate(cb.core)}
        at = np.asarray([pos.get(u, -1) for u in book.instruments.underlyings], np.int64)
        g_row = np.searchsorted(cb.accounts, groups.account[cb.groups])
        col = at[groups.und[cb.groups]]
        w = np.zeros((cb.accounts.size, len(cb.core)))
        np.add.at(w, (g_row[col >= 0], col[col >= 0]), np.maximum(stand[cb.groups][col >= 0], 0))
        x = account_ratio(np.broadcast_to(sr.ratio, w.shape), w)
        f = release_factor(x, vc.apc_buffer, vc.apc_release_from)
        amount[cb.accounts] = vc.apc_buffer * f * core[cb.accounts]
        state[k] = {
            "option": "releasable_buffer",
            "buffer": vc.apc_buffer,
            "release_from": vc.apc_release_from,
            "released_at": (1.0 + vc.apc_buffer) * vc.apc_release_from,
            "window": sr.window,
            "window_returns": sr.observations,
            "vol_ratio": dict(zip(cb.core, sr.ratio.tolist(), strict=True)),
            "accounts": cb.accounts,
            "stress_ratio": x,
            "release_factor": f,
        }
    rows = AddOnRows(
        "apc_buffer",
        np.arange(n_acc, dtype=np.int64),
        ("*",) * n_acc,
        amount,
        f"releasable anti-procyclicality buffer {vc.apc_buffer:.0%} x release factor (EMIR RTS "
        f"153/2013 Art. 28(1)(a)); released from EWMA/{vc.apc_release_window_days}-day vol "
        f"ratio {vc.apc_release_from:g} to {(1.0 + vc.apc_buffer) * vc.apc_release_from:g}",
    )
    return [rows], state


#: Description and source of each joint-scenario model (registry entries below).
_ABOUT = {
    "var": (
        "portfolio VaR (99 %, 2-day MPOR) over filtered historical joint scenarios with stress "
        "weighting; liquidity, correlation-breakdown and wrong-way add-ons",
        "filtered HS (Barone-Adesi et al. 1999); CME SPAN 2 / Eurex Prisma structure; "
        "EMIR RTS 153/2013",
    ),
    "es": (
        "portfolio expected shortfall (97.5 %, 2-day MPOR) over filtered historical joint "
        "scenarios with stress weighting; liquidity, correlation-breakdown and wrong-way add-ons",
        "expected shortfall (Acerbi & Tasche 2002); CME SPAN 2 / Eurex Prisma; EMIR RTS 153/2013",
    ),
}


@dataclass(frozen=True, slots=True)
class JointScenarioMargin:
    """Portfolio VaR (``var``) or expected shortfall (``es``) with add-ons (module docstring)."""

    config: RiskConfig
    name: Literal["var", "es"]

    @property
    def description(self) -> str:
        """One-line description."""
        return _ABOUT[self.name][0]

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        """See module docstring."""
        return var_batch(self.name, self.name, book, detail=detail)


VAR = ModelInfo("var", *_ABOUT["var"], partial(JointScenarioMargin, name="var"))
ES = ModelInfo("es", *_ABOUT["es"], partial(JointScenarioMargin, name="es"))
