"""Commands loaded on demand: ``crossmargin --help`` imports no command module.

The command table :data:`COMMANDS` names, for every command, the module that defines it and its
one-line summary (the first sentence of its docstring; a test keeps the two equal). The root
group lists the table for ``--help`` and imports a module only when one of its commands runs
(or shows its own help) — so start-up costs typer alone, and a command pays only for the
libraries it uses (pandas, scipy, pyarrow, matplotlib are imported where they are needed).

Each ``cmd_*`` module holds its commands on its own :func:`command_set` (a ``typer.Typer``); the
table, not an import side effect, decides what the root group offers.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
import typer._click as click
import typer.main
from typer._click.utils import make_default_short_help

from crossmargin.cli.errors import OneLineErrors

__all__ = ["COMMANDS", "LazyCommands", "command_set"]


class Entry(NamedTuple):
    """Where a command lives and what it does, in one line."""

    module: str
    summary: str


#: name → (module under ``crossmargin.cli``, summary) in ``--help`` order: the main job first.
COMMANDS: dict[str, Entry] = {
    "margin": Entry("cmd_margin", "Initial and maintenance margin, equity and status of each account."),
    "explain": Entry("cmd_margin", "Break a margin down: collateral haircuts, positions, scenarios, add-ons, totals."),
    "compare": Entry("cmd_margin", "Isolated vs cross vs portfolio (and VaR/ES) side by side: requirements, capital freed."),
    "price": Entry("cmd_trade", "Price and Greeks (delta, gamma, vega per vol point, theta per day) of instruments."),
    "whatif": Entry("cmd_trade", "Margin before and after hypothetical trades, and whether they are allowed."),
    "batch": Entry("cmd_batch", "Margin every account of a venue from Parquet/CSV/JSON tables, one result row per account."),
    "partition": Entry("cmd_partition", "Split a venue's tables into a dataset hashed by account (an account is never split)."),
    "import": Entry("cmd_import", "Read venue API exports (positions, balances) and price feeds into our file formats."),
    "presets": Entry("cmd_presets", "List the venue methodology presets: source, what each covers and what is unpublished."),
    "venue-case": Entry("cmd_presets", "Run a venue's own test case; print our numbers beside the file's expected values."),
    "history": Entry("cmd_risk", "Validate a price-history file and show what it covers (for var/es and dynamic haircuts)."),
    "liquidate": Entry("cmd_liquidation", "Liquidate accounts below maintenance: plan, close-out prices, fees, insurance fund, after."),
    "cascade": Entry("cmd_liquidation", "Liquidation cascade of a venue under a shock, isolated vs cross vs portfolio side by side."),
    "backtest": Entry("cmd_backtest", "Backtest margin models on real history: coverage, traffic light, procyclicality, netting."),
    "monitor": Entry("cmd_monitor", "Replay a tick file through the live engine: events as they happen, then a summary."),
    "serve": Entry("cmd_serve", "Serve the live engine over HTTP: JSON API, event stream and the dashboard at /."),
    "oracles": Entry("cmd_oracles", "Fetch oracle records of oracle-valued collateral (lending deposits, vault shares, LSTs)."),
    "config": Entry("cmd_config", "The risk configuration: the shipped defaults overlaid by your file, with each value's source."),
    "schema": Entry("cmd_info", "Print the JSON Schema of a portfolio, market snapshot or risk configuration file."),
    "models": Entry("cmd_info", "List the registered margin models."),
    "demo": Entry("cmd_info", "Run the main job on the bundled examples: compare models, portfolio margin, a batch."),
}  # fmt: skip


def command_set() -> typer.Typer:
    """The ``typer.Typer`` a ``cmd_*`` module registers its commands on (root settings)."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def load_command(name: str) -> click.Command:
    """The click command ``name`` of the table, importing its module."""
    module = importlib.import_module(f"crossmargin.cli.{COMMANDS[name].module}")
    cmd = typer.main.get_command(module.app)
    group: dict[str, click.Command] | None = getattr(cmd, "commands", None)
    found = group.get(name) if group is not None else (cmd if cmd.name == name else None)
    if found is None:  # pragma: no cover - the table and the module disagree (a test checks)
        raise LookupError(f"{COMMANDS[name].module} defines no command {name!r}")
    from crossmargin.cli.params import harden_command

    harden_command(found)  # blank paths and huge integers: usage errors (idempotent)
    return found


class LazyCommands(OneLineErrors):
    """The root group: lists :data:`COMMANDS`, imports a command's module when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, in table order."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command (its module imported now), or ``None`` if there is no such command."""
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        """The command list of ``--help`` from the table (no module imported)."""
        limit = formatter.width - 6 - max(len(n) for n in COMMANDS)
        rows = [(name, make_default_short_help(e.summary, limit)) for name, e in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
