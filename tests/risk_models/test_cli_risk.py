"""End to end: margin / explain / compare with --model var|es and --history, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossmargin.history import load_daily_closes

from .helpers import invoke


@pytest.fixture(scope="module")
def history_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user history file: the bundled BTC/ETH closes of 2016-06..2019-06, as CSV."""
    df = load_daily_closes()[["BTC", "ETH"]].loc["2016-06-01":"2019-06-30"].dropna()
    p = tmp_path_factory.mktemp("cli") / "history.csv"
    df.reset_index().to_csv(p, index=False)
    return p


@pytest.mark.parametrize("model", ["var", "es"])
def test_margin_var_es_bundled_and_user_history(
    examples: Path, history_csv: Path, model: str
) -> None:
    args = ("margin", examples / "hedged_book.json", "-m", examples / "market_crypto.json",
            "--model", model, "--format", "json", "--allow-stale-history")  # fmt: skip
    bundled = invoke(*args)
    assert bundled.exit_code == 0, bundled.stderr
    user = invoke(*args, "--history", history_csv)
    assert user.exit_code == 0, user.stderr
    a, b = json.loads(bundled.stdout), json.loads(user.stdout)
    assert a["model"] == model and a["initial_margin"] > 0 and b["initial_margin"] > 0
    assert a["initial_margin"] != b["initial_margin"]  # a different history, a different margin


def test_explain_shows_tail_dates_and_components(examples: Path, history_csv: Path) -> None:
    r = invoke("explain", examples / "crypto_book.json", "-m", examples / "market_crypto.json",
               "--model", "es", "--history", history_csv, "--format", "json",
               "--allow-stale-history")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    md = json.loads(r.stdout)["model_detail"]
    assert md["scenario_set"]["history"] == str(history_csv)
    assert md["scenario_set"]["history_end"] == "2019-06-30"
    top = md["tail_scenarios"][0]
    assert top["scenario"][:4].isdigit() and ".." in top["scenario"]
    assert {c["underlying"] for c in md["components"]} == {"BTC", "ETH"}
    table = invoke("explain", examples / "crypto_book.json", "-m", examples / "market_crypto.json",
                   "--model", "var", "--allow-stale-history")  # fmt: skip
    assert table.exit_code == 0, table.stderr
    assert "tail scenarios driving the VaR 99.0%" in table.stdout
    assert "contribution per underlying" in table.stdout
    assert "◀ VaR" in table.stdout


def test_compare_has_var_and_es_columns(examples: Path) -> None:
    r = invoke("compare", examples / "index_book.json", "-m", examples / "market_index.json",
               "--format", "json", "--allow-stale-history")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    models = d["models"]
    assert list(models) == ["isolated", "cross", "portfolio", "var", "es"]
    assert all(models[m]["initial_margin"] > 0 for m in ("var", "es"))
    assert {w["code"] for w in d["warnings"]} >= {"history_stale", "bundled_history"}
    # without the opt-in the stale history is refused: var/es unavailable, saying why
    r = invoke("compare", examples / "index_book.json", "-m", examples / "market_index.json",
               "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert list(d["models"]) == ["isolated", "cross", "portfolio"]
    assert set(d["unavailable"]) == {"var", "es"}
    assert "ends 2026-03-27, 240 days before as_of 2026-11-22" in d["unavailable"]["var"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "date,BTC\n2020-01-01,1\n2020-01-02,x\n",
            "history.csv:BTC[2020-01-02]: must be a number, got 'x'",
        ),
        ("date,ETH\n2020-01-01,1\n2020-01-02,2\n", "history.BTC: no price history for BTC"),
    ],
)
def test_bad_history_one_line_exit_2(
    tmp_path: Path, examples: Path, content: str, expected: str
) -> None:
    p = tmp_path / "history.csv"
    p.write_text(content)
    r = invoke("margin", examples / "hedged_book.json", "-m", examples / "market_crypto.json",
               "--model", "es", "--history", p)  # fmt: skip
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert expected in r.stderr
    assert r.stdout == ""


def test_sol_book_needs_a_history(tmp_path: Path, examples: Path) -> None:
    mkt = json.loads((examples / "market_crypto.json").read_text())
    mkt["assets"]["SOL"] = {"price": 150.0, "vol": 0.9, "timestamp": mkt["as_of"]}
    (tmp_path / "m.json").write_text(json.dumps(mkt))
    (tmp_path / "p.json").write_text(json.dumps({"account": "a", "collateral": {"USD": 1e5},
        "positions": [{"instrument": "SOL-PERP", "quantity": 100}]}))  # fmt: skip
    r = invoke("margin", tmp_path / "p.json", "-m", tmp_path / "m.json", "--model", "var")
    assert r.exit_code == 2
    assert "error: history.SOL: no price history for SOL" in r.stderr
    ok = invoke("margin", tmp_path / "p.json", "-m", tmp_path / "m.json", "--model", "portfolio")
    assert ok.exit_code == 0


def test_history_command(history_csv: Path) -> None:
    r = invoke("history", history_csv, "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert [a["asset"] for a in d["assets"]] == ["BTC", "ETH"]
    assert d["assets"][0]["first"] == "2016-06-01"
    assert invoke("history").exit_code == 0
    bad = invoke("history", history_csv.with_suffix(".xls"))
    assert bad.exit_code == 2 and "unknown history format" in bad.stderr
