"""Shared builders for the backtest tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crossmargin.backtest import PriceHistory, book_from_obj, history_from_frame
from crossmargin.backtest.spec import BacktestBook

BUILTIN = ("isolated", "cross", "portfolio")


def book(legs: list[dict[str, Any]], **kw: Any) -> BacktestBook:
    """A backtest book from legs (name ``t``)."""
    return book_from_obj({"name": kw.pop("name", "t"), "legs": legs, **kw})


def synthetic_history(
    n: int = 400,
    *,
    seed: int = 7,
    start: str = "2019-01-01",
    columns: tuple[str, ...] = ("BTC", "ETH"),
    vol: float = 0.03,
    corr: float = 0.7,
) -> PriceHistory:
    """Daily (7-day) geometric random walks with correlation ``corr`` between columns."""
    rng = np.random.default_rng(seed)
    k = len(columns)
    c = np.full((k, k), corr) + (1 - corr) * np.eye(k)
    z = rng.standard_normal((n, k)) @ np.linalg.cholesky(c).T
    px = 100.0 * np.exp(np.cumsum(vol * z, axis=0))
    dates = pd.date_range(start, periods=n, freq="D")
    return history_from_frame(
        pd.DataFrame(px, index=dates, columns=list(columns)), source="synthetic"
    )
