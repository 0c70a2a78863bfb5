"""Benchmark: the live engine's edge — decoding, validating and encoding inputs.

Prints, per input type, records per second of ``update_from_obj`` (a parsed JSON object →
validated record: what journal recovery does per record) and ``update_to_obj`` (record → JSON
object: what the journal does per accepted input), each as a ratio to the in-run baseline of
``json.loads`` / ``json.dumps`` of the same object (the cost any JSON edge pays); then the
streaming reader (``read_updates``) on a 200 000-line tick file against ``json.loads`` of each
line, with the reader's peak memory (tracemalloc) against the file size: bounded by a line, not
the file.
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from crossmargin.live.updates import read_updates, update_from_obj, update_to_obj

T = "2020-03-12T10:00:00Z"
OBJECTS: dict[str, dict[str, object]] = {
    "trade": {"type": "trade", "account": "acct-0042", "instrument": "BTC-27MAR20-6000-P",
              "quantity": -1.5, "price": 210.5, "time": T, "id": "t-1"},
    "deposit": {"type": "deposit", "account": "acct-0042", "asset": "USDC", "amount": 2500.0,
                "time": T, "id": "d-1"},
    "market": {"type": "market", "feed": "bitstamp", "seq": 17, "time": T, "asset": "BTC",
               "price": 5966.77, "confidence": 0.999, "vol": 1.1764},
    "market+smile": {"type": "market", "feed": "deribit", "seq": 18, "time": T, "asset": "BTC",
                     "price": 5966.77, "forwards": {"27MAR20": 5980.0},
                     "vols": {"27MAR20": {"smile": {"strikes": [4000, 5000, 6000, 7000, 8000],
                                                    "vols": [1.4, 1.25, 1.15, 1.1, 1.12]}}}},
}  # fmt: skip


def per_second(fn: Callable[[], object], n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    n = 20_000
    print(f"{'input':<14}{'from_obj/s':>12}{'json.loads/s':>14}{'ratio':>8}"
          f"{'to_obj/s':>12}{'json.dumps/s':>14}{'ratio':>8}")  # fmt: skip
    for name, obj in OBJECTS.items():
        text = json.dumps(obj)
        u = update_from_obj(obj)
        dec = per_second(lambda o=obj: update_from_obj(o), n)  # type: ignore[misc]
        loads = per_second(lambda s=text: json.loads(s), n)  # type: ignore[misc]
        enc = per_second(lambda v=u: update_to_obj(v), n)  # type: ignore[misc]
        dumps = per_second(lambda o=obj: json.dumps(o), n)  # type: ignore[misc]
        print(f"{name:<14}{dec:>12,.0f}{loads:>14,.0f}{dec / loads:>8.2f}"
              f"{enc:>12,.0f}{dumps:>14,.0f}{enc / dumps:>8.2f}")  # fmt: skip

    lines = 100_000
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ticks.jsonl"
        with path.open("w") as f:
            for i in range(lines):
                obj = dict(OBJECTS["market"], seq=i + 1, price=5000.0 + i % 1000)
                f.write(json.dumps(obj) + "\n")
        size = path.stat().st_size
        t = time.perf_counter()
        with path.open() as f:
            for line in f:
                json.loads(line)
        base = time.perf_counter() - t
        t = time.perf_counter()
        count = sum(1 for _ in read_updates(path))
        took = time.perf_counter() - t
        tracemalloc.start()  # a separate pass: tracing slows every allocation down
        for _ in read_updates(path):
            pass
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        f"\nread_updates: {count:,} lines ({size / 2**20:.1f} MiB) in {took:.2f} s = "
        f"{count / took:,.0f} updates/s; json.loads per line {lines / base:,.0f}/s "
        f"(ratio {base / took:.2f}); peak memory {peak / 2**20:.2f} MiB "
        f"({peak / size:.1%} of the file)"
    )


if __name__ == "__main__":
    main()
