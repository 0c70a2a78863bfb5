"""Shared by the edge tests: run the CLI in-process and check the error contract."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner, Result

from crossmargin.cli.app import app

RUNNER = CliRunner()
#: One line ``error: <path>: <reason>`` (a path is required).
ERROR_LINE = re.compile(r"^error: (?P<path>\S[^\n]*?): (?P<reason>\S[^\n]*)$")


def run(*args: object) -> Result:
    """Run the CLI in-process (stdout and stderr apart)."""
    return RUNNER.invoke(app, [str(a) for a in args])


def one_line_error(r: Result, code: int = 2) -> tuple[str, str]:
    """Assert the error contract; return ``(path, reason)``."""
    assert r.exit_code == code, (r.exit_code, r.stdout[-500:], r.stderr[-2000:])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert r.stdout == "", r.stdout[-500:]
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    m = ERROR_LINE.match(lines[0])
    assert m, lines[0]
    return m["path"], m["reason"]


def files_in(directory: Path) -> set[str]:
    """Names of every entry of ``directory`` (hidden ones included), recursively."""
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}
