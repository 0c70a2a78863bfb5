"""Helpers of the service tests: a running service (uvicorn in a thread, a free loopback port)
and HTTP clients with keys.

The venue is the bundled example (``venue_accounts.json``: seven accounts of BTC/ETH options,
perps and futures, one of them below maintenance) at ``market_venue.json``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

import httpx

from crossmargin.cli.cmd_info import examples_dir
from crossmargin.service.config import AdminKey, ServiceConfig
from crossmargin.service.server import ServiceServer, in_thread

ADMIN_KEY = "test-admin-" + secrets.token_urlsafe(32)
EXAMPLES = examples_dir()
VENUE_MARKET = EXAMPLES / "market_venue.json"
VENUE_ACCOUNTS = EXAMPLES / "venue_accounts.json"
#: An instant shortly after the venue market's as_of (2026-11-22T08:00:00Z).
T0 = "2026-11-22T08:00:10Z"


@dataclass
class Running:
    """A running service and how to reach it."""

    server: ServiceServer
    thread: threading.Thread
    url: str
    db: str

    def client(self, key: str | None = ADMIN_KEY, **kw: object) -> httpx.Client:
        """An HTTP client (with a bearer key unless ``key`` is None)."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the server (final snapshot, lease released)."""
        self.server.stop()


def start_service(db: str, **overrides: object) -> Running:
    """Start a service on ``db`` (the venue example on a new database)."""
    opts: dict[str, object] = {
        "db": db,
        "market": VENUE_MARKET,
        "accounts": VENUE_ACCOUNTS,
        "admin_key": AdminKey.from_secret(ADMIN_KEY, "test"),
        "clock": "inputs",
    }
    opts.update(overrides)
    cfg = ServiceConfig(**opts)  # type: ignore[arg-type]
    server, thread = in_thread(cfg)
    return Running(server, thread, f"http://127.0.0.1:{server.port}", db)


def stop_service(running: Running, timeout: float = 60.0) -> None:
    """Stop and wait for the server thread (the engine's final snapshot is written)."""
    running.stop()
    running.thread.join(timeout)
    assert not running.thread.is_alive(), "the service did not stop"
