"""The freshness policy (issue 13): stale history is refused, or used on an explicit opt-in.

A model that needs price history refuses — exit code 2 on the command line, naming the asset,
its last date and ``as_of`` — when the history ends more than ``var.max_history_age_days``
before ``as_of``; with ``--allow-stale-history`` (``var.allow_stale_history: true``) it runs and
every output carries a ``history_stale`` warning naming the same dates.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from crossmargin.errors import MarketDataError
from crossmargin.market.history import bundled_history

from .helpers import (
    AS_OF,
    config,
    crypto_market,
    gbm_frame,
    history_of_frame,
    invoke,
    margin,
    portfolio,
)

BOOK = (("BTC-PERP", 1.0), ("ETH-PERP", -20.0))


def _history_ending(tmp: Path, end: datetime) -> object:
    n = 900
    start = (end - timedelta(days=n - 1)).date().isoformat()
    return history_of_frame(gbm_frame(["BTC", "ETH"], n=n, start=start), tmp)


@pytest.mark.parametrize("model", ["var", "es"])
def test_stale_history_refused_naming_the_dates(tmp_path: Path, model: str) -> None:
    h = _history_ending(tmp_path, AS_OF - timedelta(days=20))
    with pytest.raises(MarketDataError) as e:
        margin(portfolio(*BOOK), crypto_market(history=h), model, config(allow_stale_history=False))
    assert e.value.path == "history.BTC"
    assert "ends 2026-11-02, 20 days before as_of 2026-11-22" in e.value.reason
    assert "--allow-stale-history" in e.value.reason


def test_opt_in_runs_and_warns(tmp_path: Path) -> None:
    h = _history_ending(tmp_path, AS_OF - timedelta(days=20))
    r = margin(portfolio(*BOOK), crypto_market(history=h), "es", config(allow_stale_history=True))
    stale = [w for w in r.batch.warnings if w.code == "history_stale"]
    assert {w.path for w in stale} == {"history.BTC", "history.ETH"}
    assert all("20 days before as_of 2026-11-22" in w.message for w in stale)


def test_age_limit_is_configurable_and_fresh_history_is_silent(tmp_path: Path) -> None:
    h = _history_ending(tmp_path, AS_OF - timedelta(days=20))
    snap = crypto_market(history=h)
    for cfg in (
        config(allow_stale_history=False, max_history_age_days=30),
        config(allow_stale_history=False, max_history_age_days=None),
    ):
        r = margin(portfolio(*BOOK), snap, "var", cfg)
        assert r.initial_margin[0] > 0
        assert not [w for w in r.batch.warnings if w.code == "history_stale"]
    fresh = _history_ending(tmp_path, AS_OF - timedelta(days=1))
    r = margin(
        portfolio(*BOOK), crypto_market(history=fresh), "var", config(allow_stale_history=False)
    )
    assert not [w for w in r.batch.warnings if w.code == "history_stale"]


def test_weekend_and_holiday_gaps_of_an_index_are_not_stale() -> None:
    """The default limit (7 days) passes an exchange closed over a long weekend."""
    from crossmargin.config import default_config

    assert default_config().var.max_history_age_days == 7.0
    assert default_config().var.allow_stale_history is False


def test_cli_exit_2_then_opt_in_with_warning(tmp_path: Path, examples: Path) -> None:
    df = gbm_frame(["BTC", "ETH"], n=900, start="2024-01-01")  # ends 2026-06-18
    p = tmp_path / "h.csv"
    df.to_csv(p, index=False)
    last = pd.Timestamp(df["date"].iloc[-1]).date().isoformat()
    args = ("margin", examples / "hedged_book.json", "-m", examples / "market_crypto.json",
            "--model", "es", "--history", p, "--format", "json")  # fmt: skip
    r = invoke(*args)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: history.BTC: ") and r.stderr.count("\n") == 1
    assert f"ends {last}" in r.stderr and "as_of 2026-11-22" in r.stderr
    ok = invoke(*args, "--allow-stale-history")
    assert ok.exit_code == 0, ok.stderr
    codes = [w["code"] for w in json.loads(ok.stdout)["warnings"]]
    assert codes.count("history_stale") == 2


def test_demo_opts_in_and_says_so() -> None:
    r = invoke("demo")
    assert r.exit_code == 0, r.stderr
    assert "accepts it explicitly" in r.stdout
    assert "history_stale" in r.stdout and "ends 2026-03-27" in r.stdout


def test_as_of_inside_the_history_needs_no_opt_in() -> None:
    """A snapshot dated within a week of the bundled history's end is margined without it."""
    snap = crypto_market()
    snap = type(snap)(
        as_of=datetime(2026, 3, 30, 8, tzinfo=UTC),
        base_currency="USD",
        assets=snap.assets,
        history=bundled_history(),
        timestamp=datetime(2026, 3, 30, 8, tzinfo=UTC),
    )
    r = margin(portfolio(*BOOK), snap, "var", config(allow_stale_history=False))
    assert r.initial_margin[0] > 0
    codes = {w.code for w in r.batch.warnings}
    assert "history_stale" not in codes and "bundled_history" in codes
