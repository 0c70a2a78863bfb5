"""``price`` and ``whatif``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.app import app
from crossmargin.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    MarketOpt,
    ModelOpt,
    PortfolioArg,
    console,
    load_inputs,
    load_risk_config,
)
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.output import dumps
from crossmargin.cli.render import print_prices, print_whatif
from crossmargin.errors import InputError
from crossmargin.instruments.naming import parse_instrument
from crossmargin.io.market import load_market
from crossmargin.margin.base import model_info
from crossmargin.pricing import price_contracts
from crossmargin.whatif import parse_trade, whatif


@app.command()
@handle_errors
def price(
    instruments: Annotated[list[str], typer.Argument(help="Instrument names", show_default=False)],
    market: MarketOpt,
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Price and Greeks (delta, gamma, vega per vol point, theta per day) of instruments."""
    contracts = [parse_instrument(s, path=f"instruments[{i}]") for i, s in enumerate(instruments)]
    cfg = load_risk_config(config)
    snap = load_market(market)
    rows = price_contracts(
        contracts, snap, config=cfg, paths=[f"instruments[{i}]" for i in range(len(contracts))]
    )
    if fmt is Format.json:
        print(dumps(rows))
        return
    print_prices(console(), rows)


@app.command("whatif")
@handle_errors
def whatif_cmd(
    portfolio: PortfolioArg,
    market: MarketOpt,
    trade: Annotated[
        list[str],
        typer.Option(
            "--trade", "-t", help="INSTRUMENT:QTY[@PRICE], repeatable", show_default=False
        ),
    ],
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Account to trade in (multi-account files)")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Margin before and after hypothetical trades, and whether they are allowed."""
    model_info(model)
    trades = [parse_trade(t, path=f"--trade[{i}]") for i, t in enumerate(trade)]
    pfs, _, snap, cfg = load_inputs(portfolio, market, config)
    if account is None:
        if len(pfs) > 1:
            raise InputError(
                f"{Path(portfolio)} has {len(pfs)} accounts; choose one with --account",
                path="--account",
            )
        pf = pfs[0]
    else:
        match = [p for p in pfs if p.account == account]
        if not match:
            raise InputError(f"no account {account!r} in {Path(portfolio)}", path="--account")
        pf = match[0]
    d = whatif(pf, snap, trades, model=model, config=cfg)
    if fmt is Format.json:
        print(dumps(d))
        return
    print_whatif(console(), d)
