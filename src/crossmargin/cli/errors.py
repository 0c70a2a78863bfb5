"""Error handling of the command layer: one line on stderr, a documented exit code, no traceback.

Every failure of a command is one line ``error: <path>: <reason>`` on stderr:

* input errors (:class:`~crossmargin.errors.InputError`, ``MarketDataError``, ``ModelError``) and
  usage errors of the command line (unknown option, bad option value, missing argument — click
  would print a usage block) exit with code 2; nothing is written;
* running out of memory is not a bad input: it is reported as ``out of memory`` with exit code 1
  (a numpy or Arrow allocation failure, e.g. ``batch`` on a table too large for the machine);
* any other crossmargin error, and any unexpected exception (a bug), exits with code 1 — one
  line too; ``CROSSMARGIN_TRACEBACK=1`` lets a bug print its traceback instead.

An allocation failure inside a native library's own thread (a C++ ``std::bad_alloc`` in Arrow's
thread pool) aborts the process (exit code 134) before Python can report it; this is the one
failure that is not a line.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import typer
import typer._click.exceptions as _exc
from typer.core import TyperGroup

from crossmargin.errors import CrossMarginError, InputError, MarketDataError, ModelError

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "EXIT_NOT_ALLOWED",
    "OneLineErrors",
    "fail",
    "handle_errors",
    "usage_line",
]

EXIT_INPUT = 2
EXIT_INTERNAL = 1
#: ``whatif``: the trades are not allowed (the result is printed; not an error line).
EXIT_NOT_ALLOWED = 1
#: The reader of stdout went away (``crossmargin margin … | head -1``): no message, the code
#: of a Unix tool ended by SIGPIPE (128 + 13), so ``set -o pipefail`` still sees a cut output.
EXIT_BROKEN_PIPE = 141


def stdout_closed() -> typer.Exit:
    """The exit of a command whose stdout pipe was closed by its reader (quiet, code 141).

    What is still buffered for stdout goes to ``os.devnull`` — flushing it at interpreter exit
    would raise ``BrokenPipeError`` again, printed as "Exception ignored ...".
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout is not a file descriptor
        pass
    return typer.Exit(EXIT_BROKEN_PIPE)


P = ParamSpec("P")
R = TypeVar("R")


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def fail(message: str, code: int = EXIT_INPUT, *, path: str = "") -> typer.Exit:
    """Print ``error: [path: ]message`` to stderr (one line) and return the exit to raise."""
    line = _one_line(f"{path}: {message}" if path else message)
    print(f"error: {line}", file=sys.stderr)
    return typer.Exit(code)


#: Set (to anything) to let an unexpected exception print its traceback (debugging, fuzzing).
TRACEBACK_ENV = "CROSSMARGIN_TRACEBACK"


def _arrow_out_of_memory(exc: BaseException) -> bool:
    """Arrow reports a failed allocation of a Python object as ``Unknown error: Wrapping …``."""
    arrow = sys.modules.get("pyarrow")
    return (
        arrow is not None
        and isinstance(exc, arrow.ArrowException)
        and str(exc).startswith("Unknown error: Wrapping")
    )


def _out_of_memory(detail: str, command: str) -> typer.Exit:
    return fail(
        f"out of memory ({detail or 'an allocation failed'}); the input was not rejected — "
        "retry with more memory or a smaller input",
        EXIT_INTERNAL,
        path=command,
    )


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Translate every exception of a command into one line on stderr and an exit code.

    Input errors exit with 2; other crossmargin errors, running out of memory and unexpected
    exceptions (bugs) with 1 — never with a traceback, unless ``CROSSMARGIN_TRACEBACK`` is set.
    """
    command = fn.__name__.removesuffix("_cmd").replace("_", "-")

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with warnings.catch_warnings():
                # numpy overflow/invalid warnings are noise on stderr: a non-finite result is
                # refused with one line by the library (account.health), never printed as null
                warnings.simplefilter("ignore", RuntimeWarning)
                return fn(*args, **kwargs)
        except (InputError, MarketDataError, ModelError) as exc:
            # an error without a path (none should exist) still names where it arose
            raise fail(exc.reason, EXIT_INPUT, path=exc.path or command) from None
        except CrossMarginError as exc:
            raise fail(exc.reason, EXIT_INTERNAL, path=exc.path or command) from None
        except MemoryError as exc:  # also pyarrow's ArrowMemoryError
            raise _out_of_memory(_one_line(str(exc)), command) from None
        except typer.Exit:
            raise
        except BrokenPipeError:  # not an error of the command: its reader stopped reading
            raise stdout_closed() from None
        except SystemExit as exc:
            if isinstance(exc.__context__, BrokenPipeError):  # rich's own exit on a closed pipe
                raise stdout_closed() from None
            raise
        except Exception as exc:
            if _arrow_out_of_memory(exc):
                raise _out_of_memory(_one_line(str(exc)), command) from None
            if os.environ.get(TRACEBACK_ENV):
                raise
            raise fail(
                f"internal error {type(exc).__name__}: {_one_line(str(exc))[:300]} — a bug, "
                f"please report it with the command line ({TRACEBACK_ENV}=1 shows the traceback)",
                EXIT_INTERNAL,
                path=command,
            ) from None

    return wrapper


# -- usage errors of the command line ------------------------------------------------------------
# typer (>= 0.29) parses the command line with its own copy of click (``typer._click``): the
# usage errors are its exception classes.


def _param_name(param: Any, hint: Sequence[str] | str | None) -> str:
    if isinstance(hint, str):
        return hint.strip("'\"")
    if hint:
        return str(hint[0]).strip("'\"")
    if param is None:
        return "arguments"
    opts = [str(o) for o in getattr(param, "opts", None) or []]
    if opts and getattr(param, "param_type_name", "") == "option":
        longs = [o for o in opts if o.startswith("--")]
        return (longs or opts)[0]
    name = getattr(param, "metavar", None) or getattr(param, "name", None) or "argument"
    return str(name).upper()


def _lower_first(text: str) -> str:
    text = _one_line(text).rstrip(".")
    for prefix in ("Value error, ", "value error, "):
        text = text.removeprefix(prefix)
    text = text.replace("Input should be a valid", "must be a valid")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def usage_line(exc: Exception) -> str:
    """``<path>: <reason>`` of a command-line usage error (one line)."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = str(getattr(exc, "message", "") or exc)
    if isinstance(exc, _exc.NoSuchOption):
        options = sorted(getattr(exc, "possibilities", None) or [])
        more = f"; did you mean {' or '.join(options)}?" if options else ""
        return f"{exc.option_name}: no such option{more}{hint}"
    if isinstance(exc, _exc.MissingParameter):
        name = _param_name(exc.param, exc.param_hint)
        kind = exc.param_type or getattr(exc.param, "param_type_name", None) or "parameter"
        return f"{name}: required {kind} is missing{hint}"
    if isinstance(exc, _exc.BadParameter):
        name = _param_name(exc.param, exc.param_hint)
        return f"{name}: {_lower_first(message)}{hint}"
    if isinstance(exc, _exc.BadOptionUsage):
        reason = message.replace(f"Option '{exc.option_name}' ", "")
        return f"{exc.option_name}: {_lower_first(reason)}{hint}"
    if isinstance(exc, _exc.UsageError):
        if message.startswith("No such command"):
            name = message.removeprefix("No such command").strip(" .'\"")
            return f"{name}: no such command (see 'crossmargin --help')"
        return f"arguments: {_lower_first(message)}{hint}"
    return f"input: {_lower_first(message)}"


class OneLineErrors(TyperGroup):
    """The command group: every usage error is one line ``error: <option>: <reason>``, exit 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; usage errors become one line on stderr and exit code 2."""
        from crossmargin.cli.params import harden_command

        harden_command(self)  # blank paths and huge integers: usage errors of every command
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except _exc.NoArgsIsHelpError as exc:  # `crossmargin` alone: the help, as usual
            if not standalone_mode:
                raise
            exc.show()
            sys.exit(exc.exit_code)
        except _exc.ClickException as exc:
            if not standalone_mode:
                raise
            print(f"error: {usage_line(exc)}", file=sys.stderr)
            sys.exit(EXIT_INPUT if isinstance(exc, _exc.UsageError) else EXIT_INTERNAL)
        except typer.Abort:
            if not standalone_mode:
                raise
            print("error: input: aborted", file=sys.stderr)
            sys.exit(EXIT_INTERNAL)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
