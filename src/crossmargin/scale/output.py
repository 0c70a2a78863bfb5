"""Results of a partitioned run: one file per input partition, each written atomically.

* A worker writes a partition's results to a hidden temporary file in the output directory
  (``.<name>.<run>.<random>.parquet``), flushes it to disk and renames it to ``<name>.parquet``:
  a reader sees the whole file or none, and a retried task simply replaces it with the same
  content.
* The run's manifest (:data:`RESULTS_MANIFEST`: model, snapshot time, every partition file with
  its row count and size) is written last, by the client, and only when every partition
  succeeded; an existing manifest is removed before a new run starts. A result directory without
  a manifest is an incomplete run.
* Temporary files left by a worker killed mid-write carry the run's id and are removed when the
  run ends, whatever its outcome.

The output directory must be visible to the client and to every worker at the same path (a
shared file system); the rename must be atomic there (POSIX file systems, NFS, Lustre).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossmargin.errors import InputError

__all__ = ["RESULTS_MANIFEST", "ResultTarget", "write_atomic"]

#: Written last, only by a run in which every partition succeeded.
RESULTS_MANIFEST = "_crossmargin_results.json"
RESULTS_FORMAT = "crossmargin-results"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[Path], None], *, tag: str = "") -> int:
    """Write ``path`` through a temporary file in its directory, fsync, rename; return its size.

    ``write`` receives the temporary path (it has ``path``'s suffix, so format-by-extension
    writers work). On any failure the temporary file is removed and ``path`` is untouched.
    """
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.{tag}." if tag else f".{path.stem}.",
        suffix=path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        tmp_path.chmod(0o666 & ~_umask())
        with tmp_path.open("rb") as fh:
            os.fsync(fh.fileno())
        size = tmp_path.stat().st_size
        tmp_path.replace(path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return size


@dataclass(frozen=True, slots=True)
class ResultTarget:
    """Where a run writes: one file (a single-file input) or a directory of partition files.

    Attributes
    ----------
    path
        The ``--out`` file, or the output directory.
    directory
        ``True`` for a directory of ``<partition>.parquet`` files plus the run manifest.
    run_id
        Tags this run's temporary files.
    """

    path: Path
    directory: bool
    run_id: str

    @classmethod
    def check(cls, out: str | Path, *, directory: bool, run_id: str) -> ResultTarget:
        """Check the target before any work (nothing is created or removed yet).

        A directory must be new (its parent existing), empty, or hold the results of an
        earlier run (its manifest).

        Raises
        ------
        InputError
            An unwritable target, or a non-empty directory that is not crossmargin results.
        """
        p = Path(out).absolute()
        if not directory:
            from crossmargin.io.tables import table_format

            table_format(p)
            if p.is_dir():
                raise InputError("is a directory; give a results file", path=str(out))
            if not p.parent.is_dir():
                raise InputError("directory does not exist", path=str(p.parent))
            return cls(p, False, run_id)
        if p.exists() and not p.is_dir():
            raise InputError(
                "exists and is not a directory (results of a partitioned dataset are a "
                "directory of one file per partition)",
                path=str(out),
            )
        if p.is_dir():
            entries = [e for e in p.iterdir() if not e.name.startswith(".")]
            if entries and not (p / RESULTS_MANIFEST).exists():
                raise InputError(
                    "directory is not empty and holds no crossmargin results; give a new or "
                    "empty directory",
                    path=str(out),
                )
            if not os.access(p, os.W_OK):
                raise InputError("directory is not writable", path=str(out))
        elif not p.parent.is_dir():
            raise InputError("parent directory does not exist", path=str(out))
        elif not os.access(p.parent, os.W_OK):
            raise InputError("parent directory is not writable", path=str(out))
        return cls(p, True, run_id)

    def begin(self) -> None:
        """Just before the first result is written: clear an earlier run, create the directory.

        An earlier run's manifest is removed first (the directory is an incomplete run until
        this one commits), then the partition files it listed.
        """
        if not self.directory:
            return
        p = self.path
        manifest = p / RESULTS_MANIFEST
        if manifest.exists():
            old = _old_files(manifest)
            manifest.unlink()
            for name in old:
                with contextlib.suppress(OSError):
                    (p / name).unlink()
        try:
            p.mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create directory: {exc.strerror}", path=str(p)) from None

    def file_of(self, name: str) -> Path:
        """The result file of partition ``name``."""
        return self.path / f"{name}.parquet" if self.directory else self.path

    def write(self, name: str, columns: dict[str, Any]) -> tuple[Path, int]:
        """Write partition ``name``'s result table atomically (on a worker); path and size."""
        from crossmargin.io.tables import write_table

        path = self.file_of(name)
        size = write_atomic(path, lambda p: write_table(columns, p), tag=self.run_id)
        return path, size

    def cleanup(self) -> None:
        """Remove temporary files of this run left by killed workers."""
        directory = self.path if self.directory else self.path.parent
        marker = f".{self.run_id}."
        if not directory.is_dir():
            return
        with contextlib.suppress(OSError):
            for e in directory.iterdir():
                if e.name.startswith(".") and marker in e.name:
                    with contextlib.suppress(OSError):
                        e.unlink()

    def commit(self, summary: dict[str, Any], files: Sequence[dict[str, Any]]) -> None:
        """Write the run manifest (every partition succeeded)."""
        if not self.directory:
            return
        doc = {"format": RESULTS_FORMAT, "version": 1, **summary, "files": list(files)}
        write_atomic(
            self.path / RESULTS_MANIFEST,
            lambda p: _write_json(p, doc),
            tag=self.run_id,
        )


def _old_files(manifest: Path) -> list[str]:
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        return [
            str(f["file"])
            for f in doc.get("files", [])
            if "/" not in str(f["file"]) and not str(f["file"]).startswith(".")
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
