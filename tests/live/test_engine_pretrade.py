"""The pre-trade check's fast path (only the traded underlyings' groups recomputed) gives the
numbers of the generic path (the account's hypothetical state margined from scratch).

Reference: :meth:`AccountKernel.whatif` of the base class on the same hypothetical sub-book —
the whole-account model run — for random trades (new contracts, added to, reduced, closed,
flipped; perps, futures and options; several trades at once) on a venue after a stream of
ticks and trades. Tolerance: 1e-9 relative + 1e-6 absolute (group sums in another order);
statuses and the worst scenario's underlying equal. Also: the fast path is taken (no
fallback) for trades that leave the balances unchanged, and the live state is untouched.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.live.accounts import whatif_sub
from crossmargin.live.engine import LiveEngine
from crossmargin.live.kernel import AccountKernel, PortfolioKernel
from crossmargin.live.records import Trade

from .streams import feed, stream, venue

RTOL, ATOL = 1e-9, 1e-6


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ATOL + RTOL * max(abs(a), abs(b))


def test_fast_pretrade_equals_the_generic_path() -> None:
    v = venue(30, seed=12)
    engine = LiveEngine.open(market=v.market, accounts=v.book)
    feed(engine, stream(v, 120, seed=5, clock_every=0))
    core = engine._core
    kernel = core.kernel
    assert isinstance(kernel, PortfolioKernel)
    names = [c.name for c in v.book.contracts] + ["BTC-PERP", "ETH-PERP"]
    rng = np.random.default_rng(3)
    fast_taken = 0
    calls = {"fast": 0}
    inner = kernel._whatif_one

    def spy(*a: object) -> object:
        out = inner(*a)  # type: ignore[arg-type]
        calls["fast"] += out is not None
        return out

    kernel._whatif_one = spy  # type: ignore[method-assign]
    before = engine.state_digest()
    for _ in range(60):
        acc = core.book.accounts[int(rng.integers(core.book.n_accounts))]
        a = core.book.index[acc]
        held = [
            core.book.terms.names[int(i)]
            for i in core.book.pos["instrument"][core.book.acc_rows[a]]
        ]
        trades = []
        for _ in range(int(rng.integers(1, 4))):
            pool = held if held and rng.random() < 0.6 else names
            inst = pool[int(rng.integers(len(pool)))]
            q = float(np.round(rng.normal(0, 2.0), 2)) or 1.0
            trades.append(Trade(acc, inst, q, 1.0 + float(rng.random()) * 100, engine.now))
        fast, hyp = whatif_sub(core, a, trades)
        ref = AccountKernel.whatif(kernel, core.book, hyp, core.inst, core.snapshot)
        for f in ("equity", "m_equity", "im", "mm", "collateral", "upnl"):
            x, y = float(getattr(fast, f)[0]), float(getattr(ref, f)[0])
            assert _close(x, y), (acc, trades, f, x, y)
        assert int(fast.status[0]) == int(ref.status[0])
        wf = int(fast.worst_und[0])
        wr = int(ref.worst_und[0])
        assert (fast.group_names[wf] if wf >= 0 else None) == (
            ref.group_names[wr] if wr >= 0 else None
        )
        fast_taken += 1
    assert calls["fast"] == fast_taken  # premiums and realised P&L revalue the cash here too
    assert engine.state_digest() == before


_VENUE = venue(30, seed=21)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_pretrade_decision_and_numbers_equal_the_applied_trade(data: st.DataObject) -> None:
    """A pre-trade check (fast path, cached layouts) predicts exactly what applying does.

    For random trades on random accounts — the same account checked repeatedly with other
    sizes (the cached group layout reused), held and new contracts, reductions and flips —
    ``whatif`` gives the decision of ``apply`` (the ingest path: the account's hypothetical
    state margined from scratch in a wave) and, when accepted, the account's numbers after
    it (1e-9 relative).
    """
    engine = LiveEngine.open(market=_VENUE.market, accounts=_VENUE.book)
    core = engine._core
    names = [c.name for c in _VENUE.book.contracts] + ["BTC-PERP", "ETH-PERP"]
    for k in range(data.draw(st.integers(1, 6), label="trades")):
        a = data.draw(st.integers(0, core.book.n_accounts - 1), label="account")
        acc = core.book.accounts[a]
        held = [
            core.book.terms.names[int(i)]
            for i in core.book.pos["instrument"][core.book.acc_rows[a]]
        ]
        pool = held if held and data.draw(st.booleans(), label="held") else names
        inst = data.draw(st.sampled_from(pool), label="instrument")
        trade = Trade(
            acc,
            inst,
            data.draw(st.sampled_from([-5.0, -1.0, -0.25, 0.1, 0.5, 2.0, 7.0]), label="q"),
            data.draw(st.floats(1.0, 100.0), label="price"),
            engine.now,
            id=f"t{k}",
        )
        for q in (trade.quantity * 0.5, trade.quantity * 2.0):  # same positions: cached layout
            engine.whatif(acc, [Trade(acc, inst, q, trade.price, engine.now)])
        check = engine.whatif(acc, [trade])
        ack = engine.apply(trade)
        assert check.accepted == ack.accepted, (trade, check, ack)
        if ack.accepted:
            view = engine.account(acc, detail=False)
            after = check.after
            for field, got in (
                ("equity", view.equity),
                ("initial_margin", view.initial_margin),
                ("maintenance_margin", view.maintenance_margin),
            ):
                want = float(after[field])  # type: ignore[arg-type]
                assert _close(got, want), (trade, field, got, want)
