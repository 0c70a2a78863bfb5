"""The store is a leaf layer: it imports only crossmargin.errors, the stdlib and its database libs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import crossmargin.store as store_pkg

PKG = Path(store_pkg.__file__).parent
ALLOWED_THIRD_PARTY = {"sqlalchemy", "alembic", "psycopg"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_store_modules_import_only_errors_stdlib_and_database_libraries() -> None:
    offenders: dict[str, set[str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        bad = set()
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "crossmargin":
                if name != "crossmargin.errors" and not name.startswith("crossmargin.store"):
                    bad.add(name)
            elif top not in ALLOWED_THIRD_PARTY and top not in sys.stdlib_module_names:
                bad.add(name)
        if bad:
            offenders[str(path.relative_to(PKG))] = bad
    assert not offenders


def test_public_names_exist() -> None:
    assert len(set(store_pkg.__all__)) == len(store_pkg.__all__)
    for name in store_pkg.__all__:
        assert hasattr(store_pkg, name), name


def test_store_runs_with_nothing_else_of_crossmargin_loaded(tmp_path: Path) -> None:
    """Import the store without crossmargin/__init__ (the engine) and use it."""
    code = f"""
import sys, types
pkg = types.ModuleType("crossmargin"); pkg.__path__ = [{str(PKG.parent)!r}]
sys.modules["crossmargin"] = pkg
from crossmargin.store import Store
with Store.open({str(tmp_path / "s.db")!r}) as s:
    assert s.append("x", {{"a": 1}}) == 1
    assert s.write_snapshot(1, b"state").seq == 1
    assert s.recover().snapshot.data == b"state"
loaded = sorted(m for m in sys.modules if m.startswith("crossmargin."))
strays = [m for m in loaded if m != "crossmargin.errors" and not m.startswith("crossmargin.store")]
assert not strays, strays
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
