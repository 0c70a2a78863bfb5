"""End-to-end CLI: every command on the bundled examples, table and JSON, the JSON contract.

Most runs use ``typer.testing.CliRunner`` in-process; two use the installed console script in a
subprocess (real exit codes, real stderr).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crossmargin import compute_margin, load_market, load_portfolios

from .helpers import invoke

EXAMPLES = [
    ("crypto_book.json", "market_crypto.json", 1),
    ("hedged_book.json", "market_crypto.json", 1),
    ("index_book.json", "market_index.json", 1),
    ("venue_accounts.json", "market_venue.json", 7),
]
MODELS = ("isolated", "cross", "portfolio")

#: issue 2 §7: ``margin --format json`` fields every account object has at least.
MARGIN_KEYS = {
    "account", "model", "base_currency", "as_of", "equity", "collateral_value", "unrealized_pnl",
    "initial_margin", "maintenance_margin", "free_collateral", "margin_ratio", "status",
    "breakdown", "addons",
}  # fmt: skip
STATUSES = {"healthy", "margin_call", "liquidation", "bankrupt"}


def strict_json(text: str) -> Any:
    """Parse JSON refusing NaN/Infinity tokens (outside tools use strict parsers)."""

    def bad(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=bad)


def accounts_of(doc: Any, n: int) -> list[dict[str, Any]]:
    if n == 1:
        assert isinstance(doc, dict) and "accounts" not in doc
        return [doc]
    assert set(doc) == {"accounts"} and len(doc["accounts"]) == n
    return doc["accounts"]  # type: ignore[no-any-return]


def check_margin_object(d: dict[str, Any], model: str) -> None:
    assert set(d) >= MARGIN_KEYS
    assert d["model"] == model and d["status"] in STATUSES
    assert d["as_of"] == "2026-11-22T08:00:00Z"
    assert d["initial_margin"] >= d["maintenance_margin"] >= 0.0
    assert d["free_collateral"] == pytest.approx(d["equity"] - d["initial_margin"], abs=1e-6)
    assert d["margin_ratio"] is None or d["margin_ratio"] == pytest.approx(
        d["maintenance_equity"] / d["maintenance_margin"], rel=1e-12
    )
    total = 0.0
    for b in d["breakdown"]:
        assert {"underlying", "initial_margin", "maintenance_margin", "worst_scenario"} <= set(b)
        total += b["initial_margin"]
        ws = b["worst_scenario"]
        if model == "portfolio":
            assert {"spot_move", "vol_move"} <= set(ws) and ws["vol_move"] in (
                "up",
                "unchanged",
                "down",
            )
        else:
            assert ws is None
    assert d["initial_margin"] == pytest.approx(total, rel=1e-12, abs=1e-9)
    for a in d["addons"]:
        assert {"name", "amount"} <= set(a) and isinstance(a["amount"], float)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("pf", "mk", "n"), EXAMPLES)
def test_margin_json_contract_and_values(
    examples: Path, pf: str, mk: str, n: int, model: str
) -> None:
    r = invoke(
        "margin", examples / pf, "--market", examples / mk, "--model", model, "--format", "json"
    )
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    items = accounts_of(strict_json(r.stdout), n)
    pfs, prefixes = load_portfolios(examples / pf)
    lib = compute_margin(pfs, load_market(examples / mk), model=model, prefixes=prefixes)
    for i, d in enumerate(items):
        check_margin_object(d, model)
        assert d["account"] == pfs[i].account
        assert d["initial_margin"] == float(lib.initial_margin[i])
        assert d["equity"] == float(lib.equity[i])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("pf", "mk", "n"), EXAMPLES)
def test_margin_table(examples: Path, pf: str, mk: str, n: int, model: str) -> None:
    r = invoke("margin", examples / pf, "--market", examples / mk, "--model", model)
    assert r.exit_code == 0, r.stderr
    for acc in load_portfolios(examples / pf)[0]:
        assert acc.account in r.stdout
    assert r.stdout.count(f"{model} margin") == n
    for label in ("initial margin", "maintenance margin", "equity", "status"):
        assert label in r.stdout


@pytest.mark.parametrize(("pf", "mk", "n"), EXAMPLES)
def test_explain_json_and_table(examples: Path, pf: str, mk: str, n: int) -> None:
    r = invoke("explain", examples / pf, "--market", examples / mk, "--format", "json")
    assert r.exit_code == 0, r.stderr
    for d in accounts_of(strict_json(r.stdout), n):
        check_margin_object(d, "portfolio")
        assert {"positions", "scenarios", "derivation", "collateral"} <= set(d)
        assert len(d["scenarios"]) == len(d["breakdown"])
        for s in d["scenarios"]:
            assert sum(c["worst"] for c in s["cells"]) == 1
    r = invoke("explain", examples / pf, "--market", examples / mk)
    assert r.exit_code == 0, r.stderr
    for section in ("1. collateral", "2. positions", "3. scenario P&L", "derivation", "◀"):
        assert section in r.stdout


@pytest.mark.parametrize("model", ["isolated", "cross"])
def test_explain_other_models(examples: Path, model: str) -> None:
    r = invoke(
        "explain",
        examples / "crypto_book.json",
        "--market",
        examples / "market_crypto.json",
        "--model",
        model,
    )
    assert r.exit_code == 0, r.stderr
    assert "sum of per-position IM" in r.stdout


@pytest.mark.parametrize(("pf", "mk", "n"), EXAMPLES)
def test_compare_json_and_table(examples: Path, pf: str, mk: str, n: int) -> None:
    r = invoke("compare", examples / pf, "--market", examples / mk, "--format", "json")
    assert r.exit_code == 0, r.stderr
    for d in accounts_of(strict_json(r.stdout), n):
        assert set(d["models"]) >= set(MODELS)
        iso = d["models"]["isolated"]["collateral_required"]
        for name, m in d["models"].items():
            assert m["capital_freed_vs_isolated"] == pytest.approx(
                iso - m["collateral_required"], abs=1e-6
            ), name
            assert m["status"] in STATUSES
        assert d["models"]["isolated"]["liquidation_scope"] == "position"
    r = invoke("compare", examples / pf, "--market", examples / mk)
    assert r.exit_code == 0, r.stderr
    for word in (
        "isolated",
        "cross",
        "portfolio",
        "capital freed vs isolated",
        "collateral required",
    ):
        assert word in r.stdout


def test_compare_models_option(examples: Path) -> None:
    r = invoke(
        "compare", examples / "crypto_book.json", "--market", examples / "market_crypto.json",
        "--models", "cross,portfolio", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert list(strict_json(r.stdout)["models"]) == ["cross", "portfolio"]


def test_price_json_and_table(examples: Path) -> None:
    names = [
        "BTC-PERP",
        "BTC-26DEC26",
        "BTC-26DEC26-70000-C",
        "ETH-26MAR27-2800-P",
        "BTC-26DEC26-80000-C-INV",
    ]
    r = invoke("price", *names, "--market", examples / "market_crypto.json", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = strict_json(r.stdout)
    assert [x["instrument"] for x in rows] == names
    for x in rows:
        assert {"instrument", "price", "delta", "gamma", "vega", "theta"} <= set(x)
        assert all(isinstance(x[k], float) for k in ("price", "delta", "gamma", "vega", "theta"))
    call = rows[2]
    assert 0 < call["delta"] < 1 and call["gamma"] > 0 and call["vega"] > 0 and call["theta"] < 0
    r = invoke("price", *names, "--market", examples / "market_crypto.json")
    assert r.exit_code == 0
    # on a narrow console a long name may wrap inside its cell but is never elided with "…"
    assert "…" not in r.stdout
    assert all(n[:12] in r.stdout for n in names)


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_whatif(examples: Path, fmt: str) -> None:
    r = invoke(
        "whatif", examples / "crypto_book.json", "--market", examples / "market_crypto.json",
        "--trade", "BTC-26DEC26-70000-C:5", "--trade", "ETH-PERP:10@3150", "--format", fmt,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    if fmt == "table":
        assert "allowed" in r.stdout and "before" in r.stdout and "after" in r.stdout
        return
    d = strict_json(r.stdout)
    for side in ("before", "after"):
        assert {"initial_margin", "maintenance_margin", "status", "equity"} <= set(d[side])
    assert isinstance(d["allowed"], bool) and d["allowed"] is True
    # buying back part of the short call reduces IM
    assert d["after"]["initial_margin"] < d["before"]["initial_margin"]


def test_whatif_needs_an_account_in_a_multi_account_file(examples: Path) -> None:
    args = (
        "whatif",
        examples / "venue_accounts.json",
        "--market",
        examples / "market_venue.json",
        "--trade",
        "BTC-PERP:-1",  # reduces pair-05's IM: allowed (exit 0)
    )
    r = invoke(*args)
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and "--account" in r.stderr
    r = invoke(*args, "--account", "nobody")
    assert r.exit_code == 2 and "nobody" in r.stderr
    r = invoke(*args, "--account", "pair-05", "--format", "json")
    assert r.exit_code == 0 and strict_json(r.stdout)["account"] == "pair-05"


@pytest.mark.parametrize("kind", ["portfolio", "market", "config"])
def test_schema(kind: str) -> None:
    r = invoke("schema", kind)
    assert r.exit_code == 0
    assert strict_json(r.stdout)["$schema"].startswith("https://json-schema.org/")


def test_models_lists_the_three(examples: Path) -> None:
    r = invoke("models")
    assert r.exit_code == 0 and all(m in r.stdout for m in MODELS)


def test_demo_runs_the_main_job() -> None:
    r = invoke("demo")
    assert r.exit_code == 0, r.stderr
    for title in ("(a) BTC+ETH", "(b) hedged book", "(c) SPX/NDX", "(d) multi-account batch"):
        assert title in r.stdout
    assert "capital freed vs isolated" in r.stdout


def test_plot_writes_a_png(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "heat.png"
    r = invoke(
        "margin",
        examples / "crypto_book.json",
        "--market",
        examples / "market_crypto.json",
        "--plot",
        out,
    )
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_plot_needs_a_scenario_model(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "heat.png"
    r = invoke(
        "margin", examples / "crypto_book.json", "--market", examples / "market_crypto.json",
        "--model", "cross", "--plot", out,
    )  # fmt: skip
    assert r.exit_code == 2 and "scenario" in r.stderr and not out.exists()


def test_custom_config_changes_the_number(examples: Path, tmp_path: Path) -> None:
    import yaml

    from crossmargin import default_config

    d = default_config().model_dump(mode="json")
    d["mm_factor"] = 0.5
    cfg = tmp_path / "risk.yaml"
    cfg.write_text(yaml.safe_dump(d))
    args = (
        "margin",
        examples / "crypto_book.json",
        "--market",
        examples / "market_crypto.json",
        "--format",
        "json",
    )
    base = strict_json(invoke(*args).stdout)
    custom = strict_json(invoke(*args, "--config", cfg).stdout)
    assert custom["initial_margin"] == pytest.approx(base["initial_margin"], rel=1e-12)
    assert custom["maintenance_margin"] == pytest.approx(0.5 * custom["initial_margin"], rel=1e-12)
    for g in custom["breakdown"]:
        assert g["maintenance_margin"] == pytest.approx(0.5 * g["initial_margin"], rel=1e-12)


def test_help_of_every_command() -> None:
    for cmd in ("margin", "compare", "explain", "price", "whatif", "batch", "schema", "demo"):
        r = invoke(cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.stdout


# --- real processes ---------------------------------------------------------------------------


def console_script() -> list[str]:
    exe = Path(sys.executable).with_name("crossmargin")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "crossmargin.cli.app"]


def test_subprocess_margin_json(examples: Path) -> None:
    p = subprocess.run(
        [*console_script(), "margin", str(examples / "hedged_book.json"), "--market",
         str(examples / "market_crypto.json"), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    d = strict_json(p.stdout)
    check_margin_object(d, "portfolio")
    assert np.isfinite(d["initial_margin"])


def test_subprocess_bad_input_exit_code_and_one_line(examples: Path, tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"account": "a", "positions": [{"instrument": "BTC-PERP", "quantity": NaN}]}')
    out = tmp_path / "heat.png"
    p = subprocess.run(
        [*console_script(), "margin", str(bad), "--market", str(examples / "market_crypto.json"),
         "--plot", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr == "error: positions[0].quantity: must be finite, got NaN\n"
    assert not out.exists()
