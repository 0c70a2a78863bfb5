"""Input limits and the bounded readers every loader goes through.

A hostile or sloppy file must end in one :class:`~crossmargin.errors.InputError` naming the file
(and the place inside it), never in a ``MemoryError``, ``RecursionError``, ``ValueError`` or a
silently truncated value. Every file crossmargin reads is read through :func:`read_bounded_bytes`
/ :func:`read_bounded_text`; JSON documents are parsed by :func:`parse_json` (file:
:func:`load_json_bounded`), YAML documents by :func:`load_yaml_bounded`.

The limits (documented in docs/formats.md, "Limits"):

=========================  ===================  ==============================================
limit                      default              what happens beyond it
=========================  ===================  ==============================================
input size                 ``MAX_INPUT_BYTES``  the file (or HTTP response) is refused before
                           (64 MiB; tables      it is parsed; callers may pass their own limit
                           ``MAX_TABLE_BYTES``
                           2 GiB)
nesting depth              ``MAX_DEPTH`` (64)   arrays/objects nested deeper are refused
number literal             ``MAX_NUMBER_CHARS`` a JSON/YAML number written with more
                           (64 characters)      characters is refused (1e400 is finite-checked
                                                by the schema; a 400-digit integer here)
string / key length        ``MAX_STRING_CHARS`` a longer string or object key is refused
                           (4096 characters)
duplicate keys             none allowed         an object key given twice is refused (JSON and
                                                YAML would silently keep the last value)
YAML aliases               ``MAX_YAML_ALIASES`` more alias references are refused (no
                           (100)                "billion laughs" expansion)
YAML expanded size         ``MAX_YAML_NODES``   a document whose aliases expand it to more
                           (100 000 nodes)      nodes is refused (counted without expanding);
                                                a recursive alias (``&a [*a]``) is refused
=========================  ===================  ==============================================

Usage (the API is stable; the CLI uses it for tables, shock and history files too)::

    text = read_bounded_text(path, what="history")              # str, size-limited UTF-8
    doc = load_json_bounded(path, what="portfolio")             # parsed + structure-checked
    obj = parse_json(body, source=url, error=MarketDataError)   # bytes/str from elsewhere
    cfg = load_yaml_bounded(path, what="config", error=ConfigError)
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from crossmargin.errors import CrossMarginError, InputError

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_BYTES",
    "MAX_NUMBER_CHARS",
    "MAX_STRING_CHARS",
    "MAX_TABLE_BYTES",
    "MAX_YAML_ALIASES",
    "MAX_YAML_NODES",
    "check_structure",
    "load_json_bounded",
    "load_yaml_bounded",
    "parse_json",
    "parse_yaml",
    "read_bounded_bytes",
    "read_bounded_stream",
    "read_bounded_text",
]

#: Largest JSON/YAML document read, in bytes (64 MiB ≈ 500 000 positions; larger books belong
#: in Parquet batch tables).
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: Largest batch table (Parquet/CSV) or price-history file read, in bytes (2 GiB).
MAX_TABLE_BYTES = 2 * 1024 * 1024 * 1024
#: Deepest nesting of arrays/objects in a document (our schemas need fewer than 10).
MAX_DEPTH = 64
#: Longest number literal, in characters (a float needs at most ~25; 64 leaves room).
MAX_NUMBER_CHARS = 64
#: Longest string value or object key, in characters.
MAX_STRING_CHARS = 4096
#: Most alias references (``*name``) in one YAML document.
MAX_YAML_ALIASES = 100
#: Most nodes (scalars, sequences, mappings) of a YAML document once its aliases are expanded:
#: an alias of an alias of ... ("billion laughs") multiplies, so the count is bounded too.
MAX_YAML_NODES = 100_000

ErrorType = type[CrossMarginError]
_CHUNK = 1 << 20


def _mib(n: int) -> str:
    return f"{n / 1048576:g} MiB" if n >= 1048576 else f"{n} bytes"


def read_bounded_stream(
    stream: IO[bytes], *, source: str, limit: int = MAX_INPUT_BYTES, error: ErrorType = InputError
) -> bytes:
    """Read at most ``limit`` bytes from a binary stream (an HTTP response, a pipe).

    Raises
    ------
    CrossMarginError
        Of type ``error``, naming ``source``, if the stream holds more than ``limit`` bytes.
    """
    buf = bytearray()
    while True:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise error(f"larger than the input limit of {_mib(limit)}", path=source)
    return bytes(buf)


def read_bounded_bytes(
    path: str | Path, *, what: str, limit: int = MAX_INPUT_BYTES, error: ErrorType = InputError
) -> bytes:
    """Read a file of at most ``limit`` bytes.

    A regular file larger than the limit is refused before reading; a device or pipe
    (``/dev/zero``) is read up to the limit and refused beyond it.

    Raises
    ------
    CrossMarginError
        Of type ``error`` naming the file: not found, a directory, unreadable, or too large.
    """
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise error(f"{what} file must be a path, got {type(path).__name__}", path=str(path))
    p = Path(path)
    try:
        with p.open("rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise error(f"{what} file is a directory", path=str(p))
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                raise error(
                    f"{what} file is {_mib(st.st_size)}, larger than the input limit of "
                    f"{_mib(limit)}",
                    path=str(p),
                )
            if stat.S_ISREG(st.st_mode):
                data = f.read(limit + 1)
                if len(data) > limit:  # grew while we read it
                    raise error(f"larger than the input limit of {_mib(limit)}", path=str(p))
                return data
            return read_bounded_stream(f, source=str(p), limit=limit, error=error)
    except FileNotFoundError:
        raise error(f"{what} file not found", path=str(p)) from None
    except IsADirectoryError:
        raise error(f"{what} file is a directory", path=str(p)) from None
    except OSError as exc:
        raise error(f"cannot read {what} file: {exc.strerror or exc}", path=str(p)) from None
    except MemoryError:
        # the machine is out of memory, the file is within the limit: not an input error (the
        # command line reports "out of memory", exit code 1)
        raise MemoryError(f"reading the {what} file {p}") from None


def _decode(data: bytes, source: str, error: ErrorType) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", path=source) from None
    return text.removeprefix("\ufeff")


def read_bounded_text(
    path: str | Path, *, what: str, limit: int = MAX_INPUT_BYTES, error: ErrorType = InputError
) -> str:
    """Read a UTF-8 text file of at most ``limit`` bytes (a leading BOM is dropped).

    Raises
    ------
    CrossMarginError
        Of type ``error`` naming the file (see :func:`read_bounded_bytes`; also not UTF-8).
    """
    return _decode(read_bounded_bytes(path, what=what, limit=limit, error=error), str(path), error)


# -- JSON ------------------------------------------------------------------------------------------
class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _LongNumberError(Exception):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKeyError(k)
            seen.add(k)
    return out


def _parse_int(s: str) -> int:
    if len(s) > MAX_NUMBER_CHARS:
        raise _LongNumberError(s)
    return int(s)


def _parse_float(s: str) -> float:
    if len(s) > MAX_NUMBER_CHARS:
        raise _LongNumberError(s)
    return float(s)


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {col}"


def _short(s: str, n: int = 24) -> str:
    return s if len(s) <= n else s[:n] + "…"


def parse_json(text: str | bytes, *, source: str, error: ErrorType = InputError) -> Any:
    """Parse a JSON document with every limit of this module applied.

    Duplicate keys, number literals longer than :data:`MAX_NUMBER_CHARS`, nesting deeper than
    :data:`MAX_DEPTH` and strings longer than :data:`MAX_STRING_CHARS` are refused. ``NaN`` and
    ``Infinity`` tokens parse (the schemas refuse them with the field's path).

    Parameters
    ----------
    text
        The document (bytes are decoded as UTF-8).
    source
        The file name or URL, used as the error path.
    error
        Error type to raise (e.g. :class:`~crossmargin.errors.MarketDataError` for a feed).
    """
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
        text = _decode(raw, source, error)
    else:
        raw = text.encode("utf-8", "surrogatepass")
    try:
        obj = json.loads(
            text, object_pairs_hook=_unique_keys, parse_int=_parse_int, parse_float=_parse_float
        )
    except json.JSONDecodeError as exc:
        raise error(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path=source
        ) from None
    except _DuplicateKeyError as exc:
        # the json module would silently keep the last value (e.g. of a repeated "quantity")
        raise error(
            f"duplicate key {_short(exc.key, 80)!r} in a JSON object", path=source
        ) from None
    except _LongNumberError as exc:
        where = _line_col(text, max(text.find(exc.literal), 0))
        raise error(
            f"number literal of {len(exc.literal)} characters at {where} (limit "
            f"{MAX_NUMBER_CHARS}): {_short(exc.literal)}",
            path=source,
        ) from None
    except RecursionError:
        raise error(f"nested deeper than {MAX_DEPTH} levels", path=source) from None
    if not _within_limits(raw):  # the exact walk only when the quick scan cannot prove it
        check_structure(obj, source=source, error=error)
    return obj


# byte classes for the scan: 1 a quote, 2 an opening bracket, 3 a closing one, 0 anything else
_CLASS = np.zeros(256, np.uint8)
_CLASS[ord('"')] = 1
_CLASS[[ord("["), ord("{")]] = 2
_CLASS[[ord("]"), ord("}")]] = 3
_STEP = np.array([0, 0, 1, -1], np.int8)


def _within_limits(raw: bytes) -> bool:
    """A vectorised scan of the document proving nesting ≤ MAX_DEPTH and strings ≤ MAX_STRING_CHARS.

    Without an escaped quote every ``"`` delimits a string, so no gap between consecutive quotes
    (in bytes, ≥ characters) above the limit means no long string, and brackets outside strings
    give the nesting depth. ``False`` (not proven) sends the caller to the exact walk.
    """
    if b'\\"' in raw:
        return False
    cls = _CLASS[np.frombuffer(raw, np.uint8)]
    marks = np.flatnonzero(cls)
    c = cls[marks]
    q = c == 1
    quotes = marks[q]
    if quotes.size and int(np.diff(quotes, prepend=-1).max()) > MAX_STRING_CHARS + 1:
        return False  # a long string, or long text between strings: decide exactly
    inside = ((np.cumsum(q, dtype=np.int64) - q) & 1).astype(np.bool_)  # odd quotes before
    step = _STEP[c].astype(np.int32)
    step[inside] = 0
    return int(np.cumsum(step).max(initial=0)) <= MAX_DEPTH


def load_json_bounded(
    path: str | Path, *, what: str, limit: int = MAX_INPUT_BYTES, error: ErrorType = InputError
) -> Any:
    """Read and parse a JSON file under every limit (:func:`read_bounded_text`, :func:`parse_json`).

    Raises
    ------
    CrossMarginError
        Of type ``error``: missing, unreadable, too large, not UTF-8, not JSON, or over a limit.
    """
    raw = read_bounded_bytes(path, what=what, limit=limit, error=error)
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
        raw = raw[3:]
    return parse_json(raw, source=str(path), error=error)


def _path_str(parts: list[str | int]) -> str:
    out = ""
    for p in parts[:12]:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out + ("…" if len(parts) > 12 else "")


def _find(obj: Any, bad: Callable[[Any, int], bool]) -> list[str | int]:
    """JSON path of the first node where ``bad(node, depth)`` (slow path, only on failure)."""
    stack: list[tuple[Any, int, list[str | int]]] = [(obj, 0, [])]
    while stack:
        node, depth, path = stack.pop()
        if bad(node, depth):
            return path
        if isinstance(node, dict):
            for k, v in reversed(list(node.items())):
                if bad(k, depth + 1):
                    return [*path, _short(str(k))]
                stack.append((v, depth + 1, [*path, str(k)]))
        elif isinstance(node, list | tuple):
            for i in range(len(node) - 1, -1, -1):
                stack.append((node[i], depth + 1, [*path, i]))
    return []


def check_structure(obj: Any, *, source: str, error: ErrorType = InputError) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and strings longer than :data:`MAX_STRING_CHARS`.

    Applies to any parsed document (JSON, YAML, an HTTP body); shared sub-objects (YAML aliases)
    are visited once.

    Raises
    ------
    CrossMarginError
        Of type ``error`` naming ``source`` and the path inside the document.
    """
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(obj, 0)] if isinstance(obj, dict | list) else []
    too_deep = False
    too_long = isinstance(obj, str) and len(obj) > MAX_STRING_CHARS
    while stack and not (too_deep or too_long):
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth >= MAX_DEPTH:
            too_deep = True
            break
        if isinstance(node, dict):
            too_long = any(isinstance(k, str) and len(k) > MAX_STRING_CHARS for k in node)
            values: Any = node.values()
        else:
            values = node
        for v in values:
            if isinstance(v, dict | list):
                stack.append((v, depth + 1))
            elif isinstance(v, str) and len(v) > MAX_STRING_CHARS:
                too_long = True
                break
    if too_deep:
        where = _path_str(_find(obj, lambda n, d: isinstance(n, dict | list) and d >= MAX_DEPTH))
        raise error(f"nested deeper than {MAX_DEPTH} levels (at {where or 'the top'})", path=source)
    if too_long:
        where = _path_str(_find(obj, lambda n, d: isinstance(n, str) and len(n) > MAX_STRING_CHARS))
        raise error(
            f"a string or key is longer than {MAX_STRING_CHARS} characters (at "
            f"{where or 'the top'})",
            path=source,
        )


# -- YAML ------------------------------------------------------------------------------------------
def load_yaml_bounded(
    path: str | Path, *, what: str, limit: int = MAX_INPUT_BYTES, error: ErrorType = InputError
) -> Any:
    """Read and parse a YAML file safely under every limit.

    Besides the JSON limits: duplicate mapping keys are refused (PyYAML keeps the last one
    silently), more than :data:`MAX_YAML_ALIASES` alias references are refused, and only the
    safe YAML types are constructed. Errors name ``<file>`` and the key path with its line.

    Raises
    ------
    CrossMarginError
        Of type ``error``.
    """
    text = read_bounded_text(path, what=what, limit=limit, error=error)
    return parse_yaml(text, source=str(path), error=error)


def parse_yaml(text: str, *, source: str, error: ErrorType = InputError) -> Any:
    """Parse a YAML document (see :func:`load_yaml_bounded`)."""
    import yaml

    # PyYAML's scanner is quadratic in flow nesting ("[[[[..."): bound it before scanning. The
    # count ignores quoting, so it is conservative (brackets inside strings count too).
    cls = _CLASS[np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)]
    if int(np.cumsum(_STEP[cls[cls >= 2]], dtype=np.int64).max(initial=0)) > MAX_DEPTH:
        raise error(f"nested deeper than {MAX_DEPTH} levels (flow brackets)", path=source)
    loader: Any = None
    try:
        # the reader checks the characters (NUL, other control characters) as it is built
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_yaml_nodes(node, source, error)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {_yaml_reason(exc, text)}", path=source) from None
    except RecursionError:
        raise error(f"nested deeper than {MAX_DEPTH} levels", path=source) from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise error(f"invalid YAML value: {exc}".splitlines()[0], path=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_reason(exc: Exception, text: str) -> str:
    """One line of a PyYAML error: the problem and where (line/column, 1-based)."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character
        shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        return f"unacceptable character {shown} ({exc.reason}) at {_line_col(text, exc.position)}"
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or type(exc).__name__
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        return " ".join(f"{problem}{context}{where}".split())
    return " ".join(str(exc).split()) or type(exc).__name__


def _expanded_nodes(root: Any, source: str, error: ErrorType) -> int:
    """Nodes of the document once every alias is expanded (counted without expanding).

    Each distinct node is sized once (post-order over the node graph), so a "billion laughs"
    document of a few lines is measured in microseconds. A node reached again while it is being
    sized is a recursive alias (``&a [*a]``): refused.
    """
    import yaml

    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[Any] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for kv in node.value for n in kv]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done:
            total = 1 + sum(size[id(c)] for c in children)
            size[key] = min(total, MAX_YAML_NODES + 1)  # saturate: no huge integers
            open_.discard(key)
            continue
        if key in size:
            continue
        if key in open_:
            raise error(
                f"recursive YAML alias (line {node.start_mark.line + 1}); a document must be a "
                "tree",
                path=source,
            )
        open_.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in open_:
                raise error(
                    f"recursive YAML alias (line {c.start_mark.line + 1}); a document must be a "
                    "tree",
                    path=source,
                )
            if id(c) not in size:
                stack.append((c, False))
    return size[id(root)]


def _check_yaml_nodes(root: Any, source: str, error: ErrorType) -> None:
    import yaml

    aliases = 0
    seen: set[int] = set()
    stack: list[tuple[Any, int, list[str | int]]] = [(root, 0, [])]
    while stack:
        node, depth, path = stack.pop()
        line = node.start_mark.line + 1
        if id(node) in seen:  # an alias: the same node object referenced again
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise error(
                    f"more than {MAX_YAML_ALIASES} YAML alias references (line {line})",
                    path=source,
                )
            continue
        seen.add(id(node))
        where = _path_str(path) or "the top"
        if isinstance(node, yaml.ScalarNode):
            v = str(node.value)
            if node.tag.endswith((":int", ":float")) and len(v) > MAX_NUMBER_CHARS:
                raise error(
                    f"number at {where} (line {line}) has {len(v)} characters (limit "
                    f"{MAX_NUMBER_CHARS})",
                    path=source,
                )
            if len(v) > MAX_STRING_CHARS:
                raise error(
                    f"value at {where} (line {line}) is longer than {MAX_STRING_CHARS} characters",
                    path=source,
                )
            continue
        if depth >= MAX_DEPTH:
            raise error(
                f"nested deeper than {MAX_DEPTH} levels (at {where}, line {line})", path=source
            )
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for k, v in node.value:
                key = str(k.value) if isinstance(k, yaml.ScalarNode) else f"<{k.tag}>"
                if key == "<<" or k.tag.endswith(":merge"):
                    stack.append((v, depth + 1, path))
                    continue
                if isinstance(k, yaml.ScalarNode) and key in keys:
                    raise error(
                        f"duplicate key {_short(key, 80)!r} at {_path_str([*path, key])} "
                        f"(line {k.start_mark.line + 1}); YAML would keep only the last value",
                        path=source,
                    )
                keys.add(key)
                stack.append((k, depth + 1, [*path, _short(key)]))
                stack.append((v, depth + 1, [*path, _short(key)]))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                stack.append((v, depth + 1, [*path, i]))
    # few alias references can still expand without bound (9 aliases of 9 aliases of ...)
    if _expanded_nodes(root, source, error) > MAX_YAML_NODES:
        raise error(
            f"YAML aliases expand the document to more than {MAX_YAML_NODES} nodes (an alias "
            "bomb?); write the values out or use fewer nested aliases",
            path=source,
        )
