"""FeedSequencer: gaps, duplicates and reordering per feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.errors import InputError
from crossmargin.live.updates import FeedSequencer, MarketUpdate

T0 = datetime(2020, 3, 12, tzinfo=UTC)


def tick(seq: int | None, minutes: int = 0, feed: str = "f", asset: str = "BTC") -> MarketUpdate:
    return MarketUpdate(feed, seq, T0 + timedelta(minutes=minutes), asset, price=100.0)


def test_in_order_gap_duplicate_reordered() -> None:
    s = FeedSequencer()
    assert s.check(tick(5, 0)).status == "ok"  # a feed may start anywhere
    assert s.check(tick(6, 1)).status == "ok"
    gap = s.check(tick(9, 2))
    assert (gap.status, gap.expected, gap.missing, gap.apply) == ("gap", 7, 2, True)
    assert "seq 7…8" in gap.reason
    assert s.last("f") == 9
    dup = s.check(tick(9, 2))
    assert (dup.status, dup.apply) == ("duplicate", False)
    late = s.check(tick(7, 2))
    assert (late.status, late.expected, late.apply) == ("reordered", 10, False)
    assert s.last("f") == 9  # refused checks do not move the feed
    assert s.check(tick(10, 3)).status == "ok"


def test_feeds_are_independent_and_seq_spans_assets() -> None:
    s = FeedSequencer()
    assert s.check(tick(1, feed="a", asset="BTC")).status == "ok"
    assert s.check(tick(2, feed="a", asset="ETH")).status == "ok"
    assert s.check(tick(1, feed="b", asset="BTC")).status == "ok"
    assert s.check(tick(4, feed="a", asset="BTC")).status == "gap"
    assert s.feeds() == ["a", "b"]


def test_source_time_going_back_is_reordering() -> None:
    s = FeedSequencer()
    s.check(tick(1, 10))
    v = s.check(tick(2, 5))
    assert v.status == "reordered" and "before the last accepted" in v.reason
    assert s.check(tick(2, 10)).status == "ok"  # same source time with a new seq is fine


def test_unnumbered_feed_orders_by_time_per_asset() -> None:
    s = FeedSequencer()
    assert s.check(tick(None, 1)).status == "ok"
    assert s.check(tick(None, 0, asset="ETH")).status == "ok"  # another asset: own clock
    assert s.check(tick(None, 1)).status == "duplicate"
    assert s.check(tick(None, 0)).status == "reordered"
    assert s.check(tick(None, 2)).status == "ok"


def test_commit_false_only_looks() -> None:
    s = FeedSequencer()
    s.check(tick(1))
    assert s.check(tick(2, 1), commit=False).status == "ok"
    assert s.check(tick(2, 1)).status == "ok"


def test_state_roundtrip() -> None:
    s = FeedSequencer()
    s.check(tick(1, 1))
    s.check(tick(None, 2, feed="pyth"))
    r = FeedSequencer.restore(s.state())
    assert r.state() == s.state()
    assert r.check(tick(1, 1)).status == "duplicate"
    assert r.check(tick(None, 2, feed="pyth")).status == "duplicate"
    with pytest.raises(InputError, match="malformed"):
        FeedSequencer.restore({"seq": {"f": "1"}})
    with pytest.raises(InputError, match="malformed"):
        FeedSequencer.restore({"times": [["f", "BTC"]]})


@given(st.permutations(list(range(1, 16))), st.integers(0, 14))
def test_any_delivery_order(order: list[int], drop: int) -> None:
    """Whatever the delivery order, the applied updates have strictly increasing seq, and every
    refused one is below the last applied; gaps account exactly for the skipped numbers."""
    s = FeedSequencer()
    applied: list[int] = []
    missing = 0
    delivered = [n for i, n in enumerate(order) if i != drop]
    for n in delivered:
        v = s.check(tick(n, 0))
        if v.apply:
            assert not applied or n > applied[-1]
            missing += v.missing
            applied.append(n)
        else:
            assert v.status == "reordered" and n < applied[-1]
    assert applied[-1] - applied[0] + 1 == len(applied) + missing
