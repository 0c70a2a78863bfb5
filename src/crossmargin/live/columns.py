"""Growable columns: named 1-D arrays of one length, appended to in amortised O(1).

The live engine's tables (net positions, per-account results, per-group risk) grow one row at a
time as accounts open and contracts are traded. A NumPy array cannot grow in place, so each
column keeps spare capacity and doubles when full: appending ``k`` rows costs ``O(k)``
amortised and the columns stay contiguous for vectorised reads (``cols["quantity"]`` is a view
of the used rows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Columns", "grow_rows"]


def grow_rows(a: npt.NDArray[Any], n: int, fill: Any = 0) -> npt.NDArray[Any]:
    """``a`` with at least ``n`` rows along axis 0 (doubling; new rows set to ``fill``)."""
    if a.shape[0] >= n:
        return a
    cap = max(n, 2 * a.shape[0], 16)
    out = np.full((cap, *a.shape[1:]), fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


class Columns:
    """Named columns sharing one row count (see the module docstring).

    Parameters
    ----------
    dtypes
        Column name → dtype.
    fill
        Column name → value of rows not written yet (default 0).
    """

    __slots__ = ("_data", "_fill", "n")

    def __init__(self, dtypes: Mapping[str, Any], *, fill: Mapping[str, Any] | None = None) -> None:
        self._fill = dict(fill or {})
        self._data = {k: np.full(16, self._fill.get(k, 0), dtype=dt) for k, dt in dtypes.items()}
        self.n = 0

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        """The used rows of column ``name`` (a view: writes go to the table)."""
        return self._data[name][: self.n]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def append(self, k: int) -> int:
        """Add ``k`` rows (set to their fill values); returns the index of the first."""
        start = self.n
        need = start + k
        for name, a in self._data.items():
            self._data[name] = grow_rows(a, need, self._fill.get(name, 0))
        self.n = need
        return start

    def keep(self, rows: npt.NDArray[np.int64]) -> None:
        """Keep only ``rows``, in that order (compaction)."""
        k = int(rows.shape[0])
        for name, a in self._data.items():
            kept = a[rows]
            a[:k] = kept
            a[k:] = self._fill.get(name, 0)
        self.n = k

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Copies of the used rows of every column (for snapshots)."""
        return {k: a[: self.n].copy() for k, a in self._data.items()}

    def load(self, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
        """Replace the contents by ``arrays`` (one per column, equal lengths)."""
        n = len(next(iter(arrays.values()))) if arrays else 0
        self.n = 0
        self.append(n)
        for k in self._data:
            self._data[k][:n] = arrays[k]
