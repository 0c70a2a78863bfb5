"""Partitioned datasets of positions and collateral: discovery, manifest, reading, scanning.

A dataset is a list of partitions, each a positions table and its collateral table. Three
shapes are accepted:

* a directory written by :func:`~crossmargin.scale.partitioning.write_dataset` (``crossmargin
  partition``): ``positions/part-NNNNN.parquet``, ``collateral/part-NNNNN.parquet`` and a
  manifest (:data:`MANIFEST`) recording how accounts were hashed, every file's size and row
  count, each partition's account range and the venue's distinct instruments;
* a directory (or a glob) of positions Parquet files, with ``--collateral`` a directory (or
  glob) holding as many collateral files: partition *k* of each, in sorted name order, form
  partition *k*;
* one positions file and one collateral file (Parquet, CSV or JSON): one partition.

Reading is per partition (a worker reads only its own files). Parquet partitions are read with
page checksums verified (the partitioning helper writes them), and their size and row count are
checked against the manifest, so a corrupted or replaced file is an error, never other numbers.
An account must lie in exactly one partition: a manifest dataset guarantees it by construction
(each account's key hashes to its partition, re-checked as each partition is read); for any
other dataset :func:`scan_partition` lists each partition's accounts (as 64-bit hashes) before
anything is margined, and :func:`check_disjoint` refuses an account found in two partitions.
"""

from __future__ import annotations

import glob
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossmargin.errors import InputError
from crossmargin.scale.keys import HASH_SCHEME, account_buckets, account_keys, hash_keys

__all__ = [
    "MANIFEST",
    "Dataset",
    "Partition",
    "PartitionFacts",
    "PartitionScan",
    "check_disjoint",
    "open_dataset",
    "read_partition",
    "scan_partition",
]

#: Manifest file of a dataset written by the partitioning helper.
MANIFEST = "_crossmargin_dataset.json"
DATASET_FORMAT = "crossmargin-dataset"
DATASET_VERSION = 1
_PARQUET = (".parquet", ".pq")
_GLOB = set("*?[")


@dataclass(frozen=True, slots=True)
class PartitionFacts:
    """What is known of a partition before it is margined (manifest or scan).

    ``first_account`` / ``last_account`` are the smallest and largest account keys (text
    order); ``*_bytes`` are file sizes (``-1`` when not recorded).
    """

    positions_rows: int
    collateral_rows: int
    accounts: int
    first_account: str | None
    last_account: str | None
    positions_bytes: int = -1
    collateral_bytes: int = -1

    def describe(self) -> str:
        """``accounts 'a' .. 'b' (N accounts)`` for messages."""
        if self.accounts == 0 or self.first_account is None:
            return "no accounts"
        return (
            f"accounts {self.first_account!r} .. {self.last_account!r} ({self.accounts} accounts)"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form (manifest)."""
        return {
            "positions_rows": self.positions_rows,
            "collateral_rows": self.collateral_rows,
            "positions_bytes": self.positions_bytes,
            "collateral_bytes": self.collateral_bytes,
            "accounts": self.accounts,
            "first_account": self.first_account,
            "last_account": self.last_account,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PartitionFacts:
        """Read the JSON form."""
        return cls(
            positions_rows=int(d["positions_rows"]),
            collateral_rows=int(d["collateral_rows"]),
            accounts=int(d["accounts"]),
            first_account=d.get("first_account"),
            last_account=d.get("last_account"),
            positions_bytes=int(d.get("positions_bytes", -1)),
            collateral_bytes=int(d.get("collateral_bytes", -1)),
        )


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: its files and, for a manifest dataset, its hash bucket and facts.

    Attributes
    ----------
    name
        Unique name (the positions file's stem); results are written as ``<name>.parquet``.
    positions, collateral
        Absolute paths of the two tables (``collateral`` ``None``: no collateral).
    bucket, n_buckets
        Hash bucket of a manifest dataset (each account key must hash to it), else ``None``.
    facts
        Recorded sizes, row counts and account range (manifest datasets), else ``None``.
    """

    name: str
    positions: Path
    collateral: Path | None
    bucket: int | None = None
    n_buckets: int | None = None
    facts: PartitionFacts | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """The partitions of a venue's book.

    Attributes
    ----------
    partitions
        In order (results and instruments are numbered in this order).
    root
        The dataset directory (``None`` for a glob or a single file).
    instruments
        Manifest datasets: each distinct instrument name with the partition index and row of
        its first holder; ``None`` when the partitions must be scanned.
    single_file
        One positions file and one collateral file (of any table format).
    """

    partitions: tuple[Partition, ...]
    root: Path | None = None
    instruments: tuple[tuple[str, int, int], ...] | None = None
    single_file: bool = False

    @property
    def described(self) -> bool:
        """The manifest lists accounts and instruments (no scan needed)."""
        return self.instruments is not None


def _is_glob(s: str) -> bool:
    return any(c in _GLOB for c in s)


def _files(spec: str | Path, what: str) -> list[Path]:
    """The Parquet files of a directory or glob, sorted by name."""
    s = str(spec)
    if _is_glob(s):
        files = sorted(Path(p) for p in glob.glob(s) if Path(p).is_file())  # noqa: PTH207
        if not files:
            raise InputError(f"no {what} file matches", path=s)
        return [f.resolve() for f in files]
    p = Path(spec)
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in _PARQUET)
    if not files:
        raise InputError(f"no {what} Parquet file (*.parquet) in the directory", path=s)
    return [f.resolve() for f in files]


def open_dataset(positions: str | Path, collateral: str | Path | None = None) -> Dataset:
    """Find the partitions of a dataset (module docstring for the accepted shapes).

    Raises
    ------
    InputError
        Nothing found, a malformed manifest, or positions and collateral that do not pair up.
    """
    s = str(positions)
    p = Path(positions)
    if not _is_glob(s):
        if not p.exists():
            raise InputError("positions file or dataset not found", path=s)
        if p.is_dir() and (p / MANIFEST).exists():
            if collateral is not None:
                raise InputError(
                    "a dataset written by `crossmargin partition` holds its own collateral; "
                    "drop --collateral",
                    path="--collateral",
                )
            return _read_manifest(p.resolve())
        if p.is_file():
            if collateral is None:
                raise InputError("a positions file needs --collateral FILE", path="--collateral")
            c = Path(collateral)
            if not c.is_file():
                raise InputError(
                    "collateral file not found (a positions file pairs with one collateral file)",
                    path=str(collateral),
                )
            part = Partition(p.stem, p.resolve(), c.resolve())
            return Dataset((part,), single_file=True)
    pos_files = _files(positions, "positions")
    if collateral is None:
        raise InputError(
            "a directory or glob of positions files needs --collateral with as many "
            "collateral files (or partition it with `crossmargin partition`)",
            path="--collateral",
        )
    cs = str(collateral)
    if not _is_glob(cs) and not Path(cs).is_dir():
        raise InputError(
            "must be a directory or glob of collateral files partitioned like the positions",
            path="--collateral",
        )
    col_files = _files(collateral, "collateral")
    if len(col_files) != len(pos_files):
        raise InputError(
            f"{len(col_files)} collateral files for {len(pos_files)} positions files; "
            "partition k of each (sorted by name) must hold the same accounts",
            path="--collateral",
        )
    names = [f.stem for f in pos_files]
    if len(set(names)) != len(names):
        raise InputError("two positions files have the same name", path=s)
    parts = tuple(Partition(f.stem, f, cf) for f, cf in zip(pos_files, col_files, strict=True))
    return Dataset(parts, root=p.resolve() if p.is_dir() else None)


def _read_manifest(root: Path) -> Dataset:
    path = root / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != DATASET_FORMAT or doc.get("version") != DATASET_VERSION:
            raise InputError(
                f"not a {DATASET_FORMAT} version {DATASET_VERSION} manifest", path=str(path)
            )
        if doc["partitioning"]["hash"] != HASH_SCHEME:
            raise InputError(
                f"accounts hashed with {doc['partitioning']['hash']!r}, this version reads "
                f"{HASH_SCHEME!r}",
                path=str(path),
            )
        n = int(doc["partitioning"]["partitions"])
        parts = []
        for k, e in enumerate(doc["partitions"]):
            if int(e["bucket"]) != k:
                raise InputError(f"partition {k} lists bucket {e['bucket']}", path=str(path))
            parts.append(
                Partition(
                    name=str(e["name"]),
                    positions=(root / e["positions"]).resolve(),
                    collateral=(root / e["collateral"]).resolve(),
                    bucket=k,
                    n_buckets=n,
                    facts=PartitionFacts.from_dict(e),
                )
            )
        if len(parts) != n:
            raise InputError(f"{len(parts)} partitions listed, {n} declared", path=str(path))
        inst = tuple((str(a), int(b), int(c)) for a, b, c in doc["instruments"])
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"unreadable dataset manifest: {exc}", path=str(path)) from None
    return Dataset(tuple(parts), root=root, instruments=inst)


# -- reading ------------------------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_parquet(path: Path, what: str, columns: Sequence[str] | None = None) -> Any:
    """An Arrow table, page checksums verified; unreadable or corrupt → :class:`InputError`."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns, page_checksum_verification=True)
    except FileNotFoundError:
        raise InputError(f"{what} partition file not found", path=str(path)) from None
    except MemoryError:
        raise
    except Exception as exc:  # OSError and pyarrow's own error types
        raise InputError(f"cannot read {what} partition: {_reason(exc)}", path=str(path)) from None


def _check_facts(path: Path, what: str, rows: int, expected_rows: int, expected_bytes: int) -> None:
    if expected_bytes >= 0:
        size = path.stat().st_size
        if size != expected_bytes:
            raise InputError(
                f"{what} partition is {size} bytes, the dataset manifest says {expected_bytes} "
                "(changed or damaged since it was written)",
                path=str(path),
            )
    if rows != expected_rows:
        raise InputError(
            f"{what} partition has {rows} rows, the dataset manifest says {expected_rows}",
            path=str(path),
        )


def _read_table_file(path: Path, what: str) -> pd.DataFrame:
    if path.suffix.lower() in _PARQUET:
        df: pd.DataFrame = _read_parquet(path, what).to_pandas()
        return df
    from crossmargin.io.tables import read_table

    frame: pd.DataFrame = read_table(path, what=what)
    return frame


def read_partition(part: Partition) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The positions and collateral frames of one partition (checked against the manifest).

    Raises
    ------
    InputError
        A missing, unreadable or corrupt file, or one that differs from the manifest.
    """
    pos = _read_table_file(part.positions, "positions")
    if part.collateral is not None:
        col = _read_table_file(part.collateral, "collateral")
    else:
        col = pd.DataFrame({"account": [], "asset": [], "amount": []})
    if part.facts is not None:
        f = part.facts
        _check_facts(part.positions, "positions", len(pos), f.positions_rows, f.positions_bytes)
        if part.collateral is not None:
            _check_facts(
                part.collateral, "collateral", len(col), f.collateral_rows, f.collateral_bytes
            )
    return pos, col


def check_bucket(part: Partition, accounts: Sequence[str]) -> None:
    """Every account of a manifest partition hashes to it (no account split across partitions).

    ``accounts`` are the partition's distinct account keys (a book's ``accounts``: the engine
    strips them exactly as :func:`~crossmargin.scale.keys.account_keys` does).

    Raises
    ------
    InputError
        An account that belongs to another partition.
    """
    if part.bucket is None or part.n_buckets is None or not accounts:
        return
    keys = np.asarray(accounts, dtype=object)
    wrong = account_buckets(keys, part.n_buckets) != part.bucket
    if wrong.any():
        raise InputError(
            f"account {keys[int(np.argmax(wrong))]!r} belongs to another partition of the "
            "dataset (its hash says so): the dataset was modified after it was partitioned",
            path=str(part.positions),
        )


# -- scanning -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PartitionScan:
    """What a scan of one partition finds (a few bytes per account and per instrument).

    Attributes
    ----------
    facts
        Row counts, file sizes and account range.
    instruments, first_rows
        Distinct instrument names (as written) in order of first appearance, and that row.
    hashes
        Sorted distinct 64-bit hashes of the partition's account keys (both tables).
    """

    facts: PartitionFacts
    instruments: tuple[str, ...]
    first_rows: tuple[int, ...]
    hashes: np.ndarray


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else -1


def scan_partition(_shared: Any, part: Partition) -> PartitionScan:
    """Read the account and instrument columns of one partition (a task function).

    Raises
    ------
    InputError
        Unreadable file or missing column.
    """
    if part.positions.suffix.lower() in _PARQUET:
        pos = _read_parquet(part.positions, "positions", _columns(part.positions)).to_pandas()
    else:
        pos = _read_table_file(part.positions, "positions")
    col: pd.DataFrame
    if part.collateral is None:
        col = pd.DataFrame({"account": []})
    elif part.collateral.suffix.lower() in _PARQUET:
        col = _read_parquet(part.collateral, "collateral", ["account"]).to_pandas()
    else:
        col = _read_table_file(part.collateral, "collateral")
    for what, df, need in (
        ("positions", pos, ("account", "instrument")),
        ("collateral", col, ("account",)),
    ):
        for c in need:
            if c not in df.columns:
                raise InputError(f"missing column {c!r}", path=what)
    _, pkeys = account_keys(pos["account"], what="positions")
    _, ckeys = account_keys(col["account"], what="collateral")
    keys = pd.unique(np.concatenate([pkeys, ckeys]))
    codes, names = pd.factorize(pos["instrument"], sort=False, use_na_sentinel=True)
    first = np.full(len(names), -1, dtype=np.int64)
    if len(codes):
        ok = codes >= 0
        rows = np.flatnonzero(ok)[::-1]
        first[codes[ok][::-1]] = rows
    facts = PartitionFacts(
        positions_rows=len(pos),
        collateral_rows=len(col),
        accounts=len(keys),
        first_account=str(min(keys)) if len(keys) else None,
        last_account=str(max(keys)) if len(keys) else None,
        positions_bytes=_size(part.positions),
        collateral_bytes=_size(part.collateral),
    )
    return PartitionScan(
        facts=facts,
        instruments=tuple(str(n) for n in names),
        first_rows=tuple(int(r) for r in first),
        hashes=np.unique(hash_keys(keys)),
    )


def _columns(path: Path) -> list[str]:
    """``account`` and ``instrument`` if the file has them (a missing one is reported later)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except FileNotFoundError:
        raise InputError("positions partition file not found", path=str(path)) from None
    except Exception as exc:
        raise InputError(
            f"cannot read positions partition: {_reason(exc)}", path=str(path)
        ) from None
    return [c for c in ("account", "instrument") if c in names]


def check_disjoint(dataset: Dataset, scans: Sequence[PartitionScan]) -> None:
    """Refuse an account that appears in two partitions (it would be margined in halves).

    Equal 64-bit hashes in two partitions are confirmed on the account keys themselves before
    anything is refused (a hash collision is not a split account).

    Raises
    ------
    InputError
        Naming the account and both partition files.
    """
    if len(scans) < 2:
        return
    h = np.concatenate([s.hashes for s in scans])
    owner = np.repeat(np.arange(len(scans)), [s.hashes.size for s in scans])
    order = np.argsort(h, kind="stable")
    hs, os_ = h[order], owner[order]
    dup = np.flatnonzero(hs[1:] == hs[:-1])
    for d in dup:
        a, b = int(os_[d]), int(os_[d + 1])
        name = _same_account(dataset.partitions[a], dataset.partitions[b], hs[d])
        if name is not None:
            pa_, pb = dataset.partitions[a], dataset.partitions[b]
            raise InputError(
                f"account {name!r} is in two partitions ({pa_.positions.name} and "
                f"{pb.positions.name}): an account must lie in exactly one partition (write the "
                "dataset with `crossmargin partition`, which hashes by account)",
                path=str(pb.positions),
            )


def _keys_of(part: Partition) -> np.ndarray:
    keys = []
    for what, path in (("positions", part.positions), ("collateral", part.collateral)):
        if path is None:
            continue
        if path.suffix.lower() in _PARQUET:
            df = _read_parquet(path, what, ["account"]).to_pandas()
        else:
            df = _read_table_file(path, what)
        keys.append(account_keys(df["account"], what=what)[1])
    return np.concatenate(keys) if keys else np.zeros(0, dtype=object)


def _same_account(a: Partition, b: Partition, h: np.uint64) -> str | None:
    ka, kb = _keys_of(a), _keys_of(b)
    na = set(ka[hash_keys(ka) == h].tolist())
    nb = set(kb[hash_keys(kb) == h].tolist())
    common = sorted(na & nb)
    return str(common[0]) if common else None


def default_partitions(rows: int, *, per_partition: int = 250_000) -> int:
    """A partition count for ``rows`` positions (about ``per_partition`` rows each)."""
    return max(1, math.ceil(rows / per_partition))
