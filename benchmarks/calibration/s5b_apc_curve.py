"""Step 5b: var/es trade-off curve over the anti-procyclicality buffer (minutes, cached).

    .venv/bin/python benchmarks/calibration/s5b_apc_curve.py [OVERLAY.yaml]

The recommended var/es (``docs/calibration_overlay.yaml``: plain HS over two years, APC
``buffer``) do not reach the efficiency target on most books (docs/calibration.md §6): coverage
barely moves while capital does. The parameter that moves capital without changing the
scenarios is the buffer ``var.apc_buffer`` (IM = R × (1 + buffer) + add-ons, before the
netting rule). Every part of a replica run is affine in the buffer (the buffer scales the core
measure of the account, of each underlying alone and of each position alone; nothing else
depends on it), so two runs — buffer 0 and the overlay's 0.25 (shared with
``s5_validate.py``'s cache) — give the parts at any buffer exactly; the netting rule
(``+capped``, the library today) is then applied per buffer. Writes ``results/apc_curve.json``:
per buffer and book the coverage, the target checks, IM / hindsight constant, peak-to-trough
and largest 5-day rise, at MPOR 2.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import common as C
import evaluate as E
import fastvar as F
import varparts as VP

OVERLAY = C.ROOT / "docs" / "calibration_overlay.yaml"
BUFFERS = (0.0, 0.1, 0.25, 0.4, 0.5)
_AFFINE = ("im", "apc", "alone", "alone_legs")


def at_buffer(p0: F.VarParts, p1: F.VarParts, b1: float, b: float) -> F.VarParts:
    """The parts at buffer ``b`` from the parts at 0 (``p0``) and at ``b1`` (``p1``)."""
    t = b / b1
    return replace(
        p1, **{f: getattr(p0, f) + t * (getattr(p1, f) - getattr(p0, f)) for f in _AFFINE}
    )


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
    b1 = C.overlay_config(ov).var.apc_buffer
    ov0 = C.merge(ov, {"var": {"apc_buffer": 0.0}})
    for b in C.all_books(with_no_target=False):
        t = time.perf_counter()
        cfg = C.overlay_config(ov)
        rep = C.replay(b, 2, cfg)
        iso = E.model_run(b, "isolated")
        p0, p1 = VP.parts(b, ov0), VP.parts(b, ov)
        out["books"][b] = {}
        for buf in BUFFERS:
            row = {}
            for kind in ("var", "es"):
                vp = at_buffer(p0[kind], p1[kind], b1, buf)
                s = C.model_summary(
                    rep, VP.variant_run(vp, "capped", cfg.mm_factor), isolated=iso, config=cfg
                )
                row[f"{kind}+capped"] = {k: s[k] for k in KEEP} | {"targets": s["targets"]}
            out["books"][b][str(buf)] = row
        print(f"{b:28s} {time.perf_counter() - t:6.1f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    C.write_json("apc_curve", out)


if __name__ == "__main__":
    main()
