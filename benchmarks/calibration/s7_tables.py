"""Step 7: the markdown tables of docs/calibration.md, from the stored JSON results.

    .venv/bin/python benchmarks/calibration/s7_tables.py > /tmp/tables.md    # a few seconds

Every table in docs/calibration.md is printed here from ``results/*.json`` (nothing is
recomputed), so the document can be checked against the results at any time.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import common as C


def _load(name: str) -> Any:
    p = C.RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def pct(x: float | None, d: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{d}f} %"


def num(x: float | None, d: int = 2) -> str:
    return "–" if x is None else f"{x:.{d}f}"


def mark(ok: bool | None) -> str:
    return "–" if ok is None else ("✓" if ok else "✗")


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


HEAD = (
    "book",
    "model",
    "windows",
    "exceed. (exp.)",
    "Kupiec p (non-ov.)",
    "CC p",
    "zone",
    "worst 250",
    "hindsight c",
    "IM / gross",
    "IM / (c × gross)",
    "IM / isolated",
    "peak/trough",
    "max 5-day rise",
    "targets (250 · Kupiec · eff.)",
)


def row(book: str, m: str, s: Mapping[str, Any]) -> list[str]:
    if "error" in s:
        return [
            book,
            m,
            "–",
            "cannot margin: " + s["error"][:90].replace("|", "/"),
            *["" for _ in HEAD[4:]],
        ]
    t = s.get("targets") or {}
    kup = num(s.get("kupiec_p_nonoverlap"), 3)
    if C.too_many(s):
        kup += " (too many)"
    elif t.get("kupiec_nonoverlap") is False:
        kup += " (too few)"
    return [
        book,
        m,
        str(s["windows"]),
        f"{s['exceedances']} ({s['expected']:.0f})",
        kup,
        num(s.get("christoffersen_cc_p"), 3),
        s.get("zone") or "–",
        f"{s.get('worst_250')} {s.get('worst_250_zone') or ''}",
        pct(s.get("hindsight_constant"), 2),
        pct(s.get("avg_im_over_gross"), 2),
        num(s.get("im_over_hindsight")),
        num(s.get("im_over_isolated")),
        num(s.get("peak_to_trough_rate"), 1),
        pct(s.get("max_5day_rise"), 0),
        " ".join(mark(t.get(k)) for k in ("no_red_250", "kupiec_nonoverlap", "efficiency")),
    ]


def baseline_table(models: Sequence[str]) -> str:
    base = _load("baseline")
    rows = []
    for b, blk in base["books"].items():
        for m in models:
            if m in blk["models"]:
                rows.append(row(b, m, blk["models"][m]))
    return table(HEAD, rows)


def recommended_table(models: Sequence[str], *, tuning: bool | None, mpor: int = 2) -> str:
    rec = _load("recommended")
    rows = []
    for b, blk in rec["books"].items():
        if tuning is not None and C.BOOKS.get(b, False) != tuning:
            continue
        if tuning is not None and b in C.NO_TARGET_BOOKS:
            continue
        for m in models:
            s = blk[f"mpor{mpor}"]["models"].get(m)
            if s is not None:
                rows.append(row(b, m, s))
    return table(HEAD, rows)


def target_count(
    data: Mapping[str, Any], models: Sequence[str], key: str | None, books: Sequence[str]
) -> str:
    rows = []
    for m in models:
        met = {"no_red_250": 0, "kupiec_nonoverlap": 0, "efficiency": 0}
        n = 0
        many = 0
        for b in books:
            blk = data["books"][b]
            s = (blk[key]["models"] if key else blk["models"]).get(m)
            if not s or "error" in s:
                continue
            n += 1
            many += int(C.too_many(s))
            for k in met:
                met[k] += int(bool((s.get("targets") or {}).get(k)))
        rows.append(
            [
                m,
                str(n),
                str(met["no_red_250"]),
                str(met["kupiec_nonoverlap"]),
                str(many),
                str(met["efficiency"]),
            ]
        )
    return table(("model", "books", "no red 250", "Kupiec ok", "too many exc.", "IM ≤ 1.3 c"), rows)


def crises_table(models: Sequence[str], name: str = "recommended") -> str:
    rec = _load(name)
    rows = []
    for b, blk in rec["books"].items():
        ms = blk["mpor2"]["models"] if "mpor2" in blk else blk["models"]
        labels: dict[str, list[str]] = {}
        for m in models:
            s = ms.get(m)
            if not s or "error" in s:
                continue
            for c in s["crises"]:
                cell = f"{c['exceedances']}/{c['windows']} ({num(c['worst_loss_over_im'])})"
                labels.setdefault(c["crisis"], []).append(f"{m} {cell}")
        for lab, cells in labels.items():
            rows.append([b, lab, "; ".join(cells)])
    return table(("book", "crisis", "exceedances / windows (worst loss ÷ IM) per model"), rows)


def apc_table(books: Sequence[str]) -> str:
    """Procyclicality of the recommended var/es with the APC option in force and without it."""
    rec = _load("recommended")
    rows = []
    for b in books:
        apc = rec["books"][b]["apc"]
        for m in ("var+capped", "es+capped"):
            on, off = apc["apc_in_force"].get(m), apc["apc_none"].get(m)
            if not on or not off or "error" in on or "error" in off:
                continue
            rows.append(
                [
                    b,
                    m,
                    f"{num(on.get('peak_to_trough_rate'), 1)} / {num(off.get('peak_to_trough_rate'), 1)}",
                    f"{pct(on.get('max_5day_rise'), 0)} / {pct(off.get('max_5day_rise'), 0)}",
                    f"{pct(on.get('avg_im_over_gross'), 2)} / {pct(off.get('avg_im_over_gross'), 2)}",
                    f"{on.get('exceedances')} / {off.get('exceedances')}",
                    f"{on.get('worst_250')} {on.get('worst_250_zone')} / "
                    f"{off.get('worst_250')} {off.get('worst_250_zone')}",
                ]
            )
    head = (
        "book",
        "model",
        "peak/trough of the rate (buffer / none)",
        "max 5-day rise",
        "IM / gross",
        "exceed.",
        "worst 250",
    )
    return table(head, rows)


def apc_curve_table() -> str:
    """var/es (+ the netting rule) over var.apc_buffer: pooled per book set (s5b_apc_curve.py)."""
    cur = _load("apc_curve")
    rows = []
    for tuning, label in ((True, "tuning"), (False, "held out (without btc_long_gamma)")):
        books = [b for b in cur["books"] if C.BOOKS.get(b) is tuning and b not in C.NOT_POOLED]
        for buf in cur["buffers"]:
            for m in ("var+capped", "es+capped"):
                ss = [cur["books"][b][str(buf)].get(m) for b in books]
                ss = [x for x in ss if x and x.get("windows") and x.get("im_over_hindsight")]
                exc = sum(x["exceedances"] for x in ss)
                win = sum(x["windows"] for x in ss)
                t = [x["targets"] for x in ss]
                rows.append(
                    [
                        label,
                        f"{buf:g}",
                        m,
                        str(len(ss)),
                        f"{exc} ({0.01 * win:.0f})",
                        pct(1 - exc / win, 2),
                        num(sum(x["im_over_hindsight"] for x in ss) / len(ss)),
                        str(sum(bool(k["no_red_250"]) for k in t)),
                        str(sum(bool(k["kupiec_nonoverlap"]) for k in t)),
                        str(sum(bool(k["efficiency"]) for k in t)),
                    ]
                )
    head = (
        "books",
        "apc_buffer",
        "model",
        "n",
        "exceed. (exp.)",
        "pooled coverage",
        "mean IM / c",
        "no red 250",
        "Kupiec ok",
        "IM ≤ 1.3 c",
    )
    return table(head, rows)


#: Today's model (baseline.json) and the overlay's (recommended.json, MPOR 2) compared.
OOS_MODELS = (("portfolio", "portfolio"), ("var", "var+capped"), ("es", "es+capped"))


def _cell(a: Any, b: Any) -> str:
    return f"{a} → {b}"


def _today(base: Any, rule: Any, book: str, model: str) -> tuple[str, Any]:
    """Today's defaults as the library computes them: var/es with the netting rule
    (``baseline_rule.json``) where it was run, else the baseline's."""
    if rule and model in ("var", "es"):
        return f"{model}+capped", rule["books"][book][f"{model}+capped"]
    return model, base["books"][book]["models"][model]


def oos_counts() -> str:
    """Target counts, today's defaults → the overlay, tuning and held-out books."""
    base, rec, rule = _load("baseline"), _load("recommended"), _load("baseline_rule")
    rows = []
    for tuning, label in ((True, "tuning"), (False, "held out")):
        books = [b for b, t in C.BOOKS.items() if t is tuning]
        for mb, mr in OOS_MODELS:
            sb = [_today(base, rule, b, mb)[1] for b in books]
            mb = _today(base, rule, books[0], mb)[0]
            sr = [rec["books"][b]["mpor2"]["models"][mr] for b in books]

            def count(ss: list[Any], key: str) -> int:
                return sum(bool(x["targets"][key]) for x in ss)

            def eff(ss: list[Any]) -> str:
                return num(sum(x["im_over_hindsight"] for x in ss) / len(ss))

            rows.append(
                [
                    label,
                    f"{mb} → {mr}",
                    str(len(books)),
                    _cell(count(sb, "no_red_250"), count(sr, "no_red_250")),
                    _cell(count(sb, "kupiec_nonoverlap"), count(sr, "kupiec_nonoverlap")),
                    _cell(sum(C.too_many(x) for x in sb), sum(C.too_many(x) for x in sr)),
                    _cell(count(sb, "efficiency"), count(sr, "efficiency")),
                    _cell(eff(sb), eff(sr)),
                ]
            )
    head = (
        "books",
        "model (today → overlay)",
        "n",
        "no red 250",
        "Kupiec ok",
        "too many exc.",
        "IM ≤ 1.3 c",
        "mean IM / c",
    )
    return table(head, rows)


def oos_table() -> str:
    """Every held-out book: today's defaults → the overlay, per model (MPOR 2)."""
    base, rec, rule = _load("baseline"), _load("recommended"), _load("baseline_rule")
    rows = []
    for b in [b for b, t in C.BOOKS.items() if t is False]:
        for mb, mr in OOS_MODELS:
            x, y = _today(base, rule, b, mb)[1], rec["books"][b]["mpor2"]["models"][mr]
            kx, ky = x["kupiec_p_nonoverlap"], y["kupiec_p_nonoverlap"]
            rows.append(
                [
                    b,
                    mr,
                    f"{x['exceedances']} → {y['exceedances']} ({y['expected']:.0f})",
                    f"{x['worst_250']} {x['worst_250_zone']} → {y['worst_250']} {y['worst_250_zone']}",
                    _cell(num(kx, 3), num(ky, 3) + (" many" if C.too_many(y) else "")),
                    _cell(num(x["im_over_hindsight"]), num(y["im_over_hindsight"])),
                    " ".join(
                        mark(y["targets"].get(k))
                        for k in ("no_red_250", "kupiec_nonoverlap", "efficiency")
                    ),
                ]
            )
    head = (
        "held-out book",
        "model",
        "exceed. today → overlay (exp.)",
        "worst 250",
        "Kupiec p (non-ov.)",
        "IM / c",
        "overlay: 250 · Kupiec · eff.",
    )
    return table(head, rows)


def main() -> None:
    print("## baseline (today's defaults)\n")
    print(
        baseline_table(
            (
                "isolated",
                "cross",
                "portfolio",
                "var",
                "es",
                "span",
                "okx-pm",
                "deribit-pm",
                "paradex-pm",
                "derive-pmrm2 (USDC at par)",
                "drift-v2",
                "dydx-v4",
            )
        )
    )
    base = _load("baseline")
    tun = [b for b, t in C.BOOKS.items() if t]
    hold = [b for b, t in C.BOOKS.items() if not t]
    print("\n## baseline target counts, tuning books\n")
    print(target_count(base, ("portfolio", "var", "es"), None, tun))
    print("\n## baseline target counts, held-out books\n")
    print(target_count(base, ("portfolio", "var", "es"), None, hold))
    print("\n## crises (baseline)\n")
    print(crises_table(("portfolio", "var", "es"), "baseline"))
    rec = _load("recommended")
    if rec:
        models = ("isolated", "portfolio", "var", "es", "var+capped", "es+capped")
        print("\n## recommended, tuning books (in sample)\n")
        print(recommended_table(models, tuning=True))
        print("\n## recommended, held-out books (out of sample)\n")
        print(recommended_table(models, tuning=False))
        print("\n## recommended target counts, tuning\n")
        print(
            target_count(rec, ("portfolio", "var", "es", "var+capped", "es+capped"), "mpor2", tun)
        )
        print("\n## recommended target counts, held out\n")
        print(
            target_count(rec, ("portfolio", "var", "es", "var+capped", "es+capped"), "mpor2", hold)
        )
        for h in (1, 5):
            print(f"\n## MPOR {h} check: target counts, all books\n")
            print(
                target_count(rec, ("portfolio", "var+capped", "es+capped"), f"mpor{h}", tun + hold)
            )
        print("\n## crises (recommended)\n")
        print(crises_table(("portfolio", "es+capped", "var+capped")))
        print("\n## out of sample: target counts, today's defaults → overlay\n")
        print(oos_counts())
        print("\n## out of sample: held-out books, today's defaults → overlay\n")
        print(oos_table())
        print("\n## anti-procyclicality: buffer in force / none\n")
        print(apc_table([b for b in C.all_books(with_no_target=False) if b in rec["books"]]))
    if _load("apc_curve"):
        print("\n## var/es over the APC buffer (trade-off curve)\n")
        print(apc_curve_table())


if __name__ == "__main__":
    main()
