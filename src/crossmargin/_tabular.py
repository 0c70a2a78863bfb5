"""Tabular files (CSV, Parquet, JSON records) read strictly, and typed columns checked.

The lenient edge for tables still refuses everything that would silently change a number:

* **CSV** is parsed by Arrow with every cell read as text: a row with more or fewer fields than
  the header is an error naming its row (pandas would fill or shift the columns: a history row
  missing one close would give the next asset's close to the previous one); a repeated or empty
  column name is an error (pandas renames ``BTC`` to ``BTC.1``); only an empty cell is missing —
  ``nan``, ``NA``, ``null``, ``inf`` or ``true`` in a number column are errors, not values.
* **Parquet** columns must have the type their role needs: numbers are integer, floating or
  decimal columns (a boolean column is not 0/1, a timestamp is not its epoch nanoseconds); text
  columns are strings. A null is a missing value, a floating NaN is an error.
* **JSON** tables are a list of records read by the shared JSON reader (duplicate keys refused);
  a number is a JSON number (not ``"5"``, not ``true``), text is a JSON string (not a list).

Limits (an error beyond each, see docs/formats.md): :data:`~crossmargin.limits.MAX_TABLE_BYTES`
per CSV/JSON file (a pipe or device is read up to it), :data:`MAX_TABLE_ROWS` rows,
:data:`MAX_TABLE_COLUMNS` columns, :data:`MAX_CELL_CHARS` characters per text cell.

Running out of memory while reading is reported as a :class:`MemoryError` naming the file — not
as an input error: the file may be fine.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import stat
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from crossmargin._typing import FloatArray
from crossmargin.errors import InputError
from crossmargin.limits import MAX_TABLE_BYTES, load_json_bounded, read_bounded_bytes

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_TABLE_COLUMNS",
    "MAX_TABLE_ROWS",
    "check_date_column",
    "number_column",
    "read_csv_or_parquet",
    "read_csv_text",
    "read_json_records",
    "read_parquet_checked",
    "text_column",
]

#: Most data rows of one table (positions, collateral, history).
MAX_TABLE_ROWS = 50_000_000
#: Most columns of one table.
MAX_TABLE_COLUMNS = 10_000
#: Longest text cell (account, instrument, asset, column name), in characters.
MAX_CELL_CHARS = 256

Where = Callable[[int], str]


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "a boolean"
    if isinstance(v, pd.Timestamp | np.datetime64):
        return "a date/time"
    if isinstance(v, list | tuple | np.ndarray):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, str):
        return "text"
    if isinstance(v, int | float | np.number):
        return "a number"
    return type(v).__name__


def _dtype_problem(dtype: Any) -> str | None:
    """Why a column of this dtype cannot hold numbers (``None`` if it can)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "a boolean column (true/false is not a quantity)"
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "a date/time column (not a number)"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "a duration column (not a number)"
    if pd.api.types.is_complex_dtype(dtype):
        return "a complex-number column"
    return None


def number_column(values: pd.Series, where: Where, *, text: bool = False) -> FloatArray:
    """A column's numbers as ``float64`` (NaN where a cell is missing).

    Parameters
    ----------
    values
        The column.
    where
        Row index → path of the cell for error messages (``positions[3].quantity``).
    text
        Whether text cells are numbers written as text (CSV): parsed strictly — only an empty
        cell (null) is missing; ``nan``, ``inf``, ``true`` or ``1,5`` are errors. Otherwise text
        is refused.

    Raises
    ------
    InputError
        Booleans, dates, durations, text (unless ``text``), lists or objects in the column; a
        literal NaN. Infinite values are returned as they are (callers check finiteness with
        their own bounds).
    """
    problem = _dtype_problem(values.dtype)
    if problem is not None:
        raise InputError(f"must be a number, got {problem}", path=where(0))
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_object_dtype(
        values.dtype
    ):
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(out, dtype=np.float64)
    # object / string columns: every present cell must be a number (or text, for CSV)
    present = values.notna().to_numpy()
    kind = pd.api.types.infer_dtype(values, skipna=True)
    try:
        if kind in ("string", "empty") and text:
            parsed = pd.to_numeric(values.where(values.notna(), None), errors="coerce")
            out = np.asarray(parsed.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
            bad = present & np.isnan(out)
            if bad.any():
                r = _first(bad)
                raise InputError(f"must be a number, got {_show(values.iloc[r])}", path=where(r))
            return out
        if kind in ("integer", "floating", "mixed-integer-float", "decimal", "empty"):
            num = pd.to_numeric(values, errors="coerce")
            return np.asarray(num.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        pass  # e.g. an integer too large for a float: found and named below
    return _numbers_one_by_one(values.to_numpy(dtype=object), present, where, text=text)


def _numbers_one_by_one(
    cells: np.ndarray, present: np.ndarray, where: Where, *, text: bool
) -> FloatArray:
    """The slow path for columns mixing types (rare): every cell checked, the first bad named."""
    out = np.full(cells.shape[0], np.nan)
    for r, v in enumerate(cells):
        if not present[r]:
            continue
        if isinstance(v, str) and text:
            x = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
            if pd.isna(x):
                raise InputError(f"must be a number, got {_show(v)}", path=where(r))
            out[r] = float(x)
            continue
        if isinstance(v, bool | np.bool_) or not isinstance(
            v, int | float | np.integer | np.floating
        ):
            raise InputError(f"must be a number, got {_type_name(v)} {_show(v)}", path=where(r))
        try:
            out[r] = float(v)
        except OverflowError:
            raise InputError(f"number out of range: {_show(v)}", path=where(r)) from None
    return out


def text_column(values: pd.Series, where: Where, *, integers: bool = False) -> pd.Series:
    """A column of text cells (null where missing), checked.

    Parameters
    ----------
    values
        The column.
    where
        Row index → path of the cell.
    integers
        Accept integer cells as their decimal text (account ids stored as numbers).

    Raises
    ------
    InputError
        A cell that is not text (a list, an object, a boolean, a date, a float, or an integer
        unless ``integers``), or longer than :data:`MAX_CELL_CHARS`.
    """
    dtype = values.dtype
    if integers and pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        out = values.astype("string")
    elif isinstance(dtype, pd.CategoricalDtype):
        return text_column(values.astype(object), where, integers=integers)
    else:
        problem = _dtype_problem(dtype)
        if problem is not None:
            raise InputError(f"must be text, got {problem}", path=where(0))
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind not in ("string", "empty"):
            allowed = (str, int, np.integer) if integers else (str,)
            for r, v in enumerate(values.to_numpy(dtype=object)):
                if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                    continue
                if isinstance(v, bool | np.bool_) or not isinstance(v, allowed):
                    raise InputError(f"must be text, got {_type_name(v)} {_show(v)}", path=where(r))
        out = values.astype("string")
    lengths = out.str.len().to_numpy(dtype=np.float64, na_value=0.0)
    too_long = lengths > MAX_CELL_CHARS
    if too_long.any():
        r = _first(too_long)
        raise InputError(
            f"text longer than {MAX_CELL_CHARS} characters ({int(lengths[r])})", path=where(r)
        )
    return out


def _check_shape(n_rows: int, names: list[str], path: Path) -> None:
    if n_rows > MAX_TABLE_ROWS:
        raise InputError(f"more than {MAX_TABLE_ROWS:,} rows ({n_rows:,})", path=str(path))
    if len(names) > MAX_TABLE_COLUMNS:
        raise InputError(f"more than {MAX_TABLE_COLUMNS:,} columns", path=str(path))
    seen: dict[str, str] = {}
    for k, name in enumerate(names):
        key = name.strip().lower()
        if not key:
            raise InputError(f"column {k + 1} has no name", path=str(path))
        if len(name) > MAX_CELL_CHARS:
            raise InputError(
                f"column {k + 1}: name longer than {MAX_CELL_CHARS} characters", path=str(path)
            )
        if key in seen:
            raise InputError(
                f"column {name!r} appears twice"
                + (f" (as {seen[key]!r}; names ignore case)" if seen[key] != name else ""),
                path=str(path),
            )
        seen[key] = name


def _csv_source(path: Path, what: str) -> tuple[Any, Callable[[], IO[bytes]]]:
    """What Arrow reads, and an opener of the same bytes for the header.

    A regular file is read by Arrow from its path (no copy in Python memory); a pipe or a device
    is read into memory up to the limit first.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{what} file not found", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read {what} file: {exc.strerror}", path=str(path)) from None
    if stat.S_ISREG(st.st_mode):
        if st.st_size > MAX_TABLE_BYTES:
            raise InputError(
                f"{what} file is {st.st_size / 1024**2:,.0f} MiB, larger than the table limit "
                f"of {MAX_TABLE_BYTES // 1024**2:,} MiB",
                path=str(path),
            )
        if st.st_size == 0:
            raise InputError(f"{what} file is empty", path=str(path))
        return str(path), lambda: path.open("rb")
    data = read_bounded_bytes(path, what=what, limit=MAX_TABLE_BYTES)  # /dev/zero, a pipe
    if not data.strip():
        raise InputError(f"{what} file is empty", path=str(path))
    return io.BytesIO(data), lambda: io.BytesIO(data)


_UTF8_CHUNK = 1 << 20


def _check_utf8(reopen: Callable[[], IO[bytes]], path: Path) -> None:
    """Refuse a file that is not UTF-8 before Arrow reads it.

    Arrow checks UTF-8 only in the columns it converts: a bad byte in a row it rejects (wrong
    field count) reaches the invalid-row handler as undecodable text, and Arrow reports that
    decoding failure itself. Checked in chunks, so memory stays bounded.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with reopen() as fh:
            while chunk := fh.read(_UTF8_CHUNK):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        pending = len(decoder.getstate()[0])
        at = max(offset - pending, 0) + exc.start
        raise InputError(f"not UTF-8 text (byte {at})", path=str(path)) from None


def _arrow_reason(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def read_csv_text(path: Path, *, what: str) -> pd.DataFrame:
    """A CSV file as text columns (``None`` for an empty cell), every row checked.

    Raises
    ------
    InputError
        Unreadable or too large file, not UTF-8, a row whose field count differs from the
        header's, an empty or repeated column name, too many rows or columns.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source, reopen = _csv_source(path, what)
    _check_utf8(reopen, path)
    try:  # the header alone (Python's csv module: quotes respected), to type every column
        with reopen() as fh:
            header = next(csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=str(path)) from None
    except (csv.Error, StopIteration) as exc:
        raise InputError(
            f"cannot read the header of the {what} table: {exc or 'no header'}", path=str(path)
        ) from None
    names = [str(n) for n in header]
    _check_shape(0, names, path)
    bad_row: list[Any] = []

    def on_invalid(row: Any) -> str:
        bad_row.append(row)
        return "error"

    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except MemoryError:
        raise MemoryError(f"reading the {what} table {path}") from None
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        if bad_row:
            r = bad_row[0]
            at = f"row {r.number} (header = row 1)" if r.number else "a row"
            raise InputError(
                f"{at} has {r.actual_columns} fields, the header has {r.expected_columns}: "
                f"{_show(r.text)}",
                path=str(path),
            ) from None
        reason = _arrow_reason(exc)
        if "UTF8" in reason or "utf-8" in reason.lower():
            raise InputError("not UTF-8 text", path=str(path)) from None
        raise InputError(f"cannot read {what} table: {reason}", path=str(path)) from None
    _check_shape(table.num_rows, [str(n) for n in table.column_names], path)
    df: pd.DataFrame = table.to_pandas()
    return df


def read_parquet_checked(path: Path, *, what: str) -> pd.DataFrame:
    """A Parquet file as a frame (nulls → NaN/None), after checking its shape.

    A floating NaN (as opposed to a null) in a number column is an error.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{what} file not found", path=str(path))
    try:
        meta = pq.read_metadata(path)
        _check_shape(meta.num_rows, [str(n) for n in meta.schema.to_arrow_schema().names], path)
        table = pq.read_table(path)
    except InputError:
        raise
    except MemoryError:
        raise MemoryError(f"reading the {what} table {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} path is a directory", path=str(path)) from None
    except OSError as exc:
        if isinstance(exc, pa.ArrowException):
            raise InputError(
                f"cannot read {what} table: {_arrow_reason(exc)}", path=str(path)
            ) from None
        raise InputError(
            f"cannot read {what} file: {exc.strerror or exc}", path=str(path)
        ) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise InputError(
            f"cannot read {what} table: {_arrow_reason(exc)}", path=str(path)
        ) from None
    for k, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            nan = pc.is_nan(table.column(k)).to_numpy(zero_copy_only=False)
            nan = np.asarray(nan, dtype=np.bool_) & ~np.asarray(
                pc.is_null(table.column(k)).to_numpy(zero_copy_only=False), dtype=np.bool_
            )
            if nan.any():
                raise InputError(
                    "NaN is not a value (leave the cell null for a missing value)",
                    path=f"{what}[{_first(nan)}].{field.name}",
                )
    try:
        df: pd.DataFrame = table.to_pandas()
    except MemoryError:
        raise MemoryError(f"reading the {what} table {path}") from None
    return df


def read_json_records(path: Path, *, what: str, numbers: Collection[str] = ()) -> pd.DataFrame:
    """A JSON table (a list of records, one object per row) as a frame.

    Numbers in the ``numbers`` columns must be finite JSON numbers or ``null`` (missing).
    """
    obj = load_json_bounded(path, what=what, limit=MAX_TABLE_BYTES)
    if not isinstance(obj, list):
        raise InputError("a JSON table must be a list of records (objects)", path=str(path))
    if len(obj) > MAX_TABLE_ROWS:
        raise InputError(f"more than {MAX_TABLE_ROWS:,} rows", path=str(path))
    columns: dict[str, None] = {}
    for r, rec in enumerate(obj):
        if not isinstance(rec, dict):
            raise InputError(
                f"a record must be an object, got {_type_name(rec)}", path=f"{what}[{r}]"
            )
        for key in rec:
            columns.setdefault(key)
    _check_shape(len(obj), list(columns), path)
    frame: dict[str, pd.Series] = {}
    for col in columns:
        cells = [rec.get(col) for rec in obj]
        if col in numbers:
            for r, v in enumerate(cells):
                if isinstance(v, float) and not math.isfinite(v):
                    raise InputError(
                        f"must be finite, got {'NaN' if math.isnan(v) else v}",
                        path=f"{what}[{r}].{col}",
                    )
        frame[col] = pd.Series(cells, dtype=object)
    return pd.DataFrame(frame, index=pd.RangeIndex(len(obj)))


def read_csv_or_parquet(path: Path, *, what: str) -> pd.DataFrame:
    """A ``.csv`` (text cells, see :func:`read_csv_text`) or ``.parquet``/``.pq`` file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_text(path, what=what)
    if suffix in (".parquet", ".pq"):
        return read_parquet_checked(path, what=what)
    raise InputError(f"unknown {what} format; use .csv or .parquet", path=str(path))


def check_date_column(values: pd.Series, where: str) -> None:
    """Dates must be text or a date/time column: numbers would be read as epoch nanoseconds."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        raise InputError(
            f"dates must be ISO text or a date/time column, got a {dtype} column", path=where
        )
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind not in ("string", "empty", "datetime", "datetime64", "date"):
        raise InputError(f"dates must be ISO text or a date/time column, got {kind}", path=where)
