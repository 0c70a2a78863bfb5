"""``schema``, ``models`` and ``demo``."""

from __future__ import annotations

import json
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crossmargin.account.report import account_dict
from crossmargin.cli.common import console
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.lazy import command_set
from crossmargin.cli.render import data_table, print_account, print_comparison
from crossmargin.comparison import comparison_dict
from crossmargin.config import default_config
from crossmargin.engine import compare, compute_margin
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.io.schema import json_schema
from crossmargin.margin.base import available_models, model_info

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


class SchemaKind(StrEnum):
    """Which file's schema."""

    portfolio = "portfolio"
    market = "market"
    config = "config"


@app.command()
@handle_errors
def schema(kind: Annotated[SchemaKind, typer.Argument(help="portfolio, market or config")]) -> None:
    """Print the JSON Schema of a portfolio, market snapshot or risk configuration file."""
    print(json.dumps(json_schema(kind.value), indent=2))


@app.command()
@handle_errors
def models() -> None:
    """List the registered margin models."""
    t = Table(title="margin models")
    for col in ("model", "description", "source"):
        t.add_column(col)
    for name in available_models():
        info = model_info(name)
        t.add_row(name, info.description, info.source)
    console().print(t)


#: (title, portfolio file, market file) of the bundled examples, in demo order.
EXAMPLES = (
    (
        "(a) BTC+ETH options, perps and futures; USDC+BTC collateral",
        "crypto_book.json",
        "market_crypto.json",
    ),
    (
        "(b) hedged book: covered calls, calendar spread, BTC/ETH pair",
        "hedged_book.json",
        "market_crypto.json",
    ),
    ("(c) SPX/NDX index options and futures, USD", "index_book.json", "market_index.json"),
)
BATCH_EXAMPLE = ("(d) multi-account batch", "venue_accounts.json", "market_venue.json")


def examples_dir() -> Path:
    """Directory of the bundled examples."""
    return Path(str(resources.files("crossmargin").joinpath("examples")))


@app.command()
@handle_errors
def demo() -> None:
    """Run the main job on the bundled examples: compare models, portfolio margin, a batch."""
    con = console()
    ex = examples_dir()
    # the examples are dated 2026-11-22, after the bundled history ends (2026-03-27): the demo
    # opts in to the stale history explicitly, and every var/es result says so
    base = default_config()
    cfg = base.model_copy(update={"var": base.var.model_copy(update={"allow_stale_history": True})})
    con.rule("[bold]crossmargin demo[/] — bundled examples in " + str(ex))
    con.print(
        "var/es scenarios use the bundled daily history, which ends before the examples' as_of: "
        "the demo accepts it explicitly (like --allow-stale-history) and each var/es result "
        "carries a history_stale warning. Give a current --history FILE in production."
    )
    for title, pf_file, mk_file in EXAMPLES:
        con.rule(title)
        pfs, prefixes = load_portfolios(ex / pf_file)
        snap = load_market(ex / mk_file)
        results = compare(pfs, snap, config=cfg, prefixes=prefixes)
        print_comparison(con, comparison_dict(results, 0))
        res = compute_margin(pfs, snap, model="portfolio", config=cfg, prefixes=prefixes)
        print_account(con, account_dict(res, 0))
    title, pf_file, mk_file = BATCH_EXAMPLE
    con.rule(title)
    pfs, prefixes = load_portfolios(ex / pf_file)
    snap = load_market(ex / mk_file)
    results = compare(pfs, snap, config=cfg, prefixes=prefixes)
    t = data_table(
        f"{len(pfs)} accounts — collateral required by model (USD)",
        ("account", "isolated", "cross", "portfolio", "freed by portfolio", "status (portfolio)"),
        left=("account", "status (portfolio)"),
    )
    for i in range(len(pfs)):
        d = comparison_dict(results, i)
        m = d["models"]
        t.add_row(
            d["account"],
            f"{m['isolated']['collateral_required']:,.0f}",
            f"{m['cross']['collateral_required']:,.0f}",
            f"{m['portfolio']['collateral_required']:,.0f}",
            f"{m['portfolio']['capital_freed_vs_isolated']:,.0f}",
            m["portfolio"]["status"],
        )
    con.print(t)
    con.print(
        "next: `crossmargin explain <portfolio> --market <market>` shows how each number is built; "
        "`crossmargin --help` lists every command."
    )
    live = ex / "live" / "crash_2020_03"
    con.print(
        "live engine: 1 000 accounts through the 2020-03-12 crash (real Bitstamp prices) — "
        f"`crossmargin monitor {live / 'accounts.json'} --market {live / 'market.json'} "
        f"--ticks {live / 'ticks.jsonl'} --heartbeat 10800`",
        soft_wrap=True,
    )
