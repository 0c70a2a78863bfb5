"""Batch tables: positions and collateral of many accounts (Parquet, CSV or JSON).

* positions: ``account, instrument, quantity[, entry_price]``
* collateral: ``account, asset, amount``
* results: one row per account (``account, model, base_currency, equity, ..., status``)

The format follows the file extension (``.parquet``/``.pq``, ``.csv``, ``.json`` — a list of
records); files are read strictly by :mod:`crossmargin._tabular` (row field counts, repeated
columns, literal ``nan`` cells, limits). Every column's type is checked for its role, whatever
the source (file or a frame passed to :func:`book_from_frames`): ``account`` is text (or
integer ids), ``instrument`` and ``asset`` are text, ``quantity``, ``entry_price`` and ``amount``
are numbers — a boolean column is not 0/1 and a date column is not its epoch nanoseconds. Tables
are validated column-wise (vectorised) and turned into a :class:`~crossmargin.instruments.Book`
without a Python loop over rows; only *unique* instrument names are parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossmargin._tabular import (
    MAX_TABLE_ROWS,
    number_column,
    read_csv_text,
    read_json_records,
    read_parquet_checked,
    text_column,
)
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import parse_instrument

__all__ = ["TABLE_SUFFIXES", "book_from_frames", "read_table", "table_format", "write_table"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json"}
#: File extensions of tables (input and output).
TABLE_SUFFIXES = tuple(_FORMATS)
#: Number columns of the batch tables (CSV cells in them are parsed as numbers).
NUMBER_COLUMNS = frozenset({"quantity", "entry_price", "amount"})


def table_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``json`` from the extension."""
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError("unknown table format; use .parquet, .csv or .json", path=str(path))
    return fmt


def read_table(
    path: str | Path, *, what: str, numbers: Collection[str] = NUMBER_COLUMNS
) -> pd.DataFrame:
    """Read a table file strictly (:mod:`crossmargin._tabular`).

    Parameters
    ----------
    path
        ``.parquet``/``.pq``, ``.csv`` or ``.json`` (a list of records).
    what
        What the table holds (``positions``), for error paths.
    numbers
        Columns holding numbers: CSV text cells in them are parsed as numbers (strictly), every
        other CSV column stays text.

    Raises
    ------
    InputError
        Missing, unreadable or malformed file (see :mod:`crossmargin._tabular`).
    MemoryError
        The table does not fit in memory (not an input error).
    """
    p = Path(path)
    fmt = table_format(p)
    if fmt == "parquet":
        return read_parquet_checked(p, what=what)
    if fmt == "json":
        return read_json_records(p, what=what, numbers=numbers)
    df = read_csv_text(p, what=what)
    for col in df.columns:
        if col in numbers:
            df[col] = number_column(df[col], _at(what, str(col)), text=True)
    return df


def _at(name: str, col: str) -> Callable[[int], str]:
    return lambda r: f"{name}[{r}].{col}"


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
    where = _at(name, col)
    values = number_column(df[col], where)
    missing = np.isnan(values)
    if missing.any() and not allow_nan:
        raise InputError(
            "must be finite, got NaN (an empty cell)", path=where(int(np.argmax(missing)))
        )
    bad = np.isinf(values)
    if bad.any():
        r = int(np.argmax(bad))
        raise InputError(f"must be finite, got {'inf' if values[r] > 0 else '-inf'}", path=where(r))
    if positive:
        nonpos = ~missing & (values <= 0)
        if nonpos.any():
            r = int(np.argmax(nonpos))
            raise InputError(f"must be positive, got {values[r]!r}", path=where(r))
    return values


def _codes(
    df: pd.DataFrame, name: str, col: str, *, upper: bool = False, integers: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Factorize a text column: integer codes and the distinct (stripped) values.

    Only the distinct values are normalised, vectorised — no loop over rows.
    """
    where = _at(name, col)
    text = text_column(df[col], where, integers=integers)
    codes, uniques = pd.factorize(text, sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        raise InputError("must not be empty", path=where(int(np.argmax(codes < 0))))
    values = pd.Series(uniques, dtype="string").str.strip()
    if upper:
        values = values.str.upper()
    empty = (values == "").to_numpy(dtype=np.bool_)
    if empty.any():
        r = int(np.argmax(codes == int(np.argmax(empty))))
        raise InputError("must not be empty", path=where(r))
    # values equal after stripping share one code
    remap, canon = pd.factorize(values, sort=False)
    return np.asarray(remap, dtype=np.int64)[codes], np.asarray(canon, dtype=object)


def book_from_frames(
    positions: pd.DataFrame,
    collateral: pd.DataFrame,
    *,
    base_currency: str = "USD",
    known: Mapping[str, Contract] | None = None,
) -> Book:
    """Validate the two tables and build a book (accounts in order of first appearance).

    ``known``: instrument names (stripped) already parsed, e.g. by a scale-out run's client;
    other names are parsed here.
    """
    _require(positions, "positions", ("account", "instrument", "quantity"), ("entry_price",))
    _require(collateral, "collateral", ("account", "asset", "amount"), ())
    for frame, name in ((positions, "positions"), (collateral, "collateral")):
        if len(frame) > MAX_TABLE_ROWS:
            raise InputError(f"more than {MAX_TABLE_ROWS:,} rows", path=name)
    p_acc, p_acc_names = _codes(positions, "positions", "account", integers=True)
    ins_codes, names = _codes(positions, "positions", "instrument")
    qty = _numeric(positions, "positions", "quantity")
    entry = (
        _numeric(positions, "positions", "entry_price", positive=True, allow_nan=True)
        if "entry_price" in positions.columns
        else np.full(qty.shape[0], np.nan)
    )
    c_acc, c_acc_names = _codes(collateral, "collateral", "account", integers=True)
    asset_codes, assets = _codes(collateral, "collateral", "asset", upper=True)
    amount = _numeric(collateral, "collateral", "amount")
    # one account numbering over both tables, in order of first appearance
    acc_map, accounts = pd.factorize(np.concatenate([p_acc_names, c_acc_names]), sort=False)
    p_map = acc_map[: len(p_acc_names)].astype(np.int64)
    c_map = acc_map[len(p_acc_names) :].astype(np.int64)
    n_p = qty.shape[0]
    first_row = np.zeros(len(names), dtype=np.int64)
    first_row[ins_codes[::-1]] = np.arange(n_p - 1, -1, -1)
    parsed = known or {}

    def contract(k: int, name: str) -> Contract:
        c = parsed.get(name)
        if c is None:
            c = parse_instrument(name, path=f"positions[{int(first_row[k])}].instrument")
        return c

    contracts = tuple(contract(k, str(nm)) for k, nm in enumerate(names))
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
