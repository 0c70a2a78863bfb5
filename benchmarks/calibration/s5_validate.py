"""Step 5: the recommended defaults on every book, in and out of sample, MPOR 1 / 2 / 5.

    .venv/bin/python benchmarks/calibration/s5_validate.py [OVERLAY.yaml] [--books a,b]  # ~25 min cold

``--books`` re-runs the named books only and merges them into the stored results.

``OVERLAY.yaml`` defaults to ``docs/calibration_overlay.yaml`` (the proposal). For every book:

* MPOR 2 (the calibration horizon): ``isolated``, ``cross``, ``portfolio`` (library engine),
  ``var``, ``es`` (replica) as the library computes them with the overlay, and ``var``/``es``
  with the netting-never-costs rule (``+capped``) — the recommended default models;
* MPOR 1 and 5 as a check (var/es at the same horizon, ``var.mpor_days``; the grid unchanged);
* anti-procyclicality: the recommended var/es without any APC option (``anti_procyclicality:
  none``, ``stress_weight: 0``), to show what the option in force bounds;
* the netting rule's effect on the ``portfolio`` model (``min(IM, Σ_u IM_u)`` per day).

Writes ``results/recommended.json`` and ``results/evidence.json`` (the docs' tables: one row
per book × model with the target checks, tuning and held-out books apart).
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import common as C
import evaluate as E
import numpy as np
import varparts as VP

OVERLAY = C.ROOT / "docs" / "calibration_overlay.yaml"
MODELS_PLAIN = ("isolated", "cross", "portfolio")


def book_block(book: str, ov: dict[str, Any], mpor: int) -> dict[str, Any]:
    res = E.evaluate(book, models=MODELS_PLAIN, mpor=mpor, overlay=ov)
    res["models"].update(VP.summaries(book, ov, mpor))
    # portfolio with the netting rule (expected never to bind: the grid is sub-additive)
    cfg = C.overlay_config(E.mpor_overlay(ov, mpor))
    rep = C.replay(book, mpor, cfg)
    pf = E.model_run(book, "portfolio", mpor=mpor, overlay=ov)
    alone = np.nansum(pf.im_by_und, axis=1)
    res["portfolio_rule_binds_days"] = int(np.sum(pf.im > alone * (1 + 1e-9) + 1e-6))
    res["portfolio_rule_max_excess"] = float(np.max(np.maximum(pf.im - alone, 0.0)))
    del rep
    return res


def apc_block(book: str, ov: dict[str, Any]) -> dict[str, Any]:
    off = C.merge(ov, {"var": {"anti_procyclicality": "none", "stress_weight": 0.0}})
    keep = (
        "peak_to_trough_rate",
        "max_5day_rise",
        "rate_p05",
        "rate_p95",
        "avg_im_over_gross",
        "exceedances",
        "worst_250",
        "worst_250_zone",
    )
    on = VP.summaries(book, ov, variants=("capped",), keep=keep)
    no = VP.summaries(book, off, variants=("capped",), keep=keep)
    return {"apc_in_force": on, "apc_none": no}


def main() -> None:
    t0 = time.perf_counter()
    args = sys.argv[1:]
    only: list[str] = []
    if "--books" in args:
        i = args.index("--books")
        only = args[i + 1].split(",")
        del args[i : i + 2]
    path = Path(args[0]).resolve() if args else OVERLAY
    ov = C.load_overlay(path)
    out: dict[str, Any] = {
        "overlay_file": str(path.relative_to(C.ROOT)),
        "overlay": ov,
        "books": {},
    }
    if only:  # merge into the stored run of the same overlay
        old = json.loads((C.RESULTS / "recommended.json").read_text())
        assert old["overlay"] == ov, "the stored results are of another overlay"
        out["books"] = old["books"]
    for b in only or C.all_books():
        t = time.perf_counter()
        blk: dict[str, Any] = {"mpor2": book_block(b, ov, 2)}
        for h in (1, 5):
            blk[f"mpor{h}"] = book_block(b, ov, h)
        blk["apc"] = apc_block(b, ov)
        out["books"][b] = blk
        print(f"{b:28s} {time.perf_counter() - t:6.1f} s", flush=True)
    out["books"] = {b: out["books"][b] for b in C.all_books() if b in out["books"]}
    out["seconds"] = time.perf_counter() - t0
    C.write_json("recommended", out)
    C.write_json("evidence", evidence(out))


COLS = (
    "windows",
    "exceedances",
    "expected",
    "kupiec_p_nonoverlap",
    "christoffersen_cc_p",
    "zone",
    "worst_250",
    "worst_250_zone",
    "hindsight_constant",
    "avg_im_over_gross",
    "im_over_hindsight",
    "im_over_isolated",
    "peak_to_trough_rate",
    "max_5day_rise",
    "es_z2",
)


def evidence(rec: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for b, blk in rec["books"].items():
        for h in (2, 1, 5):
            for m, s in blk[f"mpor{h}"]["models"].items():
                if "error" in s:
                    rows.append({"book": b, "mpor": h, "model": m, "error": s["error"]})
                    continue
                rows.append(
                    {
                        "book": b,
                        "tuning_set": C.BOOKS.get(b),
                        "targets_apply": b not in C.NO_TARGET_BOOKS,
                        "mpor": h,
                        "model": m,
                        **{k: s.get(k) for k in COLS},
                        "targets": s.get("targets"),
                    }
                )
    return {"rows": rows}


if __name__ == "__main__":
    main()
