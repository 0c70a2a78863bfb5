"""Checks every option and argument of the command line gets, whatever its command.

typer turns an empty path into ``Path(".")`` (the current directory) and a blank one into a file
named ``" "``, and passes integers of any size through to NumPy or the standard library
(``--mpor 1e30`` digits → ``OverflowError``). Instead of a check in each command, the command group
(:class:`crossmargin.cli.errors.OneLineErrors`) hardens each command's parameters once, before
they are parsed:

* a path option or argument (``Path`` or ``list[Path]``) must not be empty or blank:
  ``error: --history: must be a file path, got a blank value``;
* an integer option must be within ±:data:`MAX_INT_OPTION` (each command still checks its own,
  narrower range): ``error: --mpor: must be an integer between -1000000000 and 1000000000``.

Both are usage errors (exit code 2, one line, nothing written).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

import typer._click.exceptions as _exc

__all__ = ["MAX_INT_OPTION", "harden_command"]

#: Largest magnitude of any integer option (days, rounds, windows, retries, partitions, ...).
MAX_INT_OPTION = 1_000_000_000

_HARDENED = "_crossmargin_hardened"


def _kind(annotation: Any) -> str:
    """``"path"``, ``"int"`` or ``""`` for a parameter's annotation (lists by their element)."""
    if get_origin(annotation) in (list, tuple, Sequence):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        annotation = args[0] if len(args) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    if annotation is int:
        return "int"
    return ""


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _check_raw(kind: str, raw: Any, param: Any, ctx: Any) -> None:
    values = raw if isinstance(raw, list | tuple) else [raw]
    for v in values:
        if not isinstance(v, str):  # a default (None, an int): not from the command line
            continue
        if kind == "path" and not v.strip():
            got = "an empty value" if not v else "a blank value"
            raise _exc.BadParameter(f"must be a file path, got {got}", ctx=ctx, param=param)
        if kind == "int":
            try:
                n = int(v.strip())
            except ValueError:
                continue  # not an integer: typer's own message
            if abs(n) > MAX_INT_OPTION:
                raise _exc.BadParameter(
                    f"must be an integer between {-MAX_INT_OPTION} and {MAX_INT_OPTION}, got "
                    f"{_short(v.strip())}",
                    ctx=ctx,
                    param=param,
                )


def _harden_param(param: Any) -> None:
    desc = getattr(param, "type_descriptor", None)
    kind = _kind(getattr(desc, "annotation", None))
    if not kind or getattr(param, _HARDENED, False):
        return
    original: Callable[[Any, Any], Any] = param.process_value

    def process_value(ctx: Any, value: Any) -> Any:
        _check_raw(kind, value, param, ctx)
        return original(ctx, value)

    # an instance attribute shadows the method: the parser calls param.process_value(ctx, raw)
    setattr(param, "process_value", process_value)  # noqa: B010 - mypy: no method assignment
    setattr(param, _HARDENED, True)


def harden_command(cmd: Any) -> None:
    """Install the checks on every parameter of ``cmd`` (idempotent; sub-groups included)."""
    for param in getattr(cmd, "params", None) or []:
        _harden_param(param)
    for sub in (getattr(cmd, "commands", None) or {}).values():
        if sub is not cmd:
            harden_command(sub)
