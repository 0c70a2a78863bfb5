"""How a venue importer reads an export: documents in, sorted rows, holdings, one import.

Every venue module subclasses :class:`VenueReader`: its ``add`` sorts one document's rows by the
responses the venue returns (its conventions); the steps they all share are written here once —
reading every document, refusing a second account response, building each position's
:class:`~crossmargin.io.venues._common.Holding` (its mark recorded as a market fact), refusing a
position listed twice, checking reported sizes against our units, assembling the
:class:`~crossmargin.io.venues._common.VenueImport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Self, TypeVar

from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.io.venues._common import Holding, MarketFacts, Reported, VenueImport
from crossmargin.io.venues._fields import Fields

__all__ = ["VenueReader", "check_units"]

R = TypeVar("R")


class VenueReader:
    """Base of a venue's reader: the market facts it collects and the steps every venue shares."""

    #: Venue name (the holdings' label).
    venue: ClassVar[str]
    #: The venue's names of a position row's instrument, mark price and average entry price.
    symbol_field: ClassVar[str]
    mark_field: ClassVar[str]
    entry_field: ClassVar[str]

    def __init__(self) -> None:
        self.facts = MarketFacts()

    def add(self, doc: Any, where: str) -> None:
        """Sort the rows of one parsed document (``where``: its file name and ``:``)."""
        raise NotImplementedError

    def read(self, docs: Iterable[tuple[Any, str]]) -> Self:
        """Add every document (parsed JSON with its file name); returns the reader."""
        for doc, where in docs:
            self.add(doc, f"{where}:")
        return self

    @staticmethod
    def single(rows: Sequence[Fields], what: str) -> Sequence[Fields]:
        """``rows`` when there is at most one; two responses of one account are refused.

        Raises
        ------
        InputError
            Naming the second (e.g. ``what="wallet balance"``).
        """
        if len(rows) > 1:
            raise InputError(f"two {what} responses in one export", path=rows[1].path)
        return rows

    def holding(
        self, row: Fields, contract: Contract, quantity: Decimal, *, settle: str, venue_size: str
    ) -> Holding:
        """The holding of one position row, read with the venue's field names.

        The row's symbol, mark and entry price are read from :attr:`symbol_field`,
        :attr:`mark_field` and :attr:`entry_field`; the mark is recorded as the contract's
        market fact (:meth:`MarketFacts.mark`).
        """
        mark = row.positive(self.mark_field)
        entry = row.positive(self.entry_field, required=False)
        assert mark is not None
        self.facts.mark(contract, float(mark), row.at(self.mark_field))
        return Holding(
            venue=self.venue,
            symbol=row.name(self.symbol_field),
            contract=contract,
            quantity=quantity,
            entry_price=None if entry is None else float(entry),
            mark=float(mark),
            settle=settle,
            venue_size=venue_size,
            path=row.path,
        )

    def gather(
        self,
        rows: Iterable[R],
        read: Callable[[R], Holding | None],
        key: Callable[[R, Holding], object],
        what: str,
    ) -> tuple[Holding, ...]:
        """Read every position row of an export (``None``: an empty row, dropped).

        A position listed twice (same ``key``) is refused: the second would silently double it.

        Raises
        ------
        InputError
            Naming the second row.
        """
        out: list[Holding] = []
        seen: dict[object, str] = {}
        for row in rows:
            h = read(row)
            if h is None:
                continue
            k = key(row, h)
            if k in seen:
                raise InputError(
                    f"duplicate position: {what} {k} is already at {seen[k]}", path=h.path
                )
            seen[k] = h.path
            out.append(h)
        return tuple(out)

    def result(
        self,
        holdings: tuple[Holding, ...],
        equity: dict[str, Decimal],
        reported: Iterable[Reported | None],
    ) -> VenueImport:
        """The venue's import (reported figures that are ``None`` — not given — dropped)."""
        return VenueImport(
            self.venue, holdings, equity, tuple(x for x in reported if x is not None), self.facts
        )


def check_units(
    given: Decimal | None, expected: list[float], path: str, *, what: str, tol: float = 0.01
) -> None:
    """Refuse a reported size/value inconsistent with our conversion (wrong units).

    ``given`` (e.g. OKX ``notionalUsd``, Deribit ``size_currency``) must agree within ``tol``
    (relative) with one of ``expected`` (entry- or mark-based readings of the same quantity).

    Raises
    ------
    InputError
        Naming the field, both values and the convention assumed.
    """
    if given is None:
        return
    g = abs(float(given))
    for e in expected:
        if abs(g - abs(e)) <= tol * max(g, abs(e), 1e-300):
            return
    shown = " or ".join(f"{abs(e):.10g}" for e in expected)
    raise InputError(f"{g:.10g} does not match {shown} implied by {what} (wrong units?)", path=path)
