"""Monte Carlo scenario sets: PSD validation and repair, reproducibility, moments."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from crossmargin.config import default_config, load_config
from crossmargin.errors import ConfigError
from crossmargin.scenarios.montecarlo import (
    CorrelationRepairWarning,
    check_correlation,
    montecarlo_scenarios,
    nearest_correlation,
)

from .helpers import config, crypto_market, gbm_frame, history_of_frame, margin, portfolio

#: Higham's example is published to 4 decimals.
HIGHAM_TOL = 1e-4
NON_PSD = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]


def test_nearest_correlation_higham_example() -> None:
    # N. J. Higham, "Computing the nearest correlation matrix", IMA J. Numer. Anal. 22 (2002),
    # Section 4: A = [[1,1,0],[1,1,1],[0,1,1]] -> X with off-diagonals 0.7607 and 0.1573
    x = nearest_correlation(np.array([[1.0, 1, 0], [1, 1, 1], [0, 1, 1]]))
    expected = np.array([[1, 0.7607, 0.1573], [0.7607, 1, 0.7607], [0.1573, 0.7607, 1]])
    np.testing.assert_allclose(x, expected, atol=HIGHAM_TOL)
    assert np.linalg.eigvalsh(x).min() >= -1e-12


def test_non_psd_repaired_with_warning() -> None:
    with pytest.warns(CorrelationRepairWarning, match="not positive semi-definite"):
        fixed, report = check_correlation(np.array(NON_PSD), policy="repair")
    assert report["repaired"] is True and report["min_eigenvalue"] < 0
    assert np.linalg.eigvalsh(fixed).min() >= -1e-12
    np.testing.assert_allclose(np.diag(fixed), 1.0, atol=1e-12)
    np.testing.assert_allclose(fixed, fixed.T, atol=1e-12)


def test_non_psd_rejected_with_clear_message() -> None:
    with pytest.raises(ConfigError) as e:
        check_correlation(np.array(NON_PSD), policy="reject")
    assert e.value.path == "var.montecarlo.correlation"
    assert "not positive semi-definite (smallest eigenvalue" in e.value.reason


def test_psd_matrix_passes_unchanged() -> None:
    c = np.array([[1.0, 0.5], [0.5, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, report = check_correlation(c, policy="reject")
    assert out is c and report["repaired"] is False


@pytest.mark.parametrize(
    ("matrix", "why"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], "not symmetric"),
        ([[0.9, 0.5], [0.5, 1.0]], "diagonal entry [0][0] must be 1"),
        ([[1.0, 1.5], [1.5, 1.0]], "must be in [-1, 1]"),
        ([[1.0, 0.5]], "must be 2 x 2"),
    ],
)
def test_config_rejects_malformed_matrix(
    tmp_path: Path, matrix: list[list[float]], why: str
) -> None:
    d = default_config().model_dump(mode="json")
    d["var"]["montecarlo"]["correlation"] = {"assets": ["BTC", "ETH"], "matrix": matrix}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert e.value.path.startswith("config.var.montecarlo.correlation")
    assert why in e.value.reason


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory) -> object:
    df = gbm_frame(["BTC", "ETH"], n=900, vols=[0.6, 0.8], corr=0.5, start="2018-01-01")
    return history_of_frame(df, tmp_path_factory.mktemp("mc"))


def _mc(hist: object, **mc: object) -> object:
    cfg = config(method="mc", montecarlo={**default_config().var.montecarlo.model_dump(), **mc})
    return montecarlo_scenarios(
        hist,  # type: ignore[arg-type]
        ("BTC", "ETH"),
        as_of=datetime(2026, 1, 1, tzinfo=UTC),
        cfg=cfg.var,
        risk_class_of=cfg.risk_class_of,
    )


def test_reproducible_with_seed(hist: object) -> None:
    a, b = _mc(hist, seed=42), _mc(hist, seed=42)
    np.testing.assert_array_equal(a.spot_move, b.spot_move)
    np.testing.assert_array_equal(a.vol_move, b.vol_move)
    c = _mc(hist, seed=43)
    assert not np.array_equal(a.spot_move, c.spot_move)
    assert a.n_scenarios == 2000 and a.weight.sum() == pytest.approx(1.0)


def test_user_correlation_and_moments(hist: object) -> None:
    # 20 000 normal paths: sample correlation within 0.03 of the input (std error ~0.006)
    s = _mc(
        hist,
        paths=20_000,
        distribution="normal",
        correlation={"assets": ["ETH", "BTC"], "matrix": [[1.0, -0.3], [-0.3, 1.0]]},
    )
    x = np.log1p(s.spot_move)
    assert np.corrcoef(x)[0, 1] == pytest.approx(-0.3, abs=0.03)
    sd = s.info["daily_vol"]
    assert x[0].std() == pytest.approx(sd["BTC"] * np.sqrt(2.0), rel=0.03)
    assert s.info["correlation_source"] == "configuration"


def test_repair_policy_reaches_the_model(hist: object) -> None:
    spec = {"assets": ["BTC", "ETH", "SPX"], "matrix": NON_PSD}
    with pytest.warns(CorrelationRepairWarning):
        s = _mc(hist, correlation=spec)
    assert s.info["correlation_repair"]["repaired"] is True
    with pytest.raises(ConfigError, match="not positive semi-definite"):
        _mc(hist, correlation=spec, non_psd="reject")


def test_var_model_monte_carlo_is_reproducible(hist: object) -> None:
    snap = crypto_market(history=hist)  # type: ignore[arg-type]
    pf = portfolio(("BTC-PERP", 2.0), ("ETH-PERP", -30.0))
    cfg = config(method="mc", addons=())
    a = margin(pf, snap, "es", cfg).initial_margin[0]
    b = margin(pf, snap, "es", cfg).initial_margin[0]
    assert a == b and a > 0
