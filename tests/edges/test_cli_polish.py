"""CLI polish (issue 14): compare keeps going, whatif's exit code, batch to stdout, progress bars.

Progress bars go to stderr only (stdout stays clean JSON) and are off under ``--quiet``; in-process
runs force them with ``--progress`` (the runner's stderr is not a terminal).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from tests.edges.helpers import one_line_error, run

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "src" / "crossmargin" / "examples"
PRESET_BOOK = ROOT / "tests" / "presets" / "data" / "preset_book.json"
MK = EX / "market_crypto.json"
BATCH = (
    "batch", EX / "venue_positions.csv", "--collateral", EX / "venue_collateral.csv",
    "-m", EX / "market_venue.json",
)  # fmt: skip


# -- compare --presets keeps going ------------------------------------------------------------
def test_compare_shows_a_failing_preset_as_a_column_with_its_reason() -> None:
    names = ["portfolio", "dydx-v4", "deribit-pm"]  # dydx-v4 margins perpetuals only
    r = run("compare", PRESET_BOOK, "-m", MK, "--presets", ",".join(names), "-f", "json")
    assert r.exit_code == 0, r.stderr
    for acc in json.loads(r.stdout)["accounts"]:
        assert list(acc["models"]) == ["portfolio", "deribit-pm"]
        assert "option contracts are not margined by dydx-v4" in acc["unavailable"]["dydx-v4"]
        for m in acc["models"].values():
            assert m["initial_margin"] > 0
    t = run("compare", PRESET_BOOK, "-m", MK, "--presets", ",".join(names))
    assert t.exit_code == 0, t.stderr
    header = next(ln for ln in t.stdout.splitlines() if "dydx-v4" in ln and "portfolio" in ln)
    assert header.index("portfolio") < header.index("dydx-v4") < header.index("deribit-pm")
    assert "not computed" in t.stdout and "dydx-v4 (it" in t.stdout


def test_compare_fails_only_when_every_model_fails() -> None:
    r = run("compare", PRESET_BOOK, "-m", MK, "--presets", "dydx-v4,drift-v2")
    path, reason = one_line_error(r)
    assert path == "accounts[0].positions[1].instrument" and "dydx-v4" in reason


# -- whatif exit code ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "table"])
def test_whatif_exits_1_when_the_trade_is_not_allowed(fmt: str) -> None:
    args = ("whatif", EX / "crypto_book.json", "-m", MK, "-f", fmt)
    ok = run(*args, "--trade", "BTC-PERP:0.01")
    assert ok.exit_code == 0, ok.stderr
    big = run(*args, "--trade", "BTC-PERP:5000")  # 325 M USD of BTC on a ~2 M USD account
    assert big.exit_code == 1, (big.stdout[-300:], big.stderr)
    assert big.stderr == ""  # a verdict, not an error line
    if fmt == "json":
        d = json.loads(big.stdout)
        assert d["allowed"] is False
        assert d["after"]["initial_margin"] > d["before"]["initial_margin"]
        assert json.loads(ok.stdout)["allowed"] is True
    else:
        assert "not allowed" in big.stdout


# -- batch --out - -------------------------------------------------------------------------------
def test_batch_writes_csv_to_stdout_and_the_summary_to_stderr(tmp_path: Path) -> None:
    r = run(*BATCH, "--out", "-")
    assert r.exit_code == 0, r.stderr
    df = pd.read_csv(io.StringIO(r.stdout))
    assert len(df) == 7 and {"account", "initial_margin", "status"} <= set(df.columns)
    assert "7 accounts" in r.stderr and "stdout" in r.stderr
    f = tmp_path / "r.csv"
    assert run(*BATCH, "--out", f).exit_code == 0
    assert r.stdout == f.read_text()  # the same table as the file
    assert list(tmp_path.iterdir()) == [f]  # nothing else written


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_batch_to_stdout_in_other_formats(fmt: str) -> None:
    r = run(*BATCH, "--out", "-", "--out-format", fmt, "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    raw = r.stdout_bytes
    df = pd.read_json(io.BytesIO(raw)) if fmt == "json" else pd.read_parquet(io.BytesIO(raw))
    assert len(df) == 7 and (df["initial_margin"] >= 0).all()


def test_batch_to_stdout_refuses_bad_input_with_nothing_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "pos.csv"
    bad.write_text("account,instrument,quantity\nA,BTC-PERP,abc\n")
    r = run("batch", bad, "--collateral", EX / "venue_collateral.csv", "-m",
            EX / "market_venue.json", "--out", "-")  # fmt: skip
    one_line_error(r)


# -- progress bars -------------------------------------------------------------------------------
def test_cascade_progress_on_stderr_keeps_json_stdout_clean() -> None:
    args = ("cascade", EX / "venue_accounts.json", "-m", EX / "market_venue.json",
            "--shock", "*=-0.15", "--regimes", "cross,portfolio", "-f", "json")  # fmt: skip
    r = run(*args, "--progress")
    assert r.exit_code == 0, r.stderr
    assert list(json.loads(r.stdout)["regimes"]) == ["cross", "portfolio"]
    assert "round" in r.stderr and "liquidated" in r.stderr
    q = run(*args, "--progress", "--quiet")
    assert q.exit_code == 0 and q.stderr == ""
    assert json.loads(q.stdout)["regimes"] == json.loads(r.stdout)["regimes"]


def test_batch_progress_and_quiet() -> None:
    r = run(*BATCH, "--out", "-", "--progress")
    assert r.exit_code == 0 and "accounts" in r.stderr
    assert "margined 7 accounts" in r.stderr and "4/4" in r.stderr
    q = run(*BATCH, "--out", "-", "--progress", "-q")
    assert q.exit_code == 0 and q.stderr == "" and q.stdout == r.stdout


def test_backtest_progress_on_stderr_and_quiet(tmp_path: Path) -> None:
    args = ("backtest", "btc_static", "--models", "isolated,portfolio", "--start", "2018-01-01",
            "--end", "2018-02-28", "-f", "json")  # fmt: skip
    r = run(*args, "--progress", "--out", tmp_path / "a")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["book"]["name"] == "btc_static"
    assert "btc_static" in r.stderr and "%" in r.stderr
    q = run(*args, "--progress", "--quiet", "--out", tmp_path / "b")
    assert q.exit_code == 0 and q.stderr == "", q.stderr
    t = run(*args[:-2], "--quiet", "--out", tmp_path / "c")
    assert t.exit_code == 0 and "wrote" not in t.stdout and "btc_static" in t.stdout
