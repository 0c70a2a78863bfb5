"""Resolve a book against configuration (terms, once) and market data (marks, per snapshot)."""

from crossmargin.resolve.book import BookTerms, ResolvedBook, book_terms, resolve
from crossmargin.resolve.instruments import InstrumentTable, resolve_instruments
from crossmargin.resolve.marks import Marks, mark, unit_values
from crossmargin.resolve.positions import Holdings, NetPositions, mark_positions, net_holdings
from crossmargin.resolve.terms import (
    KIND_FUTURE,
    KIND_OPTION,
    KIND_PERP,
    KIND_SPOT,
    ContractTerms,
    contract_terms,
)

__all__ = [
    "KIND_FUTURE",
    "KIND_OPTION",
    "KIND_PERP",
    "KIND_SPOT",
    "BookTerms",
    "ContractTerms",
    "Holdings",
    "InstrumentTable",
    "Marks",
    "NetPositions",
    "ResolvedBook",
    "book_terms",
    "contract_terms",
    "mark",
    "mark_positions",
    "net_holdings",
    "resolve",
    "resolve_instruments",
    "unit_values",
]
