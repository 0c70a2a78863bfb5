"""Issue 9: shocks name known symbols once (any case), shock files are read by the shared JSON
reader; synthetic venues validate their seed and work on any snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossmargin.config import default_config
from crossmargin.errors import InputError
from crossmargin.liquidation import shocks
from crossmargin.liquidation.shocks import parse_shock

from .helpers import one_line_error, run

SYMBOLS = ["BTC", "ETH", "USDC"]


def _parse(text: str) -> shocks.ShockPath:
    return parse_shock(text, symbols=SYMBOLS, config=default_config())


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("BTCUSD=-0.5", "shock[0].BTCUSD", "unknown symbol 'BTCUSD'"),
        ("BTC=-0.1,vol.SOL=0.5", "shock[1].vol.SOL", "unknown symbol 'SOL'"),
        ("BTC=-0.1,btc=-0.5", "shock[1].btc", "'btc' repeats 'BTC'"),
        ("vol=0.1,VOL=0.5", "shock[1].VOL", "'VOL' repeats 'vol'"),
        ("vol.=0.1", "shock[0].vol.", "empty symbol"),
    ],
)
def test_command_line_moves(text: str, path: str, reason: str) -> None:
    with pytest.raises(InputError) as e:
        _parse(text)
    assert e.value.path == path and reason in e.value.reason


def test_known_symbols_in_any_case() -> None:
    s = _parse("btc=-0.2,Vol.eth=0.5,*=-0.1")
    assert s.spot["BTC"][0] == pytest.approx(0.8) and s.spot["*"][0] == pytest.approx(0.9)
    assert s.vol["ETH"][0] == pytest.approx(1.5)


def _file(tmp_path: Path, text: str | bytes) -> str:
    f = tmp_path / "s.json"
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text)
    return str(f)


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ('{"moves": {"BTC": -0.1, "btc": -0.5}}', "shock.moves.btc", "repeats 'BTC'"),
        ('{"moves": {"BTC": -0.1, "BTC": -0.5}}', "s.json", "duplicate key 'BTC'"),
        ('{"moves": {"BTCUSD": -0.5}}', "shock.moves.BTCUSD", "unknown symbol"),
        ('{"steps": [{"BTC": -0.1}, {"btc": -0.2}]}', "shock.steps[1].btc", "same symbol"),
        ('{"name": 5, "moves": {"BTC": -0.1}}', "shock.name", "must be a string"),
        ('{"moves": {"BTC": 1e400}}', "shock.moves.BTC", "finite"),
        ('{"moves": {"BTC": true}}', "shock.moves.BTC", "must be a number"),
        ('{"moves": {"BTC": -1}}', "shock.moves.BTC", "> -1"),
        ('{"moves": []}', "shock.moves", "must be an object"),
        ('{"steps": []}', "shock.steps", "non-empty list"),
        ('{"moves": {"BTC": -0.1}', "s.json", "not valid JSON"),
    ],
)
def test_shock_files(tmp_path: Path, text: str, path: str, reason: str) -> None:
    with pytest.raises(InputError) as e:
        _parse(_file(tmp_path, text))
    assert e.value.path.endswith(path) and reason in e.value.reason, e.value


def test_case_duplicates_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Before: ``{"BTC": -0.1, "btc": -0.5}`` kept one of the two by set order."""
    f = _file(tmp_path, '{"steps": [{"BTC": -0.1, "btc": -0.5, "ETH": 0}]}')
    with pytest.raises(InputError, match="repeats"):
        _parse(f)


def test_non_utf8_shock_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        _parse(_file(tmp_path, b'{"moves": {"BTC": -0.1, "n": "\xff"}}'))
    assert "UTF-8" in e.value.reason


def test_step_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shocks, "MAX_SHOCK_STEPS", 3)
    f = _file(tmp_path, json.dumps({"steps": [{"BTC": -0.1}] * 4}))
    with pytest.raises(InputError, match="more than 3 steps"):
        _parse(f)


def test_unknown_shock_symbol_through_the_cli(examples: Path, tmp_path: Path) -> None:
    """``--shock 'BTCUSD=-0.5'`` used to be no shock at all."""
    out = tmp_path / "c.json"
    for cmd in (
        ["cascade", "synthetic:5", "--out", out],
        ["liquidate", examples / "liquidation_book.json"],
    ):
        path, reason = one_line_error(
            run(*cmd, "-m", examples / "market_crypto.json", "--shock", "BTCUSD=-0.5")
        )
        assert path == "shock[0].BTCUSD" and "unknown symbol" in reason
    assert not out.exists()


def test_synthetic_seed_must_be_non_negative(examples: Path) -> None:
    path, reason = one_line_error(
        run("cascade", "synthetic:5:-1", "-m", examples / "market_crypto.json", "-s", "*=-0.2")
    )
    assert path == "venue" and "SEED" in reason


def test_synthetic_venue_without_btc(examples: Path) -> None:
    """The index snapshot has no BTC: one collateral asset per account (was a 0-d array)."""
    r = run("cascade", "synthetic:200", "-m", examples / "market_index.json", "-s", "*=-0.2",
            "--no-progress", "-f", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["venue"]["accounts"] == 200
    for regime in d["regimes"].values():
        assert abs(regime["conservation_error"]) <= 1e-6
