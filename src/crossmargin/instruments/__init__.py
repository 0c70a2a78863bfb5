"""Contracts, positions, instrument names and books of many accounts."""

from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import (
    Contract,
    Future,
    Kind,
    Option,
    Perpetual,
    Right,
    Settlement,
    Spot,
)
from crossmargin.instruments.naming import contract_from_fields, parse_instrument
from crossmargin.instruments.position import Portfolio, Position

__all__ = [
    "Book",
    "Contract",
    "Future",
    "Kind",
    "Option",
    "Perpetual",
    "Portfolio",
    "Position",
    "Right",
    "Settlement",
    "Spot",
    "contract_from_fields",
    "parse_instrument",
]
