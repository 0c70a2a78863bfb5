"""``crossmargin backtest`` end to end: outputs, reports, one-line errors, nothing written on error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crossmargin.backtest import bundled_books
from crossmargin.cli.app import app

RUN = ["--models", "isolated,cross,portfolio", "--start", "2018-01-01", "--end", "2018-03-31"]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def test_bundled_books_exist() -> None:
    assert {"crypto_options_perps", "spx_ndx_book", "mixed_crypto_equity"} <= set(bundled_books())


@pytest.mark.parametrize(
    ("name", "report"),
    [("crypto_options_perps", "html"), ("spx_ndx_book", "none"), ("mixed_crypto_equity", "none")],
)
def test_backtest_writes_json_csv_and_report(
    runner: CliRunner, tmp_path: Path, name: str, report: str
) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["backtest", name, *RUN, "--out", str(out), "--report", report])
    assert res.exit_code == 0, res.output
    assert "portfolio" in res.output and any(z in res.output for z in ("green", "yellow", "red"))
    summary = json.loads((out / f"{name}.json").read_text())
    assert summary["book"]["name"] == name
    assert [m["model"] for m in summary["models"]] == ["isolated", "cross", "portfolio"]
    for m in summary["models"]:
        assert m["status"] == "ok"
        assert m["traffic_light"]["zone"] in ("green", "yellow", "red")
        assert 0.0 <= m["kupiec"]["p_value"] <= 1.0
        assert m["exceedances"] <= m["windows"]
    ev = summary["data"]["evaluation"]
    daily = pd.read_csv(out / f"{name}_daily.csv")
    assert len(daily) == 3 * ev["windows"]
    assert {"date", "end_date", "im", "loss", "exceeded", "counted"} <= set(daily.columns)
    if report == "html":
        html = (out / f"{name}.html").read_text()
        assert html.count("data:image/png;base64,") >= 3 and "Traffic light" in html
    else:
        assert not (out / f"{name}.html").exists()


def test_mixed_book_reports_the_data_handling(runner: CliRunner) -> None:
    res = runner.invoke(
        app,
        ["backtest", "mixed_crypto_equity", "--models", "portfolio", "--end", "2015-03-31",
         "--format", "json", "--history",
         str(Path(__file__).parent / "data" / "bitfinex_daily_2014_2020.csv")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    dropped = s["data"]["cleaning"]["dropped"]
    assert {
        k: v for k, v in next(d for d in dropped if d["reason"] == "bad_print").items()
        if k in ("asset", "date", "value")
    } == {"asset": "BTC", "date": "2015-01-14", "value": 120.0}  # fmt: skip
    cal = s["data"]["calendar"]
    assert cal["partial_dates_dropped"]["SPX"] > 0  # crypto weekends
    assert s["data"]["evaluation"]["gap_windows"] > 0  # Dec 2014 stale stretch
    assert s["models"][0]["excluded_windows"]


def test_png_report_and_two_books(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        ["backtest", "crypto_options_perps", "btc_static", *RUN, "--out", str(tmp_path),
         "--report", "png", "--mpor", "1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    names = {p.name for p in tmp_path.iterdir()}
    assert {"crypto_options_perps.json", "btc_static.json"} <= names
    assert "crypto_options_perps_correlation.png" in names  # BTC/ETH credit checked
    assert (tmp_path / "btc_static_margin_vs_loss.png").read_bytes()[:4] == b"\x89PNG"


def test_user_history_file(runner: CliRunner, tmp_path: Path) -> None:
    from crossmargin.history import load_daily_closes

    df = load_daily_closes().loc["2017-01-01":"2018-12-31", ["BTC", "ETH"]].reset_index()
    p = tmp_path / "h.parquet"
    df.to_parquet(p)
    res = runner.invoke(
        app, ["backtest", "crypto_options_perps", "--models", "portfolio", "--history", str(p),
              "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["data"]["source"] == str(p)
    assert s["data"]["evaluation"]["first"] >= "2017-01-31"  # 30-return vol warm-up


BAD = [
    (["nope.json"], "nope.json: backtest book file not found"),
    (["spx_ndx_book", "--models", "nosuch"], "model: unknown model 'nosuch'"),
    (["spx_ndx_book", "--mpor", "0"], "--mpor: must be at least 1"),
    (["spx_ndx_book", "--start", "yesterday"], "--start: expected a date"),
    (["spx_ndx_book", "--start", "2030-01-01"], "--start/--end: no evaluation day"),
    (["spx_ndx_book", "--history", "missing.csv"], "missing.csv: history file not found"),
    (["spx_ndx_book", "--drop-print", "SPX2018"], "--drop-print: expected ASSET:YYYY-MM-DD"),
    (["spx_ndx_book", "--confidence", "1.5"], "--confidence: must be in (0.5, 1)"),
    ([], "BOOK: name at least one backtest book"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_one_line_exit_2_nothing_written(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["backtest", *args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in res.output
    assert not out.exists()


def test_bad_book_names_the_field(runner: CliRunner, tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text(
        json.dumps({"name": "b", "legs": [{"kind": "option", "underlying": "BTC", "notional": 1}]})
    )
    res = runner.invoke(app, ["backtest", str(p)])
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: b.json.legs[0]: a option leg needs tenor_days"
    p.write_text(
        json.dumps(
            {"name": "b", "legs": [{"kind": "perpetual", "underlying": "SOL", "notional": 1}]}
        )
    )
    res = runner.invoke(app, ["backtest", str(p)])
    assert res.exit_code == 2 and "history.SOL" in res.stderr


def test_out_must_be_a_directory(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = runner.invoke(app, ["backtest", "btc_static", *RUN, "--out", str(f)])
    assert res.exit_code == 2 and "is not a directory" in res.stderr
    assert f.read_text() == "x"
