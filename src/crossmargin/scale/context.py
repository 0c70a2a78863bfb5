"""What every worker receives once: the venue's contracts resolved against the snapshot + config.

A venue's accounts hold a few thousand listed contracts between them. :class:`VenueContracts`
resolves the *union* of those contracts once, on the client, into one
:class:`~crossmargin.resolve.InstrumentTable` (spot, forward, T, strike, σ, discount, value,
delta of each contract, and the fallbacks used), together with the snapshot and the risk
configuration. It is shipped to each worker once per run (``Client.scatter(...,
broadcast=True)`` on Dask, the pool initializer on a process pool) and every partition then
only nets its own positions and values its own collateral against it (:meth:`bind`).

Binding a partition against the venue-wide table gives exactly the resolved book that resolving
the whole venue in one process gives for those accounts: the same contract rows in the same
order (so the same underlying, risk-class and expiry-bucket numbering), the same netting and
marks. That is why a partitioned run reproduces the single-process numbers.

The seam for the terms/marks split of the resolver (contract terms once, marks per snapshot) is
:meth:`VenueContracts.resolve` (how the table is built: terms then marks of the venue's
contracts) and :meth:`VenueContracts.bind` (how a partition's holdings are netted and marked
against it: :func:`~crossmargin.resolve.mark_positions` and
:meth:`~crossmargin.resolve.ResolvedBook.bound`, the steps of :func:`~crossmargin.resolve.resolve`); nothing else in :mod:`crossmargin.scale` touches
the resolver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from crossmargin.config import RiskConfig
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Contract
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve import InstrumentTable, ResolvedBook
from crossmargin.resolve.instruments import resolve_instruments
from crossmargin.resolve.positions import book_holdings, mark_positions

__all__ = ["VenueContracts", "received_count"]

_RECEIVED = 0


def received_count() -> int:
    """How many :class:`VenueContracts` this process has received (unpickled) so far.

    A diagnostic of the "shipped once" rule: on a worker of a run over many partitions it is 1.
    """
    return _RECEIVED


@dataclass(frozen=True, eq=False)
class VenueContracts:
    """The contracts of a venue resolved against one snapshot and one configuration.

    Attributes
    ----------
    snapshot, config
        The market snapshot and the risk configuration of the run.
    instruments
        One row per distinct contract of the whole venue (first-appearance order).
    index
        Contract → row of ``instruments``.
    """

    snapshot: MarketSnapshot
    config: RiskConfig
    instruments: InstrumentTable
    index: Mapping[Contract, int]

    @classmethod
    def resolve(
        cls,
        contracts: Sequence[Contract],
        snapshot: MarketSnapshot,
        config: RiskConfig,
        *,
        where: Callable[[int], str],
    ) -> VenueContracts:
        """Resolve distinct ``contracts`` once (fail closed on any missing market datum).

        Parameters
        ----------
        contracts
            Distinct contracts, in the order of their first appearance in the venue.
        snapshot, config
            Market data and risk configuration.
        where
            Input path of the first holder of contract ``i`` (for error messages).

        Raises
        ------
        MarketDataError, InputError, ConfigError
            As :func:`~crossmargin.resolve.resolve`.
        """
        inst = resolve_instruments(tuple(contracts), snapshot, config, where=where)
        return cls(
            snapshot=snapshot,
            config=config,
            instruments=inst,
            index={c: i for i, c in enumerate(inst.contracts)},
        )

    @property
    def contracts(self) -> tuple[Contract, ...]:
        """The venue's distinct contracts (rows of :attr:`instruments`)."""
        return self.instruments.contracts

    def rows_of(self, contracts: Sequence[Contract], *, where: str) -> np.ndarray:
        """Row of each contract in the venue table.

        Raises
        ------
        InputError
            A contract that was not in the venue when the table was built (the data changed
            between the scan and the run).
        """
        try:
            return np.fromiter(
                (self.index[c] for c in contracts), dtype=np.int64, count=len(contracts)
            )
        except KeyError as exc:
            raise InputError(
                f"holds {exc.args[0].name}, which was not in the dataset when its contracts were "
                "listed (the data changed during the run?)",
                path=where,
            ) from None

    def bind(self, book: Book, *, where: str = "positions") -> ResolvedBook:
        """The resolved book of ``book``'s accounts against the venue table.

        ``book`` may list its own contracts in any order; its positions are re-indexed into the
        venue table, then netted, marked and its collateral valued exactly as
        :func:`~crossmargin.resolve.resolve` does (:meth:`~crossmargin.resolve.ResolvedBook.bound`).
        """
        rows = self.rows_of(book.contracts, where=where)
        venue_book = replace(
            book,
            contracts=self.contracts,
            pos_instrument=rows[book.pos_instrument]
            if book.pos_instrument.size
            else book.pos_instrument,
        )
        inst = self.instruments
        pos = mark_positions(book_holdings(venue_book, inst), inst, inst)
        return ResolvedBook.bound(venue_book, self.snapshot, self.config, inst, pos)

    # -- pickling: count what a process receives (see received_count) ---------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        global _RECEIVED
        _RECEIVED += 1
        for k, v in state.items():
            object.__setattr__(self, k, v)
