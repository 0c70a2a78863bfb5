"""A venue named on the command line: ``synthetic:N[:SEED]``, a portfolio JSON or tables.

The liquidation and cascade commands (and any caller) name the venue they run by one string;
:func:`load_venue` turns it into a :class:`~crossmargin.liquidation.synthetic.Venue`:

* ``synthetic:N[:SEED]`` — a seeded synthetic venue of ``N`` accounts (1 ≤ N ≤ 10 000 000),
  collateral sized on each regime's IM (:func:`~crossmargin.liquidation.synthetic.synthetic_venue`);
* ``FILE.json`` — a portfolio file (one account or ``{"accounts": [...]}``);
* a positions table (Parquet, CSV or JSON) with ``collateral``, a collateral table.
"""

from __future__ import annotations

from pathlib import Path

from crossmargin.config.model import RiskConfig
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.io.portfolio import load_portfolios
from crossmargin.io.tables import book_from_frames, read_table
from crossmargin.liquidation.synthetic import Venue, synthetic_venue
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["MAX_SYNTHETIC_ACCOUNTS", "load_venue", "synthetic_spec"]

#: Largest synthetic venue.
MAX_SYNTHETIC_ACCOUNTS = 10_000_000


def synthetic_spec(spec: str) -> tuple[int, int]:
    """``(accounts, seed)`` of ``synthetic:N[:SEED]`` (seed 0 by default).

    Raises
    ------
    InputError
        Naming ``venue`` if the spec is malformed or N is out of range.
    """
    parts = spec.split(":")
    try:
        n = int(parts[1])
        seed = int(parts[2]) if len(parts) > 2 else 0
    except (ValueError, IndexError):
        raise InputError(f"{spec!r} must be synthetic:N[:SEED]", path="venue") from None
    if len(parts) > 3 or not 1 <= n <= MAX_SYNTHETIC_ACCOUNTS or not 0 <= seed < 2**63:
        raise InputError(
            f"{spec!r} must be synthetic:N[:SEED] with 1 <= N <= {MAX_SYNTHETIC_ACCOUNTS:,} and "
            "0 <= SEED < 2**63",
            path="venue",
        )
    return n, seed


def load_venue(
    spec: str,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    collateral: Path | None = None,
    regimes: tuple[str, ...] = ("portfolio",),
) -> Venue:
    """The venue ``spec`` names (module docstring).

    Raises
    ------
    InputError
        A malformed spec, an unreadable file, or a positions table without ``collateral``.
    """
    if spec.startswith("synthetic:"):
        n, seed = synthetic_spec(spec)
        return synthetic_venue(snapshot, config, n, seed=seed, regimes=regimes)
    path = Path(spec)
    if path.suffix.lower() == ".json" and collateral is None:
        pfs, prefixes = load_portfolios(path)
        return Venue(Book.from_portfolios(pfs, prefixes=prefixes), path.name)
    if collateral is None:
        raise InputError(
            "a positions table needs --collateral (or use a portfolio .json / synthetic:N)",
            path="--collateral",
        )
    book = book_from_frames(
        read_table(path, what="positions"),
        read_table(collateral, what="collateral"),
        base_currency=snapshot.base_currency,
    )
    return Venue(book, path.name)
