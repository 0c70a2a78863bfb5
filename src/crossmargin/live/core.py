"""The live engine's state machine: inputs in, state changed, events out (no I/O).

:class:`LiveCore` holds the whole state — the live book, the market snapshot and its marks, each
account's last margin and reported status, the feeds, the insurance fund — and applies one
journaled input at a time. It is deterministic: time comes from the inputs (market updates move
the engine clock; :meth:`LiveCore.clock` moves it explicitly), never from the wall clock, so
replaying the same inputs gives the same state and the same events. Journaling, snapshots and
recovery are :mod:`crossmargin.live.durable`'s; the public API is
:class:`~crossmargin.live.engine.LiveEngine`.

How a tick flows (docs/architecture.md, "The live path")::

    MarketUpdate ─► sequence check (gap: feed_gap; duplicate / reordered: refused)
                 ─► engine clock; the feed is fresh again (market_data_fresh)
                 ─► snapshot shifted (apply_update) ─► time step? every contract re-marked
                 ─► else the contracts of that one underlying re-marked
                 ─► kernel.tick: the holders' groups of that underlying, recombined
                 ─► hysteresis ─► margin_call / liquidation / bankrupt / recovered
                 ─► auto-liquidation ─► liquidation_trade, the liquidated accounts re-margined
                 ─► heartbeats (market_data_stale: accounts frozen), periodic sweep

Account updates (trades, deposits, withdrawals, new accounts) are :mod:`crossmargin.live.accounts`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from crossmargin._time import format_instant
from crossmargin._typing import IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import CrossMarginError, InputError, MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.liquidation.engine import InsuranceFund
from crossmargin.live.events import STATUS_EVENTS, Event, EventType, hysteresis, status_name
from crossmargin.live.kernel import AccountBatch, concat_batches, gather, make_kernel
from crossmargin.live.liquidate import POTS, liquidate
from crossmargin.live.market import apply_update, at_instant, extend_marks, mark_all
from crossmargin.live.records import MarketUpdate
from crossmargin.live.results import ResultTable, SweepReport
from crossmargin.live.sequence import FeedSequencer
from crossmargin.live.settings import LiveSettings
from crossmargin.live.state import LiveBook
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import mark_positions, net_holdings
from crossmargin.resolve.terms import extend_terms

__all__ = ["Cause", "LiveCore", "Outcome"]

Cause = dict[str, object]

#: Relative and absolute tolerance of the sweep's comparison with the incremental state.
SWEEP_RTOL = 1e-9
SWEEP_ATOL = 1e-6


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


class Outcome:
    """Result of processing one input: accepted or refused, and its events."""

    __slots__ = ("accepted", "events", "path", "reason")

    def __init__(
        self,
        accepted: bool,
        events: list[Event] | None = None,
        reason: str | None = None,
        path: str | None = None,
    ) -> None:
        self.accepted = accepted
        self.events = events if events is not None else []
        self.reason = reason
        self.path = path


class LiveCore:
    """The deterministic state machine (module docstring).

    Parameters
    ----------
    market
        The opening snapshot; its ``as_of`` is the first valuation instant and engine time.
    config
        Risk configuration.
    model
        Registered margin model.
    settings
        Engine settings.
    """

    def __init__(
        self, market: MarketSnapshot, config: RiskConfig, model: str, settings: LiveSettings
    ) -> None:
        self.config = config
        self.model = model
        self.settings = settings
        self.kernel = make_kernel(model, config)
        self.book = LiveBook(config, settings.settlement_asset or market.base_currency)
        self.snapshot = market
        self.inst, _ = mark_all(self.book.terms, market, config)
        self.now = market.as_of
        self.last_sweep = market.as_of
        self.seq = 0
        self.event_seq = 0
        self.sequencer = FeedSequencer()
        self.feed_time: dict[str, datetime] = {}
        self.asset_feed: dict[str, str] = {}
        self.stale: dict[str, str] = {}
        #: Accounts the model could not margin (frozen at their last margin), with the reason.
        self.broken: dict[int, str] = {}
        self.fund = InsuranceFund(0.0)
        self.pots: dict[str, float] = dict.fromkeys(POTS, 0.0)
        self.R = ResultTable()
        self.ids: dict[str, tuple[int, bool]] = {}
        self.events: deque[Event] = deque(maxlen=settings.max_events or None)
        self.liquidations: list[dict[str, object]] = []

    def rebuild(self, inst: InstrumentTable) -> None:
        """Adopt restored marks and recompute the kernel's caches from the state.

        Every account's last margin, reported status and frozen flag are the restored ones.
        """
        self.inst = inst
        self.kernel.on_marks(self.inst, None)
        live = np.flatnonzero(~self.R["frozen"]).astype(np.int64)
        if live.size:
            self.kernel.margin(self.book, gather(self.book, live), self.inst, self.snapshot)

    # -- bulk load and export ---------------------------------------------------------------------
    def load_book(self, book: Book) -> list[Event]:
        """Open every account of ``book`` (vectorised; the engine's opening accounts)."""
        live = self.book
        dup = [a for a in book.accounts if a in live.index]
        if dup or len(set(book.accounts)) != len(book.accounts):
            raise InputError(
                f"account {(dup or list(book.accounts))[0]!r} given twice", path="accounts"
            )
        new = [c for c in dict.fromkeys(book.contracts) if live.contract_row(c) is None]
        if new:
            terms = extend_terms(live.terms, new, self.config)
            self.inst = extend_marks(self.inst, terms, self.snapshot, self.config)
            live.set_terms(terms)
        rows = np.asarray([live.contract_row(c) for c in book.contracts], np.int64)
        first = live.n_accounts
        for name, ccy in zip(book.accounts, book.base_currency, strict=True):
            live.add_account(name, ccy)
        self.R.append(live.n_accounts - self.R.n)
        acc = book.pos_account + first
        net = net_holdings(
            acc, rows[book.pos_instrument] if rows.size else book.pos_instrument,
            book.pos_quantity, book.pos_entry, self.inst,
        )  # fmt: skip
        cash = live.asset_col(live.cash_asset)
        bal = live.balance_view()
        cols = np.asarray([live.asset_col(a) for a in book.assets], np.int64)
        bal = live.balance_view()
        if book.col_account.size:
            np.add.at(bal, (book.col_account + first, cols[book.col_asset]), book.col_amount)
        flat = net.quantity == 0.0
        if flat.any():
            f = np.flatnonzero(flat)
            mtm = mark_positions(net.take(f), self.inst, self.inst).mtm
            np.add.at(bal[:, cash], net.account[f], mtm)
            net = net.take(np.flatnonzero(~flat))
        live.new_rows(
            net.account, net.instrument, net.quantity, net.cost_known, net.qty_unknown, net.unknown
        )
        self.kernel.on_marks(self.inst, None)
        accounts = np.arange(first, live.n_accounts, dtype=np.int64)
        return self.remargin(accounts, self.now, {"update_seq": 0, "kind": "open"})

    def collateral_market_value(self) -> float:
        """Σ of positive balances at the snapshot prices (the insurance fund's default base)."""
        bal = self.book.balance_view()
        snap = self.snapshot
        px = np.asarray(
            [snap.price(a) if snap.has_price(a) else 0.0 for a in self.book.assets], np.float64
        )
        return float((np.maximum(bal, 0.0) * px).sum())

    def to_book(self) -> Book:
        """The live accounts as a book.

        Each net position is one lot at its average entry (lots without an entry stay a lot
        without one); each balance ≠ 0 is one collateral row.
        """
        live = self.book
        rows = live.alive_rows()
        p = live.pos
        q = p["quantity"][rows]
        qu = p["qty_unknown"][rows]
        ck = p["cost_known"][rows]
        ins = p["instrument"][rows]
        qk = q - qu
        inverse = live.terms.inverse[ins]
        with np.errstate(divide="ignore", invalid="ignore"):
            entry = np.where(inverse, qk / ck, ck / qk)
        entry = np.where(qk != 0, entry, np.nan)
        known = qk != 0
        unknown = qu != 0
        acc = p["account"][rows]
        pa = np.concatenate([acc[known], acc[unknown]])
        pi = np.concatenate([ins[known], ins[unknown]])
        pq = np.concatenate([qk[known], qu[unknown]])
        pe = np.concatenate([entry[known], np.full(int(unknown.sum()), np.nan)])
        order = np.argsort(pa, kind="stable")
        bal = live.balance_view()
        ca, cs = np.nonzero(bal)
        return Book(
            accounts=tuple(live.accounts),
            base_currency=tuple(live.base_currency),
            contracts=live.terms.contracts,
            pos_account=pa[order],
            pos_instrument=pi[order],
            pos_quantity=pq[order],
            pos_entry=pe[order],
            assets=tuple(live.assets),
            col_account=ca.astype(np.int64),
            col_asset=cs.astype(np.int64),
            col_amount=bal[ca, cs],
        )

    def digest(self) -> dict[str, Any]:
        """The state as plain values (tests compare digests of two engines)."""
        live = self.book
        rows = live.alive_rows()
        p = live.pos
        positions = sorted(
            (live.accounts[a], live.terms.names[i], q, c, u)
            for a, i, q, c, u in zip(
                p["account"][rows].tolist(),
                p["instrument"][rows].tolist(),
                p["quantity"][rows].tolist(),
                p["cost_known"][rows].tolist(),
                p["qty_unknown"][rows].tolist(),
                strict=True,
            )
        )
        bal = live.balance_view()
        balances = sorted(
            (live.accounts[a], live.assets[k], float(bal[a, k]))
            for a, k in zip(*np.nonzero(bal), strict=True)
        )
        R = self.R
        results = {
            live.accounts[a]: {
                k: (float(R[k][a]) if k in ("equity", "m_equity", "im", "mm") else int(R[k][a]))
                for k in ("equity", "m_equity", "im", "mm", "status", "reported", "frozen")
            }
            for a in range(live.n_accounts)
        }
        return {
            "seq": self.seq,
            "event_seq": self.event_seq,
            "now": format_instant(self.now),
            "as_of": format_instant(self.snapshot.as_of),
            "positions": positions,
            "balances": balances,
            "results": results,
            "fund": self.fund.balance,
            "pots": dict(self.pots),
            "stale": dict(self.stale),
            "broken": {live.accounts[a]: why for a, why in sorted(self.broken.items())},
            "feeds": self.sequencer.state(),
        }

    # -- event helpers ------------------------------------------------------------------------
    def emit(
        self, type: EventType, time: datetime, cause: Mapping[str, object], **kw: Any
    ) -> Event:
        """Number and record one event."""
        self.event_seq += 1
        ev = Event(self.event_seq, time, type, cause=cause, **kw)
        self.events.append(ev)
        return ev

    def worst_cause(self, a: int, batch_scen: Any = None) -> dict[str, object] | None:
        """The worst scenario of account ``a``'s riskiest group, as an event cause field."""
        R = self.R
        u = int(R["worst_und"][a])
        if u < 0:
            return None
        out: dict[str, object] = {"underlying": R.names[u], "loss": float(R["worst_loss"][a])}
        scen = batch_scen if batch_scen is not None else self._scenarios
        c, j = int(R["worst_cls"][a]), int(R["worst_index"][a])
        if scen is not None and 0 <= c < len(scen.grids) and j >= 0:
            g = scen.grids[c]
            out.update(scenario=g.label(j), spot_move=float(g.spot_move[j]), vol_move=g.vol_name(j))
        return out

    _scenarios: Any = None

    # -- adopting margins -----------------------------------------------------------------------
    def settle(self, batch: AccountBatch) -> tuple[IntArray, IntArray]:
        """Store a batch of margins and run the hysteresis: (old, new) reported statuses."""
        R = self.R
        a = batch.accounts
        if batch.scenarios is not None:
            self._scenarios = batch.scenarios
        R.write(batch)
        old = R["reported"][a].copy()
        new, pending = hysteresis(
            old,
            R["pending"][a],
            batch.status,
            batch.equity,
            batch.m_equity,
            batch.im,
            batch.mm,
            now_ns=_ns(self.now),
            buffer=self.settings.recovery_buffer,
            hold_ns=int(self.settings.recovery_hold * 1e9),
        )
        R["reported"][a] = new
        R["pending"][a] = pending
        return old, new

    def status_changes(
        self, a: IntArray, old: IntArray, new: IntArray
    ) -> list[tuple[int, EventType, dict[str, object]]]:
        """``(account, event type, event fields)`` of every reported-status change.

        The first status of an account is reported only when it is not healthy.
        """
        changed = np.flatnonzero((old != new) & ~((old < 0) & (new == 0)))
        out: list[tuple[int, EventType, dict[str, object]]] = []
        R = self.R
        for j in changed.tolist():
            i = int(a[j])
            o, n = int(old[j]), int(new[j])
            etype: EventType = "recovered" if 0 <= n < o else STATUS_EVENTS[n]
            ratio = float(R["ratio"][i])
            out.append(
                (
                    i,
                    etype,
                    {
                        "account": self.book.accounts[i],
                        "status_before": status_name(o),
                        "status_after": status_name(n),
                        "equity": float(R["equity"][i]),
                        "im": float(R["im"][i]),
                        "mm": float(R["mm"][i]),
                        "margin_ratio": ratio if np.isfinite(ratio) else None,
                    },
                )
            )
        return out

    def adopt(
        self, batch: AccountBatch, time: datetime, cause: Mapping[str, object]
    ) -> list[Event]:
        """Store a batch of margins, run the hysteresis, emit account events."""
        if batch.accounts.size == 0:
            return []
        old, new = self.settle(batch)
        return self._emit_changes(batch.accounts, old, new, time, cause)

    def _emit_changes(
        self, a: IntArray, old: IntArray, new: IntArray, time: datetime, cause: Mapping[str, object]
    ) -> list[Event]:
        out: list[Event] = []
        for i, etype, kw in self.status_changes(a, old, new):
            c = dict(cause)
            w = self.worst_cause(i)
            if w is not None:
                c["worst_scenario"] = w
            out.append(self.emit(etype, time, c, **kw))
        return out

    # -- freezing -------------------------------------------------------------------------------
    def affected_by(self, asset: str) -> IntArray:
        """Accounts whose margin depends on ``asset``.

        Holders of its contracts, of it as collateral or of collateral valued through it, and
        accounts reporting in it.
        """
        book = self.book
        mask = np.zeros(book.n_accounts, np.bool_)
        if asset in book.asset_index:
            mask |= book.balance_view()[:, book.asset_index[asset]] != 0.0
        if asset in self.inst.underlyings:
            und = self.inst.underlyings.index(asset)
            if und < book.holders.shape[1]:
                mask |= book.holders[: book.n_accounts, und] > 0
        for sym, spec in self.config.oracles.assets.items():
            if spec.underlying == asset and sym in book.asset_index:
                mask |= book.balance_view()[:, book.asset_index[sym]] != 0.0
        based = book.based_in(asset)
        if based.size:
            mask[based] = True
        return np.flatnonzero(mask).astype(np.int64)

    def refreeze(self) -> None:
        """Recompute the frozen flag of every account from the stale assets."""
        frozen = self.R["frozen"]
        frozen[:] = False
        for asset in self.stale:
            frozen[self.affected_by(asset)] = True
        if self.broken:
            frozen[list(self.broken)] = True

    def mark_stale(self, asset: str, reason: str, time: datetime, cause: Cause) -> list[Event]:
        """Freeze the accounts that depend on ``asset`` (a ``market_data_stale`` event)."""
        if asset in self.stale:
            return []
        self.stale[asset] = reason
        hit = self.affected_by(asset)
        self.R["frozen"][hit] = True
        c = dict(cause, asset=asset, reason=reason, accounts_frozen=int(hit.size))
        return [self.emit("market_data_stale", time, c)]

    def mark_fresh(self, asset: str, time: datetime, cause: Cause) -> list[Event]:
        """Unfreeze after ``asset`` is usable again and re-margin the accounts it thawed."""
        if asset not in self.stale:
            return []
        del self.stale[asset]
        before = self.R["frozen"].copy()
        self.refreeze()
        thawed = np.flatnonzero(before & ~self.R["frozen"]).astype(np.int64)
        c = dict(cause, asset=asset, accounts_unfrozen=int(thawed.size))
        out = [self.emit("market_data_fresh", time, c)]
        out += self.remargin(thawed, time, cause)
        return out

    # -- margining with fail-closed isolation ---------------------------------------------------
    def isolated(
        self,
        accounts: IntArray,
        run: Callable[[IntArray], AccountBatch],
        time: datetime,
        cause: Cause,
    ) -> tuple[AccountBatch | None, list[Event]]:
        """Run ``run(accounts)``, failing closed per asset and per account.

        An asset the run cannot value is marked stale (its accounts frozen) and the run is
        repeated without them; an account the model cannot margin (a :class:`ModelError` or
        :class:`InputError` of its own) is found by bisection, frozen at its last margin with a
        ``margin_error`` event, and the others are margined.
        """
        events: list[Event] = []
        for _ in range(len(self.book.assets) + len(self.inst.underlyings) + 2):
            live = accounts[~self.R["frozen"][accounts]]
            if live.size == 0:
                return None, events
            try:
                return self._bisect(live, run, time, cause, events), events
            except MarketDataError as exc:
                asset = _asset_of(exc.path)
                if asset is None or asset in self.stale:
                    raise
                events += self.mark_stale(asset, str(exc), time, cause)
        raise MarketDataError("market data keeps failing", path="assets")  # pragma: no cover

    def _bisect(
        self,
        accounts: IntArray,
        run: Callable[[IntArray], AccountBatch],
        time: datetime,
        cause: Cause,
        events: list[Event],
    ) -> AccountBatch | None:
        try:
            return run(accounts)
        except MarketDataError as exc:
            if _asset_of(exc.path) is not None:
                raise
            err: CrossMarginError = exc
        except CrossMarginError as exc:
            err = exc
        if accounts.size == 1:
            a = int(accounts[0])
            self.broken[a] = err.reason
            self.R["frozen"][a] = True
            c = dict(cause, reason=err.reason, path=err.path)
            events.append(self.emit("margin_error", time, c, account=self.book.accounts[a]))
            return None
        half = accounts.size // 2
        parts = [
            b
            for b in (
                self._bisect(accounts[:half], run, time, cause, events),
                self._bisect(accounts[half:], run, time, cause, events),
            )
            if b is not None
        ]
        return concat_batches(parts) if parts else None

    def remargin(self, accounts: IntArray, time: datetime, cause: Cause) -> list[Event]:
        """Re-margin ``accounts`` from their live positions (a change outside a tick)."""
        if accounts.size == 0:
            return []

        def run(acc: IntArray) -> AccountBatch:
            return self.kernel.margin(self.book, gather(self.book, acc), self.inst, self.snapshot)

        batch, events = self.isolated(accounts, run, time, cause)
        if batch is not None:
            events += self.adopt(batch, time, cause)
        return events

    # -- market updates ---------------------------------------------------------------------------
    def market(self, seq: int, u: MarketUpdate) -> Outcome:
        """Apply one market update (journal seq ``seq``); see the module docstring."""
        chk = self.sequencer.check(u, commit=False)
        if not chk.apply:
            return Outcome(False, reason=chk.reason, path="seq")
        cause: Cause = {"update_seq": seq, "kind": "market", "feed": u.feed, "underlying": u.asset}
        try:
            snap = apply_update(self.snapshot, u)
        except CrossMarginError as exc:
            return self.refuse(u.time, cause, exc)
        time_step = self._due(u.time)
        events: list[Event] = []
        if not time_step and u.asset in self.inst.underlyings:
            try:
                inst = self.inst.remarked(snap, self.config, underlyings=(u.asset,))
            except CrossMarginError as exc:
                return self.refuse(u.time, cause, _on_record(exc, u))
        else:
            inst = self.inst
        self.sequencer.check(u)
        if chk.status == "gap":
            events.append(
                self.emit(
                    "feed_gap",
                    u.time,
                    dict(cause, missing=chk.missing, expected=chk.expected, reason=chk.reason),
                )
            )
        self._tick_clock(u.time)
        self.feed_time[u.feed] = max(self.feed_time.get(u.feed, u.time), u.time)
        self.asset_feed[u.asset] = u.feed
        self.snapshot = snap
        if time_step:
            events += self.time_step(self.now, cause)
        else:
            self.inst = inst
            events += self.tick(u.asset, u.time, cause)
        events += self.mark_fresh(u.asset, u.time, cause)
        events += self.after_input(u.time, cause)
        return Outcome(True, events)

    def tick(self, asset: str, time: datetime, cause: Cause) -> list[Event]:
        """Re-margin what a move of ``asset`` touched (marks already updated)."""
        if asset in self.inst.underlyings:
            self.kernel.on_marks(self.inst, (asset,))
        accounts = self.affected_by(asset)
        if accounts.size == 0:
            return []

        def run(acc: IntArray) -> AccountBatch:
            return self.kernel.tick(self.book, self.inst, self.snapshot, asset, acc)

        batch, events = self.isolated(accounts, run, time, cause)
        if batch is not None:
            events += self.adopt(batch, time, cause)
        return events

    def refuse(self, time: datetime, cause: Cause, exc: CrossMarginError) -> Outcome:
        """A journaled input refused by a rule (an ``input_refused`` event)."""
        ev = self.emit("input_refused", time, dict(cause, reason=exc.reason, path=exc.path))
        return Outcome(False, [ev], reason=exc.reason, path=exc.path)

    # -- time -----------------------------------------------------------------------------------
    def _due(self, t: datetime) -> bool:
        return t >= self.snapshot.as_of + timedelta(seconds=self.settings.revalue_every)

    def _tick_clock(self, t: datetime) -> None:
        if t > self.now:
            self.now = t

    def clock(self, seq: int, t: datetime) -> Outcome:
        """Move the engine clock to ``t`` (a journaled ``clock`` input).

        Then: time step, heartbeats, pending recoveries, auto-liquidation, periodic sweep.
        """
        cause: Cause = {"update_seq": seq, "kind": "clock"}
        events: list[Event] = []
        self._tick_clock(t)
        if self._due(self.now):
            events += self.time_step(self.now, cause)
        events += self._pending_recoveries(cause)
        events += self.after_input(self.now, cause, liquidate_all=True)
        return Outcome(True, events)

    def time_step(self, t: datetime, cause: Cause) -> list[Event]:
        """Move the valuation instant to ``t`` and re-margin everything (time decay)."""
        self.snapshot = at_instant(self.snapshot, t)
        return self.revalue_all(dict(cause, time_step=format_instant(t)), t)

    def revalue_all(self, cause: Cause, time: datetime) -> list[Event]:
        """Every contract re-marked and every account re-margined from scratch."""
        events = self.remark_all(time, cause)
        everyone = np.arange(self.book.n_accounts, dtype=np.int64)
        events += self.remargin(everyone, time, cause)
        return events

    def remark_all(self, time: datetime, cause: Cause) -> list[Event]:
        """Re-mark every contract from scratch (an underlying that fails: stale, frozen)."""
        inst, failed = mark_all(self.book.terms, self.snapshot, self.config, previous=self.inst)
        events: list[Event] = []
        for u, why in failed.items():
            events += self.mark_stale(u, why, time, cause)
        self.inst = inst
        self.kernel.on_marks(inst, None)
        return events

    def _pending_recoveries(self, cause: Cause) -> list[Event]:
        R = self.R
        a = np.flatnonzero((R["pending"] >= 0) & ~R["frozen"]).astype(np.int64)
        if a.size == 0:
            return []
        old = R["reported"][a].copy()
        new, pending = hysteresis(
            old,
            R["pending"][a],
            R["status"][a],
            R["equity"][a],
            R["m_equity"][a],
            R["im"][a],
            R["mm"][a],
            now_ns=_ns(self.now),
            buffer=self.settings.recovery_buffer,
            hold_ns=int(self.settings.recovery_hold * 1e9),
        )
        R["reported"][a] = new
        R["pending"][a] = pending
        return self._emit_changes(a, old, new, self.now, cause)

    def heartbeats(self, cause: Cause) -> list[Event]:
        """Feeds silent for longer than their heartbeat: their assets become stale."""
        events: list[Event] = []
        fallback = self.config.market.max_age_seconds
        for asset, feed in sorted(self.asset_feed.items()):
            last = self.feed_time[feed]
            limit = self.settings.heartbeat_of(feed, fallback)
            age = (self.now - last).total_seconds()
            if age > limit and asset not in self.stale:
                why = (
                    f"feed {feed} silent for {age:.0f} s (heartbeat {limit:g} s; last update "
                    f"{format_instant(last)})"
                )
                events += self.mark_stale(asset, why, self.now, dict(cause, feed=feed))
        return events

    def after_input(
        self, time: datetime, cause: Cause, *, liquidate_all: bool = False
    ) -> list[Event]:
        """Heartbeats, auto-liquidation and the periodic sweep, after a market or clock input."""
        events = self.heartbeats(cause)
        events += self.auto_liquidate(time, cause)
        every = self.settings.sweep_every
        if every > 0 and self.now >= self.last_sweep + timedelta(seconds=every):
            events += self.sweep(cause).events
        return events

    # -- liquidation ----------------------------------------------------------------------------
    def auto_liquidate(self, time: datetime, cause: Cause) -> list[Event]:
        """One liquidation round for every unfrozen account below maintenance (if enabled)."""
        policy = self.settings.auto_liquidate
        R = self.R
        if policy == "off":
            return []
        triggered = np.flatnonzero((R["status"] >= 2) & ~R["frozen"]).astype(np.int64)
        if triggered.size == 0:
            return []
        value0 = self.fund.balance
        try:
            out = liquidate(
                self.book, self.kernel, self.inst, self.snapshot, triggered, policy=policy,
                fund=self.fund,
            )  # fmt: skip
        except CrossMarginError as exc:
            self.fund.balance = value0
            c = dict(cause, kind="liquidation", reason=exc.reason, path=exc.path)
            return [self.emit("input_refused", time, c)]
        for k, v in out.pots.items():
            self.pots[k] += v
        record = out.summary()
        record["update_seq"] = cause.get("update_seq")
        record["live_value_after"] = out.live_value_after
        self.liquidations.append(record)
        lc: Cause = dict(cause, kind="liquidation", policy=policy)
        events: list[Event] = []
        for row in out.rows():
            acc = row.get("account")
            events.append(
                self.emit(
                    "liquidation_trade",
                    time,
                    dict(lc, **row, insurance_fund=self.fund.balance),
                    account=acc if isinstance(acc, str) else None,
                )
            )
        self.kernel.forget(out.accounts)
        events += self.remargin(out.accounts, time, lc)
        return events

    # -- sweep ----------------------------------------------------------------------------------
    def sweep(self, cause: Cause) -> SweepReport:
        """Re-mark and re-margin every unfrozen account from scratch and compare (module doc)."""
        time = self.now
        self.last_sweep = self.now
        R = self.R
        events = self.remark_all(time, cause)
        inst = self.inst
        everyone = np.arange(self.book.n_accounts, dtype=np.int64)

        def run(acc: IntArray) -> AccountBatch:
            return self.kernel.sweep(self.book, inst, self.snapshot, acc)

        batch, ev = self.isolated(everyone, run, time, cause)
        events += ev
        mismatches: list[str] = []
        worst = 0.0
        if batch is not None:
            a = batch.accounts
            bad = np.zeros(a.size, np.bool_)
            for name, fresh in (
                ("equity", batch.equity),
                ("m_equity", batch.m_equity),
                ("im", batch.im),
                ("mm", batch.mm),
            ):
                old = R[name][a]
                diff = np.abs(fresh - old)
                worst = max(worst, float(diff.max(initial=0.0)))
                bad |= diff > SWEEP_ATOL + SWEEP_RTOL * np.maximum(np.abs(fresh), np.abs(old))
            bad |= batch.status != R["status"][a]
            for j in np.flatnonzero(bad).tolist():
                i = int(a[j])
                name = self.book.accounts[i]
                mismatches.append(name)
                events.append(
                    self.emit(
                        "sweep_mismatch",
                        time,
                        dict(
                            cause,
                            kind="sweep",
                            incremental={
                                k: float(R[k][i]) for k in ("equity", "m_equity", "im", "mm")
                            },
                            sweep={
                                "equity": float(batch.equity[j]),
                                "m_equity": float(batch.m_equity[j]),
                                "im": float(batch.im[j]),
                                "mm": float(batch.mm[j]),
                            },
                        ),
                        account=name,
                    )
                )
            events += self.adopt(batch, time, dict(cause, kind="sweep"))
        n = 0 if batch is None else int(batch.accounts.size)
        return SweepReport(n, tuple(mismatches), worst, tuple(events))


def _on_record(exc: CrossMarginError, u: MarketUpdate) -> CrossMarginError:
    """A market-data error caused by update ``u``, with the path of the record's field.

    ``assets.BTC.confidence`` becomes ``confidence`` when the update set it (the field that
    made its data unusable); any other path (``assets.BTC.expiries…``) is kept as it is.
    """
    parts = exc.path.split(".")
    if len(parts) >= 3 and parts[0] == "assets" and parts[1] == u.asset:
        field = parts[2]
        if field in ("price", "confidence", "perp_mark") and getattr(u, field) is not None:
            return MarketDataError(exc.reason, path=field)
    return exc


def _asset_of(path: str) -> str | None:
    """The asset an error path names (``assets.BTC.price``, ``oracles.AUSDC``, ``BTC``)."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] in ("assets", "oracles"):
        return parts[1]
    return None
