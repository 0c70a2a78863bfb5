"""Benchmark: scale-out on Dask (issue 15 targets), ratios against baselines of the same run.

1. **Grid model, whole venue.** A seeded venue of ``--accounts`` (1 000 000) accounts and
   ``--positions`` (10 000 000) positions (``benchmarks/venue.py``, generated in chunks of
   100 000 accounts) is written once as a partitioned dataset into a cache directory outside the
   repository (``--cache``, default ``~/.cache/crossmargin-bench``) and reused by later runs.
   The ``portfolio`` model then margins it end to end (dataset → one result file per partition)

   * in **one process**, one partition at a time, with one kernel thread (a fresh subprocess
     with the environment of a worker, ``worker_environ``: its own peak RSS is measured) — the
     single-worker baseline;
   * on ``--cluster local:2``: a Dask ``LocalCluster`` of 2 worker processes × 1 thread, memory
     limit 1.5 GiB each; peak RSS per worker is each worker process's ``ru_maxrss``;
   * in **two plain processes** started together, each margining every other partition (no
     Dask): the machine's own ceiling for two processes on this work (two vCPUs may share a
     physical core or memory bandwidth; other jobs take their share).

   Scaling efficiency = throughput(2 workers) / (2 × throughput(1 process)), A B C C B A. The
   ceiling, the margin stage alone (without the client's serial describe/resolve) and CPU
   seconds on each side are printed next to it. The two result datasets are compared bitwise. ``--whole`` also margins the whole venue as one book in one
   process (the path without partitions) to show its peak memory.
2. **var / es.** ``--var-accounts`` (100 000) accounts of the same generator as a dataset of
   ``--var-partitions`` partitions, 500 joint scenarios (the last 502 common BTC/ETH/SPX closes
   of the bundled history, stress segment off — as ``bench_var.py``), all add-ons on, on
   ``local:1`` and ``local:2`` (one cluster at a time, A B B A); speed-up = time(1 worker) /
   time(2 workers); results compared. Also printed: CPU seconds in the tasks and in this
   process (client + scheduler), partitions and risk arrays computed per worker, stages, and
   the same work in one and in two plain processes (the machine's ceiling for the speed-up).

Times exclude starting the cluster and importing the package (reported separately). The machine
is shared: the load average is printed before and after each measurement; run it again when
the machine is quieter if the load was high.

Usage: ``python benchmarks/bench_scale.py [--accounts N] [--positions N] [--partitions N]
[--repeat 2] [--skip-grid] [--skip-var] [--var-models var,es] [--whole]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

GIB = 2**30
MIB = 2**20

CHILD = r"""
import json, sys, time
from pathlib import Path
from crossmargin.config import default_config
from crossmargin.io.market import load_market
from crossmargin.scale import margin_dataset, open_dataset
from crossmargin.margin import available_models
from crossmargin.scale.batch import peak_rss
available_models()
ds, market, out, model = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
i, n = int(sys.argv[5]), int(sys.argv[6])  # process i of n: every n-th partition
snap, cfg = load_market(market), default_config()
if len(sys.argv) > 7:  # var / es: the benchmark's history and configuration
    from dataclasses import replace
    from crossmargin.market.history import load_price_history
    sys.path.insert(0, sys.argv[8])
    from venue import var_bench_config
    snap, cfg = replace(snap, history=load_price_history(Path(sys.argv[7]))), var_bench_config()
dataset = open_dataset(ds)
if n > 1:
    from dataclasses import replace
    names = dataset.instruments  # first holders re-pointed at a partition this process has
    dataset = replace(dataset, partitions=dataset.partitions[i::n],
                      instruments=None if names is None else tuple((m, 0, r) for m, _, r in names))
t, c = time.perf_counter(), time.process_time()
res = margin_dataset(dataset, snap, out=out, model=model, config=cfg)
dt, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"seconds": dt, "cpu": cpu, "accounts": res.accounts, "positions": res.positions,
                  "stages": dict(res.stages), "maxrss": peak_rss(),
                  "task_cpu": sum(p.cpu_seconds for p in res.partitions)}))
"""

WHOLE = r"""
import json, sys, time
from pathlib import Path
from crossmargin.account.report import summary_table
from crossmargin.config import default_config
from crossmargin.engine import margin_resolved
from crossmargin.io.market import load_market
from crossmargin.io.tables import book_from_frames, read_table, write_table
from crossmargin.resolve import resolve
from crossmargin.margin import available_models
from crossmargin.scale.batch import peak_rss
available_models()
d = Path(sys.argv[1])
t = time.perf_counter()
book = book_from_frames(read_table(d / "positions.parquet", what="p"),
                        read_table(d / "collateral.parquet", what="c"))
rb = resolve(book, load_market(Path(sys.argv[3])), default_config())
res = margin_resolved(rb, model="portfolio")
write_table(summary_table(res), Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - t, "accounts": res.n, "maxrss": peak_rss()}))
"""


def load() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def generate(raw: Path, n_accounts: int, n_positions: int, seed: int = 7) -> None:
    """Raw venue tables written chunk by chunk (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from venue import positions

    raw.mkdir(parents=True, exist_ok=True)
    chunk = 100_000
    per = n_positions / n_accounts
    pw = cw = None
    try:
        for k, a0 in enumerate(range(0, n_accounts, chunk)):
            na = min(chunk, n_accounts - a0)
            pos, col = positions(na, round(na * per), seed + k, first_account=a0)
            tp = pa.Table.from_pandas(pos, preserve_index=False)
            tc = pa.Table.from_pandas(col, preserve_index=False)
            if pw is None:
                pw = pq.ParquetWriter(raw / "positions.parquet", tp.schema)
                cw = pq.ParquetWriter(raw / "collateral.parquet", tc.schema)
            pw.write_table(tp)
            assert cw is not None
            cw.write_table(tc)
            print(f"  generated accounts {a0:,}..{a0 + na - 1:,}", flush=True)
    finally:
        if pw is not None:
            pw.close()
        if cw is not None:
            cw.close()


def dataset(cache: Path, n_accounts: int, n_positions: int, partitions: int) -> Path:
    """The cached dataset (generated and partitioned on first use)."""
    from crossmargin.scale import write_dataset
    from crossmargin.scale.dataset import MANIFEST

    base = cache / f"venue-{n_accounts}-{n_positions}"
    ds = base / f"dataset-{partitions}"
    if (ds / MANIFEST).exists():
        return ds
    raw = base / "raw"
    if not (raw / "collateral.parquet").exists():
        print(f"generating {n_accounts:,} accounts / {n_positions:,} positions into {raw}")
        t = time.perf_counter()
        generate(raw, n_accounts, n_positions)
        print(f"  {time.perf_counter() - t:.0f} s")
    print(f"partitioning into {partitions} partitions: {ds}")
    t = time.perf_counter()
    write_dataset(raw / "positions.parquet", raw / "collateral.parquet", ds, partitions=partitions)
    print(f"  {time.perf_counter() - t:.0f} s")
    return ds


def write_market(work: Path) -> Path:
    """The benchmark venue's snapshot, written fresh each run (the cache holds only tables)."""
    from venue import market

    path = work / "market.json"
    path.write_text(json.dumps(market()))
    return path


def _child_env() -> dict[str, str]:
    """The environment a local cluster's worker starts with (one kernel and BLAS thread, the
    allocator settings): the baseline and the workers run the same code on the same allocator
    and threads."""
    from crossmargin.scale.executors import worker_environ

    return {**os.environ, **worker_environ(1)}


def _child(
    ds: Path, market: Path, out: Path, model: str, i: int, n: int, history: Path | None
) -> subprocess.Popen[str]:
    """A plain process margining every ``n``-th partition from the ``i``-th (no Dask)."""
    extra = [] if history is None else [str(history), str(Path(__file__).parent)]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ds), str(market), str(out), model, str(i), str(n),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(),
    )  # fmt: skip


def _results(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    runs = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise RuntimeError(f"plain process failed: {stderr.strip().splitlines()[-1:]}")
        runs.append(json.loads(stdout.strip().splitlines()[-1]))
    return runs


def single(
    ds: Path, market: Path, out: Path, model: str = "portfolio", history: Path | None = None
) -> dict[str, Any]:
    """One process, one kernel thread, partitions streamed (fresh subprocess)."""
    return _results([_child(ds, market, out, model, 0, 1, history)])[0]


def pair(
    ds: Path, market: Path, out: Path, model: str = "portfolio", history: Path | None = None
) -> dict[str, Any]:
    """Two plain processes started together, each margining every other partition (no Dask).

    What this machine gives two processes doing the benchmark's own work at once: on two
    dedicated cores about half the single process's time; less than that when the two cores
    share execution units (SMT siblings of one physical core) or memory bandwidth, or when
    other jobs run. ``T(single) / (2 × T(pair))`` is the efficiency no scheduler can beat here.
    """
    out.mkdir(parents=True)
    runs = _results([_child(ds, market, out / str(i), model, i, 2, history) for i in range(2)])
    return {
        "slowest": max(r["seconds"] for r in runs),  # as single(): after imports
        "cpu": sum(r["cpu"] for r in runs),
        "task_cpu": sum(r["task_cpu"] for r in runs),
        "margin": max(r["stages"]["margin"] for r in runs),
    }


def _imports() -> None:
    """The package, its models and the libraries a partition imports on first use."""
    import importlib

    from crossmargin.margin import available_models

    for name in ("pyarrow.dataset", "pyarrow.parquet", "scipy.signal", "scipy.special"):
        importlib.import_module(name)

    available_models()


def warm(ex: Any) -> None:
    """Import the package, its models and the libraries they import lazily in this process and
    on every worker (as the single-process child does before its clock starts)."""
    _imports()
    ex.client.run(_imports)


def _process_cpu() -> float:
    """User + system CPU seconds of the calling process (run on each worker)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def on_cluster(ex: Any, ds: Path, snap: Any, out: Path, model: str, cfg: Any) -> dict[str, Any]:
    from crossmargin.scale import margin_dataset, open_dataset

    w0 = ex.client.run(_process_cpu)
    c0 = time.process_time()
    t = time.perf_counter()
    res = margin_dataset(open_dataset(ds), snap, out=out, model=model, config=cfg, executor=ex)
    dt = time.perf_counter() - t
    client_cpu = time.process_time() - c0
    w1 = ex.client.run(_process_cpu)
    return {
        "client_cpu": client_cpu,  # this process: the client, the scheduler, describe/resolve
        "worker_cpu": sum(w1[w] - w0.get(w, 0.0) for w in w1),  # tasks and the workers' own
        "seconds": dt,
        "accounts": res.accounts,
        "positions": res.positions,
        "stages": dict(res.stages),
        "peak": res.peak_rss,
        "retried": dict(res.retried),
        "cpu": sum(p.cpu_seconds for p in res.partitions),
        "per_worker": sorted(Counter(p.worker for p in res.partitions).values()),
    }


def same(a: Path, b: Path) -> bool:
    """Two result datasets are equal, bitwise (compared one partition at a time)."""
    import pandas as pd

    fa = sorted(a.glob("*.parquet"))
    fb = sorted(b.glob("*.parquet"))
    if [f.name for f in fa] != [f.name for f in fb]:
        return False
    return all(pd.read_parquet(x).equals(pd.read_parquet(y)) for x, y in zip(fa, fb, strict=True))


def grid(args: argparse.Namespace, work: Path) -> None:
    from crossmargin.io.market import load_market
    from crossmargin.scale import DaskExecutor

    ds = dataset(args.cache, args.accounts, args.positions, args.partitions)
    market = write_market(work)
    snap = load_market(market)
    print(
        f"\n== grid (portfolio) model: {args.accounts:,} accounts, {args.positions:,} positions, "
        f"{args.partitions} partitions =="
    )
    t = time.perf_counter()
    ex = DaskExecutor.local(2, threads_per_worker=1, memory_limit=args.worker_memory)
    ex.client.wait_for_workers(2)
    warm(ex)
    print(f"LocalCluster of 2 workers x 1 thread, {args.worker_memory} each: started in "
          f"{time.perf_counter() - t:.1f} s")  # fmt: skip
    singles, clusters = [], []
    try:
        # A B C C B A: one process, the cluster, two plain processes (the machine's ceiling)
        order = ["single", "cluster", "pair"]
        order += order[::-1] if args.repeat > 1 else []
        pairs: list[dict[str, Any]] = []
        for k, what in enumerate(order):
            out = work / f"grid-{what}-{k}"
            before = load()
            if what == "single":
                r = single(ds, market, out)
                singles.append(r)
                print(
                    f"one process (1 thread): {r['seconds']:7.2f} s  "
                    f"{r['accounts'] / r['seconds']:10,.0f} accounts/s  "
                    f"{r['positions'] / r['seconds'] / 1e6:5.2f} M positions/s  "
                    f"peak RSS {r['maxrss'] / MIB:6,.0f} MiB  CPU {r['cpu']:6.1f} s "
                    f"(in partitions {r['task_cpu']:.1f} s)   [{before} -> {load()}]"
                )
            elif what == "pair":
                r = pair(ds, market, out)
                pairs.append(r)
                print(
                    f"two plain processes, every other partition each (no Dask): "
                    f"{r['slowest']:7.2f} s (slower of the two; margin stage {r['margin']:.2f} s)"
                    f"  CPU {r['cpu']:6.1f} s (in partitions {r['task_cpu']:.1f} s)"
                    f"   [{before} -> {load()}]"
                )
            else:
                from crossmargin.config import default_config

                r = on_cluster(ex, ds, snap, out, "portfolio", default_config())
                clusters.append(r)
                peaks = ", ".join(f"{v / MIB:,.0f}" for v in sorted(r["peak"].values()))
                print(
                    f"local:2 (2 x 1 thread): {r['seconds']:7.2f} s  "
                    f"{r['accounts'] / r['seconds']:10,.0f} accounts/s  "
                    f"{r['positions'] / r['seconds'] / 1e6:5.2f} M positions/s  "
                    f"peak RSS per worker {peaks} MiB  CPU in tasks {r['cpu']:6.1f} s, "
                    f"worker processes {r['worker_cpu']:.1f} s, client + scheduler "
                    f"{r['client_cpu']:.1f} s  partitions per worker {r['per_worker']}  "
                    f"retried {r['retried'] or 'none'}   [{before} -> {load()}]"
                )
        s_best = min(r["seconds"] for r in singles)
        c_best = min(r["seconds"] for r in clusters)
        p_best = min(r["slowest"] for r in pairs)
        eff = s_best / (2 * c_best)
        print(f"scaling efficiency (best of each): {eff:.2f}  (target >= 0.8)")
        effs = [s["seconds"] / (2 * c["seconds"]) for s, c in zip(singles, clusters, strict=False)]
        print("  per pair: " + ", ".join(f"{e:.2f}" for e in effs))
        ceiling = s_best / (2 * p_best)
        print(
            f"this machine's ceiling, two plain processes on the same partitions: {ceiling:.2f} "
            f"(1.0 on two dedicated cores); local:2 reaches {eff / ceiling:.0%} of it"
        )
        m1 = min(r["stages"]["margin"] for r in singles)
        m2 = min(r["stages"]["margin"] for r in clusters)
        print(
            f"margin stage alone (partitions; describe + resolve run once on the client): "
            f"one process {m1:.2f} s, local:2 {m2:.2f} s, efficiency {m1 / (2 * m2):.2f}"
        )
        cpu1 = min(r["task_cpu"] for r in singles)
        cpu2 = min(r["cpu"] for r in clusters)
        wcpu = min(r["worker_cpu"] for r in clusters)
        print(
            f"CPU seconds in the partitions: one process {cpu1:.1f}, local:2 {cpu2:.1f} "
            f"({cpu2 / cpu1 - 1:+.0%}), two plain processes {min(r['task_cpu'] for r in pairs):.1f}; "
            f"local:2 worker processes in all {wcpu:.1f} "
            f"(the workers' own threads {wcpu - cpu2:+.1f})"
        )
        worst = max(max(r["peak"].values()) for r in clusters)
        print(f"peak memory per worker: {worst / GIB:.2f} GiB (target <= 1.5 GiB)")
        print(
            f"results equal bitwise (one process vs local:2): {same(work / 'grid-single-0', work / 'grid-cluster-1')}"
        )
        st = clusters[0]["stages"]
        print("stages on local:2: " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items()))
        st = singles[0]["stages"]
        print("stages in one process: " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items()))
    finally:
        ex.close()
    if args.whole:
        raw = ds.parent / "raw"
        before = load()
        p = subprocess.run(
            [sys.executable, "-c", WHOLE, str(raw), str(work / "whole.parquet"), str(market)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if p.returncode:
            print(f"whole venue in one process failed: {p.stderr.strip().splitlines()[-1:]}")
        else:
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(
                f"whole venue as one book, one process (no partitions): {r['seconds']:.1f} s, "
                f"peak RSS {r['maxrss'] / GIB:.2f} GiB   [{before} -> {load()}]"
            )


def var_es(args: argparse.Namespace, work: Path) -> None:
    from dataclasses import replace

    from crossmargin.io.market import load_market
    from crossmargin.market.history import load_price_history
    from crossmargin.scale import DaskExecutor
    from crossmargin.scale.context import risk_arrays_computed
    from venue import var_bench_config, var_history_file

    n = args.var_accounts
    ds = dataset(args.cache, n, n * 10, args.var_partitions)
    hist = var_history_file(work)
    market = write_market(work)
    snap = replace(load_market(market), history=load_price_history(hist))
    cfg = var_bench_config()
    print(
        f"\n== var / es: {n:,} accounts, {n * 10:,} positions, {args.var_partitions} partitions, "
        "500 joint scenarios, add-ons on =="
    )
    for model in args.var_models.split(","):
        times: dict[str, list[float]] = {"local:1": [], "local:2": []}
        cpus: dict[str, list[float]] = {"local:1": [], "local:2": []}
        order = [1, 2] + ([2, 1] if args.repeat > 1 else [])
        outs = {}
        for k, workers in enumerate(order):
            # one cluster at a time: an idle second cluster (its scheduler in this process, its
            # nanny and worker processes) would take a share of the two cores from the measured one
            name = f"local:{workers}"
            t = time.perf_counter()
            ex = DaskExecutor.local(workers, threads_per_worker=1, memory_limit=args.worker_memory)
            try:
                ex.client.wait_for_workers(workers)
                warm(ex)
                started = time.perf_counter() - t
                before = load()
                out = work / f"{model}-{name.replace(':', '')}-{k}"
                arrays0 = ex.client.run(risk_arrays_computed)
                r = on_cluster(ex, ds, snap, out, model, cfg)
                arrays = [
                    sum(c - arrays0.get(w, {}).get(key, 0) for key, c in got.items())
                    for w, got in ex.client.run(risk_arrays_computed).items()
                ]
            finally:
                ex.close()
            outs.setdefault(name, out)
            times[name].append(r["seconds"])
            cpus[name].append(r["cpu"])
            peaks = ", ".join(f"{v / MIB:,.0f}" for v in sorted(r["peak"].values()))
            stages = ", ".join(f"{st} {v:.2f}" for st, v in r["stages"].items())
            print(
                f"{model:3s} on {name}: {r['seconds']:7.2f} s  "
                f"{r['accounts'] / r['seconds']:8,.0f} accounts/s  peak RSS per worker "
                f"{peaks} MiB  CPU in tasks {r['cpu']:6.1f} s, worker processes {r['worker_cpu']:.1f} s, "
                f"client + scheduler {r['client_cpu']:4.1f} s  "
                f"partitions per worker {r['per_worker']}  risk arrays computed per worker "
                f"{sorted(arrays)}  stages (s): {stages}  (cluster started in {started:.0f} s, "
                f"not counted)   [{before} -> {load()}]"
            )
        s = min(times["local:1"]) / min(times["local:2"])
        pairs = [a / b for a, b in zip(times["local:1"], times["local:2"], strict=False)]
        print(
            f"{model} speed-up 2 workers vs 1 (best of each): {s:.2f}x (target >= 1.6x); "
            "per pair: " + ", ".join(f"{p:.2f}" for p in pairs)
        )
        c1, c2 = min(cpus["local:1"]), min(cpus["local:2"])
        print(
            f"{model} CPU in tasks (best of each): local:1 {c1:.1f} s, local:2 {c2:.1f} s "
            f"(the 2-worker run's extra work: {c2 / c1 - 1:+.0%}; its speed-up if the two "
            f"workers had the cores to themselves: about {c1 / (c2 / 2):.2f}x)"
        )
        print(f"{model} results equal bitwise: {same(outs['local:1'], outs['local:2'])}")
        # the same work in plain processes (no Dask): what two processes get from this machine
        plain: dict[str, list[float]] = {"single": [], "pair": []}
        for k, what in enumerate(
            ["single", "pair"] + (["pair", "single"] if args.repeat > 1 else [])
        ):
            before = load()
            out = work / f"{model}-plain-{what}-{k}"
            if what == "single":
                r = single(ds, market, out, model, hist)
                plain["single"].append(r["seconds"])
                secs = r["seconds"]
            else:
                r = pair(ds, market, out, model, hist)
                plain["pair"].append(r["slowest"])
                secs = r["slowest"]
            print(
                f"{model} in plain processes, {'one' if what == 'single' else 'two (every other partition)'}: "
                f"{secs:7.2f} s  CPU in partitions {r['task_cpu']:.1f} s   [{before} -> {load()}]"
            )
        ceiling = min(plain["single"]) / min(plain["pair"])
        print(
            f"{model}: this machine's ceiling, two plain processes vs one on the same partitions: "
            f"{ceiling:.2f}x (2.0 on two dedicated cores); local:2 vs local:1 reaches "
            f"{s / ceiling:.0%} of it"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--positions", type=int, default=10_000_000)
    ap.add_argument("--partitions", type=int, default=40)
    ap.add_argument("--var-accounts", type=int, default=100_000)
    ap.add_argument("--var-partitions", type=int, default=8)
    ap.add_argument("--var-models", default="var,es", help="comma-separated: var, es")
    ap.add_argument("--worker-memory", default="1.5GiB")
    ap.add_argument("--repeat", type=int, default=2, help="1: one run each; 2: A B B A")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "crossmargin-bench")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--skip-var", action="store_true")
    ap.add_argument("--whole", action="store_true", help="also the whole venue as one book")
    args = ap.parse_args()
    import psutil

    print(
        f"crossmargin scale-out benchmark — {os.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / GIB:.0f} GiB, numpy {np.__version__}; {load()}"
    )
    work = Path(tempfile.mkdtemp(prefix="cm-scale-"))
    try:
        if not args.skip_grid:
            grid(args, work)
        if not args.skip_var:
            var_es(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"done; {load()}")


if __name__ == "__main__":
    main()
