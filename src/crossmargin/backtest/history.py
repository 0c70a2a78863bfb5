"""Price history for a backtest: the bundled daily closes or any CSV/Parquet of dates × assets.

The history is kept raw — one row per date on which any column traded, NaN where a column did not
trade. Nothing is forward-filled: a missing close stays missing and is handled explicitly by
:mod:`crossmargin.backtest.calendar`.

File format (the lenient edge): a ``date`` column (ISO dates; if there is no column of that name
the first column is used) and one numeric column per asset (upper-cased); blank cells are NaN.
Rejected, naming ``history.<column>[<date>]``: unparseable or duplicate dates, non-numeric,
infinite, zero or negative prices. Rows are sorted by date.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crossmargin._typing import FloatArray
from crossmargin.errors import InputError
from crossmargin.history import load_daily_closes
from crossmargin.io.tabular import check_date_column, number_column, read_csv_or_parquet

__all__ = ["PriceHistory", "history_from_frame", "load_history"]


@dataclass(frozen=True, slots=True, eq=False)
class PriceHistory:
    """Daily closes: ``values[i, k]`` is column ``k`` on ``dates[i]`` (NaN = no close).

    Attributes
    ----------
    dates
        Strictly increasing ``datetime64[D]`` dates.
    columns
        Upper-case asset / index names.
    values
        ``(n_dates, n_columns)`` closes.
    source
        Where the data came from (a path or ``bundled``).
    """

    dates: np.ndarray
    columns: tuple[str, ...]
    values: FloatArray
    source: str

    def column(self, name: str) -> FloatArray:
        """One column's closes (NaN where missing)."""
        return self.values[:, self.columns.index(name)]

    def has(self, name: str) -> bool:
        """Whether the history has a column ``name``."""
        return name in self.columns

    def with_values(self, values: FloatArray, *, source: str | None = None) -> PriceHistory:
        """The same dates and columns with other values (e.g. cleaned or perturbed)."""
        return PriceHistory(self.dates, self.columns, values, source or self.source)


def _date_str(d: object) -> str:
    return str(np.datetime64(d, "D"))  # type: ignore[call-overload]


def history_from_frame(df: pd.DataFrame, *, source: str) -> PriceHistory:
    """Validate a dates × assets frame (dates in the index or in a ``date`` column).

    Raises
    ------
    InputError
        Naming ``history.<column>[<date>]`` or ``history.date[<row>]``.
    """
    frame = df.copy()
    if not isinstance(frame.index, pd.DatetimeIndex):
        cols = [str(c) for c in frame.columns]
        lower = [c.lower() for c in cols]
        if not cols:
            raise InputError("the history has no columns", path="history")
        key = frame.columns[lower.index("date")] if "date" in lower else frame.columns[0]
        raw = frame[key]
        check_date_column(raw, "history.date")
        try:  # utc: dates with different zones (or none) are put on one axis, never refused
            parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        except (ValueError, OverflowError) as exc:
            raise InputError(f"cannot parse the dates: {exc}", path="history.date") from None
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"cannot parse {raw.iloc[i]!r} as a date (use ISO dates, e.g. 2018-01-31)",
                path=f"history.date[{i}]",
            )
        frame = frame.drop(columns=[key])
        frame.index = pd.DatetimeIndex(parsed)
    idx = frame.index
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    dates = idx.normalize().to_numpy().astype("datetime64[D]")
    if len(dates) == 0:
        raise InputError("the history has no rows", path="history")
    order = np.argsort(dates, kind="stable")
    dates = dates[order]
    dup = np.flatnonzero(dates[1:] == dates[:-1])
    if dup.size:
        raise InputError(f"duplicate date {_date_str(dates[dup[0]])}", path="history.date")
    columns: list[str] = []
    values = np.empty((len(dates), frame.shape[1]), dtype=np.float64)
    for k, col in enumerate(frame.columns):
        name = str(col).strip().upper()
        if not name:
            raise InputError("empty column name", path=f"history.columns[{k}]")
        if name in columns:
            raise InputError("duplicate column", path=f"history.{name}")
        columns.append(name)
        raw_col = frame[col].iloc[order]
        # strict: booleans, dates and text such as 'nan' or 'NA' are errors, an empty cell is
        # a missing close
        num = number_column(
            raw_col,
            lambda i: f"history.{name}[{_date_str(dates[i])}]",  # noqa: B023 (called here)
            text=True,
        )
        bad = ~np.isnan(num) & ~(np.isfinite(num) & (num > 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"a close must be positive and finite, got {num[i]!r}",
                path=f"history.{name}[{_date_str(dates[i])}]",
            )
        values[:, k] = num
    if not columns:
        raise InputError("the history has no asset columns", path="history")
    return PriceHistory(dates, tuple(columns), values, source)


def load_history(path: str | Path | None = None) -> PriceHistory:
    """Read a CSV or Parquet history file, or the bundled daily closes when ``path`` is ``None``.

    Raises
    ------
    InputError
        Missing/unreadable file, unknown extension, or invalid content.
    """
    if path is None:
        return history_from_frame(load_daily_closes(), source="bundled")
    p = Path(path)
    if not p.exists():
        raise InputError("history file not found", path=str(p))
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError("history must be a .csv or .parquet file", path=str(p))
    df = read_csv_or_parquet(p, what="history")
    if suffix != ".csv" and isinstance(df.index, pd.DatetimeIndex):
        df = df.reset_index(names="date")
    return history_from_frame(df, source=str(p))
