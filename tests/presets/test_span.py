"""CME SPAN: CME's published spread examples and a constructed scan (span.md §4), the risk-array
file layout, the ``venue-case span`` command and generated risk arrays (fast vs slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from crossmargin.cli.app import app
from crossmargin.config import default_config
from crossmargin.engine import compute_margin
from crossmargin.instruments import Book, Portfolio, Position, parse_instrument
from crossmargin.io.market import load_market
from crossmargin.kernels.reference import black76_price_scalar
from crossmargin.margin.presets.span.model import SCAN_POINTS, span_params, span_risk_arrays
from crossmargin.resolve import resolve
from crossmargin.venues.span.files import load_span_file, run_span_file, span_file_from_obj

#: CME publishes whole dollars; ours are exact sums of the arrays.
DOLLAR = 1e-9
runner = CliRunner()


def test_cme_inter_commodity_example(data: Path) -> None:
    run = run_span_file(load_span_file(data / "span_cme_inter_corn_soybeans.json"))
    r = run.result
    assert r.scan.sum() == pytest.approx(6000.0, abs=DOLLAR)  # 2 x 1 750 + 2 500
    assert sorted(r.credit.tolist()) == pytest.approx([1375.0, 1925.0], abs=DOLLAR)
    assert float(r.maintenance_total[0]) == pytest.approx(2700.0, abs=DOLLAR)


@pytest.mark.parametrize(
    ("account", "scan", "intra", "margin"),
    [(0, 0.0, 200.0, 200.0), (1, 250.0, 50.0, 300.0), (2, 250.0, 0.0, 250.0)],
)
def test_cme_intra_commodity_examples(
    data: Path, account: int, scan: float, intra: float, margin: float
) -> None:
    r = run_span_file(load_span_file(data / "span_cme_intra_calendar.json")).result
    assert float(r.scan[account]) == pytest.approx(scan, abs=DOLLAR)
    assert float(r.intra[account]) == pytest.approx(intra, abs=DOLLAR)
    assert float(r.maintenance_total[account]) == pytest.approx(margin, abs=DOLLAR)


def test_constructed_single_future_scan(data: Path) -> None:
    r = run_span_file(load_span_file(data / "span_constructed_future.json")).result
    np.testing.assert_allclose(r.maintenance_total, [3000.0, 3000.0])
    assert int(r.active[0]) + 1 == 13  # long: scenario 13 (-PSR, vol +)
    assert int(r.active[1]) + 1 == 11  # short: every sign flips, scenario 11 (+PSR, vol +)


@pytest.mark.parametrize(
    "name",
    [
        "span_cme_inter_corn_soybeans.json",
        "span_cme_intra_calendar.json",
        "span_constructed_future.json",
    ],
)
def test_venue_case_span_cli(data: Path, name: str) -> None:
    res = runner.invoke(
        app, ["venue-case", "span", str(data / name), "--check", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ok"] is True
    assert runner.invoke(app, ["venue-case", "span", str(data / name)]).exit_code == 0


def _options_file(method: str = "normal") -> dict[str, object]:
    fut = [0, 0, -100, -100, 100, 100, -200, -200, 200, 200, -300, -300, 300, 300, -210, 210]
    tiny = [1, 1, 0, 0, 2, 2, 0, 0, 3, 3, 0, 0, 4, 4, 0, 5]
    return {
        "format": "crossmargin-span-1",
        "combined_commodities": {
            "A": {
                "tiers": ["T1"],
                "som_rate": 50,
                "wfpr_method": method,
                "scan_range_per_delta": 150,
            },
            "B": {"tiers": ["T1"], "wfpr_method": method, "scan_range_per_delta": 150},
        },
        "inter_spreads": [
            {"credit": 0.5, "legs": [{"cc": "A", "side": "A"}, {"cc": "B", "side": "B"}]}
        ],
        "contracts": {
            "A-F": {"cc": "A", "tier": "T1", "risk_array": fut, "delta": 1},
            "B-F": {"cc": "B", "tier": "T1", "risk_array": fut, "delta": 1},
            "A-C": {
                "cc": "A",
                "tier": "T1",
                "risk_array": tiny,
                "delta": 0.05,
                "kind": "option",
                "right": "call",
                "value": 2.0,
            },
            "A-P": {
                "cc": "A",
                "tier": "T1",
                "risk_array": tiny,
                "delta": -0.05,
                "kind": "option",
                "right": "put",
                "value": 3.0,
            },
        },
        "accounts": [
            {
                "account": "short-wings",
                "positions": [
                    {"contract": "A-C", "quantity": -3},
                    {"contract": "A-P", "quantity": -1},
                ],
            },
            {
                "account": "pair",
                "positions": [
                    {"contract": "A-F", "quantity": 1},
                    {"contract": "B-F", "quantity": -1},
                ],
            },
        ],
    }


def test_short_option_minimum_and_net_option_value() -> None:
    r = run_span_file(span_file_from_obj(_options_file())).result
    # deep OTM short options: scan ~0, SOM = 50 x max(3 calls, 1 put) = 150 binds
    assert float(r.som[0]) == 150.0 and float(r.risk[0]) == 150.0
    assert float(r.nov[0]) == pytest.approx(-3 * 2.0 - 3.0)  # short options add their value


@pytest.mark.parametrize(
    ("method", "credit"),
    [("normal", 0.5 * 300), ("scan_range", 0.5 * 150), ("scan_range_cap", 0.5 * 150)],
)
def test_wfpr_methods(method: str, credit: float) -> None:
    r = run_span_file(span_file_from_obj(_options_file(method))).result
    rows = np.flatnonzero(r.g_account == 1)
    np.testing.assert_allclose(r.credit[rows], credit)  # per leg: 1 spread x ratio 1 x WFPR x 50 %


def test_bad_file_is_one_line_error(tmp_path: Path) -> None:
    obj = _options_file()
    obj["accounts"] = [{"account": "x", "positions": [{"contract": "NOPE", "quantity": 1}]}]  # type: ignore[index]
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(obj))
    res = runner.invoke(app, ["venue-case", "span", str(f)])
    assert res.exit_code == 2
    assert "unknown contract 'NOPE'" in res.stderr and len(res.stderr.strip().splitlines()) == 1


# -- generated arrays ------------------------------------------------------------------------------
def test_generated_arrays_match_a_scalar_revaluation(examples: Path) -> None:
    snap = load_market(examples / "market_crypto.json")
    names = ["BTC-26DEC26-70000-C", "BTC-26DEC26-60000-P", "BTC-PERP", "ETH-26DEC26-3600-C"]
    pf = Portfolio("a", "USD", {}, tuple(Position(parse_instrument(n), 1.0) for n in names))
    rb = resolve(Book.from_portfolios([pf]), snap, default_config())
    p = span_params()
    arr = span_risk_arrays(rb, p)
    inst = rb.instruments
    moves = [m for m, _ in SCAN_POINTS] + [p.extreme_multiple, -p.extreme_multiple]
    vols = [v for _, v in SCAN_POINTS] + [0, 0]
    for i in range(inst.n):
        for s, (m, v) in enumerate(zip(moves, vols, strict=True)):
            u = arr.psr[i] * m
            w = 1.0 if s < 14 else p.extreme_cover
            if inst.kind[i] == 3:  # option: value at the look-ahead time
                t = max(float(inst.t[i]) - p.lookahead_days / 365.0, 0.0)
                sig = float(inst.sigma[i]) * (1.0 + v * p.vol_scan_range)
                V = black76_price_scalar(
                    float(inst.fwd[i]) * (1 + u),
                    float(inst.strike[i]),
                    t,
                    sig,
                    float(inst.discount[i]),
                    bool(inst.is_call[i]),
                )
                want = -(V - float(inst.value[i])) * w
            else:
                want = -float(inst.fwd[i]) * u * w
            assert arr.losses[i, s] == pytest.approx(want, rel=1e-10, abs=1e-8), (names[i], s)
    assert math.isclose(float(arr.delta[2]), float(inst.delta[2]))


def test_generated_model_long_future_and_calendar(examples: Path) -> None:
    snap = load_market(examples / "market_crypto.json")
    fut = compute_margin(
        Portfolio("a", "USD", {}, (Position(parse_instrument("BTC-26DEC26"), 1.0),)),
        snap,
        model="span",
    )
    F = 65_300.0  # 26DEC26 forward; PSR 14 % (crypto grid), extremes 2 x 35 % = 0.7 PSR < 1 PSR
    assert float(fut.maintenance_margin[0]) == pytest.approx(0.14 * F, rel=1e-12)
    assert float(fut.initial_margin[0]) == pytest.approx(1.1 * 0.14 * F, rel=1e-12)
    cal = compute_margin(
        Portfolio(
            "a",
            "USD",
            {},
            (
                Position(parse_instrument("BTC-26DEC26"), 1.0),
                Position(parse_instrument("BTC-26MAR27"), -1.0),
            ),
        ),
        snap,
        model="span",
    )
    intra = next(a for a in cal.batch.addons if a.name == "intra_commodity")
    assert float(intra.amount[0]) > 0.0  # a calendar spread is charged
    assert float(cal.maintenance_margin[0]) < float(fut.maintenance_margin[0])
