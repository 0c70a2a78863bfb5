"""Step 5b: var/es trade-off curve over the anti-procyclicality buffer (minutes, cached).

    .venv/bin/python benchmarks/calibration/s5b_apc_curve.py [OVERLAY.yaml]

The recommended var/es (``docs/calibration_overlay.yaml``: plain HS over two years, APC
``buffer``) cannot reach the efficiency target on every book (docs/calibration.md §7): coverage
barely moves while capital does. The parameter that moves capital without changing the
scenarios is the buffer ``var.apc_buffer`` (IM = R × (1 + buffer) + add-ons, before the
netting rule). This script runs the replica (with the library's netting rule, ``+capped``) at
buffers 0, 0.1, 0.25 (the recommendation, shared with ``s5_validate.py``'s cache) and 0.4 on
every book at MPOR 2, and writes ``results/apc_curve.json``: per buffer and book the coverage,
the target checks, IM / hindsight constant, peak-to-trough and largest 5-day rise.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import common as C
import varparts as VP

OVERLAY = C.ROOT / "docs" / "calibration_overlay.yaml"
BUFFERS = (0.0, 0.1, 0.4, 0.25)
KEEP = (
    "windows",
    "exceedances",
    "expected",
    "nonoverlap_windows",
    "nonoverlap_exceedances",
    "kupiec_p_nonoverlap",
    "worst_250",
    "worst_250_zone",
    "hindsight_constant",
    "avg_im_over_gross",
    "im_over_hindsight",
    "peak_to_trough_rate",
    "max_5day_rise",
)


def main() -> None:
    t0 = time.perf_counter()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else OVERLAY
    ov = C.load_overlay(path)
    out: dict[str, Any] = {
        "what": "var/es (+ the library's netting rule) over var.apc_buffer, overlay, MPOR 2",
        "overlay_file": str(path.relative_to(C.ROOT)),
        "buffers": list(BUFFERS),
        "books": {},
    }
    for b in C.all_books(with_no_target=False):
        t = time.perf_counter()
        out["books"][b] = {}
        for buf in BUFFERS:
            o = C.merge(ov, {"var": {"apc_buffer": buf}}) if buf != 0.25 else ov
            s = VP.summaries(b, o, variants=("capped",), keep=KEEP)
            out["books"][b][str(buf)] = s
        print(f"{b:28s} {time.perf_counter() - t:6.1f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    C.write_json("apc_curve", out)


if __name__ == "__main__":
    main()
