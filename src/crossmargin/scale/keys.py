"""Account keys and the stable account hash that decides an account's partition.

An account is never split across partitions: its positions and its collateral are written to,
and read from, the partition its key hashes to. The key is the account identifier exactly as
:func:`~crossmargin.io.tables.book_from_frames` reads it (the text of the value, surrounding
spaces stripped: ``"acct-1 "`` and ``"acct-1"`` are one account, an integer id ``17`` is
``"17"``), so two spellings that the engine treats as one account can never land in two
partitions.

The hash is SipHash-2-4 of the key's UTF-8 bytes with pandas' fixed default key
(``pandas.util.hash_array``): stable across processes, machines and runs (unlike Python's
``hash``), so a dataset written on one machine is read correctly on any worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crossmargin._typing import IntArray
from crossmargin.errors import InputError

__all__ = ["HASH_SCHEME", "account_buckets", "account_keys", "hash_keys"]

#: Recorded in every dataset manifest; a reader refuses a dataset hashed any other way.
HASH_SCHEME = "siphash24-pandas-default-key-utf8-stripped-text"


def account_keys(values: Any, *, what: str) -> tuple[IntArray, np.ndarray]:
    """Factorize an account column: per-row codes and the distinct keys (stripped text).

    Raises
    ------
    InputError
        An empty or missing account (``what[row].account``).
    """
    codes, uniques = pd.factorize(pd.Series(values), sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        r = int(np.argmax(codes < 0))
        raise InputError("must not be empty", path=f"{what}[{r}].account")
    keys = pd.Series(uniques, dtype="string").str.strip()
    empty = (keys == "").to_numpy(dtype=np.bool_)
    if empty.any():
        r = int(np.argmax(codes == int(np.argmax(empty))))
        raise InputError("must not be empty", path=f"{what}[{r}].account")
    return np.asarray(codes, dtype=np.int64), keys.to_numpy(dtype=object)


def hash_keys(keys: np.ndarray) -> np.ndarray:
    """Stable 64-bit hash of each account key (see module docstring)."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.uint64)
    return np.asarray(pd.util.hash_array(np.asarray(keys, dtype=object)), dtype=np.uint64)


def account_buckets(keys: np.ndarray, n_partitions: int) -> IntArray:
    """Partition index of each account key (hash modulo the number of partitions)."""
    return (hash_keys(keys) % np.uint64(n_partitions)).astype(np.int64)
