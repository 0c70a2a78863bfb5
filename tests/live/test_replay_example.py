"""The bundled crash replay: its files are what the documented generator writes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from crossmargin.errors import InputError
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.live.replay import EXAMPLES, build_example, example_dir
from crossmargin.live.updates import MarketUpdate, NewAccount, read_updates


def _close(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON values, floats to 1e-9 relative (the venue is sized by margin arithmetic)."""
    if isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_generator_reproduces_the_committed_files(name: str, tmp_path: Path) -> None:
    paths = build_example(name, tmp_path)
    ex = example_dir(name)
    for name, p in paths.items():
        committed = ex / p.name
        if name == "ticks":
            new = [json.loads(x) for x in p.read_text().splitlines()]
            old = [json.loads(x) for x in committed.read_text().splitlines()]
        else:
            new, old = json.loads(p.read_text()), json.loads(committed.read_text())
        _close(new, old, name)


def test_example_is_a_real_crash() -> None:
    ex = example_dir("crash_2020_03")
    snap = load_market(ex / "market.json")
    accounts, _ = load_portfolios(ex / "accounts.json")
    assert len(accounts) == 1000
    ticks = list(read_updates(ex / "ticks.jsonl"))
    prices = [u.price for u in ticks if isinstance(u, MarketUpdate) and u.price is not None]
    vols = [u.vols[None] for u in ticks if isinstance(u, MarketUpdate) and None in u.vols]
    # Bitstamp, 2020-03-12/13: from ~7 900 to a low near 4 100, every tick with a vol
    assert snap.price("BTC") > 8000 and min(prices) < 0.55 * snap.price("BTC")
    assert len(vols) == len(prices) == 180
    assert max(v.vol for v in vols) > 2 * min(v.vol for v in vols)  # type: ignore[union-attr]
    assert any(isinstance(u, NewAccount) for u in ticks)
    times = [u.time for u in ticks]
    assert times == sorted(times)


def test_ftx_example_moves_stablecoins_and_two_underlyings() -> None:
    ex = example_dir("ftx_2022_11")
    ticks = [u for u in read_updates(ex / "ticks.jsonl") if isinstance(u, MarketUpdate)]
    assert {u.asset for u in ticks} == {"BTC", "ETH", "USDC", "USDT"}
    usdc = [u.price for u in ticks if u.asset == "USDC" and u.price is not None]
    assert min(usdc) < 0.995  # 2022-11-09: off its peg
    assert all(None in u.vols for u in ticks if u.asset in ("BTC", "ETH"))
    assert not any(u.vols for u in ticks if u.asset in ("USDC", "USDT"))


def test_unknown_example() -> None:
    with pytest.raises(InputError, match="unknown replay example"):
        example_dir("nope")
    with pytest.raises(InputError, match="unknown replay example"):
        build_example("nope", ".")
