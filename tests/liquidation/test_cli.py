"""End-to-end: ``crossmargin liquidate`` and ``crossmargin cascade`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crossmargin.cli.app import app

runner = CliRunner()
MARGIN_KEYS = {
    "account",
    "model",
    "base_currency",
    "as_of",
    "equity",
    "maintenance_equity",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "margin_ratio",
    "status",
    "liquidation_scope",
    "breakdown",
    "addons",
    "collateral",
}


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.stdout


def _err(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    return lines[0]


@pytest.mark.parametrize("policy", ["full", "partial"])
@pytest.mark.parametrize("model", ["isolated", "cross", "portfolio"])
def test_liquidate_json_contract(examples: Path, policy: str, model: str) -> None:
    out = _ok(
        [
            "liquidate",
            str(examples / "liquidation_book.json"),
            "--market",
            str(examples / "market_crypto.json"),
            "--policy",
            policy,
            "--model",
            model,
            "--format",
            "json",
        ]
    )
    d = json.loads(out)
    assert set(d) == {"plan", "before", "after"}
    for side in ("before", "after"):
        assert set(d[side]) >= MARGIN_KEYS
        assert "positions" in d[side]
    plan = d["plan"]
    assert plan["liquidated"] and plan["policy"] == policy and plan["model"] == model
    assert d["before"]["status"] in ("liquidation", "bankrupt")
    assert plan["closes"], "something was closed"
    for c in plan["closes"]:
        assert abs(c["closed"]) <= abs(c["position"]) * (1 + 1e-12)
        assert c["slippage"] >= 0 and c["fee"] >= 0
    assert len(d["after"]["positions"]) <= len(d["before"]["positions"])
    cons = plan["conservation"]
    assert abs(cons["error"]) <= 1e-9 * (
        abs(cons["accounts_before"]) + cons["insurance_fund_before"]
    )
    if policy == "full" and model != "isolated":
        assert d["after"]["positions"] == []


def test_liquidate_table_and_untriggered_accounts(examples: Path) -> None:
    out = _ok(
        [
            "liquidate",
            str(examples / "venue_accounts.json"),
            "--market",
            str(examples / "market_venue.json"),
            "--policy",
            "partial",
        ]
    )
    assert "degen-03" in out and "partial liquidation" in out
    assert "mm-01" in out and "not liquidated" in out
    d = json.loads(
        _ok(
            [
                "liquidate",
                str(examples / "venue_accounts.json"),
                "--market",
                str(examples / "market_venue.json"),
                "--format",
                "json",
            ]
        )
    )
    assert len(d["accounts"]) == 7 and "conservation" in d
    one = json.loads(
        _ok(
            [
                "liquidate",
                str(examples / "venue_accounts.json"),
                "--market",
                str(examples / "market_venue.json"),
                "--account",
                "mm-01",
                "--format",
                "json",
            ]
        )
    )
    assert not one["plan"]["liquidated"] and one["plan"]["closes"] == []
    assert one["before"]["equity"] == one["after"]["equity"]


def test_liquidate_errors(examples: Path, tmp_path: Path) -> None:
    mk = str(examples / "market_crypto.json")
    pf = str(examples / "liquidation_book.json")
    assert "--account" in _err(["liquidate", pf, "--market", mk, "--account", "nobody"])
    assert "model" in _err(["liquidate", pf, "--market", mk, "--model", "nope"])
    bad = tmp_path / "m.json"
    d = json.loads((examples / "market_crypto.json").read_text())
    del d["assets"]["BTC"]["vol"]
    for e in d["assets"]["BTC"]["expiries"].values():
        e.pop("smile", None)
        e.pop("vol", None)
    bad.write_text(json.dumps(d))
    line = _err(["liquidate", pf, "--market", str(bad)])
    assert "assets.BTC" in line
    r = runner.invoke(app, ["liquidate", pf, "--market", mk, "--policy", "sometimes"])
    assert r.exit_code == 2


def test_cascade_end_to_end_with_reports(examples: Path, tmp_path: Path) -> None:
    out_json, png, led = tmp_path / "c.json", tmp_path / "c.png", tmp_path / "l.csv"
    text = _ok(
        [
            "cascade",
            "synthetic:300:4",
            "--market",
            str(examples / "market_venue.json"),
            "--shock",
            str(examples / "shock_crash.json"),
            "--out",
            str(out_json),
            "--plot",
            str(png),
            "--ledger",
            str(led),
            "--no-progress",
        ]
    )
    assert "isolated" in text and "portfolio" in text and "accounts liquidated" in text
    d = json.loads(out_json.read_text())
    assert set(d) == {"venue", "shock", "settings", "comparison", "regimes"}
    assert d["shock"]["name"] == "crypto flash crash" and d["shock"]["steps"] == 4
    for r in d["regimes"].values():
        assert r["rounds"] >= 4
        assert r["conservation_error"] <= 1e-9
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(led)
    assert set(table["regime"]) <= {"isolated", "cross", "portfolio"}
    assert {"event", "payer", "payee", "amount"} <= set(table.columns)


def test_cascade_json_on_stdout_and_file_venue(examples: Path) -> None:
    d = json.loads(
        _ok(
            [
                "cascade",
                str(examples / "venue_accounts.json"),
                "--market",
                str(examples / "market_venue.json"),
                "--shock",
                "*=-0.15",
                "--regimes",
                "cross,portfolio",
                "--format",
                "json",
            ]
        )
    )
    assert list(d["regimes"]) == ["cross", "portfolio"]
    assert d["settings"]["collateral_mode"] == "as given"
    assert d["venue"]["accounts"] == 7


def test_cascade_errors_write_nothing(examples: Path, tmp_path: Path) -> None:
    mk = str(examples / "market_venue.json")
    out = tmp_path / "c.json"
    base = ["cascade", "synthetic:50", "--market", mk, "--out", str(out)]
    assert "shock" in _err([*base, "--shock", "BTC=oops"])
    assert "--regimes" in _err([*base, "--shock", "*=-0.1", "--regimes", "cross,nope"])
    assert "venue" in _err(["cascade", "synthetic:zero", "--market", mk, "--shock", "*=-0.1"])
    assert "--plot" in _err([*base, "--shock", "*=-0.1", "--plot", str(tmp_path / "x.jpg")])
    assert "--collateral" in _err(
        ["cascade", str(examples / "venue_positions.csv"), "--market", mk, "--shock", "*=-0.1"]
    )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_liquidate_a_shocked_synthetic_venue(examples: Path) -> None:
    """Above 1 000 accounts the output is totals plus one compact row per account touched."""
    d = json.loads(
        _ok(
            [
                "liquidate",
                "synthetic:1500:3",
                "--market",
                str(examples / "market_venue.json"),
                "--shock",
                "*=-0.25",
                "--model",
                "cross",
                "--format",
                "json",
            ]
        )
    )
    s = d["summary"]
    assert s["accounts"] == 1500
    assert 0 < s["accounts_liquidated"] <= len(d["accounts"])
    assert sum(r["liquidated"] for r in d["accounts"]) == s["accounts_liquidated"]
    # everyone liquidated is restored; only ADL'd counterparties can be left below MM (ADL's
    # contagion) and ADL never makes an account bankrupt
    assert s["status_after"]["bankrupt"] == 0
    for r in d["accounts"]:
        if r["status_after"] == "liquidation":
            assert not r["liquidated"] and r["adl_paid"] > 0
    cons = d["conservation"]
    assert abs(cons["error"]) <= 1e-9 * (
        abs(cons["accounts_before"]) + cons["insurance_fund_before"]
    )
    # unshocked, a synthetic venue is healthy: nobody is liquidated
    calm = json.loads(
        _ok(
            [
                "liquidate",
                "synthetic:1500:3",
                "--market",
                str(examples / "market_venue.json"),
                "--model",
                "cross",
                "-f",
                "json",
            ]
        )
    )
    assert calm["summary"]["accounts_liquidated"] == 0 and calm["accounts"] == []


def test_liquidate_tables(examples: Path) -> None:
    d = json.loads(
        _ok(
            [
                "liquidate",
                str(examples / "venue_positions.csv"),
                "--collateral",
                str(examples / "venue_collateral.csv"),
                "--market",
                str(examples / "market_venue.json"),
                "--account",
                "degen-03",
                "-f",
                "json",
            ]
        )
    )
    assert d["plan"]["account"] == "degen-03" and d["plan"]["liquidated"]
