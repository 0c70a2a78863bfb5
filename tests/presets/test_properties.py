"""Invariants of every venue preset (hypothesis, profile in tests/conftest.py).

* zero book (no positions, no collateral) -> zero requirements;
* requirements >= 0 in every account (Derive: its signed MM / IM never exceed the mark value);
* homogeneity of degree 1 where the venue has no size terms: scaling every position and balance
  by lambda scales IM and MM by lambda (dYdX up to the quantum; Drift only without a size
  premium — with one it is super-linear). Venues with size terms are checked to be at least
  linear: OKX (MR7 size multipliers), Deribit (extended-table dampener and delta-shock
  threshold, both USD amounts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.config import RiskConfig, default_config
from crossmargin.engine import compute_margin
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.io.market import load_market
from crossmargin.margin.presets import available_presets
from crossmargin.market.snapshot import MarketSnapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "crossmargin" / "examples"
SNAP: MarketSnapshot = load_market(EXAMPLES / "market_crypto.json")

OPTIONS = [
    "BTC-26DEC26-70000-C",
    "BTC-26DEC26-60000-P",
    "BTC-27NOV26-75000-C",
    "ETH-26DEC26-3600-C",
    "ETH-26MAR27-2800-P",
]
PERPS = ["BTC-PERP", "ETH-PERP"]
FUTURES = ["BTC-26DEC26", "ETH-26MAR27", "BTC-PERP-INV", "BTC-26DEC26-INV"]
MENU = {
    "derive-pmrm2": PERPS + OPTIONS,
    "deribit-pm": PERPS + OPTIONS + FUTURES,
    "paradex-pm": PERPS + OPTIONS,
    "okx-pm": PERPS + OPTIONS + FUTURES,
    "span": PERPS + OPTIONS + FUTURES,
    "dydx-v4": PERPS,
    "drift-v2": PERPS,
}
HOMOGENEOUS = {
    "derive-pmrm2": 1e-10,
    "paradex-pm": 1e-10,
    "span": 1e-10,
    "dydx-v4": 1e-6,
    "drift-v2": 1e-9,
}


def test_every_preset_is_registered() -> None:
    assert set(available_presets()) == set(MENU)


def books(names: list[str]) -> st.SearchStrategy[Portfolio]:
    qty = st.floats(-50.0, 50.0).filter(lambda q: abs(q) > 1e-3)

    def make(sel: list[tuple[int, float]], usdc: float, btc: float) -> Portfolio:
        pos = tuple(
            Position(parse_instrument(names[i]), q * (1000.0 if names[i].endswith("INV") else 1.0))
            for i, q in sel
        )
        return Portfolio("p", "USD", {"USDC": usdc, "BTC": btc}, pos)

    return st.builds(
        make,
        st.lists(st.tuples(st.integers(0, len(names) - 1), qty), min_size=1, max_size=6),
        st.floats(0.0, 1e6),
        st.floats(0.0, 10.0),
    )


def scaled(pf: Portfolio, lam: float) -> Portfolio:
    return Portfolio(
        pf.account,
        pf.base_currency,
        {k: v * lam for k, v in pf.collateral.items()},
        tuple(Position(p.contract, p.quantity * lam, p.entry_price) for p in pf.positions),
    )


@pytest.mark.parametrize("preset", sorted(MENU))
def test_zero_book_zero_margin(preset: str) -> None:
    res = compute_margin(Portfolio("empty", "USD", {}, ()), SNAP, model=preset)
    assert float(res.initial_margin[0]) == 0.0 and float(res.maintenance_margin[0]) == 0.0


@pytest.mark.parametrize("preset", sorted(MENU))
@given(data=st.data())
def test_requirements_non_negative_and_homogeneous(preset: str, data: st.DataObject) -> None:
    pf = data.draw(books(MENU[preset]))
    lam = data.draw(st.sampled_from([0.5, 2.0, 3.7]))
    a = compute_margin(pf, SNAP, model=preset, detail=False)
    assert float(a.initial_margin[0]) >= -1e-9 and float(a.maintenance_margin[0]) >= -1e-9
    b = compute_margin(scaled(pf, lam), SNAP, model=preset, detail=False)
    im_a, im_b = float(a.initial_margin[0]), float(b.initial_margin[0])
    if preset in HOMOGENEOUS:
        tol = HOMOGENEOUS[preset]
        assert im_b == pytest.approx(lam * im_a, rel=tol, abs=1e-3)
        assert float(b.maintenance_margin[0]) == pytest.approx(
            lam * float(a.maintenance_margin[0]), rel=tol, abs=1e-3
        )
    elif lam > 1:  # okx-pm, deribit-pm: size terms only ever add margin as size grows
        assert im_b >= lam * im_a * (1 - 1e-9) - 1e-3  # Deribit rounds to 1e-9 coin
    else:
        assert im_b <= lam * im_a * (1 + 1e-9) + 1e-3


@given(pf=books(PERPS + OPTIONS))
def test_derive_signed_margins_never_exceed_the_mark_value(pf: Portfolio) -> None:
    res = compute_margin(pf, SNAP, model="derive-pmrm2", detail=False)
    venue = {a.name: float(a.amount[0]) for a in res.batch.addons if a.name.startswith("venue_")}
    mark = float(res.equity[0])  # equity = Derive's mark value (totalMtM + cash)
    # signed surplus = mark value - a requirement >= 0
    assert venue["venue_mm"] <= mark + 1e-6 and venue["venue_im"] <= mark + 1e-6
    assert venue["venue_im"] == pytest.approx(float(res.free_collateral[0]), rel=1e-9, abs=1e-6)
    mm_surplus = float(res.maintenance_equity[0] - res.maintenance_margin[0])
    assert venue["venue_mm"] == pytest.approx(mm_surplus, rel=1e-9, abs=1e-6)


def test_drift_size_premium_is_super_linear() -> None:
    cfg: RiskConfig = default_config().model_copy(
        update={"presets": {"drift-v2": {"default_perp": {"imf_factor": 0.001}}}}
    )
    pf = Portfolio("p", "USD", {"USDC": 1e6}, (Position(parse_instrument("ETH-PERP"), 100.0),))
    a = compute_margin(pf, SNAP, model="drift-v2", config=cfg)
    b = compute_margin(scaled(pf, 100.0), SNAP, model="drift-v2", config=cfg)
    assert float(b.initial_margin[0]) > 100.0 * float(a.initial_margin[0])


def test_presets_margin_a_venue_in_one_pass() -> None:
    """Batch = accounts alone (the vectorised path never mixes accounts)."""
    rng = np.random.default_rng(7)
    pfs = [
        Portfolio(
            f"a{i}",
            "USD",
            {"USDC": 1e5},
            tuple(
                Position(parse_instrument(n), float(rng.normal(0, 5))) for n in PERPS + OPTIONS[:2]
            ),
        )
        for i in range(4)
    ]
    for preset in ("derive-pmrm2", "deribit-pm", "paradex-pm", "okx-pm", "span"):
        both = compute_margin(pfs, SNAP, model=preset, detail=False)
        for i, pf in enumerate(pfs):
            one = compute_margin(pf, SNAP, model=preset, detail=False)
            assert both.initial_margin[i] == pytest.approx(float(one.initial_margin[0]), rel=1e-12)
            assert both.maintenance_margin[i] == pytest.approx(
                float(one.maintenance_margin[0]), rel=1e-12
            )
