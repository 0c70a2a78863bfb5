"""The project speaks for itself: public API, README, architecture doc and CI agree with the code."""

from __future__ import annotations

import fnmatch
import pkgutil
import re
from pathlib import Path

import crossmargin
from crossmargin.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def test_public_api_names_exist_and_are_unique() -> None:
    assert len(set(crossmargin.__all__)) == len(crossmargin.__all__)
    for name in crossmargin.__all__:
        assert hasattr(crossmargin, name), name


def _commands() -> set[str]:
    import typer.main

    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


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


def _mapped(rel: str, lines: list[str]) -> bool:
    """A module is mapped by its path, or by a row naming its package and its file name."""
    for line in lines:
        names = re.findall(r"`([^`]+)`", line)
        if rel in names:
            return True
        for pkg in (n for n in names if n.endswith("/") and rel.startswith(n)):
            *dirs, base = rel[len(pkg) :].split("/")
            if all(f"{d}/" in names for d in dirs) and any(fnmatch.fnmatch(base, n) for n in names):
                return True
    return False


def test_architecture_doc_maps_every_module() -> None:
    lines = (ROOT / "docs" / "architecture.md").read_text().splitlines()
    src = Path(crossmargin.__file__).parent
    missing = []
    for mod in pkgutil.iter_modules(crossmargin.__path__):
        name = mod.name + ("/" if mod.ispkg else ".py")
        if not any(f"`{name}`" in ln for ln in lines) and mod.name != "__main__":
            missing.append(name)
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if path.name in ("__init__.py", "__main__.py") or rel.startswith("examples/"):
            continue
        if not _mapped(rel, lines):
            missing.append(rel)
    assert not missing, f"modules missing from docs/architecture.md: {missing}"
