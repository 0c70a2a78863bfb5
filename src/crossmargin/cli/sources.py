"""Venue exports and oracle feeds on the command line: ``--from``, ``--check``, ``import``.

Sources are written two ways, mixed freely:

* ``VENUE FILE...`` — ``crossmargin import deribit positions.json summaries.json``, or
  ``crossmargin margin --from deribit positions.json summaries.json`` (the positional files
  belong to the one bare ``--from VENUE``);
* ``VENUE=FILE[,FILE...]`` — ``--from deribit=pos.json,sum.json --from okx=okx.json
  --from pyth=hermes.json``: several venues make one account, a feed adds prices.

Without a bare ``--from``, positional files are our own portfolio files; with ``--from`` they are
merged into the imported account (one account each). ``--market`` with ``--from`` overlays the
file's data over the export's (see :func:`crossmargin.io.venues._build.build`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from crossmargin._format import fmt_money, fmt_num
from crossmargin._time import parse_instant
from crossmargin.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from crossmargin.config import RiskConfig
    from crossmargin.crossvenue import VenueBook
    from crossmargin.instruments.position import Portfolio
    from crossmargin.io.venues import Imported, Source
    from crossmargin.market.snapshot import MarketSnapshot

__all__ = [
    "AsOfOpt",
    "CheckOpt",
    "FromOpt",
    "Inputs",
    "MapOpt",
    "OptMarketOpt",
    "PortfolioFiles",
    "SourceOptions",
    "dump_json",
    "feed_map_of",
    "load_command_inputs",
    "parse_as_of",
    "print_check",
    "print_import",
    "print_netting",
    "print_notes",
    "print_offsets",
    "sources_from_tokens",
]

FromOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--from",
        help="Read a venue export or feed instead of (or besides) a portfolio file: VENUE (the "
        "positional files are its export) or VENUE=FILE[,FILE...]; repeatable. Venues: deribit, "
        "okx, bybit, binance; feeds: pyth, chainlink",
        show_default=False,
    ),
]
CheckOpt = Annotated[
    bool,
    typer.Option("--check", help="Print the venue's own IM/MM from the export beside ours"),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Valuation instant for exports (ISO-8601 with zone, or 'now'; default: the "
        "latest timestamp in the export)",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Name a feed: FEED=SYMBOL[/QUOTE][@SOURCE] (Pyth id or Chainlink description); repeatable",
        show_default=False,
    ),
]
OptMarketOpt = Annotated[
    Path | None,
    typer.Option(
        "--market",
        "-m",
        help="Market snapshot JSON file (with --from: its data wins over the export's)",
        show_default=False,
    ),
]
PortfolioFiles = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Portfolio JSON file(s); with a bare --from VENUE: the files of its export",
        show_default=False,
    ),
]


def parse_as_of(text: str | None) -> datetime | None:
    """``--as-of``: an ISO-8601 instant, ``now`` (the wall clock, chosen explicitly) or ``None``."""
    if text is None:
        return None
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise InputError(str(exc), path="--as-of") from None


def sources_from_tokens(tokens: list[str], *, path: str) -> list[Source]:
    """``VENUE FILE... VENUE=FILE,...`` → sources (see the module docstring)."""
    from crossmargin.io.venues import SOURCES, Source, parse_source

    out: list[Source] = []
    current: tuple[str, list[Path]] | None = None
    for tok in tokens:
        head = tok.partition("=")[0].strip().lower()
        if "=" in tok and head in SOURCES:
            out.append(parse_source(tok, path=path))
        elif tok.strip().lower() in SOURCES:
            current = (tok.strip().lower(), [])
            out.append(Source(current[0], ()))
        elif current is None:
            raise InputError(
                f"{tok!r} comes before any venue: write VENUE FILE... or VENUE=FILE[,FILE...] "
                f"(venues and feeds: {', '.join(SOURCES)})",
                path=path,
            )
        else:
            current[1].append(Path(tok))
            out[-1] = Source(current[0], tuple(current[1]))
    for s in out:
        if not s.files:
            raise InputError(f"no file given for {s.name}", path=path)
    return out


@dataclass
class Inputs:
    """Everything a margin command needs, read and validated before any computation."""

    portfolios: list[Portfolio]
    prefixes: list[str]
    snapshot: MarketSnapshot
    config: RiskConfig
    imported: Imported | None = None
    venue_book: VenueBook | None = None
    notes: list[str] = field(default_factory=list)


class SourceOptions(NamedTuple):
    """The options that say where a command's accounts come from, besides the files.

    ``--from`` exports, ``--check`` (compare with the venue's own figures), ``--as-of``,
    ``--map`` (feed ids) and ``--allow-stale-history``: the user's explicit opt-in to a price
    history older than ``var.max_history_age_days`` (results then carry a ``history_stale``
    warning).
    """

    from_: list[str] | None
    check: bool = False
    as_of: str | None = None
    feed_map: list[str] | None = None
    allow_stale: bool = False


def load_command_inputs(
    files: list[Path] | None,
    market: Path | None,
    config: Path | None,
    history: Path | None,
    sources: SourceOptions,
) -> Inputs:
    """Load portfolio files and/or venue exports, the market and the configuration.

    Raises
    ------
    InputError
        Malformed arguments or files (nothing has been computed).
    """
    from crossmargin.cli.common import load_inputs, load_risk_config

    from_, check, as_of, feed_map, allow_stale_history = sources
    files = list(files or [])
    if not from_:
        if check:
            raise InputError(
                "--check needs --from (the venue's figures come from its export)", path="--check"
            )
        if as_of is not None:
            raise InputError("--as-of applies to exports read with --from", path="--as-of")
        if market is None:
            raise InputError(
                "give --market FILE (or read a venue export with --from)", path="--market"
            )
        if len(files) != 1:
            raise InputError("give exactly one portfolio file", path="portfolio")
        pfs, prefixes, snap, cfg = load_inputs(files[0], market, config, history)
        inp = Inputs(pfs, prefixes, snap, cfg, venue_book=_venue_book(pfs))
    else:
        inp = _load_sources(
            files, market, config, history, from_, as_of, feed_map, load_risk_config(config)
        )
    if allow_stale_history:
        var = inp.config.var.model_copy(update={"allow_stale_history": True})
        inp = replace(inp, config=inp.config.model_copy(update={"var": var}))
    return inp


def _load_sources(
    files: list[Path],
    market: Path | None,
    config: Path | None,
    history: Path | None,
    from_: list[str],
    as_of: str | None,
    feed_map: list[str] | None,
    cfg: RiskConfig,
) -> Inputs:
    from crossmargin.crossvenue import merge_accounts
    from crossmargin.io.feeds import FeedRules
    from crossmargin.io.market import market_from_obj
    from crossmargin.io.portfolio import load_portfolios, portfolios_from_obj
    from crossmargin.io.venues import import_sources, parse_source

    bare = [f for f in from_ if "=" not in f]
    if len(bare) > 1:
        raise InputError(
            "several --from VENUE without files: write --from VENUE=FILE[,FILE...]", path="--from"
        )
    sources = [parse_source(f) for f in from_ if "=" in f]
    own: list[Path] = []
    if bare:
        sources += sources_from_tokens([bare[0], *map(str, files)], path="--from")
    else:
        own = files
    imp = import_sources(
        sources,
        as_of=parse_as_of(as_of),
        feed_map=feed_map_of(feed_map),
        feed_rules=FeedRules(max_age_seconds=cfg.market.max_age_seconds),
        market=market,
    )
    notes = list(imp.notes)
    snap = market_from_obj(imp.market, history=None if history is not None else "bundled")
    if history is not None:
        from crossmargin.market.history import load_price_history

        snap = snap.shifted(history=load_price_history(history))
    pfs: list[Portfolio] = []
    if imp.portfolio:
        pfs += portfolios_from_obj(imp.portfolio)[0]
    for f in own:
        got, _ = load_portfolios(f)
        if len(got) != 1:
            raise InputError("a file merged with --from exports must hold one account", path=str(f))
        pfs += got
    if not pfs:
        raise InputError(
            "no positions or balances: give a venue export, not only price feeds", path="--from"
        )
    pf = pfs[0] if len(pfs) == 1 else merge_accounts(pfs[0].account, pfs)
    return Inputs([pf], ["positions"], snap, cfg, imp, _venue_book([pf]), notes)


def _venue_book(pfs: list[Portfolio]) -> VenueBook | None:
    if len(pfs) != 1 or not pfs[0].venues:
        return None
    from crossmargin.crossvenue import venue_book  # an account over venues only

    return venue_book(pfs[0])


def feed_map_of(items: list[str] | None) -> dict[str, str]:
    """``--map FEED=SYMBOL[/QUOTE][@SOURCE]`` options → a mapping (Pyth ids normalised)."""
    out: dict[str, str] = {}
    for i, item in enumerate(items or []):
        key, eq, val = item.partition("=")
        if not eq or not key.strip() or not val.strip():
            raise InputError(f"{item!r} is not FEED=SYMBOL[/QUOTE][@SOURCE]", path=f"--map[{i}]")
        k = key.strip()
        out[k.lower().removeprefix("0x") if len(k) in (64, 66) else k] = val.strip()
    return out


# -- rendering -------------------------------------------------------------------------------


def print_notes(con: Console, notes: list[str] | tuple[str, ...]) -> None:
    """Fallbacks and skipped rows, dimmed, one per line."""
    for n in notes:
        con.print(f"[dim]note: {n}[/]")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def print_check(con: Console, rows: list[dict[str, Any]]) -> None:
    """The venue's own figures beside ours."""
    from crossmargin.cli.render import data_table

    for r in rows:
        t = data_table(
            f"{r['venue']} — the venue's own figures ({r['venue_model']}) vs ours "
            f"({r['model']}), USD",
            ("", "venue", "ours", "difference", "relative"),
        )
        labels = {
            "initial_margin": "initial margin",
            "maintenance_margin": "maintenance margin",
            "equity": "equity at market",
            "equity_after_haircuts": "equity after haircuts",
        }
        for key, label in labels.items():
            v = r[key]
            if v["venue"] is None and key == "equity_after_haircuts":
                continue
            t.add_row(
                label,
                fmt_money(v["venue"]),
                fmt_money(v["ours"]),
                fmt_money(v["difference"]),
                _pct(v["relative"]),
            )
        con.print(t)
        con.print(f"[dim]venue figures from {r['source']} (pools: {', '.join(r['pools'])})[/]")


def print_netting(con: Console, d: dict[str, Any], account: str) -> None:
    """Each venue alone vs one cross-venue account, per model."""
    from rich.table import Table

    names = list(d["models"])
    t = Table(title=f"{account} — cross-venue netting: each venue alone vs one account (USD)")
    t.add_column("")
    for n in names:
        t.add_column(n, justify="right")
    for v in d["venues"]:
        t.add_row(
            f"{v} alone: IM",
            *(fmt_money(d["models"][n]["venues"][v]["initial_margin"]) for n in names),
        )
    for label, key, f in (
        ("sum of venues: IM", "sum_of_venues", "initial_margin"),
        ("one account: IM", "whole", "initial_margin"),
        ("netting frees: IM", "freed_by_netting", "initial_margin"),
        ("sum of venues: MM", "sum_of_venues", "maintenance_margin"),
        ("one account: MM", "whole", "maintenance_margin"),
        ("netting frees: MM", "freed_by_netting", "maintenance_margin"),
        ("sum of venues: collateral required", "sum_of_venues", "collateral_required"),
        ("one account: collateral required", "whole", "collateral_required"),
        ("netting frees: collateral required", "freed_by_netting", "collateral_required"),
    ):
        t.add_row(label, *(fmt_money(d["models"][n][key][f]) for n in names))
    for v in d["venues"]:
        t.add_row(f"{v} alone: status", *(d["models"][n]["venues"][v]["status"] for n in names))
    con.print(t)


def print_offsets(con: Console, rows: list[dict[str, Any]], model: str) -> None:
    """Where cross-venue netting comes from, per underlying."""
    from crossmargin.cli.render import data_table

    t = data_table(
        f"cross-venue offsets per underlying ({model}; IM in USD, delta in units)",
        ("underlying", "venue", "net delta", "IM alone", "IM together", "freed"),
        left=("underlying", "venue"),
    )
    for r in rows:
        for v in r["venues"]:
            t.add_row(
                r["underlying"],
                v["venue"],
                fmt_num(v["net_delta"]),
                fmt_money(v["initial_margin"]),
                "",
                "",
            )
        w = r["whole"] or {"net_delta": 0.0, "initial_margin": 0.0}
        t.add_row(
            r["underlying"],
            "[bold]all venues[/]",
            fmt_num(w["net_delta"]),
            fmt_money(r["sum_of_venues_initial_margin"]),
            fmt_money(w["initial_margin"]),
            fmt_money(r["freed_by_netting"]),
        )
    con.print(t)
    for r in rows:
        con.print(f"  {r['offsets']}")


def print_import(con: Console, imp: Imported) -> None:
    """What was read: each venue row beside our position, the venue's figures, the market."""
    from crossmargin.cli.render import data_table

    t = data_table(
        "imported positions (venue convention → ours)",
        ("venue", "venue instrument", "venue size", "our instrument", "quantity", "entry", "mark"),
        right=("quantity", "entry", "mark"),
        fold=True,
    )
    for h in imp.holdings:
        t.add_row(
            h.venue,
            h.symbol,
            h.venue_size,
            h.contract.name,
            f"{float(h.quantity):.10g}",
            "-" if h.entry_price is None else f"{h.entry_price:.10g}",
            f"{h.mark:.10g}",
        )
    if imp.holdings:
        con.print(t)
    for v, part in (imp.portfolio.get("venues") or {}).items():
        col = ", ".join(f"{a} {x:.10g}" for a, x in part["collateral"].items()) or "none"
        con.print(f"{v} collateral (venue equity − positions' mark value): {col}")
    if imp.reported:
        r = data_table(
            "the venues' own figures",
            ("venue", "pool", "model", "currency", "IM", "MM", "equity"),
            right=("IM", "MM", "equity"),
        )
        for x in imp.reported:
            r.add_row(
                x.venue,
                x.pool,
                x.margin_model,
                x.currency,
                f"{x.initial_margin:,.8g}",
                f"{x.maintenance_margin:,.8g}",
                "-" if x.equity is None else f"{x.equity:,.8g}",
            )
        con.print(r)
    expiries = "expiries (forward; vols at strikes)"
    m = data_table(
        f"market snapshot as of {imp.market['as_of']}",
        ("asset", "price", "perp mark", expiries),
        left=("asset", expiries),
        fold=True,
    )
    for sym, a in imp.market["assets"].items():
        exps = "; ".join(
            f"{k[:10]} F={e.get('forward', '-')}"
            + ("".join(f" {mk['strike']:g}:{mk['vol']:.4f}" for mk in e.get("marks", [])))
            for k, e in a.get("expiries", {}).items()
        )
        m.add_row(
            sym, f"{a.get('price', '-')}", f"{a.get('perp', {}).get('mark', '-')}", exps or "-"
        )
    con.print(m)
    print_notes(con, imp.notes)


def dump_json(doc: dict[str, Any]) -> str:
    """A document as written to a file (indented, strict)."""
    return json.dumps(doc, indent=2, allow_nan=False)
