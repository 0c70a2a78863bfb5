"""The live book: every account's net positions and collateral balances, in memory, mutable.

Struct of arrays, like :class:`~crossmargin.instruments.book.Book`, but built to change one row
at a time:

* **contracts** — the terms table (:class:`~crossmargin.resolve.terms.ContractTerms`), appended
  to when a new contract is traded (:func:`~crossmargin.resolve.terms.extend_terms`): existing
  rows and indices never move;
* **net positions** — one row per (account, contract) with its quantity and cost accumulators
  (:class:`~crossmargin.resolve.positions.Holdings`' fields), in growable columns. A trade that
  reduces a position realises the closed part's P&L into the account's cash (the snapshot
  currency, as the liquidation engine settles) and keeps the average entry of the rest; a
  position traded back to exactly zero is settled whole and its row is left dead (zero) until
  compaction; row numbers are otherwise stable, so per-underlying caches can refer to them;
* **balances** — a dense ``(accounts × assets)`` matrix (negative: a liability);
* **indexes** — (account, contract) → row, each account's rows, and the live position count per
  (account, underlying), so that the holders of an underlying are found without a scan of the
  positions.

Trades that add to a position net into the accumulators exactly as lots net in
:func:`~crossmargin.resolve.positions.net_holdings` (linear ``Σ q·p``, inverse ``Σ q/p``); an
option's premium moves cash at the trade (its mark-to-market is ``q × premium``). Everything
here is bookkeeping: no market data is read except where a settlement needs the marks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.instruments.contracts import Contract
from crossmargin.live.columns import Columns, grow_rows
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import Holdings, mark_positions
from crossmargin.resolve.terms import KIND_OPTION, ContractTerms, contract_terms

__all__ = ["FLAT_TOLERANCE", "LiveBook", "TradeEffect", "trade_effects"]

#: A position whose quantity after a trade is within this fraction of the larger of its old
#: quantity and the trade is flat (binary rounding of decimal quantities, 0.1 + 0.2 − 0.3).
FLAT_TOLERANCE = 1e-12

_KEY = 1 << 32


@dataclass(frozen=True, slots=True, eq=False)
class TradeEffect:
    """Trades applied to net positions (one per position row, arrays aligned with the inputs).

    Attributes
    ----------
    quantity, cost_known
        The positions' new quantity and cost accumulator (flat positions: 0 and 0).
    cash
        Snapshot-currency cash of each trade: minus the option premium paid, plus the realised
        P&L of the part of the position the trade closed.
    flat
        Positions closed to zero by the trade (settled into cash).
    """

    quantity: FloatArray
    cost_known: FloatArray
    qty_unknown: FloatArray
    cash: FloatArray
    flat: BoolArray


def trade_effects(
    inst: InstrumentTable,
    instrument: IntArray,
    quantity: FloatArray,
    cost_known: FloatArray,
    qty_unknown: FloatArray,
    unknown: BoolArray,
    dq: FloatArray,
    price: FloatArray,
) -> TradeEffect:
    """Add trades ``dq`` at ``price`` (the instrument's quote) to net positions (module docstring).

    A trade that reduces a position closes that fraction of it at ``price``: the closed part's
    cost leaves the accumulators pro rata and its realised P&L goes to cash (as venues settle
    it, and as the liquidation engine does), so the remaining position keeps its average entry
    price; a trade through zero closes the position and opens the rest at ``price``. An inverse
    option's premium is quoted in coin and paid in the snapshot currency at spot.
    """
    inverse = inst.inverse[instrument]
    is_opt = inst.kind[instrument] == KIND_OPTION
    mult = inst.mult[instrument]
    unit = np.where(inverse, 1.0 / price, price)  # cost accumulated per unit traded
    q1 = quantity + dq
    flat = np.abs(q1) <= FLAT_TOLERANCE * np.maximum(np.abs(quantity), np.abs(dq))
    q1 = np.where(flat, 0.0, q1)
    reduces = (quantity != 0) & (np.sign(dq) == -np.sign(quantity))
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(reduces, np.minimum(np.abs(dq) / np.abs(quantity), 1.0), 0.0)
    frac = np.where(flat, 1.0, frac)  # fraction of the old position closed
    closing = -frac * quantity  # the part of the trade that closes
    opening = np.where(flat, 0.0, dq - closing)  # the part that opens or adds
    spot = inst.spot[instrument]
    cash = np.where(is_opt, -mult * dq * price * np.where(inverse, spot, 1.0), 0.0)
    done = np.flatnonzero(frac > 0)
    if done.size:
        closed = Holdings(
            account=np.zeros(done.size, np.int64),
            instrument=instrument[done],
            quantity=np.zeros(done.size),
            cost_known=(frac * cost_known + closing * unit)[done],
            qty_unknown=(frac * qty_unknown)[done],
            unknown=unknown[done],
            first_row=np.zeros(done.size, np.int64),
        )
        cash[done] += mark_positions(closed, inst, inst).mtm
    return TradeEffect(
        quantity=q1,
        cost_known=np.where(flat, 0.0, (1.0 - frac) * cost_known + opening * unit),
        qty_unknown=np.where(flat, 0.0, (1.0 - frac) * qty_unknown),
        cash=cash,
        flat=flat,
    )


class LiveBook:
    """Accounts, net positions and balances (module docstring).

    Parameters
    ----------
    config
        Risk configuration (contract terms need the risk classes).
    cash_asset
        The snapshot currency: where premiums and realised P&L settle.
    """

    def __init__(self, config: RiskConfig, cash_asset: str) -> None:
        self.config = config
        self.cash_asset = cash_asset
        self.terms: ContractTerms = contract_terms([], config)
        self._contract_row: dict[Contract, int] = {}
        #: Instrument name → terms row (names already parsed; rows never move).
        self.name_rows: dict[str, int] = {}
        self.accounts: list[str] = []
        self.base_currency: list[str] = []
        self._based: dict[str, list[int]] = {}
        self._tuples: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None
        self.index: dict[str, int] = {}
        self.pos = Columns(
            {
                "account": np.int64,
                "instrument": np.int64,
                "und": np.int64,
                "quantity": np.float64,
                "cost_known": np.float64,
                "qty_unknown": np.float64,
                "unknown": np.bool_,
                "alive": np.bool_,
            }
        )
        self._key: dict[int, int] = {}
        self.acc_rows: list[list[int]] = []
        self.assets: list[str] = []
        self.asset_index: dict[str, int] = {}
        self.balances = np.zeros((16, 4))
        self.holders = np.zeros((16, 4), np.int32)
        self.n_dead = 0
        #: Changes when rows are renumbered (compaction): caches of row numbers are then stale.
        self.layout = 0
        #: Per underlying: changes when a position row of it is created (its row set grew).
        self.und_version = np.zeros(4, np.int64)
        #: Per underlying: changes when a quantity or cost of one of its positions changes.
        self.qty_version = np.zeros(4, np.int64)
        self.asset_col(cash_asset)

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return len(self.accounts)

    @property
    def n_contracts(self) -> int:
        """Number of contracts in the terms table."""
        return self.terms.n

    # -- contracts -----------------------------------------------------------------------------
    def contract_row(self, contract: Contract) -> int | None:
        """Row of ``contract`` in the terms table, or ``None``."""
        return self._contract_row.get(contract)

    def set_terms(self, terms: ContractTerms) -> None:
        """Adopt ``terms``, an extension of the current table (new rows at the end)."""
        for i in range(self.terms.n, terms.n):
            self._contract_row[terms.contracts[i]] = i
        n_und = len(terms.underlyings)
        self.und_version = grow_rows(self.und_version, n_und)
        self.qty_version = grow_rows(self.qty_version, n_und)
        if n_und > self.holders.shape[1]:
            h = np.zeros((self.holders.shape[0], max(n_und, 2 * self.holders.shape[1])), np.int32)
            h[:, : self.holders.shape[1]] = self.holders
            self.holders = h
        self.terms = terms

    # -- accounts and assets -------------------------------------------------------------------
    def add_account(self, name: str, base_currency: str) -> int:
        """Open an empty account; returns its index."""
        i = len(self.accounts)
        self.accounts.append(name)
        self.base_currency.append(base_currency)
        self._based.setdefault(base_currency, []).append(i)
        self.index[name] = i
        self.acc_rows.append([])
        self.balances = grow_rows(self.balances, i + 1)
        self.holders = grow_rows(self.holders, i + 1)
        return i

    def account_tuples(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Names, base currencies and input-path prefixes of every account (cached)."""
        if self._tuples is None or len(self._tuples[0]) != self.n_accounts:
            names = tuple(self.accounts)
            self._tuples = (
                names,
                tuple(self.base_currency),
                tuple(f"accounts.{n}.positions" for n in names),
            )
        return self._tuples

    def based_in(self, currency: str) -> IntArray:
        """Accounts whose base currency is ``currency``."""
        return np.asarray(self._based.get(currency, ()), np.int64)

    def asset_col(self, symbol: str) -> int:
        """Column of ``symbol`` in the balance matrix (added if new)."""
        k = self.asset_index.get(symbol)
        if k is None:
            k = self.asset_index[symbol] = len(self.assets)
            self.assets.append(symbol)
            if k >= self.balances.shape[1]:
                b = np.zeros((self.balances.shape[0], 2 * self.balances.shape[1]))
                b[:, : self.balances.shape[1]] = self.balances
                self.balances = b
        return k

    def balance_view(self) -> FloatArray:
        """``(n_accounts, n_assets)`` balances (a view)."""
        return self.balances[: self.n_accounts, : len(self.assets)]

    # -- positions -----------------------------------------------------------------------------
    def row_of(self, account: int, instrument: int) -> int:
        """Row of the (account, contract) position, −1 if there is none."""
        return self._key.get(account * _KEY + instrument, -1)

    def new_rows(
        self,
        account: IntArray,
        instrument: IntArray,
        quantity: FloatArray,
        cost_known: FloatArray,
        qty_unknown: FloatArray,
        unknown: BoolArray,
    ) -> IntArray:
        """Append positions for (account, contract) pairs that have none; returns their rows."""
        k = int(account.shape[0])
        start = self.pos.append(k)
        rows = np.arange(start, start + k, dtype=np.int64)
        und = self.terms.und[instrument]
        p = self.pos
        p["account"][rows] = account
        p["instrument"][rows] = instrument
        p["und"][rows] = und
        p["quantity"][rows] = quantity
        p["cost_known"][rows] = cost_known
        p["qty_unknown"][rows] = qty_unknown
        p["unknown"][rows] = unknown
        p["alive"][rows] = True
        keys = (account * _KEY + instrument).tolist()
        self._key.update(zip(keys, rows.tolist(), strict=True))
        for a, r in zip(account.tolist(), rows.tolist(), strict=True):
            self.acc_rows[a].append(r)
        np.add.at(self.holders, (account, und), 1)
        touched = np.unique(und)
        self.und_version[touched] += 1
        self.qty_version[touched] += 1
        return rows

    def update_rows(
        self,
        rows: IntArray,
        quantity: FloatArray,
        cost_known: FloatArray,
        qty_unknown: FloatArray,
    ) -> None:
        """Set the accumulators of existing positions; rows whose quantity is 0 are closed."""
        p = self.pos
        p["quantity"][rows] = quantity
        p["cost_known"][rows] = cost_known
        p["qty_unknown"][rows] = qty_unknown
        self.qty_version[np.unique(p["und"][rows])] += 1
        closed = rows[quantity == 0.0]
        if closed.size:
            self.close_rows(closed)

    def close_rows(self, rows: IntArray) -> None:
        """Remove settled positions from the indexes (their rows stay dead until compaction)."""
        p = self.pos
        rows = rows[p["alive"][rows]]
        if rows.size == 0:
            return
        acc, ins = p["account"][rows], p["instrument"][rows]
        p["alive"][rows] = False
        p["quantity"][rows] = 0.0
        p["cost_known"][rows] = 0.0
        p["qty_unknown"][rows] = 0.0
        for a, i, r in zip(acc.tolist(), ins.tolist(), rows.tolist(), strict=True):
            del self._key[a * _KEY + i]
            self.acc_rows[a].remove(r)
        np.add.at(self.holders, (acc, p["und"][rows]), -1)
        self.qty_version[np.unique(p["und"][rows])] += 1
        self.n_dead += int(rows.size)

    def rows_of_accounts(self, accounts: IntArray) -> IntArray:
        """Live rows of ``accounts``, each account's rows in ascending order.

        That is the order every per-account sum runs in, whatever the set of accounts, so an
        account margined alone and in a whole-book sweep adds the same numbers in the same order.
        """
        if accounts.size == self.n_accounts:
            return self.alive_rows()
        if accounts.size > 4096:
            mask = np.zeros(self.n_accounts, np.bool_)
            mask[accounts] = True
            p = self.pos
            return np.flatnonzero(p["alive"] & mask[p["account"]]).astype(np.int64)
        out: list[int] = []
        for a in accounts.tolist():
            out.extend(self.acc_rows[a])
        return np.asarray(out, dtype=np.int64)

    def alive_rows(self) -> IntArray:
        """Every live row, ascending."""
        return np.flatnonzero(self.pos["alive"]).astype(np.int64)

    def holders_of(self, und: int) -> IntArray:
        """Accounts holding at least one position in underlying ``und``."""
        if und >= self.holders.shape[1]:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.holders[: self.n_accounts, und] > 0).astype(np.int64)

    def asset_holders(self, asset: str) -> IntArray:
        """Accounts with a non-zero balance of ``asset``."""
        k = self.asset_index.get(asset)
        if k is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.balance_view()[:, k] != 0.0).astype(np.int64)

    def compact(self) -> bool:
        """Drop dead rows when they are many (renumbers rows, bumps :attr:`layout`)."""
        if self.n_dead < max(1024, self.pos.n // 4):
            return False
        keep = self.alive_rows()
        self.pos.keep(keep)
        self._reindex()
        self.n_dead = 0
        self.layout += 1
        return True

    def load_positions(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the position table (from a snapshot) and rebuild the indexes."""
        self.pos.load(arrays)
        self._reindex()
        self.layout += 1
        self.n_dead = int(self.pos.n - np.count_nonzero(self.pos["alive"]))

    def _reindex(self) -> None:
        p = self.pos
        rows = np.flatnonzero(p["alive"])
        acc, ins = p["account"][rows], p["instrument"][rows]
        self._key = dict(zip((acc * _KEY + ins).tolist(), rows.tolist(), strict=True))
        order = np.argsort(acc, kind="stable")
        bounds = np.searchsorted(acc[order], np.arange(self.n_accounts + 1)).tolist()
        flat = rows[order].tolist()
        self.acc_rows = [flat[a:b] for a, b in itertools.pairwise(bounds)]
        self.holders = np.zeros(
            (max(self.n_accounts, 16), max(len(self.terms.underlyings), 4)), np.int32
        )
        np.add.at(self.holders, (acc, p["und"][rows]), 1)

    # -- bulk ----------------------------------------------------------------------------------
    def positions_of(self, rows: IntArray, local: IntArray | None) -> Holdings:
        """The positions ``rows``, accounts renumbered by ``local[account]`` (``None``: kept)."""
        p = self.pos
        acc = p["account"][rows]
        return Holdings(
            account=acc if local is None else local[acc],
            instrument=p["instrument"][rows],
            quantity=p["quantity"][rows],
            cost_known=p["cost_known"][rows],
            qty_unknown=p["qty_unknown"][rows],
            unknown=p["unknown"][rows],
            first_row=rows,
        )

    def contracts(self) -> Sequence[Contract]:
        """The contracts of the terms table, by row."""
        return self.terms.contracts
