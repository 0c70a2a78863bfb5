"""Benchmark: the Black-76 price kernel — blocked vs whole-array NumPy, threads, numba.

Prints option revaluations per second for 4 M random options: whole-array NumPy (the
baseline), blocked NumPy on one thread and on all cores (crossmargin's kernel), the numba twin,
and peak extra memory of the whole-array vs blocked evaluation (tracemalloc).
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
from scipy.special import ndtr

from crossmargin.kernels import _numba
from crossmargin.kernels.black76 import black76_price

N = 4_000_000


def whole_array(F, K, T, s, D, c):  # type: ignore[no-untyped-def]
    v = s * np.sqrt(T)
    d1 = (np.log(F / K) + 0.5 * v * v) / v
    d2 = d1 - v
    sg = np.where(c, 1.0, -1.0)
    return D * sg * (F * ndtr(sg * d1) - K * ndtr(sg * d2))


def rate(fn, *args, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return N / best


def peak(fn, *args) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    fn(*args)
    _, p = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return p / 2**20


def main() -> None:
    rng = np.random.default_rng(0)
    args = (
        rng.uniform(50_000, 80_000, N),
        rng.uniform(40_000, 90_000, N),
        rng.uniform(0.01, 1.0, N),
        rng.uniform(0.3, 0.9, N),
        np.ones(N),
        rng.random(N) < 0.5,
    )
    print(f"Black-76 price, {N / 1e6:.0f} M options, {os.cpu_count()} CPUs")
    base = rate(whole_array, *args)
    print(f"  whole-array NumPy (baseline)      {base / 1e6:7.1f} M/s")
    os.environ["CROSSMARGIN_THREADS"] = "1"
    one = rate(black76_price, *args)
    print(f"  blocked NumPy, 1 thread           {one / 1e6:7.1f} M/s  ({one / base:.1f}x)")
    os.environ.pop("CROSSMARGIN_THREADS")
    allc = rate(black76_price, *args)
    print(f"  blocked NumPy, all cores          {allc / 1e6:7.1f} M/s  ({allc / base:.1f}x)")
    if _numba.available():
        _numba.black76_price_numba(*(a[:10] for a in args))  # compile
        nb = rate(_numba.black76_price_numba, *args)
        print(f"  numba twin, 1 thread              {nb / 1e6:7.1f} M/s  ({nb / base:.1f}x)")
    print(
        f"  peak temporaries: whole-array {peak(whole_array, *args):.0f} MiB, "
        f"blocked {peak(black76_price, *args):.0f} MiB (incl. the {N * 8 / 2**20:.0f} MiB result)"
    )


if __name__ == "__main__":
    main()
