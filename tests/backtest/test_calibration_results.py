"""The calibration study's stored results agree with docs/calibration.md (issue 13).

The backtests themselves run in ``benchmarks/calibration`` (minutes to hours); their JSON is
committed and these tests hold the document to it: a re-run that changes a documented number
fails here until the page is updated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "calibration" / "results"
DOC = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
TUNING = (
    "crypto_options_perps", "btc_static", "mixed_crypto_equity", "spx_ndx_book", "spx_ndx_20y",
    "btc_perp_long", "eth_perp_short", "spx_future_long", "ndx_future_short",
    "btc_eth_perp_pair", "btc_short_straddle_dh", "spx_ndx_pair", "eth_ndx_hedge",
)  # fmt: skip
HELD_OUT = (
    "btc_eth_long_basket", "btc_covered_call", "btc_option_calendar", "usdc_collateral_short_btc",
    "eth_short_strangle", "btc_long_gamma", "eth_only_perp", "spx_put_writer",
)  # fmt: skip
CRISES = ("2020-03-12", "2021-05-19", "2022-05", "2022-11", "2023-03-11", "2024-08-05")


def _load(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def baseline() -> Any:
    return _load("baseline")


def test_every_named_crisis_is_in_the_evidence(baseline: Any) -> None:
    crises = {
        c["crisis"]
        for c in baseline["books"]["crypto_options_perps"]["models"]["portfolio"]["crises"]
    }
    for day in CRISES:
        assert any(day in c for c in crises), day
        assert day in DOC


@pytest.mark.parametrize(
    ("model", "no_red", "kupiec_ok"), [("portfolio", 6, 4), ("var", 12, 0), ("es", 12, 0)]
)
def test_baseline_target_counts_as_documented(
    baseline: Any, model: str, no_red: int, kupiec_ok: int
) -> None:
    rows = [baseline["books"][b]["models"][model] for b in TUNING]
    assert sum(r["targets"]["no_red_250"] for r in rows) == no_red
    assert sum(r["targets"]["kupiec_nonoverlap"] for r in rows) == kupiec_ok
    assert f"| {model} | 13 | {no_red} | {kupiec_ok} |" in DOC


def test_pairs_are_where_the_grid_credit_fails(baseline: Any) -> None:
    pair = baseline["books"]["btc_eth_perp_pair"]["models"]["portfolio"]
    assert pair["exceedances"] == 73 and pair["worst_250_zone"] == "red"
    spx = baseline["books"]["spx_ndx_pair"]["models"]["portfolio"]
    assert spx["worst_250"] == 48 and spx["worst_250_zone"] == "red"


def test_netting_measurements_as_documented() -> None:
    n = _load("netting")["random_summary"]
    assert n["portfolio"]["violations_today"] == 0
    assert (n["var"]["violations_today"], n["es"]["violations_today"]) == (71, 59)
    assert n["var"]["accounts"] == n["es"]["accounts"] == 400
    assert "| var | 71 / 400 |" in DOC and "| es | 59 / 400 |" in DOC


def test_replica_agrees_with_todays_library_on_every_book() -> None:
    # s1b_replica_check.py: var/es replica (with the netting rule) vs the library's per-day
    # resolution on sample days of every book, defaults and recommended overlay
    rc = _load("replica_recheck")
    assert set(rc["books"]) == set(TUNING) | set(HELD_OUT) | {"btc_basis_trade"}
    for book, per in rc["books"].items():
        for cfg in ("default", "overlay"):
            r = per[cfg]
            assert r["probe_days"] >= 16 and r["library_failures"] == 0, (book, cfg)
            for key in (
                "max_rel_diff_im",
                "max_rel_diff_standalone",
                "max_rel_diff_position_alone",
            ):
                assert r[key] <= 1e-12, (book, cfg, key, r[key])
    assert rc["probes"] == 752 and rc["max_rel_diff"] <= 2.9e-14
    assert "752 probe comparisons" in DOC and "2.9 × 10⁻¹⁴" in DOC
