"""The live risk engine: ticks and trades in, every affected account re-margined, events out.

::

    from crossmargin.live import LiveEngine, MarketUpdate, Trade

    engine = LiveEngine.open(market=snapshot, accounts=portfolios, model="portfolio",
                             store_url="venue.db", auto_liquidate="partial")
    ack = engine.apply(MarketUpdate(feed="deribit", seq=1, time=t, asset="BTC", price=61_000.0))
    for ev in ack.events: print(ev.to_obj())
    engine.whatif("acct-1", [Trade("acct-1", "BTC-PERP", 2.0, 61_000.0, t)])
    engine.close()

The state machine is :class:`~crossmargin.live.core.LiveCore` (market updates, clock, sweep,
auto-liquidation) and :mod:`crossmargin.live.accounts` (trades, deposits, withdrawals, new
accounts); this class adds validation, the journal, snapshots and recovery
(:mod:`crossmargin.live.durable`) and the read side (account views, events).

Without ``store_url`` the engine runs in memory (nothing survives the process). With it every
accepted input is durable before :meth:`LiveEngine.apply` returns, and opening the same
database again resumes where it stopped: newest snapshot plus the journal after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from crossmargin._time import format_instant, parse_instant
from crossmargin.account.report import account_dict
from crossmargin.config import RiskConfig, default_config
from crossmargin.engine import margin_resolved
from crossmargin.errors import (
    ConfigError,
    CrossMarginError,
    InputError,
    MarketDataError,
    StoreError,
)
from crossmargin.explain import explain_dict
from crossmargin.instruments.book import Book
from crossmargin.instruments.position import Portfolio
from crossmargin.live.accounts import account_run, kind_of, whatif_sub
from crossmargin.live.codec import update_from_obj
from crossmargin.live.core import LiveCore, Outcome
from crossmargin.live.durable import FORMAT, decode_state, encode_state, journal_record
from crossmargin.live.events import Event
from crossmargin.live.kernel import gather, resolve_sub
from crossmargin.live.liquidate import total_value, venue_value
from crossmargin.live.records import (
    AccountUpdate,
    Deposit,
    MarketUpdate,
    NewAccount,
    Trade,
    Update,
    Withdrawal,
)
from crossmargin.live.results import (
    AccountTable,
    AccountView,
    Ack,
    PreTradeResult,
    SweepReport,
    health_obj,
)
from crossmargin.live.sequence import FeedSequencer
from crossmargin.live.settings import AutoLiquidate, LiveSettings
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.store import NewEvent, NewRecord, Receipt, Store, StoreConfig

__all__ = ["LiveEngine"]

_UPDATE_TYPES = (MarketUpdate, Trade, Deposit, Withdrawal, NewAccount)
_KEYED = (Trade, Deposit, Withdrawal)


def _key(u: Update) -> str | None:
    """Idempotency key of an account update: its client id (unique across the venue)."""
    if isinstance(u, _KEYED):
        return u.id
    return None


class LiveEngine:
    """A live risk engine over one venue (module docstring). Build with :meth:`open`."""

    def __init__(self, core: LiveCore, store: Store | None) -> None:
        self._core = core
        self._store = store
        self._lock = threading.RLock()
        self._since_snapshot = 0
        self._stored_cause = 0
        self._closed = False

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        *,
        market: MarketSnapshot | None = None,
        config: RiskConfig | None = None,
        model: str | None = "portfolio",
        store_url: str | None = None,
        auto_liquidate: AutoLiquidate = "off",
        heartbeat: Any = None,
        accounts: Sequence[Portfolio] | Book | None = None,
        settings: LiveSettings | None = None,
        store_config: StoreConfig | None = None,
    ) -> LiveEngine:
        """Open an engine on ``market`` (and ``accounts``), or resume the one in ``store_url``.

        Parameters
        ----------
        market
            Opening snapshot (its ``as_of`` is the engine's start time); may be left out when
            ``store_url`` holds an engine to resume.
        config
            Risk configuration (default: the shipped one).
        model
            Margin model (``None``: the one of the engine in ``store_url``, else
            ``portfolio``).
        store_url
            Database (SQLite path or URL, PostgreSQL URL). If it holds an engine, that engine is
            resumed (``market`` and ``accounts`` are then ignored; ``model`` must match).
        auto_liquidate, heartbeat
            Shortcuts for :class:`~crossmargin.live.settings.LiveSettings` fields (heartbeat:
            one duration or ``{feed: duration}``).
        accounts
            Opening accounts (portfolios or a book).
        settings
            All settings (overrides ``auto_liquidate`` and ``heartbeat``).
        store_config
            Store options.

        Raises
        ------
        InputError, ConfigError, MarketDataError, ModelError, StoreError
            Bad arguments, unusable market data, unknown model, database errors.
        """
        config = config or default_config()
        if settings is None:
            settings = LiveSettings.build(heartbeat=heartbeat, auto_liquidate=auto_liquidate)
        store = None if store_url is None else Store.open(store_url, config=store_config)
        try:
            if store is not None:
                snap = store.latest_snapshot()
                if snap is not None:
                    core = decode_state(snap.parts)
                    if model is not None and core.model != model:
                        raise ConfigError(
                            f"the database holds a {core.model!r} engine, not {model!r}",
                            path="model",
                        )
                    engine = cls(core, store)
                    engine._recover(snap.seq)
                    return engine
                if store.last_seq() > 0:
                    raise StoreError("the journal has records but no engine snapshot", path="store")
            if market is None:
                raise InputError(
                    "a market snapshot is needed to start an engine (the database holds none)",
                    path="market",
                )
            core = LiveCore(market, config, model or "portfolio", settings)
            engine = cls(core, store)
            engine._open_accounts(accounts)
            if store is not None:
                store.write_snapshot(
                    0, encode_state(core), format=FORMAT, meta={"format": FORMAT, "seq": 0}
                )
            return engine
        except BaseException:
            if store is not None:
                store.close()
            raise

    def _open_accounts(self, accounts: Sequence[Portfolio] | Book | None) -> None:
        core = self._core
        if accounts is not None:
            core.load_book(
                accounts if isinstance(accounts, Book) else Book.from_portfolios(list(accounts))
            )
        s = core.settings
        liq = core.config.liquidation
        if s.insurance_fund is not None:
            core.fund.balance = s.insurance_fund
        elif liq.insurance_fund is not None:
            core.fund.balance = liq.insurance_fund
        else:
            core.fund.balance = liq.insurance_fund_share * core.collateral_market_value()
        self._store_events(list(core.events))

    # -- inputs ----------------------------------------------------------------------------------
    def apply(self, update: Update) -> Ack:
        """Validate, journal, apply one input and emit its events (see :meth:`apply_many`)."""
        return self.apply_many([update])[0]

    def apply_many(self, updates: Iterable[Update]) -> list[Ack]:
        """Apply inputs in order, journaled in one group commit; one :class:`Ack` each.

        A malformed input is refused without being journaled; every other input is journaled
        and then applied or refused by the engine's rules; a repeated client id
        acknowledges the first input again without applying it. Returns once every journaled
        input is durable.

        Raises
        ------
        StoreError
            The journal write failed: nothing of the batch is acknowledged and the engine
            closes (reopen it to recover from the journal).
        """
        with self._lock:
            self._check_open()
            items = list(updates)
            acks: list[Ack | None] = [None] * len(items)
            todo: list[tuple[int, Update, str, str | None]] = []
            keys_now: dict[str, int] = {}
            horizon = max(self._core.now, datetime.now(UTC))
            ids = self._core.ids
            for i, u in enumerate(items):
                kind: str
                if type(u) is Trade:  # the hot case: nothing to check at the edge
                    kind, key = "trade", u.id
                else:
                    pre = self._validate(u, horizon)
                    if pre is not None:
                        acks[i] = pre
                        continue
                    if isinstance(u, MarketUpdate):
                        kind, key = "market", None
                        if u.time > horizon:
                            horizon = u.time
                    else:
                        kind, key = kind_of(u), _key(u)
                if key is not None:
                    seen = ids.get(key)
                    if seen is not None:
                        acks[i] = Ack(seen[1], seen[0], reason="duplicate (id already applied)")
                        continue
                    if key in keys_now:
                        acks[i] = Ack(
                            False, None, reason="duplicate id in the same batch", path="id"
                        )
                        continue
                    keys_now[key] = i
                todo.append((i, u, kind, key))
            future = self._journal(todo)
            first = self._core.seq + 1
            outcomes = self._process([(first + k, u) for k, (_, u, _, _) in enumerate(todo)])
            self._await(future, first, len(todo))
            for k, ((i, _, _, key), out) in enumerate(zip(todo, outcomes, strict=True)):
                seq = first + k
                if key is not None:
                    ids[key] = (seq, out.accepted)
                acks[i] = Ack(out.accepted, seq, out.reason, out.path, tuple(out.events))
            self._after_batch(outcomes)
            return [a for a in acks if a is not None]

    def advance_clock(self, now: datetime) -> list[Event]:
        """Move the engine clock to ``now`` (journaled).

        Then: time step, heartbeats, pending recoveries, auto-liquidation of accounts still
        below maintenance, periodic sweep.
        """
        with self._lock:
            self._check_open()
            if not isinstance(now, datetime) or now.tzinfo is None:
                raise InputError("must be an aware datetime", path="now")
            seq = self._core.seq + 1
            future = self._submit(
                [self._record("clock", {"time": format_instant(now)}, None, None)]
            )
            out = self._core_step(seq, "clock", now)
            self._await(future, seq, 1)
            self._after_batch([out])
            return out.events

    def sweep(self) -> SweepReport:
        """Re-margin every account from scratch and compare with the incremental state.

        Journaled; a difference is a ``sweep_mismatch`` event and the sweep's numbers win.
        """
        with self._lock:
            self._check_open()
            seq = self._core.seq + 1
            future = self._submit([self._record("sweep", {}, None, None)])
            report = self._core_sweep(seq)
            self._await(future, seq, 1)
            self._after_batch([Outcome(True, list(report.events))])
            return report

    # -- read side -------------------------------------------------------------------------------
    def whatif(self, account: str, trades: Sequence[Trade]) -> PreTradeResult:
        """Pre-trade check of ``trades`` on ``account`` (the state is not changed).

        Raises
        ------
        InputError
            Unknown account or instrument; a trade for another account.
        """
        with self._lock:
            core = self._core
            a = core.book.index.get(account)
            if a is None:
                raise InputError(f"unknown account {account!r}", path="account")
            for i, t in enumerate(trades):
                if t.account != account:
                    raise InputError(
                        f"trade for {t.account!r}, not {account!r}", path=f"trades[{i}]"
                    )
            R = core.R
            before = health_obj(
                R["equity"][a],
                R["m_equity"][a],
                R["im"][a],
                R["mm"][a],
                R["ratio"][a],
                R["status"][a],
            )
            batch, _ = whatif_sub(core, a, trades)
            after = health_obj(
                batch.equity[0], batch.m_equity[0], batch.im[0], batch.mm[0], batch.ratio[0],
                batch.status[0],
            )  # fmt: skip
            eq, im = float(batch.equity[0]), float(batch.im[0])
            ok = eq >= im or im < float(R["im"][a])
            reason = None
            if bool(R["frozen"][a]):
                ok, reason = False, "account frozen: its market data is stale"
            elif not ok:
                reason = (
                    f"post-trade equity {eq:,.2f} < initial margin {im:,.2f} and the trades do "
                    "not reduce it"
                )
            return PreTradeResult(account, ok, reason, before, after)

    def account(self, account: str, *, detail: bool = True) -> AccountView:
        """The account's last margin (``detail``: with the ``margin --format json`` object).

        Raises
        ------
        InputError
            Unknown account.
        """
        with self._lock:
            core = self._core
            a = core.book.index.get(account)
            if a is None:
                raise InputError(f"unknown account {account!r}", path="account")
            result: dict[str, object] = {}
            if detail and not core.R["frozen"][a]:
                sub = gather(core.book, np.asarray([a], np.int64))
                rb = resolve_sub(core.book, sub, core.inst, core.snapshot)
                res = core.kernel.run(rb)
                result = account_dict(res, 0, positions=True)
            return self._view(a, result)

    def accounts(self) -> list[AccountView]:
        """Every account's last margin, lowest margin ratio first (no ratio: last)."""
        with self._lock:
            R = self._core.R
            ratio = R["ratio"]
            order = np.lexsort((np.arange(ratio.size), np.where(np.isnan(ratio), np.inf, ratio)))
            return [self._view(int(a), {}) for a in order.tolist()]

    # -- read side of the HTTP service (issue 12) ------------------------------------------------
    def explain(self, account: str) -> dict[str, Any]:
        """The ``explain --format json`` object of the account on the live state.

        Computed from scratch on the account's live positions and balances and the current
        snapshot (the same numbers as the incremental state: the invariant the sweep checks),
        with the scenario grid.

        Raises
        ------
        InputError
            Unknown account.
        MarketDataError
            The account's market data is stale (it is frozen at its last margin).
        """
        with self._lock:
            core = self._core
            a = core.book.index.get(account)
            if a is None:
                raise InputError(f"unknown account {account!r}", path="account")
            if core.R["frozen"][a]:
                raise MarketDataError(
                    f"account {account!r} is frozen: its market data is stale ("
                    + "; ".join(sorted(core.stale))
                    + ")",
                    path="account",
                )
            sub = gather(core.book, np.asarray([a], np.int64))
            rb = resolve_sub(core.book, sub, core.inst, core.snapshot)
            return explain_dict(margin_resolved(rb, model=core.model, detail=True), 0)

    def account_table(self) -> AccountTable:
        """Every account's last numbers as columns (copies; vectorised, no per-account objects)."""
        with self._lock:
            core = self._core
            R = core.R
            return AccountTable(
                seq=core.seq,
                event_seq=core.event_seq,
                accounts=tuple(core.book.accounts),
                status=R["status"].copy(),
                reported=R["reported"].copy(),
                equity=R["equity"].copy(),
                maintenance_equity=R["m_equity"].copy(),
                initial_margin=R["im"].copy(),
                maintenance_margin=R["mm"].copy(),
                margin_ratio=R["ratio"].copy(),
                frozen=R["frozen"].copy(),
            )

    @property
    def event_seq(self) -> int:
        """Sequence number of the last event emitted (0: none yet)."""
        return self._core.event_seq

    def _view(self, a: int, result: dict[str, object]) -> AccountView:
        from crossmargin.live.events import status_name

        R = self._core.R
        ratio = float(R["ratio"][a])
        return AccountView(
            account=self._core.book.accounts[a],
            status=status_name(int(R["status"][a])),
            reported_status=status_name(int(R["reported"][a])),
            equity=float(R["equity"][a]),
            maintenance_equity=float(R["m_equity"][a]),
            initial_margin=float(R["im"][a]),
            maintenance_margin=float(R["mm"][a]),
            margin_ratio=ratio if np.isfinite(ratio) else None,
            frozen=bool(R["frozen"][a]),
            result=result,
        )

    def events_after(self, seq: int, account: str | None = None) -> list[Event]:
        """Events with a sequence number above ``seq`` (those kept in memory), oldest first."""
        with self._lock:
            return [
                e
                for e in self._core.events
                if e.seq > seq and (account is None or e.account == account)
            ]

    def has_account(self, account: str) -> bool:
        """Whether ``account`` is open."""
        return account in self._core.book.index

    def has_applied(self, id: str) -> bool:
        """Whether an input with client id ``id`` was journaled (applied or refused)."""
        return id in self._core.ids

    @property
    def sequencer(self) -> FeedSequencer:
        """Per-feed sequence positions (read only: ``check(u, commit=False)``)."""
        return self._core.sequencer

    @property
    def clock(self) -> datetime:
        """Engine clock (same as :attr:`now`)."""
        return self._core.now

    # -- state for tests and reports ------------------------------------------------------------
    @property
    def market(self) -> MarketSnapshot:
        """The current snapshot (``as_of``: the valuation instant)."""
        return self._core.snapshot

    @property
    def now(self) -> datetime:
        """Engine clock (the latest market-update or clock time)."""
        return self._core.now

    @property
    def seq(self) -> int:
        """Journal sequence number of the last input applied."""
        return self._core.seq

    @property
    def model(self) -> str:
        """Margin model."""
        return self._core.model

    @property
    def config(self) -> RiskConfig:
        """Risk configuration."""
        return self._core.config

    @property
    def insurance_fund(self) -> float:
        """Insurance fund balance (snapshot currency)."""
        return self._core.fund.balance

    @property
    def pots(self) -> dict[str, float]:
        """Venue pots moved by auto-liquidations (fee income, market, bad debt, ADL clearing)."""
        return dict(self._core.pots)

    @property
    def liquidations(self) -> list[dict[str, object]]:
        """Every auto-liquidation round: who, counts, money by party, conservation error."""
        return list(self._core.liquidations)

    @property
    def stale_assets(self) -> dict[str, str]:
        """Assets whose data is stale, with the reason."""
        return dict(self._core.stale)

    def to_book(self) -> Book:
        """The live accounts as a book (one lot per net position at its average entry)."""
        with self._lock:
            book: Book = self._core.to_book()
            return book

    def total_value(self) -> float:
        """Accounts' value at the current prices + insurance fund + pots (money conservation)."""
        with self._lock:
            core = self._core
            accounts = np.arange(core.book.n_accounts, dtype=np.int64)
            v = venue_value(core.book, core.inst, core.snapshot, accounts)
            return total_value(v, core.fund.balance, core.pots)

    def state_digest(self) -> dict[str, Any]:
        """Everything that defines the state, as plain values (equal states: equal digests)."""
        with self._lock:
            return self._core.digest()

    # -- lifecycle -------------------------------------------------------------------------------
    def snapshot(self) -> None:
        """Write a state snapshot now (no-op without a store)."""
        with self._lock:
            self._check_open()
            self._write_snapshot()

    def close(self) -> None:
        """Snapshot (with a store) and release the store. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._store is not None and self._since_snapshot:
                    self._write_snapshot()
            finally:
                self._closed = True
                if self._store is not None:
                    self._store.close()

    def __enter__(self) -> LiveEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the engine is closed", path="engine")

    def _validate(self, u: object, horizon: datetime) -> Ack | None:
        """Refusal at the edge (not journaled): not an update, a tick stamped in the future.

        ``horizon``: the later of the engine clock and the wall clock (the clock a tick may
        run ahead of by at most ``max_clock_jump``).
        """
        if not isinstance(u, _UPDATE_TYPES):
            return Ack(False, None, f"not an update: {type(u).__name__}", "type")
        jump = self._core.settings.max_clock_jump
        if (
            isinstance(u, MarketUpdate)
            and jump is not None
            and u.time > horizon + timedelta(seconds=jump)
        ):
            return Ack(
                False,
                None,
                f"source timestamp {format_instant(u.time)} is more than {jump:g} s ahead of "
                f"the engine and wall clocks ({format_instant(horizon)}); refused",
                "time",
            )
        return None

    def _record(
        self, kind: str, payload: dict[str, object], account: str | None, key: str | None
    ) -> NewRecord:
        return NewRecord(kind, payload, source="engine", account=account, idempotency_key=key)

    def _journal(self, todo: list[tuple[int, Update, str, str | None]]) -> Future[Receipt] | None:
        if self._store is None or not todo:
            return None
        now = time.time_ns()
        recs = [journal_record(u, kind, key, now) for _, u, kind, key in todo]
        # every key is new: the engine holds all the keys it journaled (``core.ids``)
        return self._store.submit(recs, new_keys=True)

    def _submit(self, records: list[NewRecord]) -> Future[Receipt] | None:
        return None if self._store is None else self._store.submit(records)

    def _await(self, future: Future[Receipt] | None, first: int, n: int) -> None:
        if future is None:
            return
        try:
            receipt = future.result()
        except CrossMarginError:
            self._fail()
            raise
        want = tuple(range(first, first + n))
        if receipt.journal_seqs != want or any(receipt.duplicate):
            self._fail()
            raise StoreError(
                f"journal numbering {receipt.journal_seqs[:3]}… differs from the engine's "
                f"{want[:3]}…: another writer uses this database",
                path="store",
            )

    def _fail(self) -> None:
        self._closed = True
        if self._store is not None:
            self._store.close()

    def _process(self, items: list[tuple[int, Update]]) -> list[Outcome]:
        """Apply journaled inputs in order: runs of account updates in waves."""
        out: list[Outcome] = []
        core = self._core
        k = 0
        while k < len(items):
            seq, u = items[k]
            if isinstance(u, MarketUpdate):
                o = core.market(seq, u)
                core.seq = seq
                out.append(o)
                k += 1
                continue
            j = k
            while j < len(items) and not isinstance(items[j][1], MarketUpdate):
                j += 1
            run: list[tuple[int, AccountUpdate]] = [(s, v) for s, v in items[k:j]]  # type: ignore[misc]
            out.extend(account_run(core, run))
            core.seq = items[j - 1][0]
            k = j
        return out

    def _core_step(self, seq: int, kind: str, t: datetime) -> Outcome:
        out = self._core.clock(seq, t)
        self._core.seq = seq
        return out

    def _core_sweep(self, seq: int) -> SweepReport:
        report = self._core.sweep({"update_seq": seq, "kind": "sweep"})
        self._core.seq = seq
        return report

    def _after_batch(self, outcomes: list[Outcome]) -> None:
        self._store_events([e for o in outcomes for e in o.events])
        self._since_snapshot += len(outcomes)
        every = self._core.settings.snapshot_every
        if self._store is not None and every and self._since_snapshot >= every:
            self._write_snapshot()

    def _store_events(self, events: list[Event]) -> None:
        if self._store is None or not events:
            return
        new = []
        for e in events:
            cause = e.cause.get("update_seq")
            cs = cause if isinstance(cause, int) and cause > 0 else None
            if cs is not None and cs <= self._stored_cause:
                continue
            new.append(
                NewEvent(
                    e.type,
                    e.to_obj(),
                    account=e.account,
                    cause_seq=cs,
                    time_ns=_ns(e.time),
                )
            )
        if new:
            self._store.submit(events=new)

    def _write_snapshot(self) -> None:
        if self._store is None:
            return
        core = self._core
        self._store.write_snapshot(
            core.seq, encode_state(core), format=FORMAT, meta={"format": FORMAT, "seq": core.seq}
        )
        self._since_snapshot = 0

    def _recover(self, from_seq: int) -> None:
        """Replay the journal after the snapshot (events already stored are not stored again)."""
        assert self._store is not None
        self._stored_cause = self._store.last_event_cause()
        batch: list[tuple[int, Update]] = []
        outcomes: list[Outcome] = []

        def flush() -> None:
            if not batch:
                return
            done = self._process(batch)
            for (seq, u), o in zip(batch, done, strict=True):
                key = _key(u)
                if key is not None:
                    self._core.ids[key] = (seq, o.accepted)
            outcomes.extend(done)
            batch.clear()

        for rec in self._store.journal_after(from_seq):
            if rec.kind in ("clock", "sweep"):
                flush()
                if rec.kind == "clock":
                    t = parse_instant(rec.data()["time"])
                    outcomes.append(self._core_step(rec.seq, "clock", t))
                else:
                    outcomes.append(Outcome(True, list(self._core_sweep(rec.seq).events)))
                continue
            batch.append((rec.seq, update_from_obj(rec.data(), path=f"journal[{rec.seq}]")))
            if len(batch) >= 4096:
                flush()
        flush()
        self._store_events([e for o in outcomes for e in o.events])
        self._stored_cause = 0
        self._since_snapshot = len(outcomes)


def _ns(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000
