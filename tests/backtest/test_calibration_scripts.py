"""The calibration study's scripts still run against today's library (issue 13).

The study (``benchmarks/calibration``, docs/calibration.md) runs for minutes to hours, so CI
never runs it; these smoke tests keep it from rotting silently when the library changes under
it: every study module imports, and the vectorised ``var``/``es`` replica (``fastvar.py``) runs
on a tiny replay (eight days of a BTC/ETH options-and-perps book, the default configuration and
the recommended overlay, which moves ETH to its own risk class) and still agrees with the
library's per-day resolution (reference: the library itself, tolerance 1e-12 relative, the
bound docs/calibration.md states; the study measured ≤ 2.9e-14); and the page's generated
tables and figures still regenerate from the committed JSON. A few seconds of CPU.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "benchmarks" / "calibration"
MODULES = (
    "common",
    "fastvar",
    "evaluate",
    "varparts",
    "portfolio_params",
    "s1_baseline",
    "s1b_replica_check",
    "s2_search_portfolio",
    "s2b_volgrid",
    "s3_search_var",
    "s4_netting",
    "s5_validate",
    "s5b_apc_curve",
    "s6_figures",
    "s7_tables",
    "validation_tables",
)
TOL = 1e-12


@pytest.fixture(scope="module")
def study() -> Iterator[dict[str, ModuleType]]:
    """The study modules, imported the way the scripts import each other (flat names)."""
    sys.path.insert(0, str(STUDY))
    try:
        yield {m: importlib.import_module(m) for m in MODULES}
    finally:
        sys.path.remove(str(STUDY))


def test_every_study_module_imports(study: dict[str, ModuleType]) -> None:
    for name in MODULES:
        assert Path(study[name].__file__ or "").parent == STUDY, name
    for script in [m for m in MODULES if m.startswith(("s", "validation"))]:
        assert callable(study[script].main), script


def _tiny(study: dict[str, ModuleType], overlay: dict[str, Any] | None) -> tuple[Any, Any]:
    from crossmargin.backtest.replay import ReplayOptions, prepare

    C = study["common"]
    cfg = C.overlay_config(overlay)
    opts = ReplayOptions(mpor=2, start="2022-11-07", end="2022-11-16", cleaning=C.CLEANING)
    return prepare(C.book("crypto_options_perps"), C.load_study_history(), cfg, opts), cfg


@pytest.mark.parametrize("which", ["default", "overlay"])
def test_replica_agrees_with_the_library_on_a_tiny_book(
    study: dict[str, ModuleType], which: str
) -> None:
    C, F = study["common"], study["fastvar"]
    overlay = (
        C.load_overlay(ROOT / "docs" / "calibration_overlay.yaml") if which == "overlay" else None
    )
    rep, cfg = _tiny(study, overlay)
    assert rep.n_days >= 5
    parts = F.Replica(rep, cfg).run_many(("var", "es"))
    for kind, vp in parts.items():
        assert np.all(vp.ok), kind
        chk = F.check_against_library(rep, cfg, kind, vp, n_probe=2)
        assert chk["library_failures"] == 0, kind
        for key in ("max_rel_diff_im", "max_rel_diff_standalone", "max_rel_diff_position_alone"):
            assert chk[key] is not None and chk[key] <= TOL, (kind, key, chk[key])
        # the study's summaries (targets, hindsight constant) and the netting rule still run
        capped = F.netting_never_costs(vp)["im"]
        assert np.all(capped <= vp.im * (1 + 1e-12) + 1e-9), kind
        s = C.model_summary(rep, vp.run(cfg.mm_factor), isolated=None, config=cfg)
        assert s["windows"] > 0 and "targets" in s, kind


def test_doc_tables_and_a_figure_regenerate_from_the_stored_json(
    study: dict[str, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `s7_tables.py` and `s6_figures.py --docs` read only the committed JSON: the page's
    # generated tables must be what they print, and a figure must still draw (into a temporary
    # directory, so the committed figures stay as they are; one figure keeps this fast)
    T, S = study["s7_tables"], study["s6_figures"]
    doc = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert T.oos_counts() in doc and T.oos_table() in doc and T.apc_curve_table() in doc
    monkeypatch.setattr(S, "DOC_FIGURES", tmp_path)
    val, base = S._load("validation"), S._load("baseline")
    png = S.validation_figure("btc_static", val, base)
    assert png == tmp_path / "validation_btc_static.png" and png.stat().st_size > 10_000
