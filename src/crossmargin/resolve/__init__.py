"""Resolve a book against market data and configuration (the only place they meet)."""

from crossmargin.resolve.book import ResolvedBook, resolve
from crossmargin.resolve.instruments import (
    KIND_FUTURE,
    KIND_OPTION,
    KIND_PERP,
    KIND_SPOT,
    InstrumentTable,
    resolve_instruments,
)
from crossmargin.resolve.positions import NetPositions, net_positions

__all__ = [
    "KIND_FUTURE",
    "KIND_OPTION",
    "KIND_PERP",
    "KIND_SPOT",
    "InstrumentTable",
    "NetPositions",
    "ResolvedBook",
    "net_positions",
    "resolve",
    "resolve_instruments",
]
