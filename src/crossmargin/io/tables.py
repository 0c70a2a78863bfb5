"""Batch tables: positions and collateral of many accounts (Parquet, CSV or JSON).

* positions: ``account, instrument, quantity[, entry_price]``
* collateral: ``account, asset, amount``
* results: one row per account (``account, model, base_currency, equity, ..., status``)

The format follows the file extension (``.parquet``/``.pq``, ``.csv``, ``.json`` — a list of
records). Tables are validated column-wise (vectorised) and turned into a
:class:`~crossmargin.instruments.Book` without a Python loop over rows; only *unique* instrument
names are parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.naming import parse_instrument

__all__ = ["book_from_frames", "read_table", "write_table"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json"}


def table_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``json`` from the extension."""
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError("unknown table format; use .parquet, .csv or .json", path=str(path))
    return fmt


def read_table(path: str | Path, *, what: str) -> pd.DataFrame:
    """Read a table file; a missing or unreadable file is an :class:`InputError`."""
    p = Path(path)
    fmt = table_format(p)
    if not p.exists():
        raise InputError(f"{what} file not found", path=str(p))
    try:
        if fmt == "parquet":
            return pd.read_parquet(p)
        if fmt == "csv":
            return pd.read_csv(p, dtype={"account": str, "instrument": str, "asset": str})
        df = pd.read_json(p, orient="records", dtype={"account": str})
        return df
    except (ValueError, OSError, ImportError) as exc:
        raise InputError(
            f"cannot read {what} table: {str(exc).splitlines()[0]}", path=str(p)
        ) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise InputError(
            f"cannot read {what} table: {str(exc).splitlines()[0]}", path=str(p)
        ) from None


def write_table(columns: dict[str, Any], path: Path) -> None:
    """Write a columnar mapping as Parquet, CSV or JSON records (by extension)."""
    fmt = table_format(path)
    df = pd.DataFrame(columns)
    if fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.to_json(path, orient="records", indent=1)


def _require(df: pd.DataFrame, name: str, required: Sequence[str], optional: Sequence[str]) -> None:
    for col in required:
        if col not in df.columns:
            raise InputError(f"missing column {col!r}", path=name)
    extra = [c for c in df.columns if c not in (*required, *optional)]
    if extra:
        raise InputError(f"unknown column {extra[0]!r}", path=name)


def _numeric(
    df: pd.DataFrame, name: str, col: str, *, positive: bool = False, allow_nan: bool = False
) -> np.ndarray:
    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad_type = np.isnan(values) & raw.notna().to_numpy()
    if bad_type.any():
        r = int(np.argmax(bad_type))
        raise InputError(f"must be a number, got {raw.iloc[r]!r}", path=f"{name}[{r}].{col}")
    finite = np.isfinite(values)
    bad = ~finite & ~(allow_nan & np.isnan(values))
    if bad.any():
        r = int(np.argmax(bad))
        v = values[r]
        shown = "NaN" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        raise InputError(f"must be finite, got {shown}", path=f"{name}[{r}].{col}")
    if positive:
        nonpos = finite & (values <= 0)
        if nonpos.any():
            r = int(np.argmax(nonpos))
            raise InputError(f"must be positive, got {values[r]!r}", path=f"{name}[{r}].{col}")
    return values


def _codes(
    df: pd.DataFrame, name: str, col: str, *, upper: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Factorize a string column: integer codes and the distinct (stripped) values.

    Only the distinct values are validated and normalised, vectorised — no loop over rows.
    """
    codes, uniques = pd.factorize(df[col], sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        r = int(np.argmax(codes < 0))
        raise InputError("must not be empty", path=f"{name}[{r}].{col}")
    values = pd.Series(uniques, dtype="string").str.strip()
    if upper:
        values = values.str.upper()
    empty = (values == "").to_numpy(dtype=np.bool_)
    if empty.any():
        r = int(np.argmax(codes == int(np.argmax(empty))))
        raise InputError("must not be empty", path=f"{name}[{r}].{col}")
    # values equal after stripping share one code
    remap, canon = pd.factorize(values, sort=False)
    return np.asarray(remap, dtype=np.int64)[codes], np.asarray(canon, dtype=object)


def book_from_frames(
    positions: pd.DataFrame, collateral: pd.DataFrame, *, base_currency: str = "USD"
) -> Book:
    """Validate the two tables and build a book (accounts in order of first appearance)."""
    _require(positions, "positions", ("account", "instrument", "quantity"), ("entry_price",))
    _require(collateral, "collateral", ("account", "asset", "amount"), ())
    p_acc, p_acc_names = _codes(positions, "positions", "account")
    ins_codes, names = _codes(positions, "positions", "instrument")
    qty = _numeric(positions, "positions", "quantity")
    entry = (
        _numeric(positions, "positions", "entry_price", positive=True, allow_nan=True)
        if "entry_price" in positions.columns
        else np.full(qty.shape[0], np.nan)
    )
    c_acc, c_acc_names = _codes(collateral, "collateral", "account")
    asset_codes, assets = _codes(collateral, "collateral", "asset", upper=True)
    amount = _numeric(collateral, "collateral", "amount")
    # one account numbering over both tables, in order of first appearance
    acc_map, accounts = pd.factorize(np.concatenate([p_acc_names, c_acc_names]), sort=False)
    p_map = acc_map[: len(p_acc_names)].astype(np.int64)
    c_map = acc_map[len(p_acc_names) :].astype(np.int64)
    n_p = qty.shape[0]
    first_row = np.zeros(len(names), dtype=np.int64)
    first_row[ins_codes[::-1]] = np.arange(n_p - 1, -1, -1)
    contracts = tuple(
        parse_instrument(str(nm), path=f"positions[{int(first_row[k])}].instrument")
        for k, nm in enumerate(names)
    )
    # equal contracts written differently (BTC-PERP / btc-perpetual) share one index
    canon: dict[Any, int] = {}
    remap = np.asarray([canon.setdefault(c, len(canon)) for c in contracts], dtype=np.int64)
    uniq_contracts = tuple(canon)
    n_acc = len(accounts)
    return Book(
        accounts=tuple(accounts.tolist()),
        base_currency=(base_currency,) * n_acc,
        contracts=uniq_contracts,
        pos_account=p_map[p_acc] if n_p else np.zeros(0, np.int64),
        pos_instrument=remap[ins_codes] if len(names) else np.zeros(0, np.int64),
        pos_quantity=qty,
        pos_entry=entry,
        assets=tuple(assets.tolist()),
        col_account=c_map[c_acc] if c_acc.size else np.zeros(0, np.int64),
        col_asset=asset_codes.astype(np.int64),
        col_amount=amount,
        pos_row=np.arange(n_p, dtype=np.int64),
        pos_prefix=("positions",) * n_acc,
    )
