"""Config overlays: a partial YAML over the shipped defaults; ``crossmargin config show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.edges.helpers import one_line_error, run

from crossmargin.config import config_layers, default_config, load_config
from crossmargin.config.layers import BUILT_IN, merge_overlay
from crossmargin.config.model import DEFAULTS_FILE, default_data
from crossmargin.errors import ConfigError

EX = Path(__file__).resolve().parents[2] / "src" / "crossmargin" / "examples"
BOOK = ("margin", EX / "crypto_book.json", "-m", EX / "market_crypto.json", "-f", "json")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "risk.yaml"
    p.write_text(text)
    return p


def test_partial_file_changes_only_what_it_names(tmp_path: Path) -> None:
    p = _write(tmp_path, "mm_factor: 0.6\nrisk_classes:\n  crypto:\n    grid:\n      vol_up: 0.7\n")
    cfg, base = load_config(p), default_config()
    assert cfg.mm_factor == 0.6
    assert cfg.risk_classes["crypto"].grid.vol_up == 0.7
    # the rest of the crypto grid, the other classes and every other section are the defaults
    assert cfg.risk_classes["crypto"].grid.model_copy(update={"vol_up": 0.5}) == (
        base.risk_classes["crypto"].grid
    )
    assert cfg.risk_classes["equity_index"] == base.risk_classes["equity_index"]
    assert cfg.model_copy(update={"mm_factor": 0.8, "risk_classes": base.risk_classes}) == base


def test_partial_file_on_the_command_line_moves_the_margin(tmp_path: Path) -> None:
    p = _write(tmp_path, "mm_factor: 0.5\n")
    base = json.loads(run(*BOOK).stdout)
    got = json.loads(run(*BOOK, "--config", p).stdout)
    assert got["initial_margin"] == pytest.approx(base["initial_margin"], rel=1e-12)
    assert got["maintenance_margin"] == pytest.approx(0.5 * got["initial_margin"], rel=1e-12)


def test_a_full_file_still_works_and_equals_the_defaults(tmp_path: Path) -> None:
    p = _write(tmp_path, yaml.safe_dump(default_config().model_dump(mode="json")))
    assert load_config(p) == default_config()


def test_lists_replace_and_null_removes(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "inter_commodity: []\n"
        "risk_classes: {crypto: {grid: {tail_moves: [-0.5]}}}\n"
        "collateral: {USDT: null}\n"
        "default_risk_class: null\n",
    )
    eff = config_layers(p)
    cfg = eff.config
    assert cfg.inter_commodity == ()
    assert cfg.risk_classes["crypto"].grid.tail_moves == (-0.5,)
    assert "USDT" not in cfg.collateral and "USDC" in cfg.collateral
    assert cfg.default_risk_class is None
    assert set(eff.removed) == {"collateral.USDT", "default_risk_class"}


def test_merge_overlay_does_not_touch_its_inputs() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 2}
    over = {"a": {"b": 3}, "d": None}
    out = merge_overlay(base, over)
    assert out == {"a": {"b": 3, "c": [1, 2]}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 2} and over == {"a": {"b": 3}, "d": None}


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("mm_factr: 0.5\n", "config.mm_factr", "unknown field"),
        ("risk_classes: {crypto: {grid: {vol_upp: 0.5}}}\n",
         "config.risk_classes.crypto.grid.vol_upp", "unknown field"),
        ("mm_factor: '0.5'\n", "config.mm_factor", "must be a number"),
        ("market: {max_age_seconds: true}\n", "config.market.max_age_seconds", "must be a number"),
        ("risk_classes: {crypto: {grid: 5}}\n", "config.risk_classes.crypto.grid", ""),
        ("mm_factor: null\n", "config.mm_factor", "required field is missing"),
        ("risk_classes: {rates: {grid: {vol_up: 0.5}}}\n", "config.risk_classes.rates", ""),
        ("- 1\n- 2\n", "config", "must be a mapping"),
    ],
)  # fmt: skip
def test_unknown_keys_and_wrong_types_are_refused_naming_the_field(
    tmp_path: Path, text: str, path: str, reason: str
) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert e.value.path.startswith(path) and reason in e.value.reason, str(e.value)
    got_path, got_reason = one_line_error(run(*BOOK, "--config", p))
    assert got_path.startswith(path) and reason in got_reason


def test_sources_name_the_file_the_defaults_or_the_schema(tmp_path: Path) -> None:
    p = _write(tmp_path, "mm_factor: 0.7\nvar: {stress_periods: []}\n")
    eff = config_layers(p)
    assert eff.layers == (DEFAULTS_FILE, str(p))
    assert eff.sources["mm_factor"] == str(p)
    assert eff.sources["var.stress_periods"] == str(p)
    assert eff.sources["risk_classes.crypto.grid.vol_up"] == DEFAULTS_FILE
    assert eff.sources["liquidation.cascade.max_rounds"] in (DEFAULTS_FILE, BUILT_IN)
    # every leaf of the effective configuration has a source, and nothing else does
    leaves: set[str] = set()

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)
        else:
            leaves.add(path)

    walk(eff.config.model_dump(mode="json"), "")
    assert set(eff.sources) == leaves
    # a value the shipped file does not set comes from the schema
    defaults = default_data()
    built_in = [k for k, v in config_layers(None).sources.items() if v == BUILT_IN]
    assert built_in, "the shipped file sets every field: no schema default to attribute"
    for key in built_in:
        node: object = defaults
        for part in key.split("."):
            assert isinstance(node, dict)
            if part not in node:
                break
            node = node[part]
        else:
            raise AssertionError(f"{key} is set by {DEFAULTS_FILE} but attributed to the schema")


def test_config_show_prints_a_valid_file_with_sources(tmp_path: Path) -> None:
    p = _write(tmp_path, "mm_factor: 0.7\ncollateral: {USDT: null}\n")
    r = run("config", "show", "-c", p)
    assert r.exit_code == 0, r.stderr
    assert f"mm_factor: 0.7  # {p}" in r.stdout
    assert "vol_up: 0.5  # default_risk.yaml" in r.stdout
    assert f"  USDT: null  # {p} (null: removed)" in r.stdout
    shown = tmp_path / "shown.yaml"
    shown.write_text(r.stdout)
    assert load_config(shown) == load_config(p)  # the annotated text is itself the config
    only = run("config", "show", "-c", p, "--changed").stdout
    assert "mm_factor: 0.7" in only and "USDT: null" in only and "vol_up" not in only
    doc = json.loads(run("config", "show", "-c", p, "-f", "json").stdout)
    assert doc["config"]["mm_factor"] == 0.7 and doc["sources"]["mm_factor"] == str(p)
    assert doc["removed"] == ["collateral.USDT"]
    plain = run("config", "show")
    assert (
        plain.exit_code == 0
        and "# default_risk.yaml" in plain.stdout
        and str(p) not in plain.stdout
    )


def test_config_show_errors_are_one_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "mm_factor: 2.0\n")
    path, _ = one_line_error(run("config", "show", "-c", p))
    assert path == "config.mm_factor"
    path, _ = one_line_error(run("config", "show", "--changed"))
    assert path == "--changed"
    path, _ = one_line_error(run("config", "show", "-c", tmp_path / "missing.yaml"))
    assert "missing.yaml" in path


def test_the_shipped_file_parses_the_same_with_the_fast_and_the_strict_parser() -> None:
    from importlib import resources

    from crossmargin.limits import parse_yaml

    text = resources.files("crossmargin.config").joinpath(DEFAULTS_FILE).read_text("utf-8")
    assert default_data() == parse_yaml(text, source=DEFAULTS_FILE)
    first = default_data()
    first["mm_factor"] = 0.1  # a fresh copy each time: the cached tree is not shared
    assert default_data()["mm_factor"] != 0.1
