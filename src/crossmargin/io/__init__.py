"""File formats: portfolios, market snapshots, batch tables, schemas (the lenient boundary).

Names are imported on first use (PEP 562): reading a portfolio or a snapshot does not import
pandas and Arrow, which only the table readers (:mod:`crossmargin.io.tables`) need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossmargin._lazy import lazy_exports

if TYPE_CHECKING:
    from crossmargin.io.market import load_market, market_from_obj
    from crossmargin.io.portfolio import load_portfolios, portfolios_from_obj
    from crossmargin.io.schema import json_schema
    from crossmargin.io.tables import book_from_frames, read_table, write_table

_HOME = {
    "book_from_frames": "crossmargin.io.tables",
    "json_schema": "crossmargin.io.schema",
    "load_market": "crossmargin.io.market",
    "load_portfolios": "crossmargin.io.portfolio",
    "market_from_obj": "crossmargin.io.market",
    "portfolios_from_obj": "crossmargin.io.portfolio",
    "read_table": "crossmargin.io.tables",
    "write_table": "crossmargin.io.tables",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _HOME, __all__)
