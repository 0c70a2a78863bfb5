"""Shared by the hardening tests: the CLI runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from crossmargin.cli.app import app

_RUNNER = CliRunner()


def invoke(*args: str | Path) -> Result:
    """Run the CLI in-process (stdout and stderr kept apart)."""
    return _RUNNER.invoke(app, [str(a) for a in args])
