"""The tables of docs/validation.md, from the `crossmargin backtest` output of the bundled books.

    crossmargin backtest crypto_options_perps --out out/validation/ --quiet   # and the others
    .venv/bin/python benchmarks/calibration/validation_tables.py [DIR ...] > /tmp/v.md

Reads every ``<book>.json`` (the summary) and ``<book>_daily.csv`` (every model x window) in the
output directories (default ``out/validation``; several when the models of a book were run by
separate commands — a model's first run wins, and its figures do not depend on the others), prints per book the summary table, the models that could not margin it, and each
model's coverage in every named crisis window inside the book's period (:data:`common.CRISES`),
and stores the figures in ``results/validation.json`` — the JSON the tests hold
docs/validation.md to (``tests/backtest/test_validation_results.py``). Nothing is recomputed
but the crisis windows, which are read from the daily CSV.

``--keep-stored`` (first argument): a model of a book that none of the directories ran keeps its
row and crisis entries from the stored ``results/validation.json`` (the re-run after a change
that cannot move that model's margins, e.g. a ``portfolio`` default that ``var``/``es`` do not
read); the book's block lists those models under ``kept`` and the page says so. The book's
windows must be the stored ones (same history), else the script stops.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import common as C
import pandas as pd

from crossmargin.backtest.run import resolve_models

BOOKS = ("crypto_options_perps", "spx_ndx_book", "mixed_crypto_equity", "spx_ndx_20y", "btc_static")
HEAD = (
    "model", "windows", "exceed.", "rate", "Kupiec p", "Kupiec p non-overl.", "CC p", "zone",
    "worst 250", "ES Z2", "peak/trough (rate)", "max 5-day rise", "avg IM / gross",
    "IM / isolated", "broken offsets",
)  # fmt: skip


def _f(x: float | None, d: int = 3) -> str:
    return "–" if x is None else f"{x:.{d}f}"


def _pct(x: float | None, d: int = 2) -> str:
    return "–" if x is None else f"{100 * x:.{d}f} %"


def _p(lr: dict[str, Any] | None) -> float | None:
    return None if lr is None else lr.get("p_value")


def model_row(m: dict[str, Any]) -> dict[str, Any]:
    """The figures of one model on one book (one table row, one entry of validation.json)."""
    pro = m["procyclicality"] or {}
    eff = m["efficiency"] or {}
    rise = [i["relative"] for i in pro.get("largest_increase", []) if i["days"] == 5]
    net = m["netting"]
    w250 = m["worst_250"]
    cc = m["christoffersen"]
    return {
        "windows": m["windows"],
        "exceedances": m["exceedances"],
        "rate": m["exceedance_rate"],
        "kupiec_p": _p(m["kupiec"]),
        "kupiec_p_nonoverlap": _p(m["kupiec_non_overlapping"]),
        "cc_p": None if cc is None else _p(cc["conditional_coverage"]),
        "zone": (m["traffic_light"] or {}).get("zone"),
        "worst_250": None if w250 is None else w250["exceedances"],
        "worst_250_zone": None if w250 is None else w250["zone"],
        "worst_250_from": None if w250 is None else w250["from"],
        "worst_250_to": None if w250 is None else w250["to"],
        "es_z2": (m["expected_shortfall"] or {}).get("z2"),
        "peak_to_trough_rate": pro.get("peak_to_trough_rate"),
        "max_5day_rise": rise[0] if rise else None,
        "im_over_gross": eff.get("avg_margin_over_gross"),
        "im_over_isolated": eff.get("avg_margin_over_isolated"),
        "broken_offsets": None if net is None else net.get("broken_offsets"),
        "engine": m["engine"],
        "seconds": m["seconds"],
    }


def crisis_rows(daily: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """crisis -> model -> exceedances, counted windows and worst loss / IM in the window."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    counted = daily[daily["counted"].astype(bool)]
    for label, (a, b) in C.CRISES.items():
        sel = counted[(counted["date"] >= a) & (counted["date"] <= b)]
        if sel.empty:
            continue
        per: dict[str, dict[str, Any]] = {}
        for model, g in sel.groupby("model", sort=False):
            ratio = (g["loss"] / g["im"].where(g["im"] > 0)).max()
            per[str(model)] = {
                "windows": len(g),
                "exceedances": int(g["exceeded"].astype(bool).sum()),
                "worst_loss_over_im": None if pd.isna(ratio) else float(ratio),
            }
        out[label] = per
    return out


def book_block(directories: list[Path], book: str) -> dict[str, Any] | None:
    """One book's figures, merged over the runs in ``directories`` (a model's first run wins)."""
    runs = [d for d in directories if (d / f"{book}.json").exists()]
    if not runs:
        return None
    models: dict[str, Any] = {}
    days = []
    for d in runs:
        for m in json.loads((d / f"{book}.json").read_text())["models"]:
            if m["model"] not in models or models[m["model"]]["status"] != "ok":
                models[m["model"]] = m
        days.append(pd.read_csv(d / f"{book}_daily.csv", usecols=[
            "model", "date", "im", "loss", "exceeded", "counted"]))  # fmt: skip
    daily = pd.concat(days).drop_duplicates(["model", "date"])
    s = json.loads((runs[0] / f"{book}.json").read_text())
    s["models"] = list(models.values())
    s["seconds"] = sum(json.loads((d / f"{book}.json").read_text())["seconds"] for d in runs)
    ev = s["data"]["evaluation"]
    return {
        "period": [ev["first"], ev["last"]],
        "windows": ev["windows"],
        "gap_windows": ev["gap_windows"],
        "warmup_dates_skipped": ev["warmup_dates_skipped"],
        "seconds": s["seconds"],
        "realised": s["realised"],
        "models": {m["model"]: model_row(m) for m in s["models"] if m["status"] == "ok"},
        "errors": {m["model"]: m["error"] for m in s["models"] if m["status"] != "ok"},
        "crises": crisis_rows(daily),
    }


def keep_stored(book: str, b: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``b`` with the stored rows of the models it lacks (``--keep-stored``)."""
    old = stored.get(book)
    if old is None:
        return b
    if (old["period"], old["windows"]) != (b["period"], b["windows"]):
        raise SystemExit(f"{book}: the stored run covers other windows, re-run every model")
    kept = [m for m in old["models"] if m not in b["models"] and m not in b["errors"]]
    rows = b["models"] | {m: old["models"][m] for m in kept}
    order = [*(m for m in old["models"] if m in rows), *(m for m in rows if m not in old["models"])]
    b["models"] = {m: rows[m] for m in order}
    for label, per in old["crises"].items():
        b["crises"].setdefault(label, {}).update({m: per[m] for m in kept if m in per})
    b["kept"] = [*old.get("kept", []), *(m for m in kept if m not in old.get("kept", []))]
    return b


def render(book: str, b: dict[str, Any]) -> str:
    lines = [
        f"### `{book}`: {b['windows']} windows {b['period'][0]} .. {b['period'][1]}, "
        f"{b['gap_windows']} gap windows excluded, backtest {b['seconds']:.0f} s (all runs)",
        "",
        "| " + " | ".join(HEAD) + " |",
        "|---|" + "---:|" * 6 + "---|---|" + "---:|" * 6,
    ]
    for name, r in b["models"].items():
        w = "–" if r["worst_250"] is None else f"{r['worst_250']} {r['worst_250_zone']}"
        lines.append("| " + " | ".join((
            name, str(r["windows"]), str(r["exceedances"]), _pct(r["rate"]), _f(r["kupiec_p"]),
            _f(r["kupiec_p_nonoverlap"]), _f(r["cc_p"]), f"**{r['zone']}**", w,
            _f(r["es_z2"], 2), _f(r["peak_to_trough_rate"], 2), _pct(r["max_5day_rise"], 0),
            _pct(r["im_over_gross"]), _pct(r["im_over_isolated"], 0),
            "–" if r["broken_offsets"] is None else f"{r['broken_offsets']}/{r['exceedances']}",
        )) + " |")  # fmt: skip
    if b.get("kept"):
        lines += ["", "Not affected by the change re-run here, kept from the previous run: "
                  + ", ".join(f"`{m}`" for m in b["kept"]) + "."]  # fmt: skip
    missing = [m for m in resolve_models("all")[0] if m not in b["models"] and m not in b["errors"]]
    if missing:
        lines += ["", "Not run for this table: " + ", ".join(f"`{m}`" for m in missing) + "."]
    if b["errors"]:
        lines += ["", "Could not margin this book: " + "; ".join(
            f"`{k}` (`{v}`)" for k, v in b["errors"].items()) + "."]  # fmt: skip
    if b["crises"]:
        lines += [
            "",
            "Named crisis windows (window start dates as in docs/calibration.md): exceedances / "
            "counted windows (largest loss ÷ IM in the window) per model.",
            "",
            "| crisis | " + " | ".join(b["models"]) + " |",
            "|---|" + "---|" * len(b["models"]),
        ]
        for label, per in b["crises"].items():
            cells = []
            for name in b["models"]:
                c = per.get(name)
                cells.append("–" if c is None else (
                    f"{c['exceedances']}/{c['windows']} ({_f(c['worst_loss_over_im'], 2)})"))  # fmt: skip
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(blocks: dict[str, dict[str, Any]]) -> str:
    """The issue's coverage targets per model and book: no red worst-250, Kupiec p >= 0.05."""
    models = list(dict.fromkeys(m for b in blocks.values() for m in b["models"]))
    lines = [
        "| model | " + " | ".join(f"`{b}`" for b in blocks) + " |",
        "|---|" + "---|" * len(blocks),
    ]
    for name in models:
        cells = []
        for b in blocks.values():
            r = b["models"].get(name)
            if r is None:
                cells.append("–")
                continue
            red = "✓" if r["worst_250_zone"] != "red" else "✗ red"
            p = r["kupiec_p_nonoverlap"]
            kup = "✓" if p is not None and p >= 0.05 else (
                "✗ few" if r["rate"] < 0.01 else "✗ many")  # fmt: skip
            cells.append(f"{red} · {kup}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    args = argv[1:]
    keep = bool(args) and args[0] == "--keep-stored"
    target = C.RESULTS / "validation.json"
    stored = json.loads(target.read_text())["books"] if keep else {}
    dirs = [Path(a) for a in args[keep:]] or [C.ROOT / "out" / "validation"]
    blocks = {}
    for book in BOOKS:
        b = book_block(dirs, book)
        if b is None:
            print(f"### `{book}`: not re-run (no {book}.json)\n")
            continue
        blocks[book] = keep_stored(book, b, stored) if keep else b
        print(render(book, b) + "\n")
    print("### Targets (no red worst-250 · Kupiec p >= 0.05 non-overlapping)\n")
    print(targets(blocks) + "\n")
    target.write_text(json.dumps({"books": blocks}, indent=1, sort_keys=False) + "\n")
    print(f"<!-- wrote {target.relative_to(C.ROOT)} -->")


if __name__ == "__main__":
    main(sys.argv)
