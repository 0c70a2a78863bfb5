"""The project speaks for itself: public API, README, architecture doc and CI agree with the code."""

from __future__ import annotations

import fnmatch
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


#: Text files a user of the project reads (docs, code, comments, tests' messages, data notes).
_TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".json", ".toml", ".txt", ".html", ".cfg"}
_TEXT_ROOTS = ("README.md", "Makefile", "pyproject.toml", "docs", "src", "tests", "benchmarks")
#: A path outside the repository: the development machine's shared material or home.
_OUTSIDE = re.compile(r"\.\./shared\b|/work/|(?<![\w/])shared/(methodologies|venues|data)/")


def _text_files() -> list[Path]:
    out: list[Path] = []
    for name in _TEXT_ROOTS:
        p = ROOT / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += [
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix in _TEXT_SUFFIXES
                and not any(part.startswith(".") or part == "__pycache__" for part in f.parts)
                and f.stat().st_size < 5_000_000
            ]
    return out


def test_docs_and_code_never_point_outside_the_repository() -> None:
    """README, docs, code comments, default_risk.yaml, tests: no ``../shared`` or machine paths.

    Methodology sources are cited by name (the venue documents and papers listed at the end of
    each ``docs/methodologies/*.md``); what a test needs is copied into tests/data.
    """
    bad = []
    for f in _text_files():
        if f == Path(__file__).resolve():
            continue
        for i, line in enumerate(f.read_text("utf-8", errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                bad.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:120]}")
    assert not bad, "references to files outside the repository:\n" + "\n".join(bad)


def test_every_cited_markdown_file_is_in_the_repository() -> None:
    """``deribit-pm.md`` §3, ``docs/formats.md``: every ``*.md`` named exists in the repository."""
    present = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts}
    cited: dict[str, str] = {}
    for f in _text_files():
        text = f.read_text("utf-8", errors="replace")
        for m in re.finditer(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.md)\b", text):
            # a URL's path is not matched: its start follows a "/" (the lookbehind)
            cited.setdefault(Path(m.group(1)).name, str(f.relative_to(ROOT)))
    missing = {n: where for n, where in cited.items() if n not in present}
    assert not missing, f"cited but not in the repository: {missing}"
