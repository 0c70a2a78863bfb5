"""``batch``: venue tables in, one result row per account out (issue 2 §7).

Fast vs slow: the vectorised table path (``book_from_frames`` → one book) must give, account by
account, the same numbers as margining each account alone from portfolio objects.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crossmargin import (
    Book,
    Portfolio,
    Position,
    compute_margin,
    load_market,
    margin_book,
    parse_instrument,
)
from crossmargin.account import SUMMARY_FIELDS
from crossmargin.io.tables import book_from_frames

from .helpers import invoke, simple_market

MODELS = ("isolated", "cross", "portfolio")


def portfolios_from_tables(pos: pd.DataFrame, col: pd.DataFrame) -> list[Portfolio]:
    """The slow path: a Python loop over rows building portfolio objects."""
    positions: dict[str, list[Position]] = defaultdict(list)
    collateral: dict[str, dict[str, float]] = defaultdict(dict)
    order: list[str] = []
    for r in pos.to_dict("records"):
        acc = str(r["account"])
        if acc not in order:
            order.append(acc)
        e = float(r.get("entry_price", float("nan")))
        positions[acc].append(
            Position(
                parse_instrument(str(r["instrument"])),
                float(r["quantity"]),
                None if math.isnan(e) else e,
            )
        )
    for r in col.to_dict("records"):
        acc, sym = str(r["account"]), str(r["asset"]).upper()
        if acc not in order:
            order.append(acc)
        collateral[acc][sym] = collateral[acc].get(sym, 0.0) + float(r["amount"])
    return [Portfolio(a, "USD", collateral[a], tuple(positions[a])) for a in order]


def venue_tables(examples: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    pos = pd.read_csv(examples / "venue_positions.csv", dtype={"account": str, "instrument": str})
    col = pd.read_csv(examples / "venue_collateral.csv", dtype={"account": str, "asset": str})
    return pos, col


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_json(path, orient="records")
    return path


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_json(path, orient="records")


@pytest.mark.parametrize("fmt", [".csv", ".parquet", ".json"])
@pytest.mark.parametrize("model", MODELS)
def test_batch_cli_equals_per_account_margin(
    examples: Path, tmp_path: Path, fmt: str, model: str
) -> None:
    pos, col = venue_tables(examples)
    p = write(pos, tmp_path / f"positions{fmt}")
    c = write(col, tmp_path / f"collateral{fmt}")
    out = tmp_path / f"results{fmt}"
    r = invoke(
        "batch",
        p,
        "--collateral",
        c,
        "--market",
        examples / "market_venue.json",
        "--out",
        out,
        "--model",
        model,
    )
    assert r.exit_code == 0, r.stderr
    assert f"{7} accounts" in r.stdout
    got = read(out)
    assert list(got.columns) == [
        "account",
        "model",
        "base_currency",
        *SUMMARY_FIELDS,
        "status",
        "warnings",
    ]
    assert list(got["account"]) == [
        "mm-01",
        "basis-02",
        "degen-03",
        "vol-seller-04",
        "pair-05",
        "inverse-07",
        "index-06",
    ]
    assert set(got["model"]) == {model}
    mkt = load_market(examples / "market_venue.json")
    for pf in portfolios_from_tables(pos, col):
        alone = compute_margin(pf, mkt, model=model)
        row = got[got["account"] == pf.account].iloc[0]
        for f in (
            "equity",
            "initial_margin",
            "maintenance_margin",
            "unrealized_pnl",
            "collateral_value",
        ):
            assert row[f] == pytest.approx(float(getattr(alone, f)[0]), rel=1e-9, abs=1e-6), (
                pf.account,
                f,
            )
        assert row["status"] == alone.status(0)


def random_venue(n_accounts: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = [
        "BTC-PERP", "BTC-26DEC26", "BTC-26MAR27", "BTC-26DEC26-70000-C", "BTC-26DEC26-60000-P",
        "BTC-27NOV26-75000-C", "BTC-26MAR27-55000-P", "ETH-PERP", "ETH-26DEC26-3600-C",
        "ETH-26MAR27", "ETH-26MAR27-2800-P", "BTC-26DEC26-80000-C-INV",
    ]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for a in range(n_accounts):
        for _ in range(int(rng.integers(0, 7))):
            name = names[int(rng.integers(len(names)))]
            entry = float(rng.uniform(0.9, 1.1)) * (65_000 if name.startswith("BTC") else 3_200)
            rows.append(
                {
                    "account": f"acc-{a:04d}",
                    "instrument": name,
                    "quantity": float(np.round(rng.normal(0, 5), 3)) or 1.0,
                    "entry_price": entry
                    if "-C" not in name and "-P" not in name and rng.random() < 0.7
                    else np.nan,
                }
            )
    pos = pd.DataFrame(rows, columns=["account", "instrument", "quantity", "entry_price"])
    col = pd.DataFrame(
        {
            "account": [f"acc-{a:04d}" for a in range(n_accounts)],
            "asset": rng.choice(["USDC", "BTC", "USD"], n_accounts),
            "amount": rng.uniform(-1e4, 5e5, n_accounts),
        }
    )
    col.loc[col["asset"] == "BTC", "amount"] /= 65_000
    return pos, col


@pytest.mark.parametrize("model", MODELS)
def test_one_book_of_many_accounts_equals_each_account_alone(model: str) -> None:
    pos, col = random_venue(120, seed=7)
    mkt = simple_market()
    venue = margin_book(book_from_frames(pos, col), mkt, model=model)
    pfs = portfolios_from_tables(pos, col)
    assert venue.n == len(pfs)
    for i, pf in enumerate(pfs):
        assert venue.accounts[i] == pf.account
        alone = margin_book(Book.from_portfolios([pf]), mkt, model=model)
        np.testing.assert_allclose(
            [venue.initial_margin[i], venue.maintenance_margin[i], venue.equity[i]],
            [alone.initial_margin[0], alone.maintenance_margin[0], alone.equity[0]],
            rtol=1e-9,
            atol=1e-6,
        )
        assert venue.status_code[i] == alone.status_code[0]


def bad_tables(examples: Path, tmp_path: Path, edit: str) -> tuple[Path, Path]:
    pos, col = venue_tables(examples)
    if edit == "nan quantity":
        pos.loc[3, "quantity"] = np.nan
    elif edit == "text quantity":
        pos["quantity"] = pos["quantity"].astype(object)
        pos.loc[2, "quantity"] = "lots"
    elif edit == "zero entry":
        pos.loc[4, "entry_price"] = 0.0
    elif edit == "bad instrument":
        pos.loc[5, "instrument"] = "ETH-PURP"
    elif edit == "empty account":
        pos.loc[1, "account"] = None
    elif edit == "missing column":
        pos = pos.drop(columns=["quantity"])
    elif edit == "unknown column":
        col["haircut"] = 0.1
    elif edit == "inf amount":
        col["amount"] = col["amount"].astype(float)
        col.loc[0, "amount"] = np.inf
    elif edit == "unknown asset":
        col.loc[0, "asset"] = "DOGE"
    elif edit == "expired":
        pos.loc[0, "instrument"] = "BTC-20NOV26-70000-C"
    fmt = ".csv" if edit == "text quantity" else ".parquet"  # Parquet columns are typed
    return write(pos, tmp_path / f"p{fmt}"), write(col, tmp_path / f"c{fmt}")


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        ("nan quantity", "positions[3].quantity: must be finite, got NaN"),
        ("text quantity", "positions[2].quantity: must be a number"),
        ("zero entry", "positions[4].entry_price: must be positive"),
        ("bad instrument", "positions[5].instrument: cannot parse instrument 'ETH-PURP'"),
        ("empty account", "positions[1].account: must not be empty"),
        ("missing column", "positions: missing column 'quantity'"),
        ("unknown column", "collateral: unknown column 'haircut'"),
        ("inf amount", "collateral[0].amount: must be finite, got inf"),
        ("unknown asset", "assets.DOGE: no market data"),
        ("expired", "positions[0].instrument: BTC-20NOV26-70000-C expired"),
    ],
)
def test_bad_tables_fail_with_a_path_and_write_nothing(
    examples: Path, tmp_path: Path, edit: str, where: str
) -> None:
    p, c = bad_tables(examples, tmp_path, edit)
    out = tmp_path / "results.csv"
    r = invoke(
        "batch", p, "--collateral", c, "--market", examples / "market_venue.json", "--out", out
    )
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {where}"), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not out.exists()
    assert list(tmp_path.glob(".results*")) == []  # no temporary file left behind


def test_unknown_output_format_is_refused_before_any_work(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.xlsx"
    r = invoke(
        "batch", examples / "venue_positions.csv", "--collateral", examples / "venue_collateral.csv",
        "--market", examples / "market_venue.json", "--out", out,
    )  # fmt: skip
    assert r.exit_code == 2 and "unknown table format" in r.stderr and not out.exists()


def test_progress_bar_option(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = invoke(
        "batch", examples / "venue_positions.csv", "--collateral", examples / "venue_collateral.csv",
        "--market", examples / "market_venue.json", "--out", out, "--progress",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 7 and {"account", "initial_margin", "status"} <= set(rows[0])
