"""Shared CLI options and loaders (the CLI only parses arguments and renders results)."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from crossmargin.config import RiskConfig, default_config, load_config
from crossmargin.errors import InputError
from crossmargin.instruments.position import Portfolio
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.market.snapshot import MarketSnapshot

__all__ = [
    "ConfigOpt",
    "Format",
    "FormatOpt",
    "HistoryOpt",
    "MarketOpt",
    "ModelOpt",
    "PortfolioArg",
    "console",
    "load_inputs",
    "load_risk_config",
    "name_list",
    "number_check",
]


class Format(StrEnum):
    """Output format."""

    table = "table"
    json = "json"


PortfolioArg = Annotated[
    Path,
    typer.Argument(
        help='Portfolio JSON file (one account or {"accounts": [...]})', show_default=False
    ),
]
MarketOpt = Annotated[
    Path, typer.Option("--market", "-m", help="Market snapshot JSON file", show_default=False)
]
ModelOpt = Annotated[str, typer.Option("--model", help="Margin model (see `crossmargin models`)")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Risk configuration YAML (default: shipped defaults)"),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format")]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help="Price history CSV/Parquet (date + one column per asset) for var/es scenarios and "
        "EWMA vols (default: the bundled daily closes)",
    ),
]

StaleOpt = Annotated[
    bool,
    typer.Option(
        "--allow-stale-history",
        help="Accept a price history that ends more than var.max_history_age_days before as_of "
        "(refused by default); results then carry a history_stale warning",
    ),
]


def console(*, stderr: bool = False) -> Console:
    """A console wide enough for the tables, also when not attached to a terminal."""
    width = max(shutil.get_terminal_size((140, 40)).columns, 120)
    return Console(width=width, highlight=False, soft_wrap=False, stderr=stderr)


def load_risk_config(path: Path | None) -> RiskConfig:
    """The user's configuration, or the shipped defaults."""
    return load_config(path) if path is not None else default_config()


def load_inputs(
    portfolio: Path, market: Path, config: Path | None, history: Path | None = None
) -> tuple[list[Portfolio], list[str], MarketSnapshot, RiskConfig]:
    """Load and validate portfolio, market, configuration and history (before any computation)."""
    cfg = load_risk_config(config)
    pfs, prefixes = load_portfolios(portfolio)
    snap = load_market(market, history=None if history is not None else "bundled")
    if history is not None:
        from crossmargin.market.history import load_price_history

        snap = snap.shifted(history=load_price_history(history))
    return pfs, prefixes, snap, cfg


def number_check(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Callable[[Any], Any]:
    """An option callback: the value must be finite and within the bounds (``None`` passes).

    Click's own ranges accept ``inf`` and ``nan`` (``nan >= 0`` is false, so it is never out of
    range); this refuses both, with a one-line ``must be ...`` reason.
    """

    def check(value: Any) -> Any:
        if value is None:
            return value
        x = float(value)
        if not math.isfinite(x):
            raise typer.BadParameter(f"must be a finite number, got {value}")
        for bound, op in ((ge, ">="), (gt, ">"), (le, "<="), (lt, "<")):
            if bound is None:
                continue
            ok = {">=": x >= bound, ">": x > bound, "<=": x <= bound, "<": x < bound}[op]
            if not ok:
                raise typer.BadParameter(f"must be {op} {bound:g}, got {value}")
        return value

    return check


def name_list(text: str, option: str, what: str) -> list[str]:
    """The names of a comma-separated option, in order (blanks dropped).

    Raises
    ------
    InputError
        No name (``no <what> given``), or a name given twice; the path is ``option``.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"no {what} given", path=option)
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{twice!r} is given twice", path=option)
    return names
