"""Step 3: parameter search for ``var`` / ``es`` (lookback, EWMA λ, stress weighting, correlation stress).

    .venv/bin/python benchmarks/calibration/s3_search_var.py          # ~2 h cold on a busy machine, ~3 min cached

Each configuration overlay is run by the vectorised replica (:mod:`fastvar`, exact against the
library: ``results/replica_check.json``) on the tuning books, both models in one pass, and
summarised in three variants: ``plain`` (the library's formula), ``capped`` (netting never
costs: :func:`fastvar.netting_never_costs`) and ``nocorr`` (without the correlation-breakdown
add-on, for the attribution of its cost). Stages, coarse to fine:

1. filter and lookback: FHS λ 0.97 over 1 and 2 years, λ 0.94 and 0.99 over 2 years, plain HS
   over 2 years;
2. on the best of stage 1: anti-procyclicality — stress weight 0.25 with the new history's
   crises added to the stress periods, and the other EMIR Art. 28 options (10-year floor, 25 %
   buffer) without stress weight;
3. on the best of stage 2: the correlation stress without the worst-window target, at low
   factor 0.5 and 0.75 (the default is 0.5 with the worst window).

Choice rule as for the grid (``common.choice_key``): safety (no red worst-250, no Kupiec
rejection for too many exceedances), then the most target checks met, then the lowest mean
IM / hindsight — for ``es+capped`` and ``var+capped`` together (with the netting rule).
Writes ``results/var_search.json`` and ``results/var_choice.json``.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import common as C
import evaluate as E
import varparts as VP

TUNING = [b for b, t in C.BOOKS.items() if t]

KEEP = (
    "windows",
    "nonoverlap_windows",
    "exceedances",
    "kupiec_p_nonoverlap",
    "nonoverlap_exceedances",
    "worst_250",
    "worst_250_zone",
    "hindsight_constant",
    "avg_im_over_gross",
    "im_over_hindsight",
    "im_over_isolated",
    "peak_to_trough_rate",
    "max_5day_rise",
    "es_z2",
    "first",
)

#: The new history's crises as extra stress periods (label, start, end).
NEW_STRESS = [
    {"start": "2008-09-01", "end": "2009-03-31", "label": "GFC"},
    {"start": "2017-12-01", "end": "2018-12-31", "label": "crypto 2018 bust"},
    {"start": "2020-02-20", "end": "2020-04-30", "label": "COVID"},
    {"start": "2022-05-01", "end": "2022-12-31", "label": "LUNA/UST, 3AC, FTX"},
]


def stage1() -> list[dict[str, Any]]:
    """Filter and lookback (the default, FHS λ 0.97 over 730 days, first)."""
    pts = [
        ("fhs", 0.97, 730),
        ("fhs", 0.97, 365),
        ("fhs", 0.94, 730),
        ("fhs", 0.99, 730),
        ("hs", None, 730),
    ]
    out = []
    for method, lam, lb in pts:
        if (method, lam, lb) == ("fhs", 0.97, 730):
            out.append({})  # the shipped default
            continue
        v: dict[str, Any] = {"method": method, "lookback_days": lb}
        if lam is not None:
            v["ewma_lambda"] = lam
        out.append({"var": v})
    return out


def stage2(base: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Anti-procyclicality: stress weighting with the new crises, or the other EMIR options."""
    v = dict(base.get("var", {}))
    return [
        {"var": v | {"stress_weight": 0.25, "stress_periods": NEW_STRESS}},
        {"var": v | {"anti_procyclicality": "floor", "stress_weight": 0.0}},
        {"var": v | {"anti_procyclicality": "buffer", "stress_weight": 0.0}},
    ]


def stage3(base: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Correlation stress (the default low factor 0.5 with worst window is stage 2's best)."""
    out = []
    for lf, ww in ((0.5, False), (0.75, False)):
        cb = {"low_factor": lf, "worst_window": ww}
        out.append(dict(base) | {"margin_addons": {"correlation_breakdown": cb}})
    return out


def evaluate(ov: Mapping[str, Any], books: Sequence[str]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for b in books:
        s = VP.summaries(b, ov, keep=KEEP)
        # without the correlation add-on (attribution only)
        for kind in ("var", "es"):
            vp = VP.parts(b, ov)[kind]
            run = vp.run(0.8, im=vp.im - vp.corr)
            cfg = C.overlay_config(ov)
            rep = C.replay(b, 2, cfg)
            iso = E.model_run(b, "isolated")
            full = C.model_summary(rep, run, isolated=iso, config=cfg)
            s[f"{kind}+nocorr"] = {k: full[k] for k in KEEP} | {"targets": full["targets"]}
        rows[b] = s
    return {"overlay": ov, "books": rows}


def score(res: Mapping[str, Any], books: Sequence[str], models: Sequence[str]) -> tuple[Any, ...]:
    """Sort key of the choice rule (:func:`common.choice_key`) over books × models."""
    return C.choice_key([res["books"][b][m] for b in books for m in models])


def main() -> None:
    t0 = time.perf_counter()
    models = ("es+capped", "var+capped")
    results: dict[str, list[dict[str, Any]]] = {}

    def run_stage(name: str, ovs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for i, ov in enumerate(ovs):
            out.append(evaluate(ov, TUNING))
            print(f"{name} {i + 1}/{len(ovs)} {time.perf_counter() - t0:6.0f} s", flush=True)
        out.sort(key=lambda r: score(r, TUNING, models))
        results[name] = out
        return out

    s1 = run_stage("stage1", stage1())
    s2r = run_stage("stage2", [s1[0]["overlay"], *stage2(s1[0]["overlay"])])
    s3r = run_stage("stage3", [s2r[0]["overlay"], *stage3(s2r[0]["overlay"])])
    default = evaluate({}, TUNING)
    choice = s3r[0]
    C.write_json(
        "var_search",
        {
            "what": "var/es replica, tuning books, MPOR 2; variants plain/capped/nocorr",
            "tuning_books": TUNING,
            "stages": results,
            "seconds": time.perf_counter() - t0,
        },
    )
    C.write_json(
        "var_choice",
        {
            "rule": "common.choice_key over es+capped and var+capped on the tuning books",
            "default": default,
            "choice": choice,
            "score_default": score(default, TUNING, models),
            "score_choice": score(choice, TUNING, models),
        },
    )
    print(json.dumps(choice["overlay"]), f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        TUNING = [b for b in TUNING if b in sys.argv[1:]]
    main()
