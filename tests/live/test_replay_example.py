"""The bundled crash replay: its files are what the documented generator writes."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.live.replay import build_crash_example, crash_example_dir
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


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    paths = build_crash_example(tmp_path)
    ex = crash_example_dir()
    for name, p in paths.items():
        committed = ex / p.name
        if name == "ticks":
            new = [json.loads(x) for x in p.read_text().splitlines()]
            old = [json.loads(x) for x in committed.read_text().splitlines()]
        else:
            new, old = json.loads(p.read_text()), json.loads(committed.read_text())
        _close(new, old, name)


def test_example_is_a_real_crash() -> None:
    ex = crash_example_dir()
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
