"""Start-up cost of the command line, asserted on the import graph (never on wall-clock time).

``crossmargin --help`` must import no library module beyond typer (no NumPy, pandas, SciPy,
Arrow, matplotlib, pydantic); ``import crossmargin`` imports nothing heavy until a name is used;
``margin`` on a portfolio file imports no pandas, Arrow or matplotlib, whatever the model (the
bundled price history every snapshot carries is read with NumPy, and only by a model that uses
it), and no SciPy on a small book (options priced and groups aggregated by SciPy's code in NumPy,
``kernels/ndtr.py`` and ``GroupMatrix.product``). ``benchmarks/bench_cli.py``
measures the times (docs/performance.md).
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


#: Runs the command line in this process and prints, at exit, the heavy packages it imported.
_DRIVER = (
    "import sys, atexit, json\n"
    "atexit.register(lambda: print('IMPORTED ' + json.dumps(sorted("
    "{m.split('.')[0] for m in sys.modules})), file=sys.stderr))\n"
    "sys.argv = ['crossmargin', *sys.argv[1:]]\n"
    "from crossmargin.cli.app import main\n"
    "main()\n"
)


def _modules_after(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Top-level packages in ``sys.modules`` when ``crossmargin ARGS`` exits (fresh process)."""
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    line = next((x for x in proc.stderr.splitlines() if x.startswith("IMPORTED ")), "")
    assert line, proc.stderr[-800:]
    return set(json.loads(line.removeprefix("IMPORTED "))), proc


@pytest.mark.parametrize(
    ("book", "market", "model"),
    [
        ("crypto_book.json", "market_crypto.json", "portfolio"),
        ("crypto_book.json", "market_crypto.json", "isolated"),
        ("crypto_book.json", "market_crypto.json", "cross"),
        ("crypto_book.json", "market_crypto.json", "span"),
        ("crypto_book.json", "market_crypto.json", "okx-pm"),
        ("crypto_book.json", "market_crypto.json", "var"),
        ("index_book.json", "market_index.json", "portfolio"),
        ("hedged_book.json", "market_crypto.json", "es"),
    ],
)
def test_margin_start_up_imports_no_table_or_plot_library(
    book: str, market: str, model: str
) -> None:
    """The guard of the start-up time: a regression that imports pandas (~0.6 s) fails here."""
    args = ["margin", str(EX / book), "-m", str(EX / market), "--model", model]
    if model in ("var", "es"):
        args.append("--allow-stale-history")  # the bundled closes end before the examples' as_of
    mods, proc = _modules_after(*args)
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "numpy" in mods  # the margin was really computed in this process
    assert not mods & set(FOR_TABLES_AND_PLOTS), sorted(mods & set(FOR_TABLES_AND_PLOTS))


@pytest.mark.parametrize("model", ["isolated", "cross"])
def test_margin_of_a_book_without_options_needs_no_scipy(model: str, tmp_path: Path) -> None:
    """No SciPy (~0.35 s) and no thread pool for a book of perpetuals and futures.

    The blocked kernels' thread pool (``concurrent.futures``, ``logging``) is imported only for
    inputs large enough to use it (SciPy's copy of the NumPy namespace imports both anyway).
    """
    book = json.loads((EX / "crypto_book.json").read_text())
    book["positions"] = [p for p in book["positions"] if p["instrument"].count("-") <= 1]
    assert book["positions"]  # perpetuals and futures of the example
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book))
    mods, proc = _modules_after(
        "margin", str(path), "-m", str(EX / "market_crypto.json"), "--model", model
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    assert "numpy" in mods and "scipy" not in mods
    assert "concurrent" not in mods


@pytest.mark.parametrize(
    ("book", "market", "model"),
    [
        ("crypto_book.json", "market_crypto.json", "portfolio"),
        ("crypto_book.json", "market_crypto.json", "isolated"),
        ("crypto_book.json", "market_crypto.json", "cross"),
        ("index_book.json", "market_index.json", "portfolio"),
    ],
)
def test_margin_of_a_small_book_with_options_imports_no_scipy(
    book: str, market: str, model: str
) -> None:
    """A small book's options are priced and its groups aggregated without SciPy (~0.3 s).

    ``kernels.ndtr`` and ``GroupMatrix.product`` run their NumPy twins (bitwise SciPy's values,
    ``tests/core/test_ndtr.py``) in a process that has not imported SciPy.
    """
    mods, proc = _modules_after(
        "margin", str(EX / book), "-m", str(EX / market), "--model", model, "-f", "json"
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    assert json.loads(proc.stdout)  # the margin was computed and printed
    assert "numpy" in mods and "scipy" not in mods


_HISTORY_DRIVER = (
    "import sys, atexit\n"
    "atexit.register(lambda: print('READ', sys.modules['crossmargin.history.bundled']"
    ".daily_closes.cache_info().currsize, file=sys.stderr))\n"
    "sys.argv = ['crossmargin', *sys.argv[1:]]\n"
    "from crossmargin.cli.app import main\n"
    "main()\n"
)


@pytest.mark.parametrize(("model", "read"), [("portfolio", 0), ("cross", 0), ("var", 1)])
def test_the_bundled_history_is_read_only_by_a_model_that_uses_it(model: str, read: int) -> None:
    """Every loaded market carries the bundled closes; the file is read on first use."""
    proc = subprocess.run(
        [
            sys.executable, "-c", _HISTORY_DRIVER, "margin", str(EX / "crypto_book.json"),
            "-m", str(EX / "market_crypto.json"), "--model", model, "--allow-stale-history",
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-800:]
    assert f"READ {read}" in proc.stderr, proc.stderr[-800:]


def test_the_lazy_bundled_history_is_a_price_history() -> None:
    import copy
    import dataclasses
    import pickle

    import numpy as np

    from crossmargin.history import daily_closes
    from crossmargin.market.history import PriceHistory, bundled_history

    h = bundled_history()
    assert isinstance(h, PriceHistory) and h.source.startswith("bundled daily closes")
    assert h.times is daily_closes().dates and h.prices is daily_closes().prices
    assert np.array_equal(h.dates, h.times.astype("datetime64[D]"))
    assert pickle.loads(pickle.dumps(h)) is h and copy.deepcopy(h) is h
    other = dataclasses.replace(h, source="mine")
    back = pickle.loads(pickle.dumps(other))
    assert back.source == "mine" and np.array_equal(back.prices, h.prices, equal_nan=True)
    assert h.until(h.times[10]).prices.shape == (11, len(h.assets))


def test_bundled_closes_read_with_numpy_equal_pandas_reading_of_the_file() -> None:
    """The NumPy reader of the shipped CSV gives what ``pandas.read_csv`` gives, cell for cell."""
    import numpy as np
    import pandas as pd

    from crossmargin.history import DROPPED_PRINTS, daily_closes
    from crossmargin.market.history import bundled_history

    d = daily_closes()
    ref = pd.read_csv(EX.parent / "data" / "daily_closes_1990_2026.csv", parse_dates=["date"])
    ref = ref.set_index("date").sort_index()
    for col, start, end, _ in DROPPED_PRINTS:
        ref.loc[start:end, col] = np.nan
    assert d.columns == tuple(ref.columns)
    assert np.array_equal(d.dates, ref.index.to_numpy().astype("datetime64[ns]"))
    assert np.array_equal(d.prices, ref.to_numpy(), equal_nan=True)
    assert np.isnan(d.prices).any() and not d.prices.flags.writeable
    h = bundled_history()
    assert h.times is d.dates and h.prices is d.prices and h.assets == d.columns
