"""The ``var`` and ``es`` models: acceptance invariants, risk arrays, explain, fail-closed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossmargin import Book, Future, Option, Perpetual, compute_margin, explain_dict, resolve
from crossmargin.errors import MarketDataError
from crossmargin.kernels.reference import black76_price_scalar
from crossmargin.market.snapshot import AssetMarket
from crossmargin.risk.pnl import joint_unit_pnl
from crossmargin.scenarios.joint import JointScenarioSet

from .helpers import AS_OF, addon, config, crypto_market, gbm_frame, history_of_frame, margin
from .helpers import portfolio as pf

#: Float rounding of sums over a few thousand scenario P&Ls.
REL = 1e-9


@pytest.fixture(scope="module")
def snap(tmp_path_factory: pytest.TempPathFactory) -> object:
    df = gbm_frame(["BTC", "ETH"], n=900, vols=[0.6, 0.8], corr=0.6, start="2018-01-01")
    return crypto_market(history=history_of_frame(df, tmp_path_factory.mktemp("var")))


CORE = config(addons=(), anti_procyclicality="none")  # no add-ons, no APC buffer: the measure


def im(p: object, snap: object, model: str, cfg: object = CORE) -> float:
    return float(margin(p, snap, model, cfg).initial_margin[0])  # type: ignore[arg-type]


def test_es_at_least_var_at_matched_confidence(snap: object) -> None:
    books = [
        pf(("BTC-PERP", 1.0)),
        pf(("BTC-PERP", 3.0), ("ETH-PERP", -40.0)),
        pf(("BTC-26DEC26-70000-C", -5.0), ("BTC-26DEC26-60000-P", 3.0), ("ETH-PERP", 10.0)),
    ]
    for alpha in (0.975, 0.99):
        cfg = config(addons=(), var_confidence=alpha, es_confidence=alpha)
        for b in books:
            assert im(b, snap, "es", cfg) >= im(b, snap, "var", cfg) > 0


def test_diversified_book_es_below_sum_of_single_asset_es(snap: object) -> None:
    btc, eth = ("BTC-PERP", 2.0), ("ETH-PERP", 40.0)
    both = im(pf(btc, eth), snap, "es")
    assert both < im(pf(btc), snap, "es") + im(pf(eth), snap, "es")


def test_core_measure_is_homogeneous_in_size(snap: object) -> None:
    a = im(pf(("BTC-PERP", 1.0), ("ETH-PERP", -10.0)), snap, "es")
    b = im(pf(("BTC-PERP", 3.0), ("ETH-PERP", -30.0)), snap, "es")
    assert b == pytest.approx(3 * a, rel=REL)


def test_components_sum_to_the_measure_and_explain(snap: object) -> None:
    res = margin(pf(("BTC-PERP", 2.0), ("ETH-PERP", -30.0)), snap, "es", CORE)
    d = explain_dict(res, 0)
    md = d["model_detail"]
    total = sum(c["component"] for c in md["components"])
    assert total == pytest.approx(md["risk_measure"]["value"], rel=REL)
    assert total == pytest.approx(d["initial_margin"], rel=REL)
    assert [c["underlying"] for c in md["components"]] == ["BTC", "ETH"]
    rows = md["tail_scenarios"]
    assert rows and all(".." in r["scenario"] for r in rows)  # window dates drive the tail
    assert rows[0]["loss"] >= rows[-1]["loss"]
    assert set(rows[0]["pnl"]) == {"BTC", "ETH"}
    assert any(line.startswith("ES 97.5%") for line in d["derivation"])


def test_unit_pnl_matches_scalar_revaluation() -> None:
    # fast risk arrays vs one-by-one Black-76 (kernels/reference.py) under two joint scenarios
    snap = crypto_market()
    dec = Option("BTC", expiry=_dec26(), strike=70_000.0, right="call")
    inv = Option("BTC", expiry=_dec26(), strike=60_000.0, right="put", settlement="inverse")
    fut = Future("ETH", expiry=_dec26())
    perp = Perpetual("BTC", settlement="inverse")
    book = Book.from_portfolios([pf()])
    book = Book(**{**_fields(book), "contracts": (dec, inv, fut, perp)})
    rb = resolve(book, snap, config())
    inst = rb.instruments
    scen = JointScenarioSet(
        ("BTC", "ETH"),
        np.array([[-0.1, 0.05], [0.2, -0.03]]),
        np.array([[0.3, -0.1], [0.0, 0.0]]),
        np.array([0.5, 0.5]),
        ("a", "b"),
        np.zeros(2, np.int64),
    )
    u = joint_unit_pnl(inst, scen, rb.config)
    grid = rb.config.risk_classes["crypto"].grid
    for s in range(2):
        for i, inverse in ((0, False), (1, True)):
            m, v = scen.spot_move[0, s], scen.vol_move[0, s]
            scale = (grid.vega_power_cutoff_days / max(inst.dte[i], 1.0)) ** (
                grid.short_term_vega_power if inst.dte[i] < 30 else grid.long_term_vega_power
            )
            V = black76_price_scalar(
                float(inst.fwd[i] * (1 + m)), float(inst.strike[i]), float(inst.t[i]),
                float(inst.sigma[i] * np.exp(v * scale)), float(inst.discount[i]),
                bool(inst.is_call[i]),
            )  # fmt: skip
            base = inst.value[i] * (1 + m) if inverse else inst.value[i]
            assert u[i, s] == pytest.approx(V - base, rel=1e-9)
        assert u[2, s] == pytest.approx(inst.fwd[2] * scen.spot_move[1, s], rel=1e-12)
        assert u[3, s] == pytest.approx(
            inst.spot[3] / inst.fwd[3] * scen.spot_move[0, s], rel=1e-12
        )


def _dec26() -> object:
    from datetime import UTC, datetime

    return datetime(2026, 12, 26, 8, tzinfo=UTC)


def _fields(book: Book) -> dict[str, object]:
    return {f: getattr(book, f) for f in book.__dataclass_fields__}


def test_account_margin_independent_of_other_accounts(snap: object) -> None:
    # an SPX holder elsewhere in the book must not change a crypto account's scenario set
    alone = margin(pf(("BTC-PERP", 2.0), account="a"), snap, "es", CORE)
    snap2 = _with_spx(snap)
    both = margin(
        [pf(("BTC-PERP", 2.0), account="a"), pf(("SPX-PERP", 1.0), account="b")], snap2, "es", CORE
    )
    assert both.initial_margin[0] == pytest.approx(alone.initial_margin[0], rel=REL)


def _with_spx(snap: object, tmp: Path | None = None) -> object:
    from dataclasses import replace

    h = snap.history  # type: ignore[attr-defined]
    t = h.times
    spx = np.where(np.arange(t.size) % 7 < 5, 5000.0 * np.exp(np.linspace(0, 0.1, t.size)), np.nan)
    h2 = replace(h, assets=(*h.assets, "SPX"), prices=np.column_stack([h.prices, spx]))
    assets = dict(snap.assets)  # type: ignore[attr-defined]
    assets["SPX"] = AssetMarket(price=6000.0, vol=0.2)
    return replace(snap, assets=assets, history=h2)  # type: ignore[type-var]


def test_missing_history_fails_closed(snap: object) -> None:
    s = _add_sol(snap)
    with pytest.raises(MarketDataError) as e:
        margin(pf(("SOL-PERP", 10.0)), s, "var")
    assert e.value.path == "history.SOL" and "--history" in e.value.reason


def _add_sol(snap: object) -> object:
    from dataclasses import replace

    assets = dict(snap.assets)  # type: ignore[attr-defined]
    assets["SOL"] = AssetMarket(price=150.0, vol=0.9)
    return replace(snap, assets=assets)  # type: ignore[type-var]


def test_apc_buffer_and_floor(snap: object) -> None:
    b = pf(("BTC-PERP", 2.0), ("ETH-PERP", -20.0))
    base = im(b, snap, "es", config(addons=(), anti_procyclicality="none"))
    buf = margin(b, snap, "es", config(addons=(), anti_procyclicality="buffer"))
    assert buf.initial_margin[0] == pytest.approx(1.25 * base, rel=REL)
    assert addon(buf, "apc_buffer") == pytest.approx(0.25 * base, rel=REL)
    # floor: IM = max(R, R over the 10-year plain-HS lookback) = R + max(0, R10 - R)
    plain = im(b, snap, "es", config(addons=(), anti_procyclicality="none", stress_weight=0.0))
    flo = margin(b, snap, "es", config(addons=(), anti_procyclicality="floor", stress_weight=0.0))
    assert addon(flo, "apc_floor") >= 0.0
    assert flo.initial_margin[0] == pytest.approx(plain + addon(flo, "apc_floor"), rel=REL)
    rows = [r for r in flo.batch.addons if r.name == "apc_floor"]
    assert "10-year plain-HS ES" in rows[0].description


def test_stress_weight_option_needs_a_quarter() -> None:
    from crossmargin.errors import ConfigError

    with pytest.raises(ConfigError, match="EMIR RTS 153/2013"):
        config(anti_procyclicality="stress_weight", stress_weight=0.1)


def test_wrong_way_collateral() -> None:
    # bundled history: BTC's worst 2-day fall in the 2018-2020 lookback exceeds the 15 % haircut
    snap = crypto_market()
    cfg = config(addons=("wrong_way",))
    long_btc = margin(pf(("BTC-PERP", 5.0), collateral={"BTC": 10.0}), snap, "es", cfg)
    short_btc = margin(pf(("BTC-PERP", -5.0), collateral={"BTC": 10.0}), snap, "es", cfg)
    usd = margin(pf(("BTC-PERP", 5.0), collateral={"USD": 650_000.0}), snap, "es", cfg)
    assert addon(long_btc, "wrong_way_collateral") > 0
    assert addon(short_btc, "wrong_way_collateral") == 0.0
    assert addon(usd, "wrong_way_collateral") == 0.0


def test_examples_run_with_bundled_history(examples: Path) -> None:
    from crossmargin import load_market, load_portfolios

    for book, mkt in (
        ("hedged_book.json", "market_crypto.json"),
        ("index_book.json", "market_index.json"),
    ):
        pfs, prefixes = load_portfolios(examples / book)
        for model in ("var", "es"):
            snap = load_market(examples / mkt)
            # the examples are dated after the bundled history ends: refused unless opted in
            with pytest.raises(MarketDataError, match="ends 2026-03-27"):
                compute_margin(pfs, snap, model=model, prefixes=prefixes)
            r = compute_margin(pfs, snap, model=model, prefixes=prefixes, config=config())
            assert np.all(r.initial_margin > 0) and np.all(np.isfinite(r.initial_margin))
            assert np.all(r.maintenance_margin <= r.initial_margin)
            assert "history_stale" in {w.code for w in r.batch.warnings}


def test_no_live_position_means_no_requirement(snap: object) -> None:
    r = margin(pf(collateral={"USD": 1000.0}), snap, "es")
    assert r.initial_margin[0] == 0.0 and r.status(0) == "healthy"
    assert AS_OF.year == 2026
