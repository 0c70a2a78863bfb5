"""Benchmark: the risk service under load on loopback (issue 12).

Starts ``crossmargin serve`` (its own process, SQLite store, the venue example plus one
50-position account) and measures, with concurrent HTTP/1.1 keep-alive clients on loopback:

* **baseline** in the same run: the library's in-process ``LiveEngine.whatif`` on the same
  account (no HTTP) and ``GET /healthz`` (HTTP + FastAPI + uvicorn floor, no engine);
* ``POST /v1/accounts/{id}/whatif`` (one trade on the 50-position account, 24 different ones
  in turn) and
  ``POST /v1/accounts/{id}/trades`` (journaled before the 201): p50/p99 latency and throughput
  with 1 client and with 50 clients, **closed loop** (each client sends its next request when
  the last one is answered: throughput is the service's capacity, latency is queueing);
* what-if with 50 clients **open loop** at a fixed offered rate (default: half the closed-loop
  capacity measured in this run; ``--rate``): each client sends on its own schedule, latency
  is taken from the scheduled instant (no coordinated omission) — the latency a venue's
  clients see below saturation, which is what the target is about;
* **tick-to-event at the client**: a market update posted, the event read from the SSE stream
  (``/v1/events/stream``) by a subscribed client — from just before the POST to the event's
  arrival.

Each row also gives the CPU time per request of the server process (all its threads; for the
library baseline, of this process): on a loaded machine it moves far less than the latencies.

The load clients are raw HTTP/1.1 over asyncio streams (one keep-alive connection each): on a
small machine they share the CPU with the server, and httpx's per-request cost would be most
of what is measured. The machine's load average is printed at the start and at the end.

Bounded: each phase stops after ``--requests`` requests or ``--seconds`` seconds; the whole run
takes at most about ``8 × --seconds`` plus start-up. Target (issue 12): what-if p99 ≤ 10 ms on
a 50-position account with 50 concurrent clients.

Usage: ``python benchmarks/bench_service.py [--requests 3000] [--seconds 15] [--clients 50]
[--ticks 40] [--rate R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from crossmargin.cli.cmd_info import examples_dir

EX = examples_dir()
ACCOUNT = "bench-50"


def fifty_positions() -> dict[str, Any]:
    """A 50-position BTC/ETH account (48 options over three expiries, two perps)."""
    pos: list[dict[str, Any]] = [
        {"instrument": "BTC-PERP", "quantity": 5, "entry_price": 64000},
        {"instrument": "ETH-PERP", "quantity": -40, "entry_price": 3300},
    ]
    strikes = [50000, 55000, 60000, 62500, 65000, 67500, 70000, 80000]
    for e, expiry in enumerate(["27NOV26", "26DEC26", "26MAR27"]):
        for k, strike in enumerate(strikes):
            for right in ("C", "P"):
                q = (1 if (e + k) % 2 else -1) * (1 + k % 3)
                pos.append({"instrument": f"BTC-{expiry}-{strike}-{right}", "quantity": q})
    assert len(pos) == 50
    return {"account": ACCOUNT, "collateral": {"USDC": 5_000_000, "BTC": 20}, "positions": pos}


#: The what-ifs asked in turn: one trade each, on options the account holds and on others.
WHATIFS = [
    (f"BTC-{expiry}-{strike}-{right}", q, price)
    for expiry, price in (("26DEC26", 2500.0), ("26MAR27", 4000.0))
    for strike in (55000, 65000, 75000)
    for right in ("C", "P")
    for q in (1.0, -2.0)
]


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a), q)) * 1e3 if a else float("nan")


def line(name: str, lat: list[float], seconds: float, cpu_s: float | None = None) -> str:
    n = len(lat)
    cpu = f"  CPU {cpu_s / n * 1e3:6.2f} ms/req" if cpu_s is not None and n else ""
    return (
        f"  {name:<44} n={n:>6}  p50 {pct(lat, 50):7.2f} ms  p99 {pct(lat, 99):7.2f} ms  "
        f"{n / seconds:8.0f} req/s{cpu}"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    """One keep-alive HTTP/1.1 connection (asyncio streams; ``Content-Length`` answers only)."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {key}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (text := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = text.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"{method} {path}: no Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


Call = Callable[[Conn, int], Awaitable[tuple[int, bytes]]]


async def load(
    url: str,
    key: str,
    clients: int,
    requests: int,
    seconds: float,
    call: Call,
    ok: tuple[int, ...] = (200,),
    rate: float | None = None,
    pid: int | None = None,
) -> tuple[list[float], float, float | None]:
    """``clients`` connections issuing ``requests`` calls (or for ``seconds``).

    Closed loop without ``rate``; with ``rate`` (requests/s over all clients) each client sends
    on a fixed schedule and latency counts from the scheduled instant. Returns the latencies,
    the elapsed time and the CPU time process ``pid`` (the server) spent meanwhile: CPU per
    request is what the machine's load changes least.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conns = [Conn(host, int(port), key) for _ in range(clients)]
    lat: list[float] = []
    counter = iter(range(requests))

    def check(r: tuple[int, bytes]) -> None:
        if r[0] not in ok:
            raise RuntimeError(f"{r[0]} {r[1][:300]!r}")

    async def warm(c: Conn) -> None:
        check(await call(c, -1))

    try:
        # warm-up (connections, first-call caches), not measured
        for _ in range(2):
            await asyncio.gather(*(warm(c) for c in conns))
        cpu0 = cpu_seconds(pid) if pid is not None else 0.0
        t0 = time.perf_counter()
        deadline = t0 + seconds

        async def worker(c: Conn, k: int) -> None:
            interval = clients / rate if rate else 0.0
            due = t0 + interval * k / clients
            for i in counter:
                if rate:
                    due += interval
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                start = due if rate else time.perf_counter()
                if start > deadline:
                    return
                r = await call(c, i)
                lat.append(time.perf_counter() - start)
                check(r)

        await asyncio.gather(*(worker(c, k) for k, c in enumerate(conns)))
        elapsed = time.perf_counter() - t0
        return lat, elapsed, cpu_seconds(pid) - cpu0 if pid is not None else None
    finally:
        await asyncio.gather(*(c.close() for c in conns))


def in_process_whatif(n: int) -> tuple[list[float], float]:
    """The library's what-if on the same account, no HTTP (baseline)."""
    from crossmargin.io.market import load_market
    from crossmargin.io.portfolio import load_portfolios
    from crossmargin.live.engine import LiveEngine
    from crossmargin.live.updates import Trade

    tmp = Path(tempfile.mkdtemp(prefix="bench-svc-lib-"))
    (tmp / "a.json").write_text(json.dumps({"accounts": [fifty_positions()]}))
    engine = LiveEngine.open(
        market=load_market(EX / "market_venue.json"),
        accounts=load_portfolios(tmp / "a.json")[0],
        store_url=str(tmp / "lib.db"),
    )
    t = datetime(2026, 11, 22, 8, 0, 10, tzinfo=UTC)
    trades = [[Trade(ACCOUNT, name, q, price, t)] for name, q, price in WHATIFS]
    lat = []
    try:
        for k in range(20):
            engine.whatif(ACCOUNT, trades[k % len(trades)]).to_obj()
        cpu0 = time.process_time()
        for k in range(n):
            s = time.perf_counter()
            engine.whatif(ACCOUNT, trades[k % len(trades)]).to_obj()
            lat.append(time.perf_counter() - s)
        cpu = time.process_time() - cpu0
    finally:
        engine.close()
    return lat, cpu


def start_server(db: str, key: str) -> tuple[subprocess.Popen[str], str]:
    exe = Path(sys.executable).with_name("crossmargin")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            "--db",
            db,
            "--market",
            str(EX / "market_venue.json"),
            "--accounts",
            str(EX / "venue_accounts.json"),
            "--clock",
            "inputs",
            "--port",
            "0",
            "--no-access-log",
        ],
        env={**os.environ, "CROSSMARGIN_ADMIN_KEY": key},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for text in proc.stdout:
        m = re.search(r"Uvicorn running on (http://\S+)", text)
        if m:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
            return proc, m.group(1)
    raise RuntimeError("the server did not start")


async def tick_to_event(url: str, key: str, ticks: int) -> list[float]:
    """Post market updates that move accounts; time until each one's event reaches a client."""
    got: dict[int, float] = {}
    ready = asyncio.Event()
    headers = {"Authorization": f"Bearer {key}"}

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, timeout=None) as c,
            c.stream("GET", "/v1/events/stream") as r,
        ):
            ready.set()
            async for text in r.aiter_lines():
                if text.startswith("data:"):
                    ev = json.loads(text[5:])
                    seq = ev.get("cause", {}).get("update_seq")
                    if isinstance(seq, int) and seq not in got:
                        got[seq] = time.perf_counter()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(0.2)
    lat = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:
        for i in range(ticks):
            price = 52000 if i % 2 == 0 else 70000  # crash / recover: events each time
            body = {
                "type": "market",
                "feed": "bench",
                "time": f"2026-11-22T08:{1 + i // 60:02d}:{i % 60:02d}Z",
                "asset": "BTC",
                "price": price,
            }
            t = time.perf_counter()
            r = await c.post("/v1/market", json=body)
            r.raise_for_status()
            seq = r.json()["results"][0]["seq"]
            wait_until = time.perf_counter() + 10
            while seq not in got and time.perf_counter() < wait_until:
                await asyncio.sleep(0.0005)
            if seq in got:
                lat.append(got[seq] - t)
    task.cancel()
    return lat


def machine() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


async def run(args: argparse.Namespace) -> None:
    print(f"machine at start: {machine()}")
    key = "bench-" + secrets.token_urlsafe(32)
    tmp = Path(tempfile.mkdtemp(prefix="bench-svc-"))
    proc, url = start_server(str(tmp / "svc.db"), key)
    try:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as c:
            r = await c.post("/v1/accounts", json=fifty_positions())
            assert r.status_code == 201, r.text
        print(f"crossmargin serve at {url} (SQLite), account {ACCOUNT}: 50 positions")
        whatifs = [
            json.dumps({"trades": [{"instrument": n, "quantity": q, "price": p}]}).encode()
            for n, q, p in WHATIFS
        ]
        trades = [
            json.dumps({"instrument": "BTC-PERP", "quantity": q, "price": 65020}).encode()
            for q in (-0.01, 0.01)
        ]

        async def healthz(c: Conn, i: int) -> tuple[int, bytes]:
            return await c.request("GET", "/healthz")

        async def post_whatif(c: Conn, i: int) -> tuple[int, bytes]:
            body = whatifs[i % len(whatifs)]
            return await c.request("POST", f"/v1/accounts/{ACCOUNT}/whatif", body)

        async def post_trade(c: Conn, i: int) -> tuple[int, bytes]:
            return await c.request("POST", f"/v1/accounts/{ACCOUNT}/trades", trades[i % 2])

        n, secs, clients, pid = args.requests, args.seconds, args.clients, proc.pid
        lib, lib_cpu = in_process_whatif(min(n, 500))
        print("baseline (same run)")
        print(line("library whatif, in process (no HTTP)", lib, sum(lib), lib_cpu))
        for k in (1, clients):
            lat, s, cpu = await load(url, key, k, n, secs, healthz, pid=pid)
            print(line(f"GET /healthz, {k} clients", lat, s, cpu))
        print("service, closed loop (throughput = capacity)")
        results = {}
        for k in (1, clients):
            lat, s, cpu = await load(url, key, k, n, secs, post_whatif, pid=pid)
            results[k] = (lat, s)
            print(line(f"POST whatif (50 positions), {k} clients", lat, s, cpu))
        for k in (1, clients):
            lat, s, cpu = await load(url, key, k, n, secs, post_trade, ok=(201,), pid=pid)
            print(line(f"POST trades (journaled), {k} clients", lat, s, cpu))
        capacity = len(results[clients][0]) / results[clients][1]
        rate = args.rate or capacity / 2
        print(f"service, open loop at {rate:.0f} req/s offered ({rate / capacity:.0%} of capacity)")
        lat_open, s, cpu = await load(url, key, clients, n, secs, post_whatif, rate=rate, pid=pid)
        print(line(f"POST whatif (50 positions), {clients} clients", lat_open, s, cpu))
        ticks = await tick_to_event(url, key, args.ticks)
        print(line("tick -> event at an SSE client", ticks, max(sum(ticks), 1e-9)))
        print(
            f"what-if p99 with {clients} clients: {pct(lat_open, 99):.2f} ms open loop at "
            f"{rate:.0f} req/s, {pct(results[clients][0], 99):.2f} ms closed loop at "
            f"{capacity:.0f} req/s (target ≤ 10 ms); 1 client: "
            f"{pct(results[1][0], 99):.2f} ms; library alone: {pct(lib, 99):.2f} ms"
        )
        print(f"machine at end: {machine()}")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--ticks", type=int, default=40)
    p.add_argument(
        "--rate", type=float, default=0.0, help="open-loop what-if rate (0: half the capacity)"
    )
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
