"""A book: positions and collateral of many accounts as flat arrays (struct of arrays).

The book is the shape every margin model consumes. One account is a book of one; a venue is a
book of 100 000. Unique contracts are stored once, positions reference them by index, so that
valuation work is done per contract (a SPAN-style *risk array*) and shared by every holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot
from crossmargin.instruments.position import Portfolio

__all__ = ["Book", "BookShape"]


class BookShape:
    """Mixin of the books of many accounts: counts of accounts and position rows."""

    __slots__ = ()
    accounts: tuple[str, ...]
    pos_quantity: FloatArray

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return len(self.accounts)

    @property
    def n_positions(self) -> int:
        """Number of position rows."""
        return int(self.pos_quantity.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class Book(BookShape):
    """Positions and collateral of one or more accounts.

    Attributes
    ----------
    accounts
        Account identifiers, index = account number.
    base_currency
        Reporting currency of each account.
    contracts
        Unique contracts; ``pos_instrument`` indexes into it.
    pos_account, pos_instrument, pos_quantity, pos_entry
        One row per input position (not yet netted); ``pos_entry`` is NaN when unknown.
    assets
        Unique collateral asset symbols; ``col_asset`` indexes into it.
    col_account, col_asset, col_amount
        One row per collateral balance.
    """

    accounts: tuple[str, ...]
    base_currency: tuple[str, ...]
    contracts: tuple[Contract, ...]
    pos_account: IntArray
    pos_instrument: IntArray
    pos_quantity: FloatArray
    pos_entry: FloatArray
    assets: tuple[str, ...]
    col_account: IntArray
    col_asset: IntArray
    col_amount: FloatArray
    pos_row: IntArray | None = None
    pos_prefix: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Validate shapes, index ranges and numbers (vectorised; :class:`InputError`)."""
        set_ = object.__setattr__
        accounts = _strings(self.accounts, "Book.accounts")
        n_acc = len(accounts)
        set_(self, "accounts", accounts)
        set_(self, "base_currency", _strings(self.base_currency, "Book.base_currency", n_acc))
        contracts = _seq(self.contracts, "Book.contracts")
        for i, c in enumerate(contracts):
            if not isinstance(c, Spot | Perpetual | Future | Option):
                raise InputError(
                    f"must be a Spot, Perpetual, Future or Option, got {type(c).__name__}",
                    path=f"Book.contracts[{i}]",
                )
        set_(self, "contracts", contracts)
        assets = _strings(self.assets, "Book.assets")
        set_(self, "assets", assets)
        pa = _index(self.pos_account, "Book.pos_account", n_acc)
        n = pa.shape[0]
        set_(self, "pos_account", pa)
        set_(
            self,
            "pos_instrument",
            _index(self.pos_instrument, "Book.pos_instrument", len(contracts), n),
        )
        set_(self, "pos_quantity", _numbers(self.pos_quantity, "Book.pos_quantity", n))
        entry = _numbers(self.pos_entry, "Book.pos_entry", n, nan_ok=True)
        bad = ~np.isnan(entry) & (entry <= 0)
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(
                f"must be positive (or NaN: unknown), got {entry[k]!r}", path=f"Book.pos_entry[{k}]"
            )
        set_(self, "pos_entry", entry)
        ca = _index(self.col_account, "Book.col_account", n_acc)
        set_(self, "col_account", ca)
        set_(self, "col_asset", _index(self.col_asset, "Book.col_asset", len(assets), ca.shape[0]))
        set_(self, "col_amount", _numbers(self.col_amount, "Book.col_amount", ca.shape[0]))
        if self.pos_row is not None:
            set_(self, "pos_row", _index(self.pos_row, "Book.pos_row", None, n))
        if self.pos_prefix is not None:
            set_(self, "pos_prefix", _strings(self.pos_prefix, "Book.pos_prefix", n_acc))

    def position_path(self, row: int) -> str:
        """Input path of position row ``row`` (e.g. ``accounts[1].positions[3]``)."""
        if row < 0:
            return "positions"
        src = int(self.pos_row[row]) if self.pos_row is not None else row
        acc = int(self.pos_account[row])
        prefix = self.pos_prefix[acc] if self.pos_prefix is not None else "positions"
        return f"{prefix}[{src}].instrument"

    def scaled_collateral(self, factor: FloatArray) -> Book:
        """The same book with every account's collateral balances times ``factor[account]``."""
        return replace(self, col_amount=self.col_amount * factor[self.col_account])

    @classmethod
    def from_portfolios(
        cls, portfolios: Sequence[Portfolio], *, prefixes: Sequence[str] | None = None
    ) -> Book:
        """Flatten portfolio objects into a book (contracts deduplicated by value).

        ``prefixes`` gives each account's input path for error messages (default
        ``positions`` for one account, ``accounts[i].positions`` for several).
        """
        portfolios = _seq(portfolios, "portfolios")
        for i, pf in enumerate(portfolios):
            if not isinstance(pf, Portfolio):
                raise InputError(
                    f"must be a Portfolio, got {type(pf).__name__}", path=f"portfolios[{i}]"
                )
        if prefixes is not None and len(_strings(prefixes, "prefixes")) != len(portfolios):
            raise InputError(
                f"give one prefix per portfolio ({len(prefixes)} for {len(portfolios)})",
                path="prefixes",
            )
        contract_ix: dict[Contract, int] = {}
        asset_ix: dict[str, int] = {}
        pa: list[int] = []
        pi: list[int] = []
        pq: list[float] = []
        pe: list[float] = []
        ca: list[int] = []
        cs: list[int] = []
        cq: list[float] = []
        pr: list[int] = []
        for a, pf in enumerate(portfolios):
            for r, pos in enumerate(pf.positions):
                pr.append(r)
                pa.append(a)
                pi.append(contract_ix.setdefault(pos.contract, len(contract_ix)))
                pq.append(pos.quantity)
                pe.append(np.nan if pos.entry_price is None else pos.entry_price)
            for asset, amount in pf.collateral.items():
                ca.append(a)
                cs.append(asset_ix.setdefault(asset, len(asset_ix)))
                cq.append(amount)
        return cls(
            accounts=tuple(p.account for p in portfolios),
            base_currency=tuple(p.base_currency for p in portfolios),
            contracts=tuple(contract_ix),
            pos_account=np.asarray(pa, dtype=np.int64),
            pos_instrument=np.asarray(pi, dtype=np.int64),
            pos_quantity=np.asarray(pq, dtype=np.float64),
            pos_entry=np.asarray(pe, dtype=np.float64),
            assets=tuple(asset_ix),
            col_account=np.asarray(ca, dtype=np.int64),
            col_asset=np.asarray(cs, dtype=np.int64),
            col_amount=np.asarray(cq, dtype=np.float64),
            pos_row=np.asarray(pr, dtype=np.int64),
            pos_prefix=tuple(prefixes)
            if prefixes is not None
            else (
                ("positions",)
                if len(portfolios) == 1
                else tuple(f"accounts[{i}].positions" for i in range(len(portfolios)))
            ),
        )


def _seq(v: Any, path: str) -> tuple[Any, ...]:
    if isinstance(v, str | bytes) or not isinstance(v, Sequence | np.ndarray):
        raise InputError(f"must be a sequence, got {type(v).__name__}", path=path)
    return tuple(v)


def _strings(v: Any, path: str, n: int | None = None) -> tuple[str, ...]:
    out = _seq(v, path)
    for i, x in enumerate(out):
        if not isinstance(x, str):
            raise InputError(f"must be a string, got {type(x).__name__}", path=f"{path}[{i}]")
    if n is not None and len(out) != n:
        raise InputError(f"has {len(out)} entries, expected {n} (one per account)", path=path)
    return out


def _array(v: Any, path: str, n: int | None) -> np.ndarray:
    if isinstance(v, str | bytes) or not isinstance(v, Sequence | np.ndarray):
        raise InputError(f"must be an array, got {type(v).__name__}", path=path)
    a = np.asarray(v)
    if a.ndim != 1:
        raise InputError(f"must be one-dimensional, got shape {a.shape}", path=path)
    if n is not None and a.shape[0] != n:
        raise InputError(
            f"has {a.shape[0]} entries, expected {n} (one per position/balance row)", path=path
        )
    if a.size and a.dtype.kind not in "iuf":
        raise InputError(f"must hold numbers, got dtype {a.dtype}", path=path)
    return a


def _index(v: Any, path: str, bound: int | None, n: int | None = None) -> IntArray:
    a = _array(v, path, n)
    if a.size and a.dtype.kind == "f" and not (np.isfinite(a).all() and (a == np.round(a)).all()):
        raise InputError("must hold integer indices", path=path)
    out = a.astype(np.int64, copy=False)
    bad = out < 0 if bound is None else (out < 0) | (out >= bound)
    if bad.any():
        k = int(np.argmax(bad))
        limit = "non-negative" if bound is None else f"in [0, {bound})"
        raise InputError(f"index {int(out[k])} is not {limit}", path=f"{path}[{k}]")
    return out


def _numbers(v: Any, path: str, n: int, *, nan_ok: bool = False) -> FloatArray:
    out = _array(v, path, n).astype(np.float64, copy=False)
    bad = ~np.isfinite(out) & ~(nan_ok & np.isnan(out))
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(f"must be finite, got {out[k]!r}", path=f"{path}[{k}]")
    return out
