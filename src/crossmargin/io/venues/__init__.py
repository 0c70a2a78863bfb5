"""Venue exports and oracle feeds → our portfolio and market snapshot (the lenient boundary).

A *source* is a venue (``deribit``, ``okx``, ``bybit``, ``binance``) or a price feed (``pyth``,
``chainlink``) with the files that hold its API responses. :func:`import_sources` reads any
number of them into one :class:`~crossmargin.io.venues._build.Imported`: a portfolio whose
positions carry their venue as a label (each venue's collateral beside its positions), one
market snapshot, the venues' own IM/MM figures and every fallback in words.

Each venue module reads only its venue's conventions (``deribit.py``, ``okx.py``, ``bybit.py``,
``binance.py``); ``_fields.py`` reads numbers and times, ``_common.py`` holds what an import
produces, ``_build.py`` turns imports into our documents. Nothing here imports the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crossmargin._validation import read_json
from crossmargin.errors import InputError
from crossmargin.io.feeds import FeedReading, FeedRules, read_feeds
from crossmargin.io.market import market_from_obj
from crossmargin.io.venues._build import Imported, build, instrument_spec
from crossmargin.io.venues._common import Holding, Reported, VenueImport
from crossmargin.io.venues.binance import read_binance
from crossmargin.io.venues.bybit import read_bybit
from crossmargin.io.venues.deribit import read_deribit
from crossmargin.io.venues.okx import read_okx

__all__ = [
    "FEEDS",
    "SOURCES",
    "VENUES",
    "Holding",
    "Imported",
    "Reported",
    "Source",
    "VenueImport",
    "import_sources",
    "instrument_spec",
    "parse_source",
    "venue_of_document",
]

Reader = Callable[[list[tuple[Any, str]]], VenueImport]

#: Venue name → importer.
VENUES: Mapping[str, Reader] = {
    "deribit": read_deribit,
    "okx": read_okx,
    "bybit": read_bybit,
    "binance": read_binance,
}
#: Price-feed sources (market data only).
FEEDS = ("pyth", "chainlink")
SOURCES = (*VENUES, *FEEDS)


@dataclass(frozen=True, slots=True)
class Source:
    """A venue or feed and the files of its export."""

    name: str
    files: tuple[Path, ...]


def venue_of_document(doc: Any) -> str | None:
    """The venue whose API response ``doc`` looks like (for advice), or ``None``."""
    first = doc[0] if isinstance(doc, list) and doc else doc
    if not isinstance(first, dict):
        return None
    if "retCode" in first:
        return "bybit"
    if "jsonrpc" in first or ("result" in first and "account" not in first):
        return "deribit"
    if "code" in first and "data" in first:
        return "okx"
    if "positionAmt" in first or "uniMMR" in first or "accountMaintMargin" in first:
        return "binance"
    return None


def parse_source(spec: str, *, path: str = "--from") -> Source:
    """``VENUE=FILE[,FILE...]`` → :class:`Source`.

    Raises
    ------
    InputError
        Unknown source or no file.
    """
    name, eq, rest = spec.partition("=")
    name = name.strip().lower()
    if name not in SOURCES:
        raise InputError(f"unknown source {name!r} (one of {', '.join(SOURCES)})", path=path)
    files = tuple(Path(f.strip()) for f in rest.split(",") if f.strip()) if eq else ()
    if not files:
        raise InputError(f"give the files of the {name} export: {name}=FILE[,FILE...]", path=path)
    return Source(name, files)


def import_sources(
    sources: Sequence[Source],
    *,
    account: str | None = None,
    as_of: datetime | None = None,
    feed_map: Mapping[str, str] | None = None,
    feed_rules: FeedRules | None = None,
    market: Path | None = None,
) -> Imported:
    """Read venue exports and feed files into our portfolio and market documents.

    Parameters
    ----------
    sources
        Venues and feeds with their files (the same venue may appear more than once).
    account
        Account name (default: the venue names joined by ``+``).
    as_of
        Valuation instant (default: the latest timestamp in the exports).
    feed_map
        Feed id / description → ``BASE[/QUOTE][@SOURCE]`` (see :func:`crossmargin.io.feeds.feed_pair`).
    feed_rules
        Heartbeat and confidence rules for feed readings.
    market
        The user's market snapshot file: its data comes first (see
        :func:`crossmargin.io.venues._build.build`).

    Raises
    ------
    InputError
        A file is missing or malformed, named by file and field.
    MarketDataError
        A feed reading is stale or too uncertain.
    """
    if not sources:
        raise InputError("no export given", path="--from")
    by_venue: dict[str, list[tuple[Any, str]]] = {}
    feeds: list[FeedReading] = []
    for src in sources:
        docs = [(read_json(f, what=f"{src.name} export"), f.name) for f in src.files]
        if src.name in VENUES:
            by_venue.setdefault(src.name, []).extend(docs)
        else:
            feeds.extend(read_feeds(src.name, docs, feed_map))
    imports = [VENUES[v](docs) for v, docs in by_venue.items()]
    base = None
    if market is not None:
        base = read_json(market, what="market")
        market_from_obj(base)  # the user's file is validated (and its errors named) first
    return build(imports, feeds, account=account, as_of=as_of, rules=feed_rules, base=base)
