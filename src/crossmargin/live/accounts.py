"""Account updates: trades with the pre-trade check, deposits, withdrawals, new accounts.

Each update is evaluated on a **hypothetical** copy of its account — the account's sub-book
with the update applied (:func:`~crossmargin.live.state.trade_effects` for a trade: netting,
the option premium, a position closed flat settled into cash) — margined by the engine's
kernel, and then accepted or refused:

* a **trade** is refused when the post-trade equity is below the post-trade IM, unless the
  trade reduces IM (a trade that de-risks is always allowed);
* a **withdrawal** is refused when it exceeds the balance or would leave equity below IM;
* a **deposit** and a **new account** are accepted (a new account that opens unhealthy is
  reported at once);
* an update of an unknown account, or of an account whose market data is stale (frozen), is
  refused (a deposit into a frozen account is applied; its margin stays frozen).

An accepted update is committed as it was evaluated (the hypothetical margin becomes the
account's margin: nothing is computed twice).

**Batches.** Account updates of different accounts commute (they touch one account each and
never trigger a liquidation: auto-liquidation runs on market and clock inputs), so a run of
consecutive account updates is evaluated in *waves* — the first pending update of every
account at once, in one vectorised margin run, then the next — and its events are numbered in
input order. The result is the same as one update at a time, in far fewer margin calls: this
is what makes the journaled ingest fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from crossmargin._typing import IntArray
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import parse_instrument
from crossmargin.live.core import Cause, LiveCore, Outcome
from crossmargin.live.events import EventType
from crossmargin.live.kernel import AccountBatch, SubBook, gather, take_batch
from crossmargin.live.market import extend_marks
from crossmargin.live.records import AccountUpdate, Deposit, NewAccount, Trade, Withdrawal
from crossmargin.live.state import trade_effects
from crossmargin.resolve.positions import Holdings, mark_positions, net_holdings
from crossmargin.resolve.terms import extend_terms

__all__ = ["account_run", "kind_of", "whatif_sub"]

Draft = tuple[EventType, Cause, dict[str, object]]


def kind_of(u: AccountUpdate) -> str:
    """Journal kind of an account update."""
    if isinstance(u, Trade):
        return "trade"
    if isinstance(u, Deposit):
        return "deposit"
    if isinstance(u, Withdrawal):
        return "withdrawal"
    return "account"


@dataclass(slots=True)
class _Item:
    j: int
    seq: int
    u: AccountUpdate
    name: str
    account: int = -1
    local: int = -1
    contracts: tuple[int, ...] = ()
    refused: CrossMarginError | None = None

    @property
    def cause(self) -> Cause:
        """The cause field of the events this update causes (built only when there is one)."""
        u = self.u
        cause: Cause = {"update_seq": self.seq, "kind": kind_of(u), "account": self.name}
        if isinstance(u, Trade):
            cause["instrument"] = u.instrument
        return cause


class _Contracts:
    """Contract rows of names and contracts, extending the terms table when needed."""

    def __init__(self, core: LiveCore) -> None:
        self.core = core
        self.names: dict[str, Contract] = {}
        self.by_name = core.book.name_rows

    def contract(self, name: str) -> Contract:
        c = self.names.get(name)
        if c is None:
            c = self.names[name] = parse_instrument(name)
        return c

    def row(self, name: str) -> int:
        """Row of the contract named ``name`` (parsed and hashed once per name)."""
        r = self.by_name.get(name)
        if r is None:
            r = self.by_name[name] = self.rows([self.contract(name)])[0]
        return r

    def rows(self, contracts: Sequence[Contract]) -> list[int]:
        """Rows of ``contracts`` (new ones appended to the terms and marked; may raise)."""
        core = self.core
        book = core.book
        new = [c for c in dict.fromkeys(contracts) if book.contract_row(c) is None]
        if new:
            terms = extend_terms(book.terms, new, core.config)
            inst = extend_marks(core.inst, terms, core.snapshot, core.config)
            book.set_terms(terms)
            core.inst = inst
            core.kernel.on_marks(inst, tuple(sorted({c.underlying for c in new})))
        out = []
        for c in contracts:
            r = book.contract_row(c)
            assert r is not None
            out.append(r)
        return out


def account_run(core: LiveCore, items: Sequence[tuple[int, AccountUpdate]]) -> list[Outcome]:
    """Apply consecutive account updates (journal seq, update) in waves (module docstring)."""
    n = len(items)
    outcomes: list[Outcome | None] = [None] * n
    drafts: dict[int, list[Draft]] = {}
    registry = _Contracts(core)
    pending = list(range(n))
    while pending:
        wave: list[_Item] = []
        rest: list[int] = []
        seen: set[str] = set()
        for j in pending:
            seq, u = items[j]
            name = u.portfolio.account if type(u) is NewAccount else u.account  # type: ignore[union-attr]
            if name in seen:
                rest.append(j)
                continue
            seen.add(name)
            wave.append(_Item(j, seq, u, name))
        _wave(core, registry, wave, outcomes, drafts)
        pending = rest
    out: list[Outcome] = outcomes  # type: ignore[assignment]
    for j in sorted(drafts):  # events numbered in input order
        time = items[j][1].time
        o = out[j]
        o.events = [core.emit(t, time, c, **kw) for t, c, kw in drafts[j]]
    core.book.compact()
    return out


def _refuse(
    item: _Item,
    exc: CrossMarginError,
    outcomes: list[Outcome | None],
    drafts: dict[int, list[Draft]],
) -> None:
    outcomes[item.j] = Outcome(False, reason=exc.reason, path=exc.path)
    drafts.setdefault(item.j, []).append(
        (
            "input_refused",
            dict(item.cause, reason=exc.reason, path=exc.path),
            {"account": item.name},
        )
    )


def _wave(
    core: LiveCore,
    registry: _Contracts,
    wave: list[_Item],
    outcomes: list[Outcome | None],
    drafts: dict[int, list[Draft]],
) -> None:
    book = core.book
    index = book.index
    frozen = core.R["frozen"]
    any_frozen = bool(frozen.any())
    stale = core.stale
    ok: list[_Item] = []
    for it in wave:
        u = it.u
        name = it.name
        if type(u) is Trade and not any_frozen and not stale:  # the hot case
            a = index.get(name)
            r = registry.by_name.get(u.instrument)
            if a is not None and r is not None:
                it.account = a
                it.contracts = (r,)
                ok.append(it)
                continue
        try:
            if isinstance(u, NewAccount):
                if name in book.index:
                    raise InputError(f"account {name!r} already exists", path="account")
                cs = [p.contract for p in u.portfolio.positions]
            else:
                a = book.index.get(name)
                if a is None:
                    raise InputError(f"unknown account {name!r}", path="account")
                it.account = a
                if frozen[a] and a not in core.broken and not isinstance(u, Deposit):
                    raise InputError(
                        f"account {name!r} is frozen: its market data is stale ("
                        + "; ".join(sorted(core.stale))
                        + ")",
                        path="account",
                    )
                cs = [registry.contract(u.instrument)] if isinstance(u, Trade) else []
            if cs:
                gone = sorted({c.underlying for c in cs} & stale.keys()) if stale else []
                if gone:
                    raise InputError(
                        f"market data of {', '.join(gone)} is stale: no new risk in it",
                        path="instrument",
                    )
                it.contracts = (
                    (registry.row(u.instrument),)
                    if isinstance(u, Trade)
                    else tuple(registry.rows(cs))
                )
        except CrossMarginError as exc:
            _refuse(it, exc, outcomes, drafts)
            continue
        ok.append(it)
    if not ok:
        return
    try:
        _evaluate(core, ok, outcomes, drafts)
    except CrossMarginError as exc:
        if len(ok) == 1:
            _refuse(ok[0], exc, outcomes, drafts)
            return
        for it in ok:  # isolate the input that cannot be evaluated
            try:
                _evaluate(core, [it], outcomes, drafts)
            except CrossMarginError as one:
                _refuse(it, one, outcomes, drafts)


def _hypothetical(core: LiveCore, items: list[_Item]) -> tuple[SubBook, list[_Item]]:
    """The items' accounts with their updates applied (refused withdrawals marked)."""
    book = core.book
    inst = core.inst
    existing = np.asarray(sorted({it.account for it in items if it.account >= 0}), np.int64)
    sub = gather(book, existing)
    k_old = int(existing.size)
    # local numbers: existing accounts in order, then the new ones
    local_of = dict(zip(existing.tolist(), range(k_old), strict=True))
    new_items = [it for it in items if isinstance(it.u, NewAccount)]
    for j, it in enumerate(new_items):
        it.local = k_old + j
        for sym in it.u.portfolio.collateral:  # type: ignore[union-attr]
            book.asset_col(sym)
    for it in items:
        if isinstance(it.u, NewAccount):
            continue
        it.local = local_of[it.account]
        if isinstance(it.u, Deposit):
            book.asset_col(it.u.asset)
    cash = book.asset_col(book.cash_asset)
    # balances as a dense (accounts × assets) matrix, changed in place
    bal = np.zeros((k_old + len(new_items), len(book.assets)))
    bal[:k_old] = book.balance_view()[existing]
    for it in new_items:
        for sym, amount in it.u.portfolio.collateral.items():  # type: ignore[union-attr]
            bal[it.local, book.asset_index[sym]] += amount
    # positions: the sub-book's rows, plus a new row per trade in a contract not held
    h = sub.hold
    trades = [it for it in items if isinstance(it.u, Trade)]
    t_loc = np.asarray([it.local for it in trades], np.int64)
    t_ins = np.asarray([it.contracts[0] for it in trades], np.int64)
    skey = h.account * (1 << 32) + h.instrument
    order = np.argsort(skey, kind="stable")
    tkey = t_loc * (1 << 32) + t_ins
    at = np.searchsorted(skey[order], tkey)
    found = at < skey.size
    found[found] = skey[order[at[found]]] == tkey[found]
    row = np.full(tkey.size, -1, np.int64)
    row[found] = order[at[found]]
    missing = np.flatnonzero(~found)
    row[missing] = h.n + np.arange(missing.size)
    n_new = int(missing.size)
    acc_a = np.concatenate([h.account, t_loc[missing]])
    ins_a = np.concatenate([h.instrument, t_ins[missing]])
    first_row = np.concatenate([h.first_row, np.full(n_new, -1, np.int64)])
    z = np.zeros(n_new)
    qty = np.concatenate([h.quantity, z])
    cost = np.concatenate([h.cost_known, z])
    unk_q = np.concatenate([h.qty_unknown, z])
    unk = np.concatenate([h.unknown, np.zeros(n_new, np.bool_)])
    if trades:
        eff = trade_effects(
            inst,
            ins_a[row],
            qty[row],
            cost[row],
            unk_q[row],
            unk[row],
            np.asarray([it.u.quantity for it in trades]),  # type: ignore[union-attr]
            np.asarray([it.u.price for it in trades]),  # type: ignore[union-attr]
        )
        qty[row], cost[row], unk_q[row] = eff.quantity, eff.cost_known, eff.qty_unknown
        np.add.at(bal[:, cash], t_loc, eff.cash)
    for it in items:
        u = it.u
        if isinstance(u, Deposit):
            bal[it.local, book.asset_index[u.asset]] += u.amount
        elif isinstance(u, Withdrawal):
            k = book.asset_index.get(u.asset, -1)
            have = float(bal[it.local, k]) if k >= 0 else 0.0
            if u.amount > have:
                it.refused = InputError(
                    f"withdrawal of {u.amount:g} {u.asset} exceeds the balance {have:g}",
                    path="amount",
                )
                continue
            bal[it.local, k] = have - u.amount
    hold = Holdings(
        account=acc_a,
        instrument=ins_a,
        quantity=qty,
        cost_known=cost,
        qty_unknown=unk_q,
        unknown=unk,
        first_row=first_row,
    )
    col: dict[tuple[int, int], float] = {}
    if new_items:
        hold = _with_new_accounts(core, hold, new_items, col, cash)
        for (la, k), v in col.items():
            bal[la, k] += v
    ca, cs = np.nonzero(bal)
    hyp = SubBook(
        accounts=np.concatenate([existing, np.full(len(new_items), -1, np.int64)]),
        hold=hold,
        col_account=ca.astype(np.int64),
        col_asset=cs.astype(np.int64),
        col_amount=bal[ca, cs],
        names=sub.names + tuple(it.u.portfolio.account for it in new_items),  # type: ignore[union-attr]
        base_currency=sub.base_currency + tuple(it.u.portfolio.base_currency for it in new_items),  # type: ignore[union-attr]
    )
    return hyp, items


def _with_new_accounts(
    core: LiveCore,
    hold: Holdings,
    items: list[_Item],
    col: dict[tuple[int, int], float],
    cash: int,
) -> Holdings:
    """Append the (netted) opening positions of new accounts; flat netted lots go to cash."""
    a_l: list[int] = []
    i_l: list[int] = []
    q_l: list[float] = []
    e_l: list[float] = []
    for it in items:
        assert isinstance(it.u, NewAccount)
        for p, r in zip(it.u.portfolio.positions, it.contracts, strict=True):
            a_l.append(it.local)
            i_l.append(r)
            q_l.append(p.quantity)
            e_l.append(np.nan if p.entry_price is None else p.entry_price)
    if not a_l:
        return hold
    net = net_holdings(
        np.asarray(a_l, np.int64),
        np.asarray(i_l, np.int64),
        np.asarray(q_l, np.float64),
        np.asarray(e_l, np.float64),
        core.inst,
    )
    flat = net.quantity == 0.0
    if flat.any():
        settled = mark_positions(net.take(np.flatnonzero(flat)), core.inst, core.inst).mtm
        for la, v in zip(net.account[flat].tolist(), settled.tolist(), strict=True):
            col[(la, cash)] = col.get((la, cash), 0.0) + v
        net = net.take(np.flatnonzero(~flat))
    net = replace(net, first_row=np.full(net.n, -1, np.int64))
    return Holdings(
        **{
            f: np.concatenate([getattr(hold, f), getattr(net, f)])
            for f in (
                "account",
                "instrument",
                "quantity",
                "cost_known",
                "qty_unknown",
                "unknown",
                "first_row",
            )
        }
    )


def _evaluate(
    core: LiveCore,
    items: list[_Item],
    outcomes: list[Outcome | None],
    drafts: dict[int, list[Draft]],
) -> None:
    """Margin the hypothetical accounts, decide, commit the accepted updates."""
    book = core.book
    R = core.R
    for it in items:
        it.refused = None
    hyp, _ = _hypothetical(core, items)
    batch = core.kernel.margin(book, hyp, core.inst, core.snapshot, commit=False)
    accepted: list[_Item] = []
    equity, im = batch.equity.tolist(), batch.im.tolist()
    im_now = R["im"]
    for it in items:
        if it.refused is not None:
            _refuse(it, it.refused, outcomes, drafts)
            continue
        u = it.u
        k = it.local
        if type(u) is Trade:
            post_eq, post_im = equity[k], im[k]
            if post_eq < post_im and not post_im < (pre_im := float(im_now[it.account])):
                _refuse(
                    it,
                    InputError(
                        f"pre-trade check: post-trade equity {post_eq:,.2f} < initial margin "
                        f"{post_im:,.2f} and the trade does not reduce it (from {pre_im:,.2f})",
                        path="quantity",
                    ),
                    outcomes,
                    drafts,
                )
                continue
        elif isinstance(u, Withdrawal):
            post_eq, post_im = equity[k], im[k]
            if post_eq < post_im:
                _refuse(
                    it,
                    InputError(
                        f"withdrawal would leave equity {post_eq:,.2f} below the initial margin "
                        f"{post_im:,.2f}",
                        path="amount",
                    ),
                    outcomes,
                    drafts,
                )
                continue
        accepted.append(it)
    if not accepted:
        core.kernel.commit_last(book, np.zeros(0, np.int64), np.zeros(0, np.int64))
        return
    _commit(core, hyp, accepted)
    mended = [it.account for it in accepted if it.account in core.broken]
    if mended:  # the model margins these accounts again: no longer frozen for it
        for a in mended:
            del core.broken[a]
        core.refreeze()
    local = np.asarray([it.local for it in accepted], np.int64)
    glob = np.asarray([it.account for it in accepted], np.int64)
    frozen = R["frozen"][glob]
    core.kernel.commit_last(book, local[~frozen], glob[~frozen])
    live = ~frozen
    sub_batch = take_batch(batch, local[live], glob[live])
    old, new = core.settle(sub_batch)
    changes = core.status_changes(glob[live], old, new)
    if changes:
        by_account = {int(it.account): it for it in accepted}
        for i, etype, kw in changes:
            it = by_account[i]
            c = it.cause
            w = core.worst_cause(i)
            if w is not None:
                c["worst_scenario"] = w
            drafts.setdefault(it.j, []).append((etype, c, kw))
    for it in accepted:
        outcomes[it.j] = Outcome(True)


def _commit(core: LiveCore, hyp: SubBook, accepted: list[_Item]) -> None:
    """Write the accepted items' accounts from the hypothetical sub-book into the live book."""
    book = core.book
    R = core.R
    for it in accepted:
        if isinstance(it.u, NewAccount):
            pf = it.u.portfolio
            it.account = book.add_account(pf.account, pf.base_currency)
            if R.n < book.n_accounts:
                R.append(book.n_accounts - R.n)
    h = hyp.hold
    glob_of_local = hyp.accounts.copy()
    for it in accepted:
        glob_of_local[it.local] = it.account
    mine = np.zeros(hyp.n, np.bool_)
    mine[[it.local for it in accepted]] = True
    sel = mine[h.account]
    existing = sel & (h.first_row >= 0)
    r = h.first_row[existing]
    if r.size:
        p = book.pos
        changed = (
            (p["quantity"][r] != h.quantity[existing])
            | (p["cost_known"][r] != h.cost_known[existing])
            | (p["qty_unknown"][r] != h.qty_unknown[existing])
        )
        c = np.flatnonzero(existing)[changed]
        if c.size:
            book.update_rows(h.first_row[c], h.quantity[c], h.cost_known[c], h.qty_unknown[c])
    new = np.flatnonzero(sel & (h.first_row < 0) & (h.quantity != 0.0))
    if new.size:
        book.new_rows(
            glob_of_local[h.account[new]],
            h.instrument[new],
            h.quantity[new],
            h.cost_known[new],
            h.qty_unknown[new],
            h.unknown[new],
        )
    bal = book.balance_view()
    bal[[it.account for it in accepted]] = 0.0
    cm = mine[hyp.col_account]
    bal[glob_of_local[hyp.col_account[cm]], hyp.col_asset[cm]] = hyp.col_amount[cm]


def whatif_sub(
    core: LiveCore, account: int, trades: Sequence[Trade]
) -> tuple[AccountBatch, SubBook]:
    """The account with ``trades`` applied in order, margined (nothing is committed)."""
    registry = _Contracts(core)
    rows = [registry.row(t.instrument) for t in trades]
    items = []
    for t, r in zip(trades, rows, strict=True):
        items.append(_Item(0, 0, t, t.account, account=account, contracts=(r,)))
    hyp = None
    sub = gather(core.book, np.asarray([account], np.int64))
    for it in items:
        hyp, _ = _hypothetical_from(core, sub, it)
        sub = hyp
    assert hyp is not None
    batch = core.kernel.whatif(core.book, hyp, core.inst, core.snapshot)
    return batch, hyp


def _hypothetical_from(core: LiveCore, sub: SubBook, it: _Item) -> tuple[SubBook, IntArray]:
    """One trade applied to a one-account sub-book."""
    assert isinstance(it.u, Trade)
    h = sub.hold
    r = it.contracts[0]
    at = np.flatnonzero(h.instrument == r)
    if at.size == 0:
        h = Holdings(
            account=np.append(h.account, 0),
            instrument=np.append(h.instrument, r),
            quantity=np.append(h.quantity, 0.0),
            cost_known=np.append(h.cost_known, 0.0),
            qty_unknown=np.append(h.qty_unknown, 0.0),
            unknown=np.append(h.unknown, False),
            first_row=np.append(h.first_row, -1),
        )
        at = np.asarray([h.n - 1], np.int64)
    eff = trade_effects(
        core.inst,
        h.instrument[at],
        h.quantity[at],
        h.cost_known[at],
        h.qty_unknown[at],
        h.unknown[at],
        np.asarray([it.u.quantity]),
        np.asarray([it.u.price]),
    )
    q, c, uq = h.quantity.copy(), h.cost_known.copy(), h.qty_unknown.copy()
    q[at], c[at], uq[at] = eff.quantity, eff.cost_known, eff.qty_unknown
    h = Holdings(h.account, h.instrument, q, c, uq, h.unknown, h.first_row)
    col_asset, col_amount, col_account = sub.col_asset, sub.col_amount, sub.col_account
    cash_amt = float(eff.cash[0])
    if cash_amt != 0.0:
        cash = core.book.asset_col(core.book.cash_asset)
        hit = np.flatnonzero(col_asset == cash)
        if hit.size:
            col_amount = col_amount.copy()
            col_amount[hit[0]] += cash_amt
        else:
            col_asset = np.append(col_asset, cash)
            col_amount = np.append(col_amount, cash_amt)
            col_account = np.append(col_account, 0)
    hyp = SubBook(sub.accounts, h, col_account, col_asset, col_amount, sub.names, sub.base_currency)
    return hyp, at
