"""File formats: portfolios, market snapshots, batch tables, schemas (the lenient boundary)."""

from crossmargin.io.market import load_market, market_from_obj
from crossmargin.io.portfolio import load_portfolios, portfolios_from_obj
from crossmargin.io.schema import json_schema
from crossmargin.io.tables import book_from_frames, read_table, write_table

__all__ = [
    "book_from_frames",
    "json_schema",
    "load_market",
    "load_portfolios",
    "market_from_obj",
    "portfolios_from_obj",
    "read_table",
    "write_table",
]
