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


def _strings(df: pd.DataFrame, name: str, col: str) -> np.ndarray:
    s = df[col]
    missing = s.isna().to_numpy()
    if missing.any():
        r = int(np.argmax(missing))
        raise InputError("must not be empty", path=f"{name}[{r}].{col}")
    out = s.astype(str).str.strip().to_numpy(dtype=object)
    empty = out == ""
    if empty.any():
        r = int(np.argmax(empty))
        raise InputError("must not be empty", path=f"{name}[{r}].{col}")
    return out


def book_from_frames(
    positions: pd.DataFrame, collateral: pd.DataFrame, *, base_currency: str = "USD"
) -> Book:
    """Validate the two tables and build a book (accounts in order of first appearance)."""
    _require(positions, "positions", ("account", "instrument", "quantity"), ("entry_price",))
    _require(collateral, "collateral", ("account", "asset", "amount"), ())
    p_acc = _strings(positions, "positions", "account")
    p_ins = _strings(positions, "positions", "instrument")
    qty = _numeric(positions, "positions", "quantity")
    entry = (
        _numeric(positions, "positions", "entry_price", positive=True, allow_nan=True)
        if "entry_price" in positions.columns
        else np.full(qty.shape[0], np.nan)
    )
    c_acc = _strings(collateral, "collateral", "account")
    c_asset = np.char.upper(_strings(collateral, "collateral", "asset").astype(str)).astype(object)
    amount = _numeric(collateral, "collateral", "amount")
    acc_codes, accounts = pd.factorize(np.concatenate([p_acc, c_acc]), sort=False)
    n_p = p_acc.shape[0]
    ins_codes, names = pd.factorize(p_ins, sort=False)
    first_row = np.full(len(names), 0, dtype=np.int64)
    first_row[ins_codes[::-1]] = np.arange(n_p - 1, -1, -1)
    contracts = tuple(
        parse_instrument(str(nm), path=f"positions[{int(first_row[k])}].instrument")
        for k, nm in enumerate(names)
    )
    # equal contracts written differently (BTC-PERP / btc-perpetual) share one index
    canon: dict[Any, int] = {}
    remap = np.asarray([canon.setdefault(c, len(canon)) for c in contracts], dtype=np.int64)
    uniq_contracts = tuple(canon)
    asset_codes, assets = pd.factorize(c_asset, sort=False)
    n_acc = len(accounts)
    return Book(
        accounts=tuple(str(a) for a in accounts),
        base_currency=(base_currency,) * n_acc,
        contracts=uniq_contracts,
        pos_account=acc_codes[:n_p].astype(np.int64),
        pos_instrument=remap[ins_codes] if len(names) else np.zeros(0, np.int64),
        pos_quantity=qty,
        pos_entry=entry,
        assets=tuple(str(a) for a in assets),
        col_account=acc_codes[n_p:].astype(np.int64),
        col_asset=asset_codes.astype(np.int64),
        col_amount=amount,
        pos_row=np.arange(n_p, dtype=np.int64),
        pos_prefix=("positions",) * n_acc,
    )
