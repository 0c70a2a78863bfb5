"""The replay: stacked vs per-day agreement, realised P&L vs the engine, no look-ahead, rolls."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.backtest import load_book, load_history, run_backtest
from crossmargin.backtest.replay import BookReplay, ReplayOptions, margin_model, prepare
from crossmargin.backtest.schedule import listed_strike
from crossmargin.backtest.snapshots import day_book, day_snapshot
from crossmargin.config import RiskConfig, default_config
from crossmargin.errors import InputError, MarketDataError, ModelError
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Option
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.margin.base import available_models, get_model
from crossmargin.margin.result import MarginBatch
from crossmargin.resolve.book import ResolvedBook, resolve

from .helpers import BUILTIN, book, synthetic_history

#: Stacked and per-day resolution run the same formulas; only summation order may differ.
AGREE_RTOL = 1e-10

CRYPTO_LEGS: list[dict[str, Any]] = [
    {
        "kind": "option",
        "underlying": "BTC",
        "right": "put",
        "moneyness": 0.9,
        "tenor_days": 30,
        "notional": -1e6,
    },
    {
        "kind": "option",
        "underlying": "BTC",
        "right": "call",
        "moneyness": 1.1,
        "tenor_days": 30,
        "notional": -1e6,
    },
    {
        "kind": "option",
        "underlying": "ETH",
        "right": "call",
        "tenor_days": 21,
        "roll_days": 5,
        "notional": 5e5,
    },
    {"kind": "future", "underlying": "ETH", "tenor_days": 60, "notional": 3e5},
    {"kind": "perpetual", "underlying": "BTC", "hedge_delta_notional": 2e6},
    {"kind": "perpetual", "underlying": "ETH", "hedge_delta_notional": -2e6},
    # the same contract twice on one day must net, as in an ordinary resolve
    {"kind": "perpetual", "underlying": "BTC", "notional": 5e5},
]


@pytest.fixture(scope="module")
def cfg() -> RiskConfig:
    return default_config()


@pytest.fixture(scope="module")
def hist():  # type: ignore[no-untyped-def]
    return load_history()


@pytest.fixture(scope="module")
def crypto(cfg: RiskConfig, hist) -> BookReplay:  # type: ignore[no-untyped-def]
    b = book(CRYPTO_LEGS, rebalance="constant_delta")
    return prepare(b, hist, cfg, ReplayOptions(mpor=2, start="2018-01-20", end="2018-03-10"))


@pytest.fixture(scope="module")
def index_rep(cfg: RiskConfig, hist) -> BookReplay:  # type: ignore[no-untyped-def]
    return prepare(
        load_book("spx_ndx_book"),
        hist,
        cfg,
        ReplayOptions(mpor=1, start="2018-01-25", end="2018-02-20"),
    )


@pytest.fixture(scope="module")
def inverse_rep(cfg: RiskConfig, hist) -> BookReplay:  # type: ignore[no-untyped-def]
    return prepare(
        load_book("btc_static"),
        hist,
        cfg,
        ReplayOptions(mpor=3, start="2017-12-01", end="2018-01-10"),
    )


@pytest.mark.parametrize("which", ["crypto", "index_rep", "inverse_rep"])
@pytest.mark.parametrize("model", BUILTIN)
def test_stacked_equals_per_day(
    request: pytest.FixtureRequest, cfg: RiskConfig, which: str, model: str
) -> None:
    rep: BookReplay = request.getfixturevalue(which)
    fast = margin_model(rep, model, cfg, "stacked")
    slow = margin_model(rep, model, cfg, "per-day")
    assert fast.engine == "stacked" and slow.engine == "per-day"
    np.testing.assert_allclose(fast.im, slow.im, rtol=AGREE_RTOL)
    np.testing.assert_allclose(fast.mm, slow.mm, rtol=AGREE_RTOL)
    np.testing.assert_allclose(fast.im_by_und, slow.im_by_und, rtol=AGREE_RTOL)
    assert set(fast.credits) == set(slow.credits)
    for k in fast.credits:
        np.testing.assert_allclose(fast.credits[k], slow.credits[k], rtol=AGREE_RTOL, atol=1e-6)
    auto = margin_model(rep, model, cfg, "auto")
    assert auto.engine == "stacked" and "agrees" in auto.engine_note


def _value_change(rep: BookReplay, cfg: RiskConfig, d: int) -> float:
    """The day-d book's change in account value from t to t + mpor, through the engine."""
    j0 = int(rep.daily.days[d])
    j1 = j0 + rep.mpor
    s0, s1 = day_snapshot(rep.market, j0), day_snapshot(rep.market, j1)
    cons = [rep.daily.contracts[int(i)] for i in rep.daily.contract_id[d]]
    q = rep.daily.quantity[d]
    pf0 = Portfolio(
        "a", positions=tuple(Position(c, float(x)) for c, x in zip(cons, q, strict=True))
    )
    rb0 = resolve(Book.from_portfolios([pf0]), s0, cfg)
    price0 = {
        rb0.instruments.contracts[i]: float(rb0.instruments.fwd[i])
        for i in range(rb0.instruments.n)
    }
    value0 = {
        rb0.instruments.contracts[i]: float(rb0.instruments.value[i])
        for i in range(rb0.instruments.n)
    }
    total = 0.0
    for c, x in zip(cons, q, strict=True):
        if isinstance(c, Option):
            # option premium paid/received at t; inverse premium is held in coin
            pf1 = Portfolio("a", positions=(Position(c, float(x)),))
            rb1 = resolve(Book.from_portfolios([pf1]), s1, cfg)
            v1 = float(rb1.positions.mtm[0])
            v0 = c.multiplier * x * value0[c]
            if c.settlement == "inverse":
                coins = v0 / s0.price(c.underlying)
                total += v1 - coins * s1.price(c.underlying)
            else:
                total += v1 - v0
        else:
            pf1 = Portfolio("a", positions=(Position(c, float(x), entry_price=price0[c]),))
            rb1 = resolve(Book.from_portfolios([pf1]), s1, cfg)
            total += float(rb1.positions.mtm[0])
    return total


@pytest.mark.parametrize("which", ["crypto", "index_rep", "inverse_rep"])
def test_realised_pnl_is_the_engines_mark_to_market(
    request: pytest.FixtureRequest, cfg: RiskConfig, which: str
) -> None:
    rep: BookReplay = request.getfixturevalue(which)
    for d in (0, rep.n_days // 2, rep.n_days - 1):
        assert rep.pnl[d] == pytest.approx(_value_change(rep, cfg, d), rel=1e-9, abs=1e-6)
    assert np.allclose(rep.pnl_by_und.sum(axis=1), rep.pnl, rtol=1e-12)


def test_no_look_ahead(cfg: RiskConfig, hist) -> None:  # type: ignore[no-untyped-def]
    """Perturbing every price after day t leaves day t's margins unchanged, for every model run."""
    b = book(CRYPTO_LEGS[:6], rebalance="constant_delta")
    opts = ReplayOptions(mpor=2, start="2018-05-01", end="2018-05-16")
    t = np.datetime64("2018-05-08")
    rng = np.random.default_rng(1)
    later = hist.dates > t
    vals = hist.prices.copy()
    vals[later] *= np.exp(rng.uniform(-0.05, 0.05, size=vals[later].shape))
    perturbed = hist.with_prices(vals)
    models = [m for m in available_models() if m in (*BUILTIN, "var", "es")]
    base = run_backtest(b, hist, models=models, config=cfg, options=opts, strict=False)
    pert = run_backtest(b, perturbed, models=models, config=cfg, options=opts, strict=False)
    rep = base.replay
    upto = rep.dates <= t
    assert upto.sum() >= 5 and (~upto).sum() >= 3
    checked = 0
    for a, p in zip(base.models, pert.models, strict=True):
        if a.run is None:
            continue
        assert p.run is not None
        np.testing.assert_array_equal(a.run.im[upto], p.run.im[upto])
        np.testing.assert_array_equal(a.run.mm[upto], p.run.mm[upto])
        np.testing.assert_array_equal(a.run.im_by_und[upto], p.run.im_by_und[upto])
        checked += 1
    assert checked >= len(BUILTIN)
    # the book itself (rolls, strikes, sizes) up to t is unchanged too ...
    np.testing.assert_array_equal(rep.daily.quantity[upto], pert.replay.daily.quantity[upto])
    np.testing.assert_array_equal(rep.daily.strike[upto], pert.replay.daily.strike[upto])
    # ... while what happens after t does change (the test can fail)
    ends_after = rep.end_dates > t
    assert not np.allclose(rep.pnl[ends_after], pert.replay.pnl[ends_after])
    assert not np.allclose(
        base.model("portfolio").run.im[~upto],
        pert.model("portfolio").run.im[~upto],  # type: ignore[union-attr]
    )


def test_snapshot_history_is_truncated_at_the_day(crypto: BookReplay) -> None:
    j = int(crypto.daily.days[3])
    snap = day_snapshot(crypto.market, j)
    h = getattr(snap, "history", None)
    if h is None:  # core without historical scenarios: nothing to truncate
        assert crypto.market.history is not None
        return
    assert np.datetime64(h.times[-1], "D") == crypto.market.dates[j]
    assert snap.as_of.date().isoformat() == str(crypto.market.dates[j])


def test_hedges_hit_their_delta_targets(crypto: BookReplay) -> None:
    # BTC net delta notional +2m, ETH -2m every day (hedges solved after the option deltas)
    np.testing.assert_allclose(crypto.delta_by_und[:, 0], 2e6, rtol=1e-9)
    np.testing.assert_allclose(crypto.delta_by_und[:, 1], -2e6, rtol=1e-9)


def test_rolls_are_point_in_time_and_outlive_the_window(crypto: BookReplay) -> None:
    d = crypto.daily
    day_s = crypto.dates.astype("datetime64[s]").astype(np.int64)
    end_s = crypto.end_dates.astype("datetime64[s]").astype(np.int64)
    for li, leg in enumerate(d.legs):
        if not leg.dated:
            assert np.all(d.contract_id[:, li] == d.contract_id[0, li])
            continue
        exp = d.expiry[:, li]
        assert np.all(exp > end_s)  # never expires inside the margin period of risk
        assert np.all(exp - day_s >= leg.roll_days * 86400)
        rolled = np.flatnonzero(d.rolled[:, li])
        assert rolled[0] == 0
        if leg.tenor_days - leg.roll_days < d.n_days - 1:
            assert rolled.size >= 2
        spot = crypto.market.spot[d.days, d.und[li]]
        for k in rolled:
            # opened at the money level of the roll day, expiring tenor days later at 08:00 UTC
            assert exp[k] == day_s[k] + leg.tenor_days * 86400 + 8 * 3600
            if leg.kind == "option":
                # on the 4-significant-figure listing grid around moneyness x spot
                assert d.strike[k, li] == pytest.approx(leg.moneyness * spot[k], rel=5e-4)
                assert d.strike[k, li] == listed_strike(leg.moneyness * spot[k])
        # between rolls nothing changes
        for a, b in zip(rolled, [*rolled[1:], d.n_days], strict=True):
            assert np.all(d.contract_id[a:b, li] == d.contract_id[a, li])


def test_static_and_constant_notional_sizes(index_rep: BookReplay, inverse_rep: BookReplay) -> None:
    # constant notional, rate 0: gross = sum of |notional| every day
    assert np.allclose(index_rep.gross, 2e6 + 2e6 + 1e6 + 1e6 + 0.5e6, rtol=1e-12)
    # static: quantities never change
    q = inverse_rep.daily.quantity
    assert np.all(q == q[0])
    assert q[0, 0] == 1e6 and q[0, 1] == 100


def test_tenor_too_short_for_the_mpor(cfg: RiskConfig) -> None:
    b = book(
        [{"kind": "future", "underlying": "BTC", "tenor_days": 3, "roll_days": 0, "notional": 1e6}]
    )
    with pytest.raises(InputError, match="expires before") as exc:
        prepare(b, synthetic_history(80), cfg, ReplayOptions(mpor=5))
    assert exc.value.path == "legs[0].tenor_days"


def test_input_errors(cfg: RiskConfig, hist) -> None:  # type: ignore[no-untyped-def]
    b = book([{"kind": "perpetual", "underlying": "SOL", "notional": 1e6}])
    with pytest.raises(InputError, match="no column SOL"):
        prepare(b, hist, cfg, ReplayOptions())
    b2 = book([{"kind": "perpetual", "underlying": "BTC", "notional": 1e6}])
    with pytest.raises(InputError, match="no evaluation day") as exc:
        prepare(b2, hist, cfg, ReplayOptions(start="2030-01-01"))
    assert exc.value.path == "--start/--end"
    with pytest.raises(InputError) as exc:
        prepare(b2, hist, cfg, ReplayOptions(mpor=0))
    assert exc.value.path == "--mpor"
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        prepare(b2, hist, cfg, ReplayOptions(start="May"))


def test_gap_windows_are_counted_and_excluded(cfg: RiskConfig) -> None:
    # the first bundled file (Bitfinex): its 2015-01-14 print and Dec 2014 stale stretch
    hist = load_history(Path(__file__).parent / "data" / "bitfinex_daily_2014_2020.csv")
    b = book([{"kind": "perpetual", "underlying": "BTC", "notional": 1e6}])
    rep = prepare(b, hist, cfg, ReplayOptions(mpor=1, end="2015-02-28"))
    i = np.flatnonzero(rep.dates == np.datetime64("2015-01-13"))[0]
    # the dropped 2015-01-14 print leaves a 2-day window that still counts (1 missing day) ...
    assert (
        rep.end_dates[i] == np.datetime64("2015-01-15") and rep.missing[i] == 1 and not rep.gap[i]
    )
    # ... the three-week stale stretch does not
    assert rep.gap.any() and rep.missing.max() >= 20
    res = run_backtest(
        b, hist, models="portfolio", config=cfg, options=ReplayOptions(mpor=1, end="2015-02-28")
    )
    m = res.model("portfolio")
    assert m.windows == int((~rep.gap).sum())
    strict = prepare(b, hist, cfg, ReplayOptions(mpor=1, end="2015-02-28", max_gap_days=0))
    assert strict.gap[i]


@dataclasses.dataclass(frozen=True)
class _AsOfModel:
    """A model whose margin depends on the snapshot date (not batch-safe)."""

    config: RiskConfig
    name: ClassVar[str] = "asof"
    description: ClassVar[str] = "test"

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        base = get_model("portfolio", self.config).compute(book)
        k = 1.0 + (book.snapshot.as_of.toordinal() % 7) / 10
        return dataclasses.replace(base, im=base.im * k, mm=base.mm * k)


@dataclasses.dataclass(frozen=True)
class _EarlyFail:
    """A model that cannot margin the first days (like VaR without enough history)."""

    config: RiskConfig
    name: ClassVar[str] = "early"
    description: ClassVar[str] = "test"

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        # the stacked book (all days) and per-day books of days 1-9 of a month fail
        if book.n_accounts >= 10 or book.snapshot.as_of.day < 10:
            raise MarketDataError("not enough history", path="history.BTC")
        return get_model("portfolio", self.config).compute(book)


def test_auto_engine_falls_back_for_models_that_read_the_snapshot(
    crypto: BookReplay, cfg: RiskConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crossmargin.backtest.replay as rp

    def fake(name: str, config: RiskConfig) -> object:
        fakes: dict[str, Any] = {"asof": _AsOfModel, "early": _EarlyFail}
        return fakes[name](config) if name in fakes else get_model(name, config)

    monkeypatch.setattr(rp, "get_model", fake)
    run = margin_model(crypto, "asof", cfg, "auto")
    assert run.engine == "per-day" and "differs" in run.engine_note
    ref = margin_model(crypto, "portfolio", cfg, "stacked")
    k = np.asarray(
        [1.0 + (np.datetime64(d, "D").astype(object).toordinal() % 7) / 10 for d in crypto.dates]
    )
    np.testing.assert_allclose(run.im, ref.im * k, rtol=1e-10)
    early = margin_model(crypto, "early", cfg, "auto")
    assert early.engine == "per-day"
    miss = np.asarray([np.datetime64(d, "D").astype(object).day < 10 for d in crypto.dates])
    assert np.array_equal(~early.available, miss)
    assert f"no margin on {int(miss.sum())} of {crypto.n_days} days" in early.engine_note


def test_failing_models_are_reported_not_fatal_under_all(
    cfg: RiskConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crossmargin.backtest.replay as rp

    real = rp.get_model

    def fake(name: str, config: RiskConfig) -> object:
        if name == "cross":
            raise ModelError("cannot do this book", path="model")
        return real(name, config)

    monkeypatch.setattr(rp, "get_model", fake)
    b = book([{"kind": "perpetual", "underlying": "BTC", "notional": 1e6}])
    h = synthetic_history(120, columns=("BTC",))
    res = run_backtest(b, h, models=["isolated", "cross", "portfolio"], config=cfg, strict=False)
    assert res.model("cross").run is None and "cannot do this book" in (
        res.model("cross").error or ""
    )
    assert res.model("portfolio").run is not None
    with pytest.raises(ModelError):
        run_backtest(b, h, models=["cross"], config=cfg)


@settings(max_examples=15)
@given(scale=st.floats(0.01, 100.0), mpor=st.integers(1, 5))
def test_realised_pnl_is_linear_in_size(scale: float, mpor: int) -> None:
    cfg = default_config()
    h = synthetic_history(120)
    legs = [dict(x) for x in CRYPTO_LEGS[:4]]
    base = prepare(book(legs), h, cfg, ReplayOptions(mpor=mpor))
    for x in legs:
        x["notional"] = x["notional"] * scale
    big = prepare(book(legs), h, cfg, ReplayOptions(mpor=mpor))
    np.testing.assert_allclose(big.pnl, base.pnl * scale, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(big.gross, base.gross * scale, rtol=1e-12)


def test_day_book_matches_stacked_positions(crypto: BookReplay) -> None:
    b = day_book(crypto.daily, 0, by_underlying=True, name="t")
    assert b.accounts == ("t", "t:BTC", "t:ETH")
    # two BTC perp legs share one contract
    assert len({c.name for c in b.contracts if c.name == "BTC-PERP"}) == 1


@pytest.mark.parametrize(
    ("x", "k"),
    [
        (6762.888, 6763.0),
        (575.217, 575.2),
        (2697.2875, 2697.0),
        (0.123456, 0.1235),
        (19000.4, 19000.0),
    ],
)
def test_listed_strike(x: float, k: float) -> None:
    assert listed_strike(x) == pytest.approx(k, rel=1e-12)
    with pytest.raises(ValueError):
        listed_strike(0.0)
