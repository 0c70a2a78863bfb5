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

    .venv/bin/python benchmarks/calibration/s5b_apc_curve.py --options [BOOK ...]
    .venv/bin/python benchmarks/calibration/s5b_apc_curve.py --check [BOOK ...]
    .venv/bin/python benchmarks/calibration/s5b_apc_curve.py --tables

compares the anti-procyclicality options on the shipped defaults (filtered HS, 730 days) —
``none`` (no stress weight), ``stress_weight`` (25 % on named stress periods), ``buffer`` (25 %
on every day), ``releasable_buffer`` (:mod:`crossmargin.margin.apc`), and the two buffers with
the 25 % stress weighting kept in the scenarios — with the library's netting rule, on every
book, and writes
``results/apc_options.json`` (with a subset of books: ``results/apc_try.json``). The
releasable buffer is exact from the runs without and with the 25 % ``buffer``: per day its
apc part is ``f × (buffer − none)`` with ``f`` the release factor of the day's stress ratio (the account's from the book's assets weighted by stand-alone measure, each
underlying's and position's alone from its own asset), the replica's
:meth:`fastvar.Replica.stress_ratios`.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import common as C
import evaluate as E
import fastvar as F
import numpy as np
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


#: The option runs of ``--options`` (overlays over the shipped defaults).
OPTIONS: dict[str, dict[str, Any]] = {
    "none": {"var": {"anti_procyclicality": "none", "stress_weight": 0.0}},
    "stress_weight": {"var": {"anti_procyclicality": "stress_weight", "stress_weight": 0.25}},
    "buffer": {"var": {"anti_procyclicality": "buffer", "stress_weight": 0.0}},
    "buffer+stress_weight": {"var": {"anti_procyclicality": "buffer", "stress_weight": 0.25}},
}
RELEASE = {"var": {"anti_procyclicality": "releasable_buffer", "stress_weight": 0.0}}
#: The releasable buffer from (without it, with the 25 % buffer on every day).
DERIVED = {
    "releasable_buffer": ("none", "buffer"),
    "releasable_buffer+stress_weight": ("stress_weight", "buffer+stress_weight"),
}
OPTION_NAMES = (*OPTIONS, *DERIVED)
#: The shipped default (docs/calibration.md §6.2).
DEFAULT = "releasable_buffer+stress_weight"


def released(
    p0: F.VarParts, p1: F.VarParts, f_acc: np.ndarray, f_und: np.ndarray, leg_und: np.ndarray
) -> F.VarParts:
    """The releasable buffer's parts from the ``none`` (``p0``) and ``buffer`` (``p1``) parts.

    ``f_acc`` ``(D,)``: the book's release factor per day; ``f_und`` ``(D, U)``: each
    underlying's alone; ``leg_und`` ``(L,)``: the underlying of each position.
    """
    ch: dict[str, Any] = {
        "im": p0.im + f_acc * (p1.im - p0.im),
        "apc": f_acc * p1.apc,
        "alone": p0.alone + f_und * (p1.alone - p0.alone),
    }
    if p0.alone_legs is not None and p1.alone_legs is not None:
        ch["alone_legs"] = p0.alone_legs + f_und[:, leg_und] * (p1.alone_legs - p0.alone_legs)
    return replace(p0, **ch)


def release_factors(book: str, kind_parts: F.VarParts) -> tuple[np.ndarray, np.ndarray, Any]:
    """``(f_acc (D,), f_und (D, U), replica)`` of ``book`` under the releasable buffer."""
    cfg = C.overlay_config(RELEASE)
    rp = F.Replica(C.replay(book, 2, cfg), cfg)
    stand = kind_parts.stand if kind_parts.stand is not None else kind_parts.alone_core
    f_acc, f_und, ok = rp.release_factors(stand if rp.U > 1 else None)
    return np.where(ok, f_acc, np.nan), f_und, rp


def options_main(books: list[str]) -> None:
    """``--options``: none / stress_weight / buffer / releasable_buffer on ``books``."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "what": "var/es (+ the library's netting rule) per anti-procyclicality option, shipped "
        "defaults otherwise, MPOR 2",
        "options": {k: v for k, v in OPTIONS.items()} | {"releasable_buffer": RELEASE},
        "release": {
            k: getattr(C.overlay_config(RELEASE).var, k)
            for k in ("apc_buffer", "apc_release_from", "apc_release_window_days")
        },
        "books": {},
    }
    for b in books:
        t = time.perf_counter()
        cfg = C.overlay_config(OPTIONS["none"])
        rep = C.replay(b, 2, cfg)
        iso = E.model_run(b, "isolated")
        parts = {o: VP.parts(b, ov) for o, ov in OPTIONS.items()}
        row: dict[str, Any] = {o: {} for o in OPTION_NAMES}
        for kind in ("var", "es"):
            runs = {o: parts[o][kind] for o in OPTIONS}
            fa = np.zeros(0)
            for o, (off, on) in DERIVED.items():
                f_acc, f_und, rp = release_factors(b, parts[off][kind])
                rel = released(parts[off][kind], parts[on][kind], f_acc, f_und, rp.lt.und)
                runs[o] = replace(rel, ok=rel.ok & np.isfinite(f_acc))
                fa = f_acc[np.isfinite(f_acc)]
            for o, vp in runs.items():
                s = C.model_summary(
                    rep, VP.variant_run(vp, "capped", cfg.mm_factor), isolated=iso, config=cfg
                )
                row[o][f"{kind}+capped"] = {k: s[k] for k in KEEP} | {"targets": s["targets"]}
            row["releasable_buffer"][f"{kind}+capped"]["release_factor"] = {
                "mean": float(fa.mean()) if fa.size else None,
                "share_full": float(np.mean(fa >= 1.0)) if fa.size else None,
                "share_released": float(np.mean(fa <= 0.0)) if fa.size else None,
            }
        out["books"][b] = row
        print(f"{b:28s} {time.perf_counter() - t:6.1f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    C.write_json("apc_options" if books == C.all_books(with_no_target=False) else "apc_try", out)


def check_release(books: list[str], n_probe: int = 6) -> None:
    """``--check``: the derived releasable buffer against the library's per-day resolution."""
    out: dict[str, Any] = {"what": "releasable_buffer replica vs library, probe days", "books": {}}
    for b in books:
        for o, (off, on) in DERIVED.items():
            ov = C.merge(RELEASE, {"var": {"stress_weight": 0.25}}) if "+" in o else RELEASE
            cfg = C.overlay_config(ov)
            rep = C.replay(b, 2, cfg)
            for kind in ("var", "es"):
                p_off, p_on = VP.parts(b, OPTIONS[off])[kind], VP.parts(b, OPTIONS[on])[kind]
                f_acc, f_und, rp = release_factors(b, p_off)
                rel = released(p_off, p_on, f_acc, f_und, rp.lt.und)
                rel = replace(rel, ok=rel.ok & np.isfinite(f_acc))
                res = F.check_against_library(rep, cfg, kind, rel, n_probe)
                day = {str(x): i for i, x in enumerate(rep.dates)}
                res["release_factor"] = [float(f_acc[day[p]]) for p in res["probe_days"]]
                out["books"].setdefault(b, {})[f"{o}/{kind}"] = res
                print(b, o, kind, {k: v for k, v in res.items() if "max" in k}, flush=True)
    C.write_json("apc_release_check", out)


def options_summary(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Per option and model, pooled over the books: the rows of the §6.2 summary table."""
    out = []
    for o in OPTION_NAMES:
        for m in ("var+capped", "es+capped"):
            rows = [(b, d["books"][b][o][m], d["books"][b]["none"][m]) for b in d["books"]]
            pt = [r["peak_to_trough_rate"] for _, r, _ in rows]
            out.append(
                {
                    "option": o,
                    "model": m,
                    "books": len(rows),
                    "exceedances": sum(r["exceedances"] for _, r, _ in rows),
                    "expected": sum(r["expected"] for _, r, _ in rows),
                    "red_250": sorted(b for b, r, _ in rows if r["worst_250_zone"] == "red"),
                    "mean_im_over_c": float(np.mean([r["im_over_hindsight"] for _, r, _ in rows])),
                    "median_peak_to_trough": float(np.median(pt)),
                    "median_max_5day_rise": float(
                        np.median([r["max_5day_rise"] for _, r, _ in rows])
                    ),
                    "pt_below_none": sum(
                        r["peak_to_trough_rate"] < n["peak_to_trough_rate"] * (1 - 1e-9)
                        for _, r, n in rows
                    ),
                    "rise_below_none": sum(
                        r["max_5day_rise"] < n["max_5day_rise"] * (1 - 1e-9) for _, r, n in rows
                    ),
                    "rise_above_none": sum(
                        r["max_5day_rise"] > n["max_5day_rise"] * (1 + 1e-9) for _, r, n in rows
                    ),
                }
            )
    return out


def options_tables() -> None:
    """``--tables``: the markdown tables of docs/calibration.md §6.2 from the stored JSON."""
    d = json.loads((C.RESULTS / "apc_options.json").read_text(encoding="utf-8"))
    print(
        "| option | model | books | exceed. (exp.) | red worst-250 | mean IM / c "
        "| median peak/trough | median largest 5-day rise | p/t < none | rise < none |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in options_summary(d):
        print(
            f"| {r['option']} | {r['model']} | {r['books']} | {r['exceedances']} "
            f"({r['expected']:.0f}) | {len(r['red_250'])} | {r['mean_im_over_c']:.2f} "
            f"| {r['median_peak_to_trough']:.2f} | {r['median_max_5day_rise']:+.0%} "
            f"| {r['pt_below_none']} | {r['rise_below_none']} |"
        )
    print()
    opts = ("none", "stress_weight", "buffer", "releasable_buffer", DEFAULT)
    print(
        "| book | "
        + " | ".join(f"{o}: exc. · p/t · 5-day rise" for o in opts)
        + " |\n|---|"
        + "---|" * len(opts)
    )
    for b, row in d["books"].items():
        cells = []
        for o in opts:
            r = row[o]["var+capped"]
            cells.append(
                f"{r['exceedances']} · {r['peak_to_trough_rate']:.3g} · {r['max_5day_rise']:+.0%}"
            )
        print(f"| {b} | " + " | ".join(cells) + " |")


def main() -> None:
    if "--tables" in sys.argv[1:]:
        options_tables()
        return
    if "--check" in sys.argv[1:]:
        rest = [a for a in sys.argv[1:] if a != "--check"]
        check_release(rest or ["btc_static", "btc_eth_perp_pair", "mixed_crypto_equity"])
        return
    if "--options" in sys.argv[1:]:
        rest = [a for a in sys.argv[1:] if a != "--options"]
        options_main(rest or C.all_books(with_no_target=False))
        return
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
