"""The partitioning helper: a venue's tables → a dataset hashed by account.

:func:`write_dataset` streams the positions and collateral tables (Parquet in record batches,
CSV in blocks; JSON is read whole) and appends each batch's rows to the partition their account
key hashes to (:mod:`crossmargin.scale.keys`), so every account's positions and collateral end
up in one partition and memory stays bounded by one batch, whatever the input size. The files
are written with Parquet page checksums. A second pass reads each partition's account and
instrument columns back (one partition at a time) to record, in the manifest
(:data:`~crossmargin.scale.dataset.MANIFEST`), every file's size and row count, each partition's
account range and the venue's distinct instruments — what ``batch`` needs before it reads a
single partition.

Everything is written into a temporary directory next to the target, renamed into place at
the end: a failed or interrupted run leaves no dataset behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from crossmargin.errors import InputError
from crossmargin.scale.dataset import (
    DATASET_FORMAT,
    DATASET_VERSION,
    MANIFEST,
    Dataset,
    Partition,
    default_partitions,
    open_dataset,
    scan_partition,
)
from crossmargin.scale.keys import HASH_SCHEME, account_buckets, account_keys

__all__ = ["MAX_PARTITIONS", "fill_dataset", "partition_count", "write_dataset"]

#: Upper bound on partitions (each open partition holds a file descriptor while writing).
MAX_PARTITIONS = 512
_BATCH_ROWS = 500_000
_TABLES = {
    "positions": (("account", "instrument", "quantity"), ("entry_price",)),
    "collateral": (("account", "asset", "amount"), ()),
}
_TYPES = {
    "account": "string",
    "instrument": "string",
    "asset": "string",
    "quantity": "float64",
    "entry_price": "float64",
    "amount": "float64",
}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _batches(path: Path, what: str, batch_rows: int) -> Iterator[Any]:
    """Record batches of a Parquet, CSV or JSON table (streamed where the format allows)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{what} file not found", path=str(path))
    try:
        if suffix in (".parquet", ".pq"):
            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)
        elif suffix == ".csv":
            types = {c: getattr(pa, t)() for c, t in _TYPES.items()}
            reader = pcsv.open_csv(
                path,
                read_options=pcsv.ReadOptions(block_size=1 << 24),
                convert_options=pcsv.ConvertOptions(column_types=types),
            )
            yield from reader
        elif suffix == ".json":
            from crossmargin.io.tables import read_table

            yield from pa.Table.from_pandas(
                read_table(path, what=what), preserve_index=False
            ).to_batches(batch_rows)
        else:
            raise InputError("unknown table format; use .parquet, .csv or .json", path=str(path))
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # OSError and pyarrow's own error types
        raise InputError(f"cannot read {what} table: {_reason(exc)}", path=str(path)) from None


def _check_columns(names: list[str], what: str, path: Path) -> None:
    required, optional = _TABLES[what]
    for c in required:
        if c not in names:
            raise InputError(f"missing column {c!r}", path=str(path))
    extra = [c for c in names if c not in (*required, *optional)]
    if extra:
        raise InputError(f"unknown column {extra[0]!r}", path=str(path))


def _split(
    src: Path,
    what: str,
    directory: Path,
    n: int,
    batch_rows: int,
    instruments: dict[str, tuple[str, int, int]] | None = None,
) -> list[Path]:
    """Hash every row of ``src`` to its partition file under ``directory``; return the files.

    ``instruments`` (positions) collects each distinct instrument name, in order of first
    appearance in ``src``, with the partition and the row it was written to.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir()
    files = [directory / f"part-{k:05d}.parquet" for k in range(n)]
    writers: list[Any] = []
    schema = None
    offset = 0
    written = np.zeros(n, dtype=np.int64)
    try:
        for batch in _batches(src, what, batch_rows):
            if schema is None:
                _check_columns(batch.schema.names, what, src)
                schema = batch.schema
                writers = [
                    pq.ParquetWriter(f, schema, write_page_checksum=True, compression="zstd")
                    for f in files
                ]
            elif batch.schema != schema:
                batch = pa.RecordBatch.from_arrays(  # same columns, types as the first batch
                    [batch.column(c).cast(schema.field(c).type) for c in schema.names],
                    schema=schema,
                )
            codes, keys = account_keys(
                batch.column("account").to_pandas(), what=f"{what}[{offset}:]"
            )
            bucket = account_buckets(keys, n)[codes]
            order = np.argsort(bucket, kind="stable")
            sorted_batch = batch.take(pa.array(order))
            bounds = np.searchsorted(bucket[order], np.arange(n + 1))
            if instruments is not None:
                rank = np.empty_like(order)
                rank[order] = np.arange(order.size)
                _first_seen(batch, bucket, rank - bounds[bucket] + written[bucket], instruments)
            written += np.diff(bounds)
            for k in range(n):
                lo, hi = int(bounds[k]), int(bounds[k + 1])
                if hi > lo:
                    writers[k].write_batch(sorted_batch.slice(lo, hi - lo))
            offset += batch.num_rows
        if schema is None:  # an empty table: one empty file per partition, with its columns
            import pandas as pd

            required, _ = _TABLES[what]
            empty = pa.Table.from_pandas(
                pd.DataFrame({c: pd.Series([], dtype=_TYPES[c]) for c in required}),
                preserve_index=False,
            )
            for f in files:
                pq.write_table(empty, f, write_page_checksum=True)
    except InputError as exc:
        if exc.path.startswith(f"{what}["):  # row numbers of a batch: name the file
            raise InputError(exc.reason, path=f"{src}: {exc.path}") from None
        raise
    finally:
        for w in writers:
            w.close()
    return files


def _first_seen(
    batch: Any, bucket: np.ndarray, row: np.ndarray, seen: dict[str, tuple[str, int, int]]
) -> None:
    """Record instrument names not seen before: (name, partition, row in that partition)."""
    import pandas as pd

    codes, names = pd.factorize(batch.column("instrument").to_pandas(), use_na_sentinel=True)
    if not len(names):
        return
    valid = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[valid], return_index=True)
    for r in np.sort(valid[first]):  # rows of first occurrences, in file order
        name = str(names[codes[r]])
        if name not in seen:
            seen[name] = (name, int(bucket[r]), int(row[r]))


def write_dataset(
    positions: str | Path,
    collateral: str | Path,
    out: str | Path,
    *,
    partitions: int | None = None,
    batch_rows: int = _BATCH_ROWS,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Write a venue's positions and collateral tables as a dataset hashed by account.

    Parameters
    ----------
    positions, collateral
        The venue's tables (Parquet, CSV or JSON; see :mod:`crossmargin.io.tables`).
    out
        The dataset directory to create (must not exist; its parent must).
    partitions
        Number of partitions; by default about 250 000 positions each (Parquet row count; other
        formats: an estimate from the file size).
    batch_rows
        Rows read at a time (memory bound of the helper).
    progress
        Called with a short description of each step.

    Returns
    -------
    Dataset
        The dataset as :func:`~crossmargin.scale.dataset.open_dataset` reads it.

    Raises
    ------
    InputError
        Unreadable input, a missing or unknown column, an empty account, a bad partition count or
        an existing target.
    """
    pos, col, target = Path(positions), Path(collateral), Path(out)
    n = partition_count(pos, partitions)
    if target.exists():
        raise InputError("already exists; give a new directory for the dataset", path=str(target))
    parent = target.parent if str(target.parent) else Path()
    if not parent.is_dir():
        raise InputError("parent directory does not exist", path=str(target))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        fill_dataset(tmp, pos, col, partitions=n, batch_rows=batch_rows, progress=progress)
        mask = os.umask(0)
        os.umask(mask)
        tmp.chmod(0o777 & ~mask)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return open_dataset(target)


def partition_count(positions: str | Path, partitions: int | None) -> int:
    """The number of partitions to write: ``partitions`` checked, or a default for the table.

    Raises
    ------
    InputError
        ``partitions`` outside 1..:data:`MAX_PARTITIONS` (named ``--partitions``).
    """
    n = partitions if partitions is not None else _default_count(Path(positions))
    if not 1 <= n <= MAX_PARTITIONS:
        raise InputError(f"must be between 1 and {MAX_PARTITIONS}, got {n}", path="--partitions")
    return n


def fill_dataset(
    directory: Path,
    positions: str | Path,
    collateral: str | Path,
    *,
    partitions: int,
    batch_rows: int = _BATCH_ROWS,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Write a dataset's files and manifest into ``directory`` (existing and empty).

    The writing half of :func:`write_dataset`, for a caller that makes the directory appear
    atomically itself (``crossmargin partition`` stages it in its output transaction).
    ``partitions`` is a count checked by :func:`partition_count`.
    """
    pos, col, n = Path(positions), Path(collateral), partitions
    say = progress or (lambda _s: None)
    say(f"hashing positions into {n} partitions")
    seen: dict[str, tuple[str, int, int]] = {}
    pos_files = _split(pos, "positions", directory / "positions", n, batch_rows, seen)
    say(f"hashing collateral into {n} partitions")
    col_files = _split(col, "collateral", directory / "collateral", n, batch_rows)
    entries = []
    for k, (pf, cf) in enumerate(zip(pos_files, col_files, strict=True)):
        say(f"describing partition {k + 1}/{n}")
        scan = scan_partition(None, Partition(pf.stem, pf, cf))
        entries.append(
            {
                "name": pf.stem,
                "bucket": k,
                "positions": f"positions/{pf.name}",
                "collateral": f"collateral/{cf.name}",
                **scan.facts.as_dict(),
            }
        )
    manifest = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "partitioning": {"by": "account", "hash": HASH_SCHEME, "partitions": n},
        "sources": {"positions": pos.name, "collateral": col.name},
        "partitions": entries,
        "instruments": [list(v) for v in seen.values()],
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _default_count(path: Path) -> int:
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as exc:
            raise InputError(
                f"cannot read positions table: {_reason(exc)}", path=str(path)
            ) from None
        return default_partitions(rows)
    size = path.stat().st_size if path.is_file() else 0
    return default_partitions(size // 40)  # ~40 bytes per CSV/JSON position row
