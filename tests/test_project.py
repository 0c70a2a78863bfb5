"""The project speaks for itself: public API, README, architecture doc and CI agree with the code."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import crossmargin
import crossmargin.cli
from crossmargin.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def test_public_api_names_exist_and_are_unique() -> None:
    assert len(set(crossmargin.__all__)) == len(crossmargin.__all__)
    for name in crossmargin.__all__:
        assert hasattr(crossmargin, name), name


def _commands() -> set[str]:
    import typer.main

    group = typer.main.get_command(app)
    return set(group.list_commands(None))  # type: ignore[attr-defined,arg-type]


def test_command_table_matches_the_command_modules() -> None:
    """Every command of a ``cmd_*`` module is in the lazy table, with its docstring's summary."""
    import importlib

    import typer.main

    from crossmargin.cli.lazy import COMMANDS, load_command

    defined: dict[str, str] = {}
    for mod in pkgutil.iter_modules(crossmargin.cli.__path__):
        if not mod.name.startswith("cmd_"):
            continue
        cmd = typer.main.get_command(importlib.import_module(f"crossmargin.cli.{mod.name}").app)
        for name in getattr(cmd, "commands", None) or {cmd.name: cmd}:
            defined[str(name)] = mod.name
    assert defined == {n: e.module for n, e in COMMANDS.items()}
    for name, entry in COMMANDS.items():
        help_text = " ".join((load_command(name).help or "").split("\n\n")[0].split())
        assert help_text == entry.summary, name


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"crossmargin ([a-z][a-z-]*)", readme))
    cmds = _commands()
    assert {"margin", "compare", "explain", "price", "whatif", "batch", "schema", "demo"} <= cmds
    assert cmds <= documented, f"undocumented commands: {sorted(cmds - documented)}"


def test_quick_start_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    commands = [ln.split("#", 1)[0].strip() for ln in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_architecture_doc_maps_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for mod in pkgutil.iter_modules(crossmargin.__path__):
        name = mod.name + ("/" if mod.ispkg else ".py")
        if name not in doc and mod.name not in ("__main__",):
            missing.append(name)
    assert not missing, f"modules missing from docs/architecture.md: {missing}"
