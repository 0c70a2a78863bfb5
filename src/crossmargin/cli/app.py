"""The ``crossmargin`` command: a thin layer over the library.

Exit codes: 0 success; 2 input or usage error (bad file, bad market data, unknown model, bad
option value — one line ``error: <path>: <reason>`` on stderr, nothing written); 1 internal error
or out of memory (one line too), and ``whatif`` when the trades are not allowed (its result is
printed on stdout, no error line); 141 when the reader of stdout closed the pipe
(``crossmargin margin … | head -1``: no message). See :mod:`crossmargin.cli.errors`.
"""

from __future__ import annotations

import sys

import typer

from crossmargin.cli.errors import stdout_closed
from crossmargin.cli.lazy import LazyCommands

__all__ = ["app", "main"]

#: The root command. Its commands are listed in :data:`crossmargin.cli.lazy.COMMANDS` and
#: imported only when used, so ``crossmargin --help`` imports no library module.
app = typer.Typer(
    name="crossmargin",
    cls=LazyCommands,
    help="Cross-margining and portfolio margin engine for derivatives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Cross-margining and portfolio margin engine for derivatives."""


def main() -> None:
    """Console-script entry point."""
    try:
        try:
            app(prog_name="crossmargin")
        finally:  # what is still buffered reaches the pipe here, or finds it closed
            sys.stdout.flush()
    except BrokenPipeError:  # outside a command (help text) or at the final flush
        sys.exit(stdout_closed().exit_code)
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        print("error: crossmargin: interrupted", file=sys.stderr)
        sys.exit(130)
    except MemoryError:  # pragma: no cover - outside a command (e.g. while importing one)
        print("error: crossmargin: out of memory (the input was not rejected)", file=sys.stderr)
        sys.exit(1)
