"""``import``: venue exports and oracle feeds → our portfolio and market snapshot files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.app import app
from crossmargin.cli.common import ConfigOpt, Format, FormatOpt, console, load_risk_config
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles, write_text
from crossmargin.cli.output import dumps
from crossmargin.cli.sources import (
    AsOfOpt,
    MapOpt,
    OptMarketOpt,
    dump_json,
    feed_map_of,
    parse_as_of,
    print_import,
    sources_from_tokens,
)
from crossmargin.errors import InputError

__all__ = ["import_cmd"]


@app.command("import")
@handle_errors
def import_cmd(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="VENUE FILE... and/or VENUE=FILE[,FILE...]; venues: deribit, okx, bybit, "
            "binance; feeds: pyth, chainlink",
            show_default=False,
        ),
    ],
    out_portfolio: Annotated[
        Path | None,
        typer.Option("--out-portfolio", help="Write our portfolio JSON here", show_default=False),
    ] = None,
    out_market: Annotated[
        Path | None,
        typer.Option(
            "--out-market", help="Write our market snapshot JSON here", show_default=False
        ),
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Account name (default: the venues joined by +)")
    ] = None,
    market: OptMarketOpt = None,
    as_of: AsOfOpt = None,
    feed_map: MapOpt = None,
    heartbeat: Annotated[
        float | None,
        typer.Option(
            "--heartbeat",
            help="Feed readings older than this many seconds before as_of are stale "
            "(default: the configuration's market.max_age_seconds)",
        ),
    ] = None,
    max_conf_ratio: Annotated[
        float,
        typer.Option("--max-conf-ratio", help="Largest accepted feed confidence / price"),
    ] = 0.02,
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Read venue API exports (positions, balances) and price feeds into our file formats.

    Each venue's conventions are applied exactly (inverse vs linear, sizes in USD, coins or
    contracts, contract values, option names, numbers as strings, ms timestamps); what could
    not be read from the export is listed as a note.
    """
    from crossmargin.io.feeds import FeedRules
    from crossmargin.io.market import market_from_obj
    from crossmargin.io.portfolio import portfolios_from_obj
    from crossmargin.io.venues import import_sources

    if heartbeat is not None and not heartbeat > 0:
        raise InputError("must be a positive number of seconds", path="--heartbeat")
    if not 0 < max_conf_ratio < 1:
        raise InputError("must be between 0 and 1", path="--max-conf-ratio")
    with OutputFiles() as files:
        files.declare("--out-portfolio", out_portfolio, suffixes=(".json",))
        files.declare("--out-market", out_market, suffixes=(".json",))
        cfg = load_risk_config(config)
        rules = FeedRules(
            max_age_seconds=heartbeat if heartbeat is not None else cfg.market.max_age_seconds,
            max_confidence_ratio=max_conf_ratio,
        )
        imp = import_sources(
            sources_from_tokens(sources, path="sources"),
            account=account,
            as_of=parse_as_of(as_of),
            feed_map=feed_map_of(feed_map),
            feed_rules=rules,
            market=market,
        )
        # both documents are validated by the readers every command uses, before anything is written
        market_from_obj(imp.market)
        if imp.portfolio:
            portfolios_from_obj(imp.portfolio)
        elif out_portfolio is not None:
            raise InputError(
                "only price feeds were given: there is no portfolio to write",
                path="--out-portfolio",
            )
        for opt, path, doc in (
            ("--out-portfolio", out_portfolio, imp.portfolio),
            ("--out-market", out_market, imp.market),
        ):
            if path is not None:
                files.stage(opt, write_text(dump_json(doc) + "\n"))
        files.commit()
    if fmt is Format.json:
        print(
            dumps(
                {
                    "portfolio": imp.portfolio or None,
                    "market": imp.market,
                    "positions": [
                        {
                            "venue": h.venue,
                            "venue_instrument": h.symbol,
                            "venue_size": h.venue_size,
                            "instrument": h.contract.name,
                            "quantity": float(h.quantity),
                            "entry_price": h.entry_price,
                            "mark": h.mark,
                            "settlement_currency": h.settle,
                            "source": h.path,
                        }
                        for h in imp.holdings
                    ],
                    "reported": [
                        {
                            "venue": r.venue,
                            "pool": r.pool,
                            "venue_model": r.margin_model,
                            "currency": r.currency,
                            "initial_margin": r.initial_margin,
                            "maintenance_margin": r.maintenance_margin,
                            "equity": r.equity,
                            "source": r.path,
                        }
                        for r in imp.reported
                    ],
                    "notes": list(imp.notes),
                }
            )
        )
        return
    con = console()
    print_import(con, imp)
    for path, what in ((out_portfolio, "portfolio"), (out_market, "market snapshot")):
        if path is not None:
            con.print(f"{what} written to {path}")
