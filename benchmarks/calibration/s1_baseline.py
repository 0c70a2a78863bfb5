"""Step 1: today's defaults on the 2013-2026 / 1990-2026 history, every book, every model.

    .venv/bin/python benchmarks/calibration/s1_baseline.py            # ~15 min cold, ~1 min cached

Writes ``results/baseline.json`` (per book: calendar, realised losses, hindsight constant; per
model: coverage tests, zones, efficiency, procyclicality, named crises, target checks) and
``results/replica_check.json`` (the var/es replica against the library's per-day resolution on
six probe days of every book). ``isolated``/``cross``/``portfolio`` and the venue presets run
through the library's replay engine; ``var``/``es`` through the replica (``fastvar.py``).
``derive-pmrm2`` is also run as a sensitivity with its cash asset at par
(``presets: {derive-pmrm2: {cash_asset: USD}}``), as docs/validation.md does.

``s1_baseline.py --rule`` adds ``results/baseline_rule.json``: ``var``/``es`` under today's
defaults with the netting-never-costs rule (what the library computes since the rule moved
into the models), through the replica (a few minutes).
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import sys
import time

import common as C
import evaluate as E


def with_rule() -> None:
    """``--rule``: today's var/es *with* the netting-never-costs rule the library now applies
    (``+capped``), every book, MPOR 2 -> ``results/baseline_rule.json`` (the baseline's var/es
    predate the rule's move into the library)."""
    import varparts as VP

    t0 = time.perf_counter()
    out: dict[str, object] = {"what": "current defaults, var/es with the netting rule", "books": {}}
    for b in C.all_books():
        t = time.perf_counter()
        out["books"][b] = VP.summaries(b, None, variants=("capped",))  # type: ignore[index]
        print(f"{b:28s} {time.perf_counter() - t:6.1f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    C.write_json("baseline_rule", out)


def main() -> None:
    if sys.argv[1:] == ["--rule"]:
        with_rule()
        return
    t0 = time.perf_counter()
    books = C.all_books()
    if len(sys.argv) > 1:
        books = [b for b in books if b in sys.argv[1:]]
    out: dict[str, object] = {
        "what": "current defaults (default_risk.yaml) on the new history, MPOR 2",
        "books": {},
    }
    checks: dict[str, object] = {}
    for b in books:
        t = time.perf_counter()
        res = E.evaluate(b, models=(*E.CORE_MODELS, *E.PRESETS), check=True)
        sens = E.evaluate(
            b,
            models=("derive-pmrm2",),
            overlay={"presets": {"derive-pmrm2": {"cash_asset": "USD"}}},
        )
        res["models"]["derive-pmrm2 (USDC at par)"] = sens["models"]["derive-pmrm2"]
        checks[b] = res.pop("checks")
        out["books"][b] = res  # type: ignore[index]
        print(f"{b:28s} {time.perf_counter() - t:6.1f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    if len(sys.argv) > 1:  # named books only: merge into the stored results
        import json

        old = json.loads((C.RESULTS / "baseline.json").read_text())
        old_checks = json.loads((C.RESULTS / "replica_check.json").read_text())["books"]
        out["books"] = {**old["books"], **out["books"]}  # type: ignore[dict-item]
        out["books"] = {b: out["books"][b] for b in C.all_books() if b in out["books"]}  # type: ignore[index, attr-defined]
        checks = {
            b: ({**old_checks, **checks})[b] for b in C.all_books() if b in {**old_checks, **checks}
        }
    C.write_json("baseline", out)
    C.write_json("replica_check", {"books": checks})


if __name__ == "__main__":
    main()
