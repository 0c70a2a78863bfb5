"""Helpers of the service tests: a running service (uvicorn in a thread, a free loopback port)
and HTTP clients with keys.

The venue is the bundled example (``venue_accounts.json``: seven accounts of BTC/ETH options,
perps and futures, one of them below maintenance) at ``market_venue.json``.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class Spawned:
    """A ``crossmargin serve`` process and its output (read by a thread as it comes)."""

    proc: subprocess.Popen[str]
    url: str
    lines: list[str]
    reader: threading.Thread

    def client(self, key: str | None = ADMIN_KEY, **kw: object) -> httpx.Client:
        """An HTTP client (with a bearer key unless ``key`` is None)."""
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, **kw)  # type: ignore[arg-type]

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return "".join(self.lines)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful: final snapshot), wait, and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout)
        self.reader.join(timeout)
        return code

    def kill9(self) -> None:
        """``kill -9``: no shutdown code runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.reader.join(30)


_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def spawn_service(db: str, *args: str, timeout: float = 120.0) -> Spawned:
    """Start ``crossmargin serve`` on ``db`` in its own process (the venue example, port 0).

    The admin key is :data:`ADMIN_KEY` (through ``CROSSMARGIN_ADMIN_KEY``); returns once the
    server listens (its port read from uvicorn's start-up line).
    """
    exe = Path(sys.executable).with_name("crossmargin")
    cmd = [
        str(exe),
        "serve",
        "--db",
        db,
        "--market",
        str(VENUE_MARKET),
        "--accounts",
        str(VENUE_ACCOUNTS),
        "--clock",
        "inputs",
        "--port",
        "0",
        *args,
    ]
    env = {**os.environ, "CROSSMARGIN_ADMIN_KEY": ADMIN_KEY, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = _LISTENING.search(line)
            if m and not url:
                url.append(m.group(1))
                found.set()
        found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not found.wait(timeout) or not url:
        proc.kill()
        proc.wait(30)
        raise RuntimeError("crossmargin serve did not start:\n" + "".join(lines)[-3000:])
    return Spawned(proc, url[0], lines, reader)
