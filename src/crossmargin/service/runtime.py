"""The running service: lease, engine, worker thread, hub, keys, sessions, background tasks.

:class:`Service` is created by the app's lifespan (:func:`crossmargin.service.app.create_app`)
and reached by the routes through ``request.app.state.service``.

Start-up (writer): take the writer lease → open the engine on the store (resume the stored
state, or start from the market snapshot and accounts) → open the service's own handle on the
same store (API keys, event history) → start the engine thread and, in ``wall`` clock mode,
the clock task. Shut-down reverses it: streams end, queued inputs finish, the engine writes a
final snapshot, the lease is released. A read replica opens only the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from crossmargin.config import default_config, load_config
from crossmargin.errors import StoreError
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.live.engine import LiveEngine
from crossmargin.live.results import AccountTable
from crossmargin.live.settings import LiveSettings
from crossmargin.service.auth import KeyChecker, Sessions
from crossmargin.service.config import ServiceConfig
from crossmargin.service.errors import ApiError
from crossmargin.service.hub import EventHub, HubEvent
from crossmargin.service.lease import WriterLease
from crossmargin.service.logs import forbid_secret_digest
from crossmargin.service.worker import EngineWorker
from crossmargin.store import Store

__all__ = ["Service"]

log = logging.getLogger("crossmargin.service")


class Service:
    """Everything a request needs (module docstring).

    Parameters
    ----------
    config
        The service configuration.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.lease: WriterLease | None = None
        self.engine: LiveEngine | None = None
        self.worker: EngineWorker | None = None
        self.store: Store | None = None
        self.hub: EventHub | None = None
        self.keys: KeyChecker | None = None
        self.sessions = Sessions(config.session_ttl.total_seconds())
        self.started = time.time()
        self._tasks: list[asyncio.Task[None]] = []
        self._table: AccountTable | None = None
        self.model: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> None:
        """Take the lease, open the engine and the store (blocking).

        A failure leaves nothing open. ``crossmargin serve`` calls it before the server
        starts, so that bad files or a busy database are one clear error; the lifespan calls
        it otherwise.
        """
        if self.store is not None:
            return
        try:
            if self.config.read_only:
                self.store = Store.open(self.config.db)
                return
            self.lease = WriterLease(self.config.db)
            self.engine = self._open_engine()
            self.model = self.engine.model
            self.store = Store.open(self.config.db)
        except BaseException:
            self._close_sync()
            raise

    async def start(self) -> None:
        """Open (if not yet) and start the engine thread, the hub and the clock task."""
        loop = asyncio.get_running_loop()
        if self.config.admin_key is not None:
            forbid_secret_digest(self.config.admin_key.digest)
        try:
            await asyncio.to_thread(self.open)
            store = self.need_store()
            if self.engine is None:
                last = await asyncio.to_thread(store.last_event_seq)
            else:
                last = self.engine.event_seq
            self.hub = EventHub(last, self._read_store)
            self.keys = KeyChecker(self.config.admin_key, store)
            if self.engine is not None:
                self.worker = EngineWorker(self.engine, self.hub, loop)
                self.worker.start()
                if self.config.clock == "wall":
                    self._tasks.append(loop.create_task(self._clock(), name="crossmargin-clock"))
        except BaseException:
            await self.stop()
            raise

    def _open_engine(self) -> LiveEngine:
        c = self.config
        market = load_market(c.market) if c.market is not None else None
        accounts = load_portfolios(c.accounts)[0] if c.accounts is not None else None
        risk = load_config(c.risk_config) if c.risk_config is not None else default_config()
        settings = LiveSettings.build(
            heartbeat=c.heartbeat, auto_liquidate=c.auto_liquidate, sweep_every=c.sweep_every
        )
        return LiveEngine.open(
            market=market,
            accounts=accounts,
            config=risk,
            model=c.model,
            store_url=c.db,
            settings=settings,
        )

    def begin_shutdown(self) -> None:
        """End the event streams (called when the server is asked to stop)."""
        if self.hub is not None:
            self.hub.close()

    async def stop(self) -> None:
        """Stop tasks, finish queued inputs, close the engine, the store and the lease."""
        self.begin_shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop)
            self.worker = None
            self.engine = None
        await asyncio.to_thread(self._close_sync)

    def close(self) -> None:
        """Close what :meth:`open` opened (when the server never started)."""
        self._close_sync()

    def _close_sync(self) -> None:
        if self.engine is not None:
            try:
                self.engine.close()
            except Exception:
                log.exception("closing the engine failed")
            self.engine = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    async def _clock(self) -> None:
        interval = self.config.clock_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.need_worker().advance_clock(datetime.now(UTC))
            except StoreError:
                return
            except Exception:
                log.exception("clock step failed")

    # -- access for routes ----------------------------------------------------------------------
    def need_worker(self) -> EngineWorker:
        """The engine worker (503 on a read replica or after a failure)."""
        if self.worker is None:
            raise ApiError(
                503,
                "this is a read replica: accounts, trades and market data are served by the "
                "writer process",
                path="engine",
            )
        if self.worker.failed is not None:
            raise ApiError(503, self.worker.failed, path="store")
        return self.worker

    def need_store(self) -> Store:
        """The store handle."""
        if self.store is None:  # pragma: no cover - only before start
            raise ApiError(503, "the service is starting", path="store")
        return self.store

    def need_hub(self) -> EventHub:
        """The event hub."""
        if self.hub is None:  # pragma: no cover - only before start
            raise ApiError(503, "the service is starting", path="store")
        return self.hub

    def clock(self) -> datetime:
        """The engine clock (read without the engine's lock: a reference read)."""
        engine = self.engine
        return engine.clock if engine is not None else datetime.now(UTC)

    async def table(self) -> AccountTable:
        """The account table, copied from the engine when it changed (cached per journal seq)."""
        worker = self.need_worker()
        cached = self._table
        engine = worker.engine
        if cached is not None and cached.seq == engine.seq and cached.event_seq == engine.event_seq:
            return cached
        table = await worker.read(lambda e: e.account_table())
        self._table = table
        return table

    def _read_store(
        self, after: int, account: str | None, limit: int
    ) -> tuple[list[HubEvent], int]:
        store = self.need_store()
        last = store.last_event_seq()
        events = store.events_after(after, account=account, limit=limit)
        out = [HubEvent.stored(e.seq, e.type, e.account, e.body) for e in events]
        if len(out) >= limit:
            return out, out[-1].seq
        return out, max(last, out[-1].seq if out else after)

    def status(self) -> dict[str, Any]:
        """``GET /v1/status`` (without the account counts, added by the route)."""
        hub = self.need_hub()
        engine = self.engine
        return {
            "role": "replica" if self.config.read_only else "writer",
            "backend": self.need_store().backend,
            "model": self.model,
            "seq": engine.seq if engine is not None else None,
            "event_seq": hub.last_seq,
            "clock": engine.clock.isoformat() if engine is not None else None,
            "clock_mode": self.config.clock,
            "demo": self.config.demo,
            "uptime_s": round(time.time() - self.started, 1),
            "latency": {
                "tick_to_event": hub.tick_to_event.summary(),
                "input_to_ack": hub.input_to_ack.summary(),
            },
            "worker": None
            if self.worker is None
            else {
                "groups": self.worker.groups,
                "inputs": self.worker.inputs,
                "failed": self.worker.failed,
            },
        }
