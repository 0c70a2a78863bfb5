"""The ``crossmargin`` command: a thin layer over the library.

Exit codes: 0 success; 2 input or usage error (bad file, bad market data, unknown model, bad
option value — one line ``error: <path>: <reason>`` on stderr, nothing written); 1 internal error
or out of memory (one line too). See :mod:`crossmargin.cli.errors`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from crossmargin.cli.errors import OneLineErrors

__all__ = ["app", "main"]

app = typer.Typer(
    name="crossmargin",
    cls=OneLineErrors,
    help="Cross-margining and portfolio margin engine for derivatives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _load_commands() -> None:
    """Import every ``crossmargin.cli.cmd_*`` module; each registers its commands on ``app``."""
    import crossmargin.cli as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_")]
    # `--help` lists commands in import order: the main job first, then the rest alphabetically
    for name in sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        importlib.import_module(f"crossmargin.cli.{name}")


_ORDER = (
    "cmd_margin",
    "cmd_trade",
    "cmd_batch",
    "cmd_presets",
    "cmd_risk",
    "cmd_liquidation",
    "cmd_backtest",
    "cmd_oracles",
    "cmd_info",
)


_load_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="crossmargin")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        print("error: crossmargin: interrupted", file=sys.stderr)
        sys.exit(130)
    except MemoryError:  # pragma: no cover - outside a command (e.g. while importing one)
        print("error: crossmargin: out of memory (the input was not rejected)", file=sys.stderr)
        sys.exit(1)
