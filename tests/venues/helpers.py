"""Shared by the venue-import tests: the payloads, importing them, margining the result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from crossmargin import AccountResults, compute_margin
from crossmargin.cli.app import app
from crossmargin.instruments.position import Portfolio
from crossmargin.io.market import market_from_obj
from crossmargin.io.portfolio import portfolios_from_obj
from crossmargin.io.venues import Imported, Source, import_sources
from crossmargin.market.snapshot import MarketSnapshot

DATA = Path(__file__).parent / "data"
#: A valuation instant for exports that carry none (Deribit get_positions has no timestamp).
AS_OF = datetime(2026, 1, 16, 8, tzinfo=UTC)
_RUNNER = CliRunner()


def load(name: str) -> Any:
    """A payload as parsed JSON."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def run_import(venue: str, *files: str | Path, **kw: Any) -> Imported:
    """Import payload files (names in ``data/`` or paths) of one venue."""
    paths = tuple(f if isinstance(f, Path) else DATA / f for f in files)
    return import_sources([Source(venue, paths)], **kw)


def domain(imp: Imported) -> tuple[Portfolio, MarketSnapshot]:
    """The imported documents read back by the readers every command uses."""
    pfs, _ = portfolios_from_obj(imp.portfolio)
    return pfs[0], market_from_obj(imp.market)


def margin(imp: Imported, model: str) -> AccountResults:
    """Margin the imported account under ``model``."""
    pf, snap = domain(imp)
    return compute_margin(pf, snap, model=model)


def holding(imp: Imported, symbol: str) -> Any:
    """The imported position of a venue instrument."""
    (h,) = [h for h in imp.holdings if h.symbol == symbol]
    return h


def write(tmp: Path, name: str, obj: Any) -> Path:
    """Write a (mutated) payload; ``NaN`` tokens allowed, as a broken export might contain."""
    p = tmp / name
    p.write_text(json.dumps(obj, allow_nan=True), encoding="utf-8")
    return p


def invoke(*args: str | Path) -> Result:
    """Run the CLI in-process."""
    return _RUNNER.invoke(app, [str(a) for a in args])
