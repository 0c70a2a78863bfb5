"""Benchmark: the risk service under load on loopback (issue 12).

Starts ``crossmargin serve`` (its own process, SQLite store, the venue example plus one
50-position account) and measures, with concurrent HTTP clients on loopback:

* **baseline** in the same run: ``GET /healthz`` (HTTP + FastAPI floor, no engine) and the
  library's in-process ``LiveEngine.whatif`` on the same account (no HTTP);
* ``POST /v1/accounts/{id}/whatif`` (one trade on the 50-position account): p50/p99 latency and
  throughput with 1 and with 50 concurrent clients;
* ``POST /v1/accounts/{id}/trades`` (journaled before the 201): the same;
* **tick-to-event at the client**: a market update posted, the event read from the SSE stream
  (``/v1/events/stream``) by a subscribed client — from just before the POST to the event's
  arrival.

Bounded: each phase stops after ``--requests`` requests or ``--seconds`` seconds. The clients
run in this process (asyncio + httpx), so on a small machine they compete with the server for
CPU: the numbers are an upper bound of the service's own latency. Target (issue 12): what-if
p99 ≤ 10 ms on a 50-position account.

Usage: ``python benchmarks/bench_service.py [--requests 2000] [--seconds 20] [--clients 50]
[--ticks 40]``.
"""

from __future__ import annotations

import argparse
import asyncio
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


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a), q)) * 1e3 if a else float("nan")


def line(name: str, lat: list[float], seconds: float) -> str:
    n = len(lat)
    return (
        f"  {name:<44} n={n:>6}  p50 {pct(lat, 50):7.2f} ms  p99 {pct(lat, 99):7.2f} ms  "
        f"{n / seconds:8.0f} req/s"
    )


async def load(
    url: str,
    key: str,
    clients: int,
    requests: int,
    seconds: float,
    call: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    ok: tuple[int, ...] = (200,),
) -> tuple[list[float], float]:
    """``clients`` concurrent connections issuing ``requests`` calls (or for ``seconds``)."""
    lat: list[float] = []
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits
    ) as c:

        async def worker() -> None:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                t = time.perf_counter()
                r = await call(c, i)
                lat.append(time.perf_counter() - t)
                if r.status_code not in ok:
                    raise RuntimeError(f"{r.status_code} {r.text[:300]}")

        # warm-up (connections, first-call caches), not measured
        await asyncio.gather(*(call(c, -1) for _ in range(min(clients, 10))))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return lat, time.perf_counter() - t0


def in_process_whatif(n: int) -> list[float]:
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
    trades = [Trade(ACCOUNT, "BTC-26DEC26-65000-C", 1.0, 2500.0, t)]
    lat = []
    try:
        for _ in range(20):
            engine.whatif(ACCOUNT, trades)
        for _ in range(n):
            s = time.perf_counter()
            engine.whatif(ACCOUNT, trades)
            lat.append(time.perf_counter() - s)
    finally:
        engine.close()
    return lat


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


async def run(args: argparse.Namespace) -> None:
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
        whatif = {"trades": [{"instrument": "BTC-26DEC26-65000-C", "quantity": 1, "price": 2500}]}

        async def healthz(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get("/healthz")

        async def post_whatif(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.post(f"/v1/accounts/{ACCOUNT}/whatif", json=whatif)

        async def post_trade(c: httpx.AsyncClient, i: int) -> httpx.Response:
            q = 0.01 if i % 2 else -0.01
            body = {"instrument": "BTC-PERP", "quantity": q, "price": 65020}
            return await c.post(f"/v1/accounts/{ACCOUNT}/trades", json=body)

        lib = in_process_whatif(min(args.requests, 500))
        print("baseline (same run)")
        print(line("library whatif, in process (no HTTP)", lib, sum(lib)))
        for clients in (1, args.clients):
            lat, s = await load(url, key, clients, args.requests, args.seconds, healthz)
            print(line(f"GET /healthz, {clients} clients", lat, s))
        results = {}
        print("service")
        for clients in (1, args.clients):
            lat, s = await load(url, key, clients, args.requests, args.seconds, post_whatif)
            results[("whatif", clients)] = lat
            print(line(f"POST whatif (50 positions), {clients} clients", lat, s))
        for clients in (1, args.clients):
            lat, s = await load(
                url, key, clients, args.requests, args.seconds, post_trade, ok=(201,)
            )
            print(line(f"POST trades (journaled), {clients} clients", lat, s))
        ticks = await tick_to_event(url, key, args.ticks)
        print(line("tick -> event at an SSE client", ticks, max(sum(ticks), 1e-9)))
        p99 = pct(results[("whatif", args.clients)], 99)
        print(
            f"what-if p99 with {args.clients} clients: {p99:.2f} ms (target ≤ 10 ms); "
            f"1 client: {pct(results[('whatif', 1)], 99):.2f} ms; "
            f"library alone: {pct(lib, 99):.2f} ms"
        )
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--ticks", type=int, default=40)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
