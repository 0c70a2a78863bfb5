"""Hostile preset parameters (``presets.<name>`` in the risk configuration).

Every numeric venue parameter of every preset refuses a string (``'0.8'``), a boolean
(``true``), NaN, infinities and null with a :class:`ConfigError` naming
``config.presets.<name>.<field>`` — the CLI prints it on one line and exits 2 — and never computes
a margin from it. YAML lists are read as the tuples the parameter models hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from crossmargin.cli.app import app
from crossmargin.config import default_config
from crossmargin.errors import ConfigError
from crossmargin.margin.presets import available_presets, preset_info, preset_params

HOSTILE: list[Any] = ["0.8", True, float("nan"), float("inf"), float("-inf"), None]


def _numeric_leaves(o: Any, pre: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _numeric_leaves(v, (*pre, str(k)))
    elif isinstance(o, int | float) and not isinstance(o, bool):
        yield pre, o


def _override(path: tuple[str, ...], v: Any) -> dict[str, Any]:
    out: Any = v
    for k in reversed(path):
        out = {k: out}
    return dict(out)


@pytest.mark.parametrize("name", available_presets())
def test_every_numeric_parameter_refuses_hostile_values(name: str) -> None:
    defaults = preset_info(name).defaults()
    leaves = list(_numeric_leaves(defaults.model_dump(mode="json")))
    assert leaves, name
    for path, _ in leaves:
        for v in HOSTILE:
            cfg = default_config().model_copy(update={"presets": {name: _override(path, v)}})
            with pytest.raises(ConfigError) as e:
                preset_params(name, cfg, defaults)
            assert e.value.path == f"config.presets.{name}." + ".".join(path), (path, v)


def test_yaml_lists_are_read_as_tuples() -> None:
    over = {"extended_moves": [-0.5, 0.5], "pairs": {"BTC": {"price_range": 0.2}}}
    cfg = default_config().model_copy(update={"presets": {"deribit-pm": over}})
    p = preset_params("deribit-pm", cfg, preset_info("deribit-pm").defaults())
    assert p.extended_moves == (-0.5, 0.5)  # type: ignore[attr-defined]
    tails = {"tails": [{"move": -0.5, "weight": 0.3}]}
    cfg = default_config().model_copy(update={"presets": {"paradex-pm": tails}})
    p = preset_params("paradex-pm", cfg, preset_info("paradex-pm").defaults())
    assert p.tails[0].weight == 0.3  # type: ignore[attr-defined]


def test_cli_one_line_for_a_string_parameter(tmp_path: Path, examples: Path) -> None:
    cfg = tmp_path / "risk.yaml"
    doc = default_config().model_dump(mode="json")
    doc["presets"] = {"drift-v2": {"default_perp": {"imf_factor": "0.8"}}}
    cfg.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(
        app,
        [
            "margin",
            str(examples / "crypto_book.json"),
            "--market",
            str(examples / "market_crypto.json"),
            "--model",
            "drift-v2",
            "--config",
            str(cfg),
        ],
    )
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: config.presets.drift-v2.default_perp.imf_factor:")
    assert "Traceback" not in res.output
