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

Every process also keeps, next to what it received, the risk arrays the partitions it margins
share (:meth:`ShippedOnce.risk_arrays`): the scenario P&L of one unit of each of the venue's
contracts depends on the table, the configuration and the scenarios only, so under ``var``/``es``
it is computed by the first partition a worker margins and reused by the next ones
(:class:`~crossmargin.margin.var_engine.UnitStore`). It lives as long as the shipped object —
the run — is bounded (``UnitStore.max_bytes``) and is never pickled.

The seam for the terms/marks split of the resolver (contract terms once, marks per snapshot) is
:meth:`VenueContracts.resolve` (how the table is built: terms then marks of the venue's
contracts) and :meth:`VenueContracts.bind` (how a partition's holdings are netted and marked
against it: :func:`~crossmargin.resolve.mark_positions` and
:meth:`~crossmargin.resolve.ResolvedBook.bound`, the steps of :func:`~crossmargin.resolve.resolve`); nothing else in :mod:`crossmargin.scale` touches
the resolver.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from crossmargin.config import RiskConfig
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Contract
from crossmargin.margin.var_engine import UnitKey, UnitStore
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve import InstrumentTable, ResolvedBook
from crossmargin.resolve.instruments import resolve_instruments
from crossmargin.resolve.positions import book_holdings, mark_positions

__all__ = ["ShippedOnce", "VenueContracts", "received_count", "risk_arrays_computed"]

_RECEIVED = 0
#: Risk arrays computed into the stores of this process, by key (a diagnostic).
_COMPUTED: Counter[UnitKey] = Counter()


def received_count() -> int:
    """How many :class:`VenueContracts` this process has received (unpickled) so far.

    A diagnostic of the "shipped once" rule: on a worker of a run over many partitions it is 1.
    """
    return _RECEIVED


def risk_arrays_computed() -> dict[str, int]:
    """How often this process computed each risk array it shared between partitions so far.

    Keys are ``"<underlying row>:<scenario digest>"``. A diagnostic of the "once per worker"
    rule: within one run every count grows by at most one on each worker.
    """
    return {f"{u}:{digest.hex()}": n for (u, digest), n in _COMPUTED.items()}


class ShippedOnce:
    """What is shipped to each worker once per run (a dataclass with ``instruments`` and ``config``).

    Pickled by its fields only; each process that holds it keeps one
    :class:`~crossmargin.margin.var_engine.UnitStore` of the risk arrays its partitions share.
    """

    instruments: InstrumentTable
    config: RiskConfig

    def risk_arrays(self) -> UnitStore:
        """The store, in this process, of the risk arrays shared by the partitions of the run."""
        store: UnitStore | None = self.__dict__.get("_risk_arrays")
        if store is None:
            store = UnitStore(self.instruments, self.config, tally=_COMPUTED)
            object.__setattr__(self, "_risk_arrays", store)
        return store

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)


@dataclass(frozen=True, eq=False)
class VenueContracts(ShippedOnce):
    """The contracts of a venue resolved against one snapshot and one configuration.

    Attributes
    ----------
    snapshot, config
        The market snapshot and the risk configuration of the run.
    instruments
        One row per distinct contract of the whole venue (first-appearance order).
    index
        Contract → row of ``instruments``.
    names
        Instrument name (as written in the input, stripped) → its parsed contract, so that a
        partition does not parse the venue's names again.
    """

    snapshot: MarketSnapshot
    config: RiskConfig
    instruments: InstrumentTable
    index: Mapping[Contract, int]
    names: Mapping[str, Contract] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        contracts: Sequence[Contract],
        snapshot: MarketSnapshot,
        config: RiskConfig,
        *,
        where: Callable[[int], str],
        names: Mapping[str, Contract] | None = None,
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
        names
            The names the contracts were parsed from (see :attr:`names`).

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
            names=dict(names or {}),
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
    def __setstate__(self, state: dict[str, Any]) -> None:
        global _RECEIVED
        _RECEIVED += 1
        super().__setstate__(state)
