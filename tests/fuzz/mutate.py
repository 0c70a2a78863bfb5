"""Mutation operators: from a seed file (or command-line string) to a hostile or sloppy variant.

Each operator returns a :class:`Mutant`: the new bytes, a label saying what was done (the
reproducer's name) and ``corrupts`` — whether the mutation removed or corrupted data the margin
depends on. For such mutants the harness requires an error, a warning, or a margin no smaller than
the unmutated input's (:mod:`tests.fuzz.contract`).

Operators on JSON/YAML trees: delete a key or element, replace a value (NaN, ±inf, 1e400, a
400-digit integer, negative, zero, empty, null, booleans, numbers as text, long or odd strings,
out-of-range dates), rename a key (typo, case), repeat a key (text level), duplicate or drop list
elements, nest deeply (70 and 100 000 levels). Text level: truncation, byte flips, other
encodings (UTF-16, Latin-1), BOM, empty or whitespace-only files, a huge file. CSV: ragged rows,
repeated or re-cased header names, literal ``nan``/``NA``/``inf``/``true`` cells, empty cells,
dropped columns or rows, other delimiters; Parquet/JSON tables: boolean, date, text, list and NaN
columns.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutant:
    """A mutated input."""

    data: bytes
    label: str
    corrupts: bool = False
    name: str | None = None  # another file name (e.g. another table format)


# -- JSON-like trees ------------------------------------------------------------------------------
def _paths(obj: Any, prefix: Path_ = ()) -> list[tuple[Path_, Any]]:
    out: list[tuple[Path_, Any]] = []
    stack: list[tuple[Path_, Any]] = [(prefix, obj)]
    while stack:
        p, v = stack.pop()
        out.append((p, v))
        if isinstance(v, dict):
            stack.extend(((*p, k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend(((*p, i), x) for i, x in enumerate(v))
    out.sort(key=lambda t: [str(x) for x in t[0]])
    return out


def _get(obj: Any, path: Path_) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def show_path(path: Path_) -> str:
    """``('positions', 3, 'quantity')`` → ``positions[3].quantity``."""
    s = ""
    for k in path:
        s += f"[{k}]" if isinstance(k, int) else (f".{k}" if s else str(k))
    return s or "<root>"


class _Raw:
    """A value written verbatim into the JSON text (numbers json.dumps cannot write)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _dumps(obj: Any) -> str:
    raws: list[str] = []

    def enc(v: Any) -> Any:
        if isinstance(v, _Raw):
            raws.append(v.text)
            return f"\x00RAW{len(raws) - 1}\x00"
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        if isinstance(v, list):
            return [enc(x) for x in v]
        return v

    text = json.dumps(enc(obj), indent=1, allow_nan=True)
    for i, r in enumerate(raws):
        text = text.replace(f'"\\u0000RAW{i}\\u0000"', r)
    return text


def _odd_values(rng: random.Random, old: Any) -> list[tuple[str, Any, bool]]:
    """(label, value, corrupts) replacements for a value."""
    num = isinstance(old, int | float) and not isinstance(old, bool)
    vals: list[tuple[str, Any, bool]] = [
        ("null", None, True),
        ("true", True, True),
        ("false", False, True),
        ("empty string", "", True),
        ("empty list", [], True),
        ("empty object", {}, True),
        ("NaN", math.nan, True),
        ("Infinity", math.inf, True),
        ("-Infinity", -math.inf, True),
        ("1e400", _Raw("1e400"), True),
        ("400-digit integer", _Raw("9" * 400), True),
        ("5000-digit integer", _Raw("7" * 5000), True),
        ("long string", "x" * 5000, True),
        ("odd string", "\u0000\ud7ff\u202e-PERP", True),
        ("date 0001", "0001-01-01T00:00:00+05:00", True),
        ("date 9999", "9999-12-31T23:59:59-01:00", True),
        ("naive date", "2026-11-22T08:00:00", True),
        ("nested 70", _Raw("[" * 70 + "]" * 70), True),
    ]
    if num:
        x = float(old)
        vals += [
            ("number as text", str(old), True),
            ("negated", -old, False),
            ("zero", 0, False),
            ("x1e6", x * 1e6, False),
            ("1e308", 1e308, False),
            ("tiny", 1e-300, False),
        ]
    elif isinstance(old, str):
        vals += [
            ("lower case", old.lower(), False),
            ("upper case", old.upper(), False),
            ("padded", f"  {old} ", False),
            ("text as number", 5, True),
            ("typo", old[:-1] + ("X" if old[-1:] != "X" else "Y") if old else "X", True),
        ]
    rng.shuffle(vals)
    return vals


def _corrupts_tree(
    kind: str, path: Path_, op: str, value_corrupts: bool, value: Any = None
) -> bool:
    """Whether a tree mutation removes or corrupts data a margin depends on."""
    if kind == "market":
        return op != "set" or value_corrupts
    if kind == "portfolio":
        inside_position = "positions" in path and len(path) >= 3
        if op == "delete":
            return inside_position and path[-1] in ("quantity", "instrument")
        if op == "set" and path[-1] in ("positions", "collateral") and value == []:
            return False  # no positions (or collateral) is another valid book, as deleting them
        return op == "set" and value_corrupts and ("positions" in path or "collateral" in path)
    return False


def mutate_tree(rng: random.Random, obj: Any, kind: str) -> tuple[Any, str, bool]:
    """One structural mutation of a parsed JSON/YAML document: (new document, label, corrupts)."""
    obj = copy.deepcopy(obj)
    paths = [p for p in _paths(obj) if p[0]]
    if not paths:
        return _Raw("[" * 100_000 + "]" * 100_000), "root nested 100000", True
    path, old = rng.choice(paths)
    parent = _get(obj, path[:-1])
    key = path[-1]
    op = rng.choices(["delete", "set", "rename", "dup-elem", "deep"], [4, 8, 2, 1, 1])[0]
    where = show_path(path)
    if op == "delete":
        del parent[key]
        return obj, f"delete {where}", _corrupts_tree(kind, path, "delete", True)
    if op == "rename" and isinstance(key, str):
        new = rng.choice([key.upper(), key.lower(), key[:-1], key + "s", key.swapcase()])
        if new and new not in parent:
            parent[new] = parent.pop(key)
            return obj, f"rename {where} -> {new}", _corrupts_tree(kind, path, "delete", True)
    if op == "dup-elem" and isinstance(parent, list):
        parent.insert(int(key), copy.deepcopy(old))
        return obj, f"duplicate element {where}", False
    if op == "deep":
        depth = rng.choice([70, 100_000])
        parent[key] = _Raw("[" * depth + "1" + "]" * depth)
        return obj, f"nest {where} {depth} deep", True
    label, value, corrupts = _odd_values(rng, old)[0]
    parent[key] = value
    return obj, f"set {where} = {label}", _corrupts_tree(kind, path, "set", corrupts, value)


def _duplicate_key_text(rng: random.Random, obj: Any) -> tuple[str, str] | None:
    """The document with one object key repeated (a different value second)."""
    dicts = [(p, v) for p, v in _paths(obj) if isinstance(v, dict) and v]
    if not dicts:
        return None
    path, d = rng.choice(dicts)
    key = rng.choice(list(d))
    marker = "\x01DUPKEY\x01"
    d2 = dict(d)
    d2[marker] = None
    doc = copy.deepcopy(obj)
    if path:
        parent = _get(doc, path[:-1])
        parent[path[-1]] = d2
    else:
        doc = d2
    text = _dumps(doc)
    other = d[key]
    alt = other * 2 if isinstance(other, int | float) and not isinstance(other, bool) else other
    text = text.replace(
        json.dumps(marker) + ": null", json.dumps(key) + ": " + json.dumps(alt, allow_nan=True)
    )
    return text, f"repeat key {show_path((*path, key))}"


# -- text level -----------------------------------------------------------------------------------
def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A text-level mutation (any format)."""
    op = rng.choice(
        ["truncate", "flip", "utf16", "latin1", "bom", "empty", "spaces", "junk", "nul", "crlf"]
    )
    if op == "truncate" and len(data) > 1:
        n = rng.randrange(1, len(data))
        return data[:n], f"truncate at byte {n}"
    if op == "flip" and data:
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
        return bytes(b), "flip bytes"
    if op == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16"), "UTF-16 encoding"
    if op == "latin1":
        text = data.decode("utf-8", "replace")
        i = rng.randrange(len(text) + 1)
        return (text[:i] + "é" + text[i:]).encode("latin-1", "replace"), "Latin-1 byte"
    if op == "bom":
        return b"\xef\xbb\xbf" + data, "UTF-8 BOM"
    if op == "empty":
        return b"", "empty file"
    if op == "spaces":
        return b" \n\t ", "whitespace only"
    if op == "nul":
        return b"\x00" * 64, "NUL bytes"
    if op == "crlf":
        return data.replace(b"\n", b"\r\n"), "CRLF line ends"
    return bytes(rng.randrange(256) for _ in range(64)), "random bytes"


def huge(data: bytes) -> tuple[bytes, str]:
    """The document padded past the 64 MiB input limit (kept valid JSON/CSV where possible)."""
    return data + b" " * (65 * 1024 * 1024), "padded to 65 MiB"


# -- documents ------------------------------------------------------------------------------------
def mutate_json(rng: random.Random, data: bytes, kind: str) -> Mutant:
    """A mutation of a JSON document of the given kind."""
    r = rng.random()
    if r < 0.12:
        new, label = mutate_bytes(rng, data)
        return Mutant(new, label, corrupts=False)
    obj = json.loads(data)
    if r < 0.2:
        dup = _duplicate_key_text(rng, obj)
        if dup is not None:
            return Mutant(dup[0].encode(), dup[1], corrupts=kind == "market")
    if r < 0.205:
        new, label = huge(data)
        return Mutant(new, label)
    new_obj, label, corrupts = mutate_tree(rng, obj, kind)
    if rng.random() < 0.15:  # a second mutation on top
        new_obj, label2, c2 = mutate_tree(rng, new_obj, kind)
        label, corrupts = f"{label}; {label2}", corrupts and c2
    text = new_obj.text if isinstance(new_obj, _Raw) else _dumps(new_obj)
    return Mutant(text.encode(), label, corrupts)


def mutate_yaml(rng: random.Random, data: bytes) -> Mutant:
    """A mutation of a YAML configuration."""
    r = rng.random()
    if r < 0.12:
        new, label = mutate_bytes(rng, data)
        return Mutant(new, label)
    text = data.decode()
    if r < 0.2:
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith((" ", "#"))]
        if lines:
            line = rng.choice(lines)
            return Mutant((text + "\n" + line + "\n").encode(), f"repeat key {line.split(':')[0]}")
    if r < 0.23:
        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        return Mutant(bomb.encode(), "YAML alias bomb")
    if r < 0.26:
        return Mutant(text.replace("  ", "\t", 1).encode(), "tab indentation")
    obj = yaml.safe_load(text)
    new_obj, label, _ = mutate_tree(rng, obj, "config")
    if isinstance(new_obj, _Raw):
        return Mutant(new_obj.text.encode(), label)
    out = yaml.safe_dump(_yaml_safe(new_obj), sort_keys=False, allow_unicode=True)
    return Mutant(out.encode(), label)


def _yaml_safe(v: Any) -> Any:
    if isinstance(v, _Raw):
        return v.text if len(v.text) < 1000 else "[" * 1000  # YAML cannot carry the raw form
    if isinstance(v, dict):
        return {k: _yaml_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_yaml_safe(x) for x in v]
    return v


# -- CSV ------------------------------------------------------------------------------------------
_CELLS = ("nan", "NaN", "NA", "N/A", "null", "inf", "-inf", "true", "FALSE", "", " ", "abc",
          "1e400", "-1", "0", "1,5", "1_000", "0x10", "  7 ", "1e-320", "9" * 400)  # fmt: skip
_NUMBER_COLUMNS = ("quantity", "amount")


def mutate_csv(rng: random.Random, data: bytes, kind: str) -> Mutant:
    """A mutation of a CSV table (batch positions/collateral or a price history)."""
    if rng.random() < 0.1:
        new, label = mutate_bytes(rng, data)
        return Mutant(new, label, corrupts=False)
    lines = data.decode().splitlines()
    header, rows = lines[0].split(","), [ln.split(",") for ln in lines[1:] if ln]
    op = rng.choice(["cell", "cell", "cell", "ragged", "extra", "dup-col", "case-col", "drop-col",
                     "drop-row", "dup-row", "delimiter", "swap-cols", "quote"])  # fmt: skip
    corrupts = False
    if op == "cell" and rows:
        r = rng.randrange(len(rows))
        c = rng.randrange(len(header))
        v = rng.choice(_CELLS)
        rows[r][c] = v
        label = f"row {r + 2} {header[c]} = {v!r}"
        corrupts = header[c] in _NUMBER_COLUMNS and v not in ("-1", "0", "  7 ", "1e-320")
    elif op == "ragged" and rows:
        r = rng.randrange(len(rows))
        if len(rows[r]) > 1:
            del rows[r][rng.randrange(len(rows[r]))]
        label, corrupts = f"row {r + 2} one field short", True
    elif op == "extra" and rows:
        r = rng.randrange(len(rows))
        rows[r].append(rng.choice(("1", "", "x")))
        label, corrupts = f"row {r + 2} one field more", True
    elif op == "dup-col" and len(header) > 1:
        c = rng.randrange(1, len(header))
        header[c] = header[c - 1]
        label, corrupts = f"header repeats {header[c]!r}", True
    elif op == "case-col":
        c = rng.randrange(len(header))
        header[c] = header[c].upper() if header[c] != header[c].upper() else header[c].lower()
        label = f"header {header[c]!r} re-cased"
    elif op == "drop-col" and len(header) > 1:
        c = rng.randrange(len(header))
        name = header.pop(c)
        for row in rows:
            if c < len(row):
                row.pop(c)
        label, corrupts = f"drop column {name}", name in _NUMBER_COLUMNS
    elif op == "drop-row" and rows:
        r = rng.randrange(len(rows))
        rows.pop(r)
        label = f"drop row {r + 2}"
    elif op == "dup-row" and rows:
        r = rng.randrange(len(rows))
        rows.insert(r, list(rows[r]))
        label = f"duplicate row {r + 2}"
    elif op == "delimiter":
        text = "\n".join(";".join(x) for x in [header, *rows]) + "\n"
        return Mutant(text.encode(), "semicolon delimiter", corrupts=True)
    elif op == "swap-cols" and len(header) > 2:
        i, j = rng.sample(range(1, len(header)), 2)
        header[i], header[j] = header[j], header[i]
        label = f"swap header {header[i]} <-> {header[j]}"
    elif op == "quote" and rows:
        r = rng.randrange(len(rows))
        rows[r][0] = '"' + rows[r][0]
        label, corrupts = f"row {r + 2} unclosed quote", True
    else:
        return Mutant(data, "unchanged")
    text = "\n".join(",".join(x) for x in [header, *rows]) + "\n"
    return Mutant(text.encode(), label, corrupts and kind != "history")


def mutate_frame_table(rng: random.Random, data: bytes, kind: str, fmt: str) -> Mutant:
    """A CSV table turned into Parquet or JSON records, with a typed-column mutation."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(io.BytesIO(data), dtype={"account": str, "instrument": str, "asset": str})
    op = rng.choice(["bool", "datetime", "text-number", "list", "nan", "none", "int-account",
                     "float-account", "timedelta", "categorical", "object-mixed"])  # fmt: skip
    col = rng.choice(list(df.columns))
    num = col in ("quantity", "amount", "entry_price")
    corrupts = num and col != "entry_price"
    if op == "bool":
        df[col] = df[col].notna() if not num else df[col] > 0
    elif op == "datetime":
        df[col] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(len(df)), "D")
    elif op == "text-number" and num:
        df[col] = df[col].astype(str)
    elif op == "list":
        df[col] = [[v] for v in df[col]]
    elif op == "nan":
        df.loc[df.index[rng.randrange(len(df))], col] = np.nan
    elif op == "int-account" and "account" in df:
        df["account"] = pd.factorize(df["account"])[0]
        col, corrupts = "account", False
    elif op == "float-account" and "account" in df:
        df["account"] = pd.factorize(df["account"])[0] + 0.5
        col, corrupts = "account", False
    elif op == "timedelta":
        df[col] = pd.to_timedelta(np.arange(len(df)), "s")
    elif op == "categorical":
        df[col] = df[col].astype("category")
        corrupts = False
    elif op == "object-mixed":
        cells = list(df[col].astype(object))
        cells[rng.randrange(len(cells))] = rng.choice([True, "x", [1], {"a": 1}, None])
        df[col] = pd.Series(cells, dtype=object)
    else:
        corrupts = False
    label = f"{fmt} table, {col} as {op}"
    buf = io.BytesIO()
    try:
        if fmt == "parquet":
            df.to_parquet(buf, index=False)
        else:
            buf.write(df.to_json(orient="records", date_format="iso").encode())
    except Exception:  # pyarrow cannot store the column: keep the plain conversion
        buf = io.BytesIO()
        plain = pd.read_csv(io.BytesIO(data))
        if fmt == "parquet":
            plain.to_parquet(buf, index=False)
        else:
            buf.write(plain.to_json(orient="records").encode())
        label, corrupts = f"{fmt} table (as given)", False
    return Mutant(buf.getvalue(), label, corrupts and kind == "positions")


# -- command-line strings -------------------------------------------------------------------------
_TOKENS = ("nan", "inf", "-inf", "1e400", "-1", "0", "-0.99999", "1e-320", "9" * 400, "", "=",
           ":", "@", ",", "BTCUSD", "btc", "SOL", "*", "vol", "vol.", "-PERP", "🙂", "\x00")  # fmt: skip


def mutate_string(rng: random.Random, text: str) -> tuple[str, str]:
    """A mutation of a command-line value (trade, shock, instrument, venue spec)."""
    op = rng.choice(["delete", "insert", "replace", "token", "token", "case", "empty", "repeat"])
    if op == "delete" and text:
        i = rng.randrange(len(text))
        return text[:i] + text[i + 1 :], f"delete char {i}"
    if op == "insert":
        i = rng.randrange(len(text) + 1)
        c = rng.choice("-:=,@.*0123456789xX ")
        return text[:i] + c + text[i:], f"insert {c!r} at {i}"
    if op == "replace" and text:
        i = rng.randrange(len(text))
        c = rng.choice("-:=,@.*0123456789xXé")
        return text[:i] + c + text[i + 1 :], f"replace char {i} with {c!r}"
    if op == "case":
        return text.swapcase(), "swap case"
    if op == "empty":
        return "", "empty"
    if op == "repeat":
        return f"{text},{text}" if "=" in text else text + text, "repeated"
    tok = rng.choice(_TOKENS)
    parts = [p for p in _split(text) if p]
    if parts:
        i = rng.randrange(len(parts))
        new = text.replace(parts[i], tok, 1)
        return new, f"{parts[i]!r} -> {tok!r}"
    return text + tok, f"append {tok!r}"


def _split(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        if ch in "-:=,@":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


Mutator = Callable[[random.Random, bytes], Mutant]
