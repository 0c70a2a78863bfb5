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
