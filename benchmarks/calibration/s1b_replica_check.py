"""Step 1b: the var/es replica against the library on sample days of every book (minutes).

    .venv/bin/python benchmarks/calibration/s1b_replica_check.py [BOOK ...]

``s1_baseline.py`` checks the replica on six probe days of each book's full replay (and needs
the whole baseline run, ~15 min). This script re-checks it cheaply whenever the library
changes: a replica day depends on the history up to that day only, never on where the replay
starts, so each book is replayed over a few short sample windows (named crises inside its
history and one quiet period) and the replica's ``var``/``es`` are compared with the library's
per-day resolution (:func:`fastvar.check_against_library`: account IM, every underlying alone,
every position alone) under today's defaults and under the recommended overlay
(``docs/calibration_overlay.yaml``, the configuration ``s5_validate.py`` uses).

Writes ``results/replica_recheck.json``; prints one line per book and the maximum relative
difference (the study's bound is 1e-12).
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import sys
import time
from typing import Any

import common as C
import fastvar as F
import numpy as np

from crossmargin.backtest.replay import ReplayOptions, prepare
from crossmargin.errors import CrossMarginError

#: Sample windows (start, end): the USDC depeg, the 2024-08-05 crash, a quiet crypto week, the
#: 2008 GFC and the 2020 COVID equity crash (windows outside a book's history are skipped).
WINDOWS = (
    ("2023-03-08", "2023-03-14"),
    ("2024-08-01", "2024-08-07"),
    ("2019-07-01", "2019-07-06"),
    ("2008-10-06", "2008-10-13"),
    ("2020-03-09", "2020-03-16"),
)
KEYS = ("max_rel_diff_im", "max_rel_diff_standalone", "max_rel_diff_position_alone")


def check_book(name: str, overlay: dict[str, Any] | None) -> dict[str, Any]:
    """Replica vs library on the sample windows of one book under one configuration."""
    cfg = C.overlay_config(overlay)
    out: dict[str, Any] = {"windows": [], "probe_days": 0, "library_failures": 0}
    worst = dict.fromkeys(KEYS, 0.0)
    for start, end in WINDOWS:
        opts = ReplayOptions(mpor=2, start=start, end=end, cleaning=C.CLEANING)
        try:
            rep = prepare(C.book(name), C.load_study_history(), cfg, opts)
        except CrossMarginError as exc:  # the window is outside the book's history
            out["windows"].append({"window": [start, end], "skipped": str(exc)[:120]})
            continue
        parts = F.Replica(rep, cfg).run_many(("var", "es"))
        if not all(np.any(vp.ok) for vp in parts.values()):
            out["windows"].append({"window": [start, end], "skipped": "var/es cannot margin"})
            continue
        row: dict[str, Any] = {"window": [start, end]}
        for kind, vp in parts.items():
            chk = F.check_against_library(rep, cfg, kind, vp, n_probe=2)
            row[kind] = {k: chk[k] for k in ("probe_days", "library_failures", *KEYS)}
            out["probe_days"] += len(chk["probe_days"])
            out["library_failures"] += chk["library_failures"]
            for k in KEYS:
                if chk[k] is not None:
                    worst[k] = max(worst[k], chk[k])
        out["windows"].append(row)
    out.update(worst)
    return out


def main() -> None:
    t0 = time.perf_counter()
    books = [b for b in C.all_books() if len(sys.argv) == 1 or b in sys.argv[1:]]
    overlay = C.load_overlay(C.ROOT / "docs" / "calibration_overlay.yaml")
    res: dict[str, Any] = {"what": "var/es replica vs library, sample windows", "books": {}}
    for b in books:
        t = time.perf_counter()
        res["books"][b] = {"default": check_book(b, None), "overlay": check_book(b, overlay)}
        m = max(res["books"][b][c][k] for c in ("default", "overlay") for k in KEYS)
        n = sum(res["books"][b][c]["probe_days"] for c in ("default", "overlay"))
        print(f"{b:28s} {n:3d} probes  max rel diff {m:.1e}  {time.perf_counter() - t:6.1f} s")
    allmax = max(
        r[c][k] for r in res["books"].values() for c in ("default", "overlay") for k in KEYS
    )
    res["max_rel_diff"] = allmax
    res["probes"] = sum(r[c]["probe_days"] for r in res["books"].values() for c in r)
    res["seconds"] = time.perf_counter() - t0
    print(f"all books: {res['probes']} probes, max relative difference {allmax:.2e}")
    C.write_json("replica_recheck", res)


if __name__ == "__main__":
    main()
