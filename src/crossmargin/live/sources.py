"""Streaming readers of tick files: JSON Lines, Pyth records, a CSV of closes.

Every reader is a generator over the file: memory stays bounded by one line whatever the file's
size, and ``-`` reads standard input (a live stream: a Pyth SSE stream piped in). Limits: the
project's (:mod:`crossmargin.limits`, docs/formats.md "Limits") applied to
each line — a key given twice, a number literal over ``MAX_NUMBER_CHARS``, a string over
``MAX_STRING_CHARS``, nesting over ``MAX_DEPTH`` are refused — plus a file of at most
:data:`MAX_TICK_FILE_BYTES` (the batch-table limit, 2 GiB) and lines of at most
:data:`MAX_LINE_BYTES` (1 MiB).

Formats (docs/formats.md, "Tick formats"):

* ``jsonl`` — one JSON object per line with a ``type`` (:mod:`crossmargin.live.codec`); blank
  lines are skipped;
* ``pyth`` — one Pyth Hermes document per line: a ``ParsedPriceUpdate``, a list of them, or a
  response / stream event ``{"parsed": [...]}`` (an SSE ``data:`` prefix is accepted); each
  record becomes a market update of feed ``pyth`` (:func:`crossmargin.io.feeds.decode_pyth`);
* ``csv-closes`` — a header ``date`` (or ``time``/``timestamp``) then one column per asset;
  one row per instant, strictly increasing; a blank cell means no print. A date
  ``YYYY-MM-DD`` is the close of that UTC day, observed at the end of the day (the next
  midnight, UTC); an instant must carry its zone. Each cell becomes a market update of the
  reader's feed (default ``closes``) numbered 1, 2, 3 … in file order, optionally with the vol
  a :class:`~crossmargin.live.volproxy.VolRule` derives from the prices.

Errors name the file and line (``ticks.jsonl:12.price``); a malformed file stops the reader at
its first bad line.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal, TypedDict, Unpack

from crossmargin._time import parse_instant
from crossmargin.errors import InputError
from crossmargin.io.feeds import FeedRules
from crossmargin.limits import (
    MAX_DEPTH,
    MAX_STRING_CHARS,
    MAX_TABLE_BYTES,
    _parse_float,
    _parse_int,
    _unique_keys,
    check_structure,
    parse_json,
)
from crossmargin.live.codec import update_from_obj
from crossmargin.live.records import MarketUpdate, Update
from crossmargin.live.volproxy import VolRule

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_TICK_FILE_BYTES",
    "STDIN",
    "TICK_FORMATS",
    "TickFormat",
    "detect_format",
    "iter_lines",
    "iter_updates",
    "parse_json_line",
    "read_updates",
]

#: Largest tick file, in bytes (the batch-table limit).
MAX_TICK_FILE_BYTES = MAX_TABLE_BYTES
#: Longest line of a tick file, in bytes (a new account of ~5 000 positions fits).
MAX_LINE_BYTES = 1024 * 1024
#: The tick "file" that is standard input: a live stream (no size limit, lines still bounded).
STDIN = "-"

TickFormat = Literal["jsonl", "pyth", "csv-closes"]
Located = Iterator[tuple[Update, str]]
TICK_FORMATS: tuple[TickFormat, ...] = ("jsonl", "pyth", "csv-closes")
_SUFFIXES: Mapping[str, TickFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv-closes",
}
_TIME_COLUMNS = ("date", "time", "timestamp")


def detect_format(path: str | Path) -> TickFormat:
    """The tick format a file name implies.

    ``.jsonl``, ``.ndjson``, ``.json`` → ``jsonl``; ``.csv`` → ``csv-closes``.

    Raises
    ------
    InputError
        The suffix names no tick format.
    """
    if str(path) == STDIN:
        raise InputError(
            f"standard input has no file name: give the tick format ({', '.join(TICK_FORMATS)})",
            path="<stdin>",
        )
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the tick format from the file name; give it ({', '.join(TICK_FORMATS)})",
            path=str(path),
        )
    return fmt


# -- bounded line reading ---------------------------------------------------------------------------
def _name(path: Path) -> str:
    """How errors name the source (``<stdin>`` for :data:`STDIN`)."""
    return "<stdin>" if str(path) == STDIN else str(path)


def _open(path: Path, limit: int) -> AbstractContextManager[IO[bytes]]:
    if str(path) == STDIN:
        return nullcontext(sys.stdin.buffer)  # a live stream: not ours to close
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise InputError("tick file not found", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("tick file is a directory", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read tick file: {exc.strerror or exc}", path=str(path)) from None
    st = os.fstat(f.fileno())
    if stat.S_ISDIR(st.st_mode):
        f.close()
        raise InputError("tick file is a directory", path=str(path))
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:
        f.close()
        raise InputError(
            f"tick file is {st.st_size} bytes, larger than the limit of {limit} bytes",
            path=str(path),
        )
    return f


def iter_lines(
    path: str | Path, *, max_line: int = MAX_LINE_BYTES, max_bytes: int = MAX_TICK_FILE_BYTES
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line of a UTF-8 file, one line in memory at a time.

    Raises
    ------
    InputError
        Missing or unreadable file, a file or line over its limit, a line that is not UTF-8.
    """
    p = Path(path)
    name = _name(p)
    if str(p) == STDIN:
        max_bytes = sys.maxsize  # a live stream has no size; each line still has one
    total = 0
    with _open(p, max_bytes) as f:
        n = 0
        while True:
            try:
                raw = f.readline(max_line + 1)
            except OSError as exc:
                raise InputError(
                    f"cannot read tick file: {exc.strerror or exc}", path=name
                ) from None
            if not raw:
                return
            n += 1
            total += len(raw)
            if total > max_bytes:
                raise InputError(f"larger than the limit of {max_bytes} bytes", path=f"{name}:{n}")
            if len(raw.rstrip(b"\r\n")) > max_line:
                raise InputError(f"line longer than {max_line} bytes", path=f"{name}:{n}")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"not UTF-8 text (byte {exc.start})", path=f"{name}:{n}") from None
            if n == 1:
                text = text.removeprefix("\ufeff")
            yield n, text.rstrip("\r\n")


# -- JSON lines -------------------------------------------------------------------------------------
#: One decoder for every line, with the project's rules (crossmargin.limits): a key given twice
#: and an over-long number literal are refused by the same hooks ``limits.parse_json`` uses.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_int=_parse_int, parse_float=_parse_float
)


def parse_json_line(text: str, *, path: str) -> Any:
    """Parse one line under the project's JSON limits (:func:`crossmargin.limits.parse_json`).

    The fast path decodes with a reused decoder and walks the structure only when the line is
    long enough or has brackets enough to break a limit; any failure is re-parsed by
    ``limits.parse_json`` for its exact message. ``NaN``/``Infinity`` tokens parse (the record
    then refuses the field by name).

    Raises
    ------
    InputError
        Not JSON, a duplicate key, a number literal, string or nesting over its limit.
    """
    try:
        obj = _DECODER.decode(text)
    except Exception:
        return parse_json(text, source=path)  # the reference parser names the error
    if len(text) > MAX_STRING_CHARS or text.count("{") + text.count("[") > MAX_DEPTH:
        check_structure(obj, source=path)
    return obj


def _jsonl(path: Path, pyth_ids: Mapping[str, str], rules: FeedRules) -> Located:
    for n, text in iter_lines(path):
        if not text.strip():
            continue
        where = f"{_name(path)}:{n}"
        obj = parse_json_line(text, path=where)
        yield update_from_obj(obj, path=where, pyth_ids=pyth_ids, pyth_rules=rules), str(n)


def _pyth_records(doc: Any, where: str) -> Iterator[tuple[Any, str]]:
    if isinstance(doc, dict) and "parsed" in doc:
        items = doc["parsed"]
        if not isinstance(items, list):
            raise InputError("must be a list of price updates", path=f"{where}.parsed")
        for i, r in enumerate(items):
            yield r, f"{where}.parsed[{i}]"
    elif isinstance(doc, list):
        for i, r in enumerate(doc):
            yield r, f"{where}[{i}]"
    elif isinstance(doc, dict):
        yield doc, where
    else:
        raise InputError("not a Pyth price update (an object or a list)", path=where)


def _pyth(path: Path, pyth_ids: Mapping[str, str], rules: FeedRules) -> Located:
    for n, text in iter_lines(path):
        body = text.strip()
        if not body or body.startswith(":"):  # blank line or SSE comment
            continue
        if body.startswith("data:"):
            body = body[5:].strip()
        where = f"{_name(path)}:{n}"
        for rec, at in _pyth_records(parse_json_line(body, path=where), where):
            if not isinstance(rec, dict):
                raise InputError("a Pyth price update must be a JSON object", path=at)
            if "type" in rec:
                raise InputError("unknown field in a Pyth price update", path=f"{at}.type")
            obj = {"type": "pyth", **rec}
            u = update_from_obj(obj, path=at, pyth_ids=pyth_ids, pyth_rules=rules)
            yield u, at.removeprefix(f"{_name(path)}:")


# -- CSV of closes ----------------------------------------------------------------------------------
def _row_time(cell: str, where: str) -> datetime:
    text = cell.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise InputError(f"{text!r} is not a date YYYY-MM-DD", path=where) from None
        return day + timedelta(days=1)  # the close of day D is observed at the end of D
    try:
        return parse_instant(text)
    except (ValueError, OverflowError) as exc:
        raise InputError(str(exc), path=where) from None


def _header(row: list[str], where: str) -> list[str]:
    if not row or row[0].strip().lower() not in _TIME_COLUMNS:
        raise InputError(
            "the first column must be 'date' (or 'time'/'timestamp'), then one column per asset",
            path=where,
        )
    assets: list[str] = []
    for i, name in enumerate(row[1:], start=1):
        sym = name.strip().upper()
        if not sym or not sym.replace("_", "").replace(".", "").isalnum() or not sym[0].isalnum():
            raise InputError(f"column {i + 1} {name[:40]!r} is not an asset symbol", path=where)
        if sym in assets:
            raise InputError(f"column {sym} is given twice", path=where)
        assets.append(sym)
    if not assets:
        raise InputError("no asset columns", path=where)
    return assets


def _price(cell: str, where: str) -> float:
    try:
        x = float(cell)
    except ValueError:
        raise InputError(f"{cell[:40]!r} is not a number", path=where) from None
    return x  # finiteness and sign are the record's rules


def _csv(path: Path, feed: str, vol_rule: VolRule | None) -> Located:
    lines = iter_lines(path)
    numbers: list[int] = []

    def texts(src: Iterable[tuple[int, str]]) -> Iterator[str]:
        for n, t in src:
            numbers.append(n)
            yield t

    reader = csv.reader(texts(lines), strict=True)
    assets: list[str] | None = None
    seq = 0
    last: datetime | None = None
    try:
        for row in reader:
            n = numbers[-1]
            numbers.clear()
            where = f"{_name(path)}:{n}"
            if assets is None:
                assets = _header(row, where)
                continue
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(assets) + 1:
                raise InputError(
                    f"{len(row)} columns, the header has {len(assets) + 1}", path=where
                )
            t = _row_time(row[0], f"{where}.date")
            if last is not None and t <= last:
                raise InputError(
                    "times must increase from row to row (a replay is in time order)",
                    path=f"{where}.date",
                )
            last = t
            for sym, cell in zip(assets, row[1:], strict=True):
                if not cell.strip():
                    continue
                at = f"{where}.{sym}"
                price = _price(cell.strip(), at)
                seq += 1
                try:
                    vols = vol_rule.update(sym, t, price) if vol_rule is not None else {}
                    u = MarketUpdate(feed, seq, t, sym, price=price, vols=vols)
                except InputError as exc:
                    raise InputError(exc.reason, path=at) from None
                yield u, f"{n}.{sym}"
    except csv.Error as exc:
        raise InputError(
            f"not a valid CSV row: {exc}", path=f"{_name(path)}:{numbers[-1] if numbers else '?'}"
        ) from None
    if assets is None:
        raise InputError("empty file: no header", path=_name(path))


def iter_updates(
    path: str | Path,
    *,
    format: TickFormat | None = None,
    feed: str = "closes",
    pyth_ids: Mapping[str, str] | None = None,
    pyth_rules: FeedRules | None = None,
    vol_rule: VolRule | None = None,
) -> Located:
    """Stream ``(update, where)`` pairs of a tick file, validated one line at a time.

    ``where`` locates the update in the file: the line number (``12``), with the record of a
    Pyth document (``12.parsed[0]``) or the asset column of a CSV row (``12.BTC``).

    Parameters
    ----------
    path
        The tick file.
    format
        ``jsonl``, ``pyth`` or ``csv-closes``; ``None``: from the file name
        (:func:`detect_format`).
    feed
        Feed id of the updates of a CSV of closes.
    pyth_ids
        Pyth feed id → ``BASE[/QUOTE][@SOURCE]`` (:func:`crossmargin.io.feeds.feed_pair`).
    pyth_rules
        Acceptance rules of Pyth records.
    vol_rule
        CSV of closes: derives each tick's vol from the prices (``None``: prices only).

    Raises
    ------
    InputError
        At the first bad line, naming the file, the line and the field.
    MarketDataError
        A Pyth record with too wide a confidence interval.
    """
    p = Path(path)
    fmt = format or detect_format(p)
    if fmt == "jsonl":
        return _jsonl(p, pyth_ids or {}, pyth_rules or FeedRules())
    if fmt == "pyth":
        return _pyth(p, pyth_ids or {}, pyth_rules or FeedRules())
    if fmt == "csv-closes":
        return _csv(p, feed, vol_rule)
    raise InputError(f"unknown tick format {fmt!r} (one of {', '.join(TICK_FORMATS)})", path=str(p))


class ReadOptions(TypedDict, total=False):
    """The keyword options of :func:`iter_updates` (what :func:`read_updates` passes on)."""

    format: TickFormat | None
    feed: str
    pyth_ids: Mapping[str, str] | None
    pyth_rules: FeedRules | None
    vol_rule: VolRule | None


def read_updates(path: str | Path, **options: Unpack[ReadOptions]) -> Iterator[Update]:
    """Stream the updates of a tick file (:func:`iter_updates`, same options, no locations)."""
    return (u for u, _ in iter_updates(path, **options))
