"""The releasable anti-procyclicality buffer (``var.anti_procyclicality: releasable_buffer``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin import explain_dict
from crossmargin.config import default_config
from crossmargin.errors import ConfigError, ModelError
from crossmargin.margin.apc import account_ratio, release_factor, stress_ratios

from .helpers import AS_OF, addon, config, crypto_market, gbm_frame, history_of_frame, margin
from .helpers import portfolio as pf

REL = 1e-9
ratios = st.floats(min_value=0.0, max_value=50.0, allow_nan=False)
buffers = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
starts = st.floats(min_value=0.1, max_value=5.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(ratios, ratios, buffers, starts, st.floats(min_value=0.0, max_value=1e9))
def test_release_factor_properties(x: float, y: float, b: float, x0: float, r: float) -> None:
    lo, hi = sorted((x, y))
    f_lo, f_hi = release_factor(np.asarray([lo, hi]), b, x0)
    # in [0, 1], full in calm markets, exhausted from (1 + b)·x0, non-increasing in the stress
    assert 0.0 <= f_hi <= f_lo <= 1.0
    if lo <= x0:
        assert f_lo == 1.0
    if b > 0 and hi >= (1 + b) * x0 * (1 + 1e-12):
        assert f_hi == 0.0
    # the margin is never below the core measure, and the buffer (rate) falls as stress rises
    assert r * (1 + b * f_lo) >= r and b * f_hi <= b * f_lo
    # with a core proportional to the stress (FHS: R ∝ current vol) the margin never falls
    # while the stress rises: the buffer absorbs the rise, it does not reverse it
    assert hi * (1 + b * f_hi) >= lo * (1 + b * f_lo) * (1 - 1e-12)


def test_release_factor_values() -> None:
    f = release_factor(np.asarray([0.5, 1.0, 1.1, 1.25, 2.0]), 0.25, 1.0)
    assert f == pytest.approx([1.0, 1.0, (1.25 / 1.1 - 1) / 0.25, 0.0, 0.0])
    assert release_factor(np.asarray([3.0]), 0.0, 1.0) == pytest.approx([1.0])


def test_account_ratio_weights_by_standalone() -> None:
    r = np.asarray([[1.0, 3.0], [1.0, 3.0], [2.0, 4.0]])
    w = np.asarray([[1.0, 1.0], [3.0, -1.0], [0.0, 0.0]])
    assert account_ratio(r, w) == pytest.approx([2.0, 1.0, 3.0])


def _regime_history(tmp: Path, *, final_vol: float, days: int = 1200) -> object:
    """BTC/ETH at 60 % vol, the last 40 days at ``final_vol`` (annual)."""
    df = gbm_frame(["BTC", "ETH"], n=days, vols=[0.6, 0.8], corr=0.6, seed=7)
    rng = np.random.default_rng(3)
    tail = rng.standard_normal((40, 2)) * final_vol / np.sqrt(365.0)
    logp = np.log(df[["BTC", "ETH"]].to_numpy())
    logp[-40:] = logp[-41] + np.cumsum(tail, axis=0)
    df[["BTC", "ETH"]] = np.exp(logp)
    return history_of_frame(pd.DataFrame(df), tmp)


RB = {"addons": (), "anti_procyclicality": "releasable_buffer", "stress_weight": 0.0}


def test_stress_ratio_of_calm_and_stressed_history(tmp_path: Path) -> None:
    cfg = default_config().var
    calm = stress_ratios(_regime_history(tmp_path, final_vol=0.6), ("BTC",), AS_OF, cfg)
    hot = stress_ratios(_regime_history(tmp_path, final_vol=2.4), ("BTC",), AS_OF, cfg)
    assert 0.6 < calm.ratio[0] < 1.4
    assert hot.ratio[0] > 2.0
    # the whole history is inside the 10-year window; it ends at the last close before as_of
    assert calm.observations == 1199 and calm.window.endswith("2021-04-14")


def test_buffer_is_full_in_calm_markets_and_released_in_stress(tmp_path: Path) -> None:
    b = pf(("BTC-PERP", 2.0), ("ETH-PERP", -20.0))
    for vol, full in ((0.3, True), (2.4, False)):
        snap = crypto_market(history=_regime_history(tmp_path, final_vol=vol))
        base = float(
            margin(b, snap, "es", config(**(RB | {"anti_procyclicality": "none"}))).initial_margin[
                0
            ]
        )
        res = margin(b, snap, "es", config(**RB))
        md = explain_dict(res, 0)["model_detail"]["anti_procyclicality"]
        f = md["release_factor"]
        assert f == (1.0 if full else 0.0)
        assert res.initial_margin[0] == pytest.approx(base * (1 + 0.25 * f), rel=REL)
        assert addon(res, "apc_buffer") == pytest.approx(md["amount"], rel=REL)
        assert md["buffer_applied"] == pytest.approx(0.25 * f)
        assert set(md["vol_ratio"]) == {"BTC", "ETH"}
        lines = explain_dict(res, 0)["derivation"]
        assert any("release factor" in ln for ln in lines)


def test_partial_release_is_explained(tmp_path: Path) -> None:
    snap = crypto_market(history=_regime_history(tmp_path, final_vol=0.6))
    b = pf(("BTC-PERP", 1.0))
    res = margin(b, snap, "var", config(**RB))
    md = explain_dict(res, 0)["model_detail"]["anti_procyclicality"]
    x = md["stress_ratio"]
    assert md["release_factor"] == pytest.approx(float(release_factor(np.asarray([x]), 0.25, 1)[0]))
    assert md["stress_ratio"] == pytest.approx(md["vol_ratio"]["BTC"])


def test_too_short_a_history_is_an_error(tmp_path: Path) -> None:
    snap = crypto_market(history=_regime_history(tmp_path, final_vol=0.6, days=400))
    b = pf(("BTC-PERP", 1.0))
    cfg = config(**RB, apc_release_window_days=200, min_observations=250, lookback_days=365)
    with pytest.raises(ModelError, match="anti-procyclicality window"):
        margin(b, snap, "es", cfg)


def test_the_shipped_default_is_the_releasable_buffer_alone() -> None:
    """docs/calibration.md §6.2: one Art. 28(1) measure, the stress weighting by opt-in."""
    v = default_config().var
    assert (v.anti_procyclicality, v.stress_weight, v.apc_buffer) == (
        "releasable_buffer",
        0.0,
        0.25,
    )
    # the named stress periods stay configured: `stress_weight: 0.25` switches them on
    assert [p.label for p in v.stress_periods] == ["GFC", "crypto 2018 bust"]
    snap = crypto_market()
    b = pf(("BTC-PERP", 2.0), ("ETH-PERP", -20.0))
    dflt = explain_dict(margin(b, snap, "es", config(addons=())), 0)["model_detail"]
    assert dflt["scenario_set"]["stress_scenarios"] == 0
    assert dflt["scenario_set"]["stress_periods"] == []
    assert dflt["anti_procyclicality"]["option"] == "releasable_buffer"
    opt_in = margin(b, snap, "es", config(addons=(), stress_weight=0.25))
    detail = explain_dict(opt_in, 0)["model_detail"]
    assert detail["scenario_set"]["stress_scenarios"] > 0
    assert detail["anti_procyclicality"]["option"] == "releasable_buffer"
    # choosing the stress-weight option alone names the weight it needs
    with pytest.raises(ConfigError, match=r"set var\.stress_weight: 0\.25"):
        config(anti_procyclicality="stress_weight")
    assert config(anti_procyclicality="stress_weight", stress_weight=0.25).var.stress_weight == 0.25
