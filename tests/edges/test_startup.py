"""Start-up cost of the command line, asserted on the import graph (never on wall-clock time).

``crossmargin --help`` must import no library module beyond typer (no NumPy, pandas, SciPy,
Arrow, matplotlib, pydantic); ``import crossmargin`` imports nothing heavy until a name is used;
``margin`` on a portfolio file imports no matplotlib (plots only). (It does import pandas today:
``load_market`` attaches the bundled price history to every snapshot and reads it with pandas.) ``benchmarks/bench_cli.py`` measures the
times (docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EX = Path(__file__).resolve().parents[2] / "src" / "crossmargin" / "examples"
HEAVY = ("pandas", "pyarrow", "matplotlib", "scipy", "numpy", "pydantic", "rich", "yaml")
FOR_TABLES_AND_PLOTS = ("pandas", "pyarrow", "matplotlib")


def _imported(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Top-level packages a fresh ``python -X importtime ARGS`` process imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names, proc


def test_help_imports_no_library_module() -> None:
    mods, proc = _imported("-m", "crossmargin", "--help")
    assert proc.returncode == 0 and "margin" in proc.stdout, proc.stderr[-500:]
    assert "typer" in mods  # the parser is measured, not skipped
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


@pytest.mark.parametrize("cmd", [("margin", "--help"), ("config", "--help"), ("nope",)])
def test_a_command_help_or_a_usage_error_stays_light(cmd: tuple[str, ...]) -> None:
    mods, proc = _imported("-m", "crossmargin", *cmd)
    assert proc.returncode in (0, 2), proc.stderr[-500:]
    assert not mods & set(FOR_TABLES_AND_PLOTS), sorted(mods & set(FOR_TABLES_AND_PLOTS))


def test_import_crossmargin_is_light_until_a_name_is_used() -> None:
    code = (
        "import sys, json, crossmargin as cm\n"
        "before = sorted({m.split('.')[0] for m in sys.modules})\n"
        "cm.compute_margin\n"
        "after = sorted({m.split('.')[0] for m in sys.modules})\n"
        "print(json.dumps([before, after]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    before, after = map(set, json.loads(proc.stdout))
    assert not before & set(HEAVY), sorted(before & set(HEAVY))
    assert "numpy" in after  # the name was really imported on use
    assert not after & set(FOR_TABLES_AND_PLOTS), sorted(after & set(FOR_TABLES_AND_PLOTS))


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_margin_of_a_portfolio_file_needs_no_plotting_library(fmt: str) -> None:
    mods, proc = _imported(
        "-m", "crossmargin", "margin", str(EX / "crypto_book.json"),
        "-m", str(EX / "market_crypto.json"), "-f", fmt,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "initial" in proc.stdout.lower()
    assert "matplotlib" not in mods


def test_every_public_name_still_resolves() -> None:
    import types

    import crossmargin
    import crossmargin.io
    import crossmargin.resolve
    import crossmargin.whatif  # submodules named like a public function

    assert callable(crossmargin.resolve) and callable(crossmargin.whatif)
    for name in crossmargin.__all__:
        assert not isinstance(getattr(crossmargin, name), types.ModuleType), name

    for mod in (crossmargin, crossmargin.io):
        for name in mod.__all__:
            assert getattr(mod, name) is not None, name
        with pytest.raises(AttributeError):
            mod.no_such_name  # noqa: B018
        assert set(mod.__all__) <= set(dir(mod))
