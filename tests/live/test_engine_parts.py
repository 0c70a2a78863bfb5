"""A tick and a sweep split into parts (threads) give the numbers of one part, bit for bit.

The portfolio kernel splits a big tick's groups (an underlying's holders) and the accounts it
recombines into contiguous parts computed in parallel (``PortfolioKernel.parts``; below
``part_min`` groups or accounts per part it does not split). Every group's and account's
arithmetic is row-wise, so the split must change no number and no event: two engines, one
split into three parts from a single account on and one never split, fed the same inputs
(ticks, trades, crashes with liquidations, sweeps), have identical events and state.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from crossmargin.errors import ModelError
from crossmargin.live.engine import LiveEngine
from crossmargin.live.kernel import PortfolioKernel, _parallel
from crossmargin.live.settings import LiveSettings

from .streams import feed, stream, venue


def _engine(v: object, parts: int) -> LiveEngine:
    engine = LiveEngine.open(
        market=v.market,  # type: ignore[attr-defined]
        accounts=v.book,  # type: ignore[attr-defined]
        settings=LiveSettings(auto_liquidate="partial"),
    )
    kernel = engine._core.kernel
    assert isinstance(kernel, PortfolioKernel)
    kernel.parts, kernel.part_min = parts, 1
    return engine


@pytest.mark.parametrize("seed", [3, 12])
def test_parts_equal_one_part_bit_for_bit(seed: int) -> None:
    v = venue(30, seed=seed)
    items = stream(v, 240, seed=seed + 1, crash=0.5, vol=0.015, clock_every=0)
    one, split = _engine(v, 1), _engine(v, 3)
    for lo, hi in ((0, 120), (120, 240)):
        ev_one = [e.to_obj() for es in feed(one, items[lo:hi]) for e in es]
        ev_split = [e.to_obj() for es in feed(split, items[lo:hi]) for e in es]
        assert ev_split == ev_one
        assert split.state_digest() == one.state_digest()
        r1, r2 = one.sweep(), split.sweep()
        assert r1.ok and r2.ok, (r1.mismatches, r2.mismatches)
        assert r2.max_abs_diff == r1.max_abs_diff
    R1, R2 = one._core.R, split._core.R
    for name in ("equity", "m_equity", "im", "mm", "ratio", "worst_loss"):
        assert np.array_equal(R1[name], R2[name], equal_nan=True), name
    assert sum(1 for e in ev_one if e["type"] == "liquidation_trade") > 0


def test_a_small_book_is_not_split() -> None:
    """Below ``part_min`` groups per part, one part (no thread hand-off)."""
    v = venue(20, seed=4)
    engine = LiveEngine.open(market=v.market, accounts=v.book)
    kernel = engine._core.kernel
    assert isinstance(kernel, PortfolioKernel)
    feed(engine, stream(v, 30, seed=2, clock_every=0))
    assert kernel._slices and all(len(s.parts) == 1 for s in kernel._slices.values())


def test_parallel_waits_for_every_part_and_raises_the_first_error() -> None:
    """A part's error reaches the caller (a margin error is bisected by the engine), and only
    once every part has ended (they write the kernel's arrays)."""
    done: list[int] = []
    lock = threading.Lock()

    def fn(i: int) -> int:
        if i == 0:
            time.sleep(0.05)
        if i == 2:
            raise ModelError("not a finite number", path="accounts.x")
        with lock:
            done.append(i)
        return i * i

    assert _parallel(fn, [0, 1, 3]) == [0, 1, 9]
    done.clear()
    with pytest.raises(ModelError, match="finite"):
        _parallel(fn, [1, 2, 3])
    assert sorted(done) == [1, 3]
    with pytest.raises(ModelError):
        _parallel(fn, [2, 0])
    assert 0 in done
