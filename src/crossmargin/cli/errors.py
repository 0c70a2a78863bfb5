"""Error handling of the command layer: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from crossmargin.errors import CrossMarginError, InputError, MarketDataError, ModelError

__all__ = ["EXIT_INPUT", "fail", "handle_errors"]

EXIT_INPUT = 2
EXIT_INTERNAL = 1

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    """Print ``error: message`` to stderr and return the exit to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Translate crossmargin errors into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with warnings.catch_warnings():
                # numpy overflow/invalid warnings are noise on stderr: a non-finite result is
                # refused with one line by the library (account.health), never printed as null
                warnings.simplefilter("ignore", RuntimeWarning)
                return fn(*args, **kwargs)
        except (InputError, MarketDataError, ModelError) as exc:
            raise fail(str(exc), EXIT_INPUT) from None
        except CrossMarginError as exc:
            raise fail(str(exc), EXIT_INTERNAL) from None

    return wrapper
