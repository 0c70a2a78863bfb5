"""Benchmark: how fast the command line starts, against ``python -c pass`` in the same run.

Each command runs in a fresh process ``--repeat`` times (interleaved with the baseline, so machine
load hits both alike); the table gives the best and median wall-clock time, the best CPU time
(user + system of the child: what the start-up costs, nearly independent of other jobs on a
shared machine), the time over the bare interpreter, and the target of issue 14
(``crossmargin --help`` ≤ 0.3 s, ``margin`` on a bundled example ≤ 0.8 s, for the default
portfolio model and each other model): met when the best wall-clock time is within it; the last
line says whether the issue's criterion — ``margin`` on the crypto example with the default
model — is met. Two floors show what ``margin`` cannot go below: the libraries it imports
(typer, NumPy, pydantic, rich, PyYAML), and the same with ``scipy.special`` + ``scipy.sparse``
(SciPy 1.17's array-API layer clones the NumPy namespace on import, loading ``numpy.f2py``,
``numpy.testing``, ``numpy.ma`` …): the models that import SciPy on the example (the SPAN and
OKX presets, var/es) cannot go below the second. ``--src DIR`` measures another source tree
(e.g. an older checkout) with this interpreter, for a before/after comparison.

    python benchmarks/bench_cli.py [--repeat 15] [--src DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "src" / "crossmargin" / "examples"

#: The libraries ``margin`` imports on a small book (no SciPy: ``crossmargin.kernels.ndtr``).
_LIBS = "import typer, typer.core, numpy, pydantic, rich.console, yaml"

#: The case issue 14's criterion is about: the default (portfolio) model on a bundled example.
DEFAULT = "crossmargin margin (crypto example)"

#: (label, arguments after ``python``, target in seconds or None)
CASES: tuple[tuple[str, tuple[str, ...], float | None], ...] = (
    ("python -c pass (baseline)", ("-c", "pass"), None),
    ("python -c 'import typer' (floor)", ("-c", "import typer, typer.core"), None),
    # what `margin` cannot go below: the libraries it imports, before any crossmargin module
    ("margin's libraries w/o SciPy (floor)", ("-c", _LIBS), None),
    ("margin's libraries + SciPy (floor)", ("-c", f"{_LIBS}, scipy.special, scipy.sparse"), None),
    ("crossmargin --help", ("-m", "crossmargin", "--help"), 0.3),
    ("crossmargin margin --help", ("-m", "crossmargin", "margin", "--help"), None),
    (
        DEFAULT,
        ("-m", "crossmargin", "margin", str(EX / "crypto_book.json"), "-m",
         str(EX / "market_crypto.json")),
        0.8,
    ),
    (
        "crossmargin margin --format json",
        ("-m", "crossmargin", "margin", str(EX / "crypto_book.json"), "-m",
         str(EX / "market_crypto.json"), "--format", "json"),
        0.8,
    ),
    *(
        (
            f"crossmargin margin --model {model}",
            ("-m", "crossmargin", "margin", str(EX / "crypto_book.json"), "-m",
             str(EX / "market_crypto.json"), "--model", model, *extra),
            0.8,
        )
        for model, extra in (
            ("isolated", ()),
            ("cross", ()),
            ("span", ()),
            ("okx-pm", ()),
            # the bundled closes end before the example's as_of: stale history is opted in
            ("var", ("--allow-stale-history",)),
            ("es", ("--allow-stale-history",)),
        )
    ),
    (
        "crossmargin compare (crypto example)",
        ("-m", "crossmargin", "compare", str(EX / "crypto_book.json"), "-m",
         str(EX / "market_crypto.json")),
        None,
    ),
)  # fmt: skip


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(args: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one fresh process."""
    c, t = _cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, check=False
    )
    dt, dc = time.perf_counter() - t, _cpu() - c
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return dt, dc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--src", type=Path, default=None, help="source tree to measure (PYTHONPATH)")
    opts = ap.parse_args()
    env = dict(os.environ)
    # as installed by pip: bytecode cached (with PYTHONDONTWRITEBYTECODE=1 every process would
    # recompile crossmargin's sources, ~0.3-0.5 s more per command on this machine)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if opts.src is not None:
        env["PYTHONPATH"] = str(opts.src.resolve())
        # bytecode of the other tree goes to a scratch directory, never into that tree
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-cli-pyc-")
    for _, args, _ in CASES:  # warm-up: writes the bytecode caches, fills the OS file cache
        run_once(args, env)
    times: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
    for _ in range(opts.repeat):  # interleaved: load changes hit every case alike
        for label, args, _ in CASES:
            dt, dc = run_once(args, env)
            times[label].append(dt)
            cpu[label].append(dc)
    base = min(times[CASES[0][0]])
    print(f"CLI start-up, {opts.repeat} fresh processes each, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, source {opts.src or ROOT / 'src'}")  # fmt: skip
    print(f"  {'command':<40} {'best':>7} {'median':>7} {'CPU':>7} {'over pass':>9}  target")
    for label, _, target in CASES:
        t = times[label]
        best, med, c = min(t), statistics.median(t), min(cpu[label])
        verdict = (
            "" if target is None else f"≤ {target:.1f} s " + ("ok" if best <= target else "MISSED")
        )
        print(f"  {label:<40} {best:6.3f}s {med:6.3f}s {c:6.3f}s {best - base:8.3f}s  {verdict}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  load average during the run: {load:.1f} (best of N is the figure to compare)")
    best = min(times[DEFAULT])
    met = "MET" if best <= 0.8 else "NOT MET"
    print(f"issue 14: `margin` on the crypto example, default portfolio model, ≤ 0.8 s: {met} "
          f"(best wall {best:.3f} s of {opts.repeat}, CPU {min(cpu[DEFAULT]):.3f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
