"""Issue 9 §2, §4, §5: strict types, strict names, physical ranges — each an error naming the field.

Booleans are not numbers, strings are not numbers (JSON and YAML alike); a YAML key given twice
is refused; an instrument named ``-PERP`` or with an exotic strike is refused; an absurd rate,
vol, confidence or forward is refused at the edge instead of scaling the margin.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import crossmargin as cm
from crossmargin.config import load_config
from crossmargin.errors import ConfigError, InputError

from .helpers import invoke

EX = Path(cm.__file__).parent / "examples"


def _pf(**pos: Any) -> dict[str, Any]:
    return {"account": "a", "positions": [{"instrument": "BTC-PERP", "quantity": 1, **pos}]}


@pytest.mark.parametrize(
    ("edit", "path", "why"),
    [
        ({"quantity": True}, "positions[0].quantity", "must be a number, got bool True"),
        ({"quantity": False}, "positions[0].quantity", "must be a number"),
        ({"quantity": "5"}, "positions[0].quantity", "must be a number, got str '5'"),
        ({"quantity": None}, "positions[0].quantity", "must be a number"),
        ({"quantity": [1]}, "positions[0].quantity", "must be a number"),
        ({"entry_price": True}, "positions[0].entry_price", "must be a number"),
        ({"entry_price": "64000"}, "positions[0].entry_price", "must be a number"),
        ({"quantity": 10**400}, "positions[0].quantity", "too large for a float"),
    ],
)
def test_portfolio_numbers_are_strict(edit: dict[str, Any], path: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        cm.portfolios_from_obj(_pf(**edit))
    assert e.value.path == path and why in e.value.reason


def test_collateral_and_currency_symbols_follow_the_rule() -> None:
    for bad in ("", "-USD", "US D", "1234", "X" * 33):
        with pytest.raises(InputError, match="not a symbol") as e:
            cm.portfolios_from_obj({"account": "a", "collateral": {bad: 1.0}})
        assert e.value.path == "collateral"
    with pytest.raises(InputError, match="not a symbol"):
        cm.portfolios_from_obj({"account": "a", "base_currency": "U-SD"})
    with pytest.raises(InputError, match="blank"):
        cm.portfolios_from_obj({"account": "  "})


def _config_text(old: str, new: str) -> str:
    text = resources.files("crossmargin.config").joinpath("default_risk.yaml").read_text("utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "path", "why"),
    [
        ("mm_factor: 0.8", "mm_factor: true", "config.mm_factor", "must be a number, got true"),
        (
            "mm_factor: 0.8",
            "mm_factor: '0.8'",
            "config.mm_factor",
            "must be a number, got str '0.8'",
        ),
        ("mm_factor: 0.8", "mm_factor: .nan", "config.mm_factor", "finite"),
        (
            "min_confidence: 0.9",
            "min_confidence: '0.9'",
            "config.market.min_confidence",
            "must be a number",
        ),
        (
            "max_age_seconds: 3600",
            "max_age_seconds: yes",
            "config.market.max_age_seconds",
            "must be a number",
        ),
        (
            "require_timestamps: true",
            "require_timestamps: 1",
            "config.market.require_timestamps",
            "true or false",
        ),
        ("fallbacks: warn", "fallbacks: maybe", "config.market.fallbacks", "'warn'"),
    ],
)
def test_config_numbers_and_flags_are_strict(
    tmp_path: Path, old: str, new: str, path: str, why: str
) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(_config_text(old, new))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert e.value.path == path and why in e.value.reason, str(e.value)


def test_config_duplicate_key_names_the_key_and_line(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(
        _config_text(
            "  max_age_seconds: 3600\n", "  max_age_seconds: 3600\n  max_age_seconds: 60\n"
        )
    )
    with pytest.raises(
        ConfigError, match=r"duplicate key 'max_age_seconds' at market.max_age_seconds \(line \d+\)"
    ):
        load_config(p)
    r = invoke("margin", EX / "crypto_book.json", "-m", EX / "market_crypto.json", "-c", p)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "duplicate key" in r.stderr


def test_config_built_in_code_is_validated_the_same_way() -> None:
    cfg = cm.default_config()
    for bad in (True, "0.8", math.nan, 2.0):
        with pytest.raises(ConfigError) as e:
            cfg.model_copy(update={"mm_factor": bad})
        assert e.value.path == "RiskConfig.mm_factor"
    with pytest.raises(ConfigError, match="required field is missing"):
        cm.RiskConfig()  # type: ignore[call-arg]
    assert cfg.model_copy(update={"mm_factor": 0.5}).mm_factor == 0.5


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("-PERP", "underlying '' is not a symbol"),
        (".-PERP", "underlying '.' is not a symbol"),
        ("123-PERP", "not a symbol"),
        ("BTC-PERP-INV-INV", "suffix -INV is given twice"),
        ("BTC-PERP-X2-X3", "given twice"),
        ("BTC-26DEC26-1e5-C", "positive decimal number"),
        ("BTC-26DEC26-1_000-C", "positive decimal number"),
        ("BTC-26DEC26-0x10-C", "positive decimal number"),
        ("BTC-26DEC26--5-C", "expected UND-PERP"),
        ("BTC-26DEC26-1d-C", "positive decimal number"),
        ("BTC-26DEC26-0-C", "positive decimal number"),
        ("BTC-26DEC26-" + "9" * 400 + "-C", "longer than 128"),
        ("BTC-26DEC26-" + "9" * 40 + "-C", "positive decimal number"),
        ("BTC-PERP-X0", "multiplier must be positive"),
        ("B TC-PERP", "not a symbol"),
        ("BTC-" + "P" * 200, "longer than 128"),
    ],
)
def test_instrument_names_are_strict(name: str, why: str) -> None:
    with pytest.raises(InputError, match="cannot parse instrument") as e:
        cm.parse_instrument(name, path="positions[0].instrument")
    assert why in e.value.reason and e.value.path == "positions[0].instrument"


def test_names_still_accepted() -> None:
    assert cm.parse_instrument("btc-26dec26-1d5-p-inv-x10").name == "BTC-26DEC26-1.5-P-INV-X10"
    assert cm.parse_instrument("1000PEPE-PERP").underlying == "1000PEPE"
    assert cm.parse_instrument("USDC.E-SPOT").underlying == "USDC.E"
    # canonical names parse back, also for strikes a float prints with an exponent
    opt = cm.contract_from_fields(
        {"kind": "option", "underlying": "BTC", "expiry": "26DEC26", "strike": 1e-5, "right": "C"}
    )
    assert opt.name == "BTC-26DEC26-0.00001-C" and cm.parse_instrument(opt.name) == opt


def _market(**asset: Any) -> dict[str, Any]:
    return {
        "as_of": "2026-11-22T08:00:00Z",
        "timestamp": "2026-11-22T08:00:00Z",
        "assets": {"BTC": {"price": 65_000.0, **asset}},
    }


@pytest.mark.parametrize(
    ("asset", "path", "why"),
    [
        ({"rate": -50}, "assets.BTC.rate", "between -1 and 1"),
        ({"rate": 5}, "assets.BTC.rate", "between -1 and 1"),
        ({"vol": 55}, "assets.BTC.vol", "at most 10"),
        ({"confidence": math.nan}, "assets.BTC.confidence", "finite"),
        ({"confidence": True}, "assets.BTC.confidence", "must be a number"),
        ({"price": "65000"}, "assets.BTC.price", "must be a number"),
        (
            {"perp": {"mark": 1.0, "funding_rate": 3}},
            "assets.BTC.perp.funding_rate",
            "less than or equal",
        ),
        (
            {"expiries": {"26DEC26": {"rate": -50}}},
            "assets.BTC.expiries.26DEC26.rate",
            "between -1 and 1",
        ),
        (
            {"expiries": {"26DEC26": {"vol": 0.5, "smile": {"strikes": [1], "vols": [0.5]}}}},
            "assets.BTC.expiries.26DEC26",
            "one of smile, svi or vol",
        ),
        (
            {"expiries": {"26DEC26": {"forward": 650_000.0}}},
            "assets.BTC.expiries.2026-12-26T08:00:00Z.forward",
            "10x the spot",
        ),
        (
            {"expiries": {"26DEC26": {"discount": 0.5}}},
            "assets.BTC.expiries.2026-12-26T08:00:00Z.discount",
            "implies a rate",
        ),
        (
            {"expiries": {"26DEC26": {"discount": 1.5}}},
            "assets.BTC.expiries.2026-12-26T08:00:00Z.discount",
            "implies a rate",
        ),
    ],
)
def test_market_ranges(asset: dict[str, Any], path: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        cm.market_from_obj(_market(**asset))
    assert e.value.path == path and why in e.value.reason, str(e.value)


def test_market_asset_keys_follow_the_symbol_rule() -> None:
    m = _market()
    m["assets"]["-PERP"] = {"price": 1.0}
    with pytest.raises(InputError, match="not a symbol") as e:
        cm.market_from_obj(m)
    assert e.value.path == "assets.-PERP"


def test_a_negative_rate_no_longer_cuts_margin(tmp_path: Path) -> None:
    """The finding: ``rate: -50`` on the index example cut the margin to 0.45x; now exit 2."""
    m = json.loads((EX / "market_index.json").read_text())
    m["assets"]["SPX"]["rate"] = -50
    for e in m["assets"]["SPX"]["expiries"].values():
        e.pop("forward")
        e.pop("discount")
    (tmp_path / "m.json").write_text(json.dumps(m))
    r = invoke("margin", EX / "index_book.json", "-m", tmp_path / "m.json")
    assert r.exit_code == 2 and r.stderr.startswith(
        "error: assets.SPX.rate: must be between -1 and 1"
    )


# -- SPAN risk arrays (fuzz finding: 1e308 gave "maintenance_margin": null) -------------------------
SPAN_FILE = Path(__file__).parents[1] / "presets" / "data" / "span_cme_inter_corn_soybeans.json"


def _span(tmp_path: Path, edit: Any) -> Path:
    doc = json.loads(SPAN_FILE.read_text())
    edit(doc)
    p = tmp_path / "span.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("value", [1e308, -1e308, 1.0000001e15])
def test_span_risk_array_values_are_bounded(tmp_path: Path, value: float) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["contracts"]["CORN-FUT"]["risk_array"][9] = value

    r = invoke("venue-case", "span", _span(tmp_path, edit), "-f", "json")
    assert r.exit_code == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.strip().startswith(
        "error: contracts.CORN-FUT.risk_array[9]: must be within ±1e+15, got"
    ), r.stderr


def test_span_total_overflowing_to_inf_is_refused_not_null(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:  # every value in range; the product overflows
        d["contracts"]["CORN-FUT"]["risk_array"] = [1e15] * 16
        d["accounts"][0]["positions"][0]["quantity"] = 1e300

    r = invoke("venue-case", "span", _span(tmp_path, edit), "-f", "json")
    assert r.exit_code == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.startswith("error: accounts[0].maintenance_margin: SPAN maintenance_margin is ")
    assert "not a finite number" in r.stderr and len(r.stderr.splitlines()) == 1


def test_span_within_the_bound_still_margins(tmp_path: Path) -> None:
    r = invoke("venue-case", "span", SPAN_FILE, "-f", "json")
    assert r.exit_code == 0, r.stderr
    accounts = json.loads(r.stdout)["accounts"]
    assert accounts and all(math.isfinite(a["maintenance_margin"]) for a in accounts)
