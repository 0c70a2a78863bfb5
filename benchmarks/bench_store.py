"""Benchmark: the live engine's durable store (journal ingest, snapshots, recovery reads).

Prints, in one run:

* journal ingest into SQLite (WAL, ``synchronous=FULL``): a naive baseline that commits every
  record in its own transaction, against the store's group commit from one thread (blocking,
  pipelined, batched), from 8 and 50 threads and from 500 asyncio tasks — records/s, p50/p99
  append latency, records per commit; then the same for ``synchronous=NORMAL`` and, with
  ``--postgres``, for a PostgreSQL 15 cluster started for the run;
* a snapshot of a 100 000-account state (≈1 M positions as an Arrow table, zstd IPC, plus
  collateral, margin state and market): encode, write, read back (SHA-256 checked), decode;
* journal replay reading (records/s, with JSON decoding) and the recovery I/O it implies.

Usage: ``python benchmarks/bench_store.py [--seconds 3] [--accounts 100000]
[--positions 1000000] [--replay 200000] [--postgres]``. Target (issue 11): ≥ 20 000 journaled
records/s into SQLite; recovery of 100 000 accounts ≤ 5 s (this measures its I/O share).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from crossmargin.store import AsyncStore, Store, StoreConfig
from crossmargin.store.schema import journal
from venue import market, positions


def trade(i: int) -> dict[str, object]:
    """A realistic journaled trade (~230 bytes of JSON)."""
    return {
        "type": "trade",
        "account": f"acct-{i % 100_000:06d}",
        "instrument": "BTC-26DEC26-70000-C",
        "side": "buy" if i % 2 else "sell",
        "quantity": 0.5 + (i % 7) * 0.25,
        "price": 2315.5 + (i % 100) * 0.5,
        "fee": 0.35,
        "client_order_id": f"co-{i:012d}",
        "feed_seq": i,
        "ts": "2026-11-24T10:15:02.123456Z",
    }


class Result:
    def __init__(self, name: str, n: int, seconds: float, lat: list[float], commits: int) -> None:
        self.name, self.n, self.seconds, self.lat, self.commits = name, n, seconds, lat, commits
        self.cpu = 0.0  # process CPU seconds (all threads), set by measure()

    @property
    def rate(self) -> float:
        return self.n / self.seconds

    def row(self, base: float | None) -> str:
        p50 = statistics.median(self.lat) * 1e3 if self.lat else float("nan")
        p99 = float(np.quantile(self.lat, 0.99)) * 1e3 if self.lat else float("nan")
        ratio = f"{self.rate / base:7.1f}x" if base else "      -"
        per = self.n / self.commits if self.commits else float("nan")
        return (
            f"  {self.name:<38} {self.n:>8} {self.rate:>11,.0f} {ratio} "
            f"{p50:>8.2f} {p99:>8.2f} {per:>9.1f} {1e6 * self.cpu / max(self.n, 1):>8.1f}"
        )


def measure(run: Callable[[Store], Result], store: Store) -> Result:
    """Run one mode and attach the process CPU time it used (load-independent cost)."""
    c0 = time.process_time()
    res = run(store)
    res.cpu = time.process_time() - c0
    return res


HEADER = (
    f"  {'mode':<38} {'records':>8} {'records/s':>11} {'vs naive':>8} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'rows/txn':>9} {'CPU µs/rec':>8}"
)


def naive(store: Store, seconds: float) -> Result:
    """One transaction (and one sync) per record, straight through SQLAlchemy, one thread."""
    db = store._db
    lat: list[float] = []
    i = 0
    seq = store.last_seq()
    end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < end:
        rec = store.record("trade", trade(i), account=f"acct-{i % 100_000:06d}")
        a = time.perf_counter()
        seq += 1
        with db.begin_write() as conn:
            conn.execute(
                journal.insert().values(
                    seq=seq,
                    kind=rec.kind,
                    source=rec.source,
                    account=rec.account,
                    idempotency_key=None,
                    payload=rec.payload,
                    received_ns=rec.received_ns,
                )
            )
        lat.append(time.perf_counter() - a)
        i += 1
    return Result("naive: 1 commit per record, 1 thread", i, time.perf_counter() - t0, lat, i)


def threaded(store: Store, seconds: float, n_threads: int, name: str) -> Result:
    lats: list[list[float]] = [[] for _ in range(n_threads)]
    counts = [0] * n_threads
    start = threading.Barrier(n_threads + 1)
    stop = time.perf_counter() + seconds + 0.0

    def worker(t: int) -> None:
        start.wait()
        i = t
        lat = lats[t]
        while time.perf_counter() < stop_at[0]:
            a = time.perf_counter()
            store.append("trade", trade(i), account=f"acct-{i % 100_000:06d}", source="bench")
            lat.append(time.perf_counter() - a)
            counts[t] += 1
            i += n_threads

    stop_at = [stop]
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    b0 = store.stats()["batches"]
    start.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    for th in threads:
        th.join()
    el = time.perf_counter() - t0
    lat = [x for part in lats for x in part]
    return Result(name, sum(counts), el, lat, store.stats()["batches"] - b0)


def pipelined(store: Store, seconds: float, window: int, batch: int = 1) -> Result:
    """One thread keeps ``window`` calls of ``batch`` records in flight (submit, then collect).

    With batches this is how an engine journals a stream: it builds the next batch while the
    previous ones commit, so building and writing overlap on the two cores.
    """
    lat: list[float] = []
    b0 = store.stats()["batches"]
    inflight: list[tuple[float, object]] = []
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    i = 0
    while time.perf_counter() < end or inflight:
        while len(inflight) < window and time.perf_counter() < end:
            recs = [
                store.record("trade", trade(j), account=f"acct-{j % 100_000:06d}")
                for j in range(i, i + batch)
            ]
            inflight.append((time.perf_counter(), store.submit(recs)))
            i += batch
        a, fut = inflight.pop(0)
        fut.result()  # type: ignore[attr-defined]
        lat.append(time.perf_counter() - a)
        n += batch
    what = f"{window} in flight" if batch == 1 else f"{window} x {batch} in flight"
    return Result(
        f"submit pipelined ({what}), 1 thr",
        n,
        time.perf_counter() - t0,
        lat,
        store.stats()["batches"] - b0,
    )


def tick(i: int) -> dict[str, object]:
    """A market update (no account: it skips the account index)."""
    return {
        "type": "market",
        "asset": ("BTC", "ETH", "SPX")[i % 3],
        "spot": 65000.5 + (i % 1000) * 0.5,
        "conf": 1.25,
        "expo": -8,
        "publish_time": 1795000000 + i // 10,
        "feed_seq": i,
        "source_ts": "2026-11-24T10:15:02.123456Z",
    }


def batched(store: Store, seconds: float, size: int, ticks: bool = False) -> Result:
    lat: list[float] = []
    b0 = store.stats()["batches"]
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() < t0 + seconds:
        if ticks:
            recs = [store.record("market", tick(n + k), source="pyth") for k in range(size)]
        else:
            recs = [
                store.record("trade", trade(n + k), account=f"acct-{(n + k) % 100_000:06d}")
                for k in range(size)
            ]
        a = time.perf_counter()
        store.append_many(recs)
        lat.append(time.perf_counter() - a)
        n += size
    return Result(
        f"append_many({size}){' market ticks' if ticks else ''}, 1 thread",
        n,
        time.perf_counter() - t0,
        lat,
        store.stats()["batches"] - b0,
    )


def tasks(store: Store, seconds: float, n_tasks: int) -> Result:
    astore = AsyncStore(store)
    lat: list[float] = []
    b0 = store.stats()["batches"]

    async def worker(t: int, end: float) -> int:
        i, n = t, 0
        while time.perf_counter() < end:
            a = time.perf_counter()
            await astore.append("trade", trade(i), account=f"acct-{i % 100_000:06d}")
            lat.append(time.perf_counter() - a)
            i += n_tasks
            n += 1
        return n

    async def main() -> int:
        end = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(worker(t, end) for t in range(n_tasks))))

    t0 = time.perf_counter()
    n = asyncio.run(main())
    return Result(
        f"AsyncStore.append, {n_tasks} asyncio tasks",
        n,
        time.perf_counter() - t0,
        lat,
        store.stats()["batches"] - b0,
    )


def ingest(
    url: str, label: str, seconds: float, modes: str, config: StoreConfig | None = None
) -> None:
    print(f"\n== journal ingest: {label}")
    print(HEADER)
    runs: list[Callable[[Store], Result]] = [lambda s: naive(s, seconds)]
    if "all" in modes:
        runs += [
            lambda s: threaded(s, seconds, 1, "store.append, 1 thread"),
            lambda s: pipelined(s, seconds, 1000),
            lambda s: batched(s, seconds, 100),
            lambda s: batched(s, seconds, 1000),
            lambda s: batched(s, seconds, 1000, ticks=True),
            lambda s: pipelined(s, seconds, 4, 500),
        ]
    runs += [
        lambda s: threaded(s, seconds, 8, "store.append, 8 threads"),
        lambda s: threaded(s, seconds, 50, "store.append, 50 threads"),
    ]
    if "all" in modes:
        runs.append(lambda s: tasks(s, seconds, 500))
    with Store.open(url, config=config) as store:
        base = None
        for run in runs:
            res = measure(run, store)
            print(res.row(base), flush=True)
            base = base or res.rate
        n = store.last_seq()
        assert [r.seq for r in store.journal_after(n - 5)] == list(range(n - 4, n + 1))


def state_parts(n_accounts: int, n_positions: int) -> tuple[dict[str, bytes], dict[str, float]]:
    """A venue's engine state encoded as the engine would: Arrow IPC (zstd) per table."""
    t0 = time.perf_counter()
    pos, col = positions(n_accounts, n_positions)
    rng = np.random.default_rng(3)
    accounts = pa.table(
        {
            "account": pa.array([f"acct-{i:06d}" for i in range(n_accounts)]),
            "equity": rng.lognormal(10, 1, n_accounts),
            "initial_margin": rng.lognormal(9, 1, n_accounts),
            "maintenance_margin": rng.lognormal(8.5, 1, n_accounts),
            "status": pa.array(
                rng.choice(["ok", "margin_call", "liquidation"], n_accounts, p=[0.97, 0.02, 0.01])
            ).dictionary_encode(),
            "last_seq": rng.integers(0, 10_000_000, n_accounts),
        }
    )
    tables = {
        "positions": pa.Table.from_pandas(pos, preserve_index=False),
        "collateral": pa.Table.from_pandas(col, preserve_index=False),
        "accounts": accounts,
    }
    tables["positions"] = (
        tables["positions"]
        .set_column(0, "account", tables["positions"].column("account").dictionary_encode())
        .set_column(1, "instrument", tables["positions"].column("instrument").dictionary_encode())
    )
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    opts = pa.ipc.IpcWriteOptions(compression="zstd")
    parts: dict[str, bytes] = {}
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=opts) as w:
            w.write_table(table, max_chunksize=256_000)
        parts[name] = sink.getvalue().to_pybytes()
    parts["market"] = json.dumps(market()).encode()
    parts["feeds"] = json.dumps({"pyth": 123456, "deribit": 98765}).encode()
    return parts, {"generate": gen, "encode": time.perf_counter() - t0, "rows": float(len(pos))}


def decode(parts: dict[str, bytes]) -> int:
    rows = 0
    for name in ("positions", "collateral", "accounts"):
        rows += pa.ipc.open_stream(pa.py_buffer(parts[name])).read_all().num_rows
    json.loads(parts["market"])
    return rows


def snapshot_bench(url: str, label: str, parts: dict[str, bytes], enc: dict[str, float]) -> float:
    print(f"\n== snapshot of the engine state: {label}")
    size = sum(len(b) for b in parts.values())
    with Store.open(url) as store:
        if store.last_seq() == 0:
            store.append("genesis", {})
        t0 = time.perf_counter()
        info = store.write_snapshot(
            store.last_seq(), parts, format="application/vnd.apache.arrow.stream"
        )
        w = time.perf_counter() - t0
        t0 = time.perf_counter()
        snap = store.latest_snapshot()
        r = time.perf_counter() - t0
        assert snap is not None and snap.info.id == info.id and snap.parts == parts
        t0 = time.perf_counter()
        rows = decode(snap.parts)
        d = time.perf_counter() - t0
    print(
        f"  {int(enc['rows']):,} positions; parts "
        + ", ".join(f"{k} {len(v) / 1e6:.1f} MB" for k, v in parts.items())
        + f"; total {size / 1e6:.1f} MB"
    )
    print(f"  encode (Arrow IPC, zstd)  {enc['encode']:.2f} s")
    print(f"  write_snapshot            {w:.2f} s  ({size / w / 1e6:.0f} MB/s, chunked, SHA-256)")
    print(f"  latest_snapshot (read)    {r:.2f} s  ({size / r / 1e6:.0f} MB/s, checked)")
    print(f"  decode ({rows:,} rows)     {d:.2f} s")
    return r + d


def replay_bench(url: str, label: str, n: int, snap_io: float) -> None:
    print(f"\n== journal replay reading: {label}")
    with Store.open(url) as store:
        start = store.last_seq()
        k = 0
        while k < n:
            m = min(5000, n - k)
            store.append_many(
                [
                    store.record("trade", trade(k + j), account=f"acct-{(k + j) % 100_000:06d}")
                    for j in range(m)
                ]
            )
            k += m
        t0, c0 = time.perf_counter(), time.process_time()
        cnt = 0
        for _ in store.journal_after(start):
            cnt += 1
        read, read_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        for r in store.journal_after(start):
            json.loads(r.payload)
        read_decode = time.perf_counter() - t0
        decode_cpu = time.process_time() - c0
    assert cnt == n
    print(
        f"  read {n:,} records        {read:.2f} s  ({n / read:,.0f} records/s; "
        f"CPU {1e6 * read_cpu / n:.1f} µs/record)"
    )
    print(
        f"  read + json.loads         {read_decode:.2f} s  ({n / read_decode:,.0f} records/s; "
        f"CPU {1e6 * decode_cpu / n:.1f} µs/record)"
    )
    rate = n / read_decode
    budget = 5.0 - snap_io
    print(
        f"  recovery I/O = snapshot read+decode {snap_io:.2f} s + replay reading at "
        f"{rate:,.0f}/s: {n:,} records → {snap_io + n / rate:.2f} s; "
        f"a 5 s recovery leaves room to read {max(0, budget) * rate:,.0f} records"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each ingest mode")
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--positions", type=int, default=1_000_000)
    ap.add_argument("--replay", type=int, default=200_000, help="journal records to replay")
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="also run on a PostgreSQL 15 cluster started for the run",
    )
    args = ap.parse_args()

    print(
        f"crossmargin store benchmark — {os.cpu_count()} CPUs, SQLite {__import__('sqlite3').sqlite_version}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(
        prefix="cm-bench-store-", dir=os.environ.get("BENCH_DIR")
    ) as tmp:
        full = str(Path(tmp) / "full.db")
        normal = str(Path(tmp) / "normal.db")
        ingest(full, "SQLite file, WAL, synchronous=FULL (default)", args.seconds, "all")
        ingest(
            normal,
            "SQLite, synchronous=NORMAL (survives kill -9, not power loss)",
            args.seconds,
            "threads",
            StoreConfig(synchronous="normal"),
        )
        parts, enc = state_parts(args.accounts, args.positions)
        snap_io = snapshot_bench(full, "SQLite", parts, enc)
        replay_bench(full, "SQLite", args.replay, snap_io)
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from support.postgres import PostgresCluster

            with PostgresCluster() as cluster:
                url = cluster.create_database("bench")
                ingest(
                    url, "PostgreSQL 15 (loopback TCP, synchronous_commit=on)", args.seconds, "all"
                )
                pg_io = snapshot_bench(url, "PostgreSQL", parts, enc)
                replay_bench(url, "PostgreSQL", args.replay, pg_io)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
