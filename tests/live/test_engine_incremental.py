"""The incremental state equals a from-scratch margin, under every model; batching and replays
change nothing.

Reference: ``crossmargin.engine.margin_book`` of the engine's own accounts exported as a book
(:meth:`LiveEngine.to_book`) on its final snapshot — the whole-book batch path, independent of
the engine's caches. Tolerance: 1e-9 relative + 1e-6 absolute (float summation order differs
between a per-group cache and a whole-book run), statuses equal.
"""

from __future__ import annotations

import numpy as np
import pytest

from crossmargin.config import default_config
from crossmargin.engine import margin_book
from crossmargin.instruments.contracts import Future, Option, Perpetual
from crossmargin.live.engine import LiveEngine
from crossmargin.live.settings import LiveSettings

from .streams import feed, restrict, stream, venue

RTOL, ATOL = 1e-9, 1e-6

#: model → (contract kinds it margins, accounts, inputs)
MODELS = {
    "portfolio": ((Perpetual, Future, Option), 40, 240),
    "isolated": ((Perpetual, Future, Option), 30, 160),
    "cross": ((Perpetual, Future, Option), 30, 160),
    "span": ((Perpetual, Future, Option), 20, 80),
    "deribit-pm": ((Perpetual, Future, Option), 20, 80),
    "okx-pm": ((Perpetual, Future, Option), 20, 80),
    "derive-pmrm2": ((Perpetual, Option), 20, 80),
    "paradex-pm": ((Perpetual, Option), 20, 80),
    "drift-v2": ((Perpetual,), 20, 80),
    "dydx-v4": ((Perpetual,), 20, 80),
    "var": ((Perpetual, Future, Option), 8, 30),
    "es": ((Perpetual, Future, Option), 8, 30),
}


def _check_equal(engine: LiveEngine, model: str) -> None:
    res = margin_book(engine.to_book(), engine.market, model=model, config=engine.config)
    views = {v.account: v for v in engine.accounts()}
    assert set(views) == set(res.accounts)
    for i, name in enumerate(res.accounts):
        v = views[name]
        for mine, ref in (
            (v.equity, res.equity[i]),
            (v.maintenance_equity, res.maintenance_equity[i]),
            (v.initial_margin, res.initial_margin[i]),
            (v.maintenance_margin, res.maintenance_margin[i]),
        ):
            assert abs(mine - ref) <= ATOL + RTOL * max(abs(mine), abs(ref)), (name, mine, ref)
        assert v.status == res.status(i), name


@pytest.mark.parametrize("model", sorted(MODELS))
def test_incremental_equals_scratch(model: str) -> None:
    kinds, n_acc, n_in = MODELS[model]
    v = restrict(venue(n_acc, seed=5), kinds)
    items = stream(v, n_in, seed=11, crash=0.3, clock_every=0)
    settle = "USDC" if model in ("derive-pmrm2", "paradex-pm", "drift-v2", "dydx-v4") else None
    base = default_config()  # the bundled history ends before as_of: var/es opt in explicitly
    cfg = base.model_copy(update={"var": base.var.model_copy(update={"allow_stale_history": True})})
    engine = LiveEngine.open(
        market=v.market,
        accounts=v.book,
        model=model,
        config=cfg,
        settings=LiveSettings(settlement_asset=settle),
    )
    events = feed(engine, items)
    assert sum(1 for es in events for e in es if e.type != "input_refused") > 0
    _check_equal(engine, model)
    report = engine.sweep()
    assert report.ok, report.mismatches
    assert report.max_abs_diff <= 1e-6
    _check_equal(engine, model)


def test_sweep_reads_no_cache() -> None:
    """The portfolio sweep recomputes every group and collateral value: corrupted caches are
    replaced (the state it adopts, and the ticks after it, equal a whole-book batch run)."""
    v = venue(30, seed=6)
    items = stream(v, 160, seed=8, clock_every=0)
    engine = LiveEngine.open(market=v.market, accounts=v.book)
    feed(engine, items[:80])
    kernel = engine._core.kernel
    for name in ("scan", "basis", "price_risk", "delta_notional", "mtm"):
        kernel.groups[name][:] = 1e9  # type: ignore[attr-defined]
    kernel.cv[:] = -1e9  # type: ignore[attr-defined]
    report = engine.sweep()
    assert report.ok, report.mismatches  # the engine's own results were never corrupted
    _check_equal(engine, "portfolio")
    feed(engine, items[80:])
    _check_equal(engine, "portfolio")
    assert engine.sweep().ok


def test_incremental_equals_scratch_after_time_steps() -> None:
    """Clock steps move the valuation instant (option time value decays) — still equal."""
    v = venue(30, seed=2)
    items = stream(v, 200, seed=4, clock_every=20)
    engine = LiveEngine.open(
        market=v.market, accounts=v.book, settings=LiveSettings(revalue_every=30.0)
    )
    as_of = engine.market.as_of
    feed(engine, items)
    assert engine.market.as_of > as_of
    _check_equal(engine, "portfolio")


def test_batches_equal_one_by_one() -> None:
    """``apply_many`` (account updates in waves) gives the events and state of ``apply``."""
    v = venue(30, seed=7)
    items = [it for it in stream(v, 300, seed=3, clock_every=0)]
    one = LiveEngine.open(market=v.market, accounts=v.book)
    ev_one = [e.to_obj() for es in feed(one, items) for e in es]
    many = LiveEngine.open(market=v.market, accounts=v.book)
    rng = np.random.default_rng(0)
    ev_many: list[dict[str, object]] = []
    k = 0
    while k < len(items):
        n = int(rng.integers(1, 40))
        for ack in many.apply_many(items[k : k + n]):  # type: ignore[arg-type]
            ev_many.extend(e.to_obj() for e in ack.events)
        k += n
    assert ev_many == ev_one
    assert many.state_digest() == one.state_digest()


def test_replay_is_deterministic() -> None:
    """The same inputs twice: identical events (numbers, order, fields) and identical state."""
    v = venue(25, seed=9)
    items = stream(v, 250, seed=2, crash=0.5, vol=0.015)
    runs = []
    for _ in range(2):
        engine = LiveEngine.open(
            market=v.market, accounts=v.book, settings=LiveSettings(auto_liquidate="partial")
        )
        events = [e.to_obj() for es in feed(engine, items) for e in es]
        runs.append((events, engine.state_digest()))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert any(e["type"] == "liquidation_trade" for e in runs[0][0])
