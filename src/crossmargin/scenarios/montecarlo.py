"""Monte Carlo scenario sets from a correlation matrix (seeded, reproducible).

Daily log returns of the core assets are drawn as ``X = σ_d √h · L Z`` with

* ``σ_d`` each asset's current EWMA daily volatility (λ of the VaR configuration) from the
  history — the same filter as FHS;
* ``L`` a square root of the correlation matrix ``C``: the user's (``montecarlo.correlation``)
  or the correlation of the EWMA-standardised returns over the lookback;
* ``Z`` standard normal, or multivariate Student-t with ``ν`` degrees of freedom rescaled to unit
  variance (``Z = N · sqrt((ν − 2) / χ²_ν)``, a common mixing variable: joint fat tails);
* ``h`` = MPOR in days (a simulation has no overlapping windows, so here — and only here — the
  MPOR enters by ``√h`` scaling).

Implied vols respond to the simulated return with the risk class's ``β X + γ |X|``. A user
matrix must be a correlation matrix: symmetric with unit diagonal (checked when the
configuration is loaded) and positive semi-definite. A non-PSD matrix is rejected, or — with
``non_psd: repair`` — replaced by the nearest correlation matrix in the Frobenius norm
(N. J. Higham, "Computing the nearest correlation matrix — a problem from finance", IMA J.
Numer. Anal. 22, 2002: alternating projections with Dykstra's correction) and a
:class:`CorrelationRepairWarning` is issued; the repair and its distance are reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.config.model import VarConfig, VolResponse
from crossmargin.errors import ConfigError
from crossmargin.market.history import PriceHistory, as_datetime64
from crossmargin.market.returns import ewma_variance, joint_returns
from crossmargin.scenarios.historical import add_depeg, mpor_observations, vol_moves
from crossmargin.scenarios.joint import SEGMENT_MC, JointScenarioSet

__all__ = [
    "CorrelationRepairWarning",
    "check_correlation",
    "montecarlo_scenarios",
    "nearest_correlation",
]

#: Smallest eigenvalue accepted as positive semi-definite (rounding of a valid matrix).
PSD_TOL = 1e-10


class CorrelationRepairWarning(UserWarning):
    """A non-PSD correlation matrix was replaced by the nearest correlation matrix."""


def nearest_correlation(a: FloatArray, *, tol: float = 1e-12, max_iter: int = 500) -> FloatArray:
    """Nearest correlation matrix to symmetric ``a`` (Higham 2002, Frobenius norm)."""
    y = np.array(a, dtype=np.float64)
    ds = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - ds
        w, v = np.linalg.eigh((r + r.T) / 2.0)
        x = (v * np.maximum(w, 0.0)) @ v.T
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        scale = max(1.0, float(np.linalg.norm(y, "fro")))
        if float(np.linalg.norm(y_new - y, "fro")) <= tol * scale:
            y = y_new
            break
        y = y_new
    # guard against rounding: tiny negative eigenvalues, then unit diagonal again
    w, v = np.linalg.eigh((y + y.T) / 2.0)
    y = (v * np.maximum(w, 0.0)) @ v.T
    d = np.sqrt(np.diag(y))
    return np.asarray(np.clip(y / np.outer(d, d), -1.0, 1.0), dtype=np.float64)


def check_correlation(
    c: FloatArray, *, policy: str, path: str = "var.montecarlo.correlation"
) -> tuple[FloatArray, dict[str, float | bool]]:
    """Validate that ``c`` is PSD; repair (with a warning) or reject per ``policy``.

    Returns
    -------
    matrix, report
        The matrix to use and ``{"repaired", "min_eigenvalue", "frobenius_change"}``.

    Raises
    ------
    ConfigError
        Non-PSD and ``policy == "reject"``.
    """
    lam = float(np.linalg.eigvalsh(c).min())
    if lam >= -PSD_TOL:
        return c, {"repaired": False, "min_eigenvalue": lam, "frobenius_change": 0.0}
    if policy == "reject":
        raise ConfigError(
            f"correlation matrix is not positive semi-definite (smallest eigenvalue {lam:.4g}); "
            "fix it or set non_psd: repair",
            path=path,
        )
    fixed = nearest_correlation(c)
    dist = float(np.linalg.norm(fixed - c, "fro"))
    warnings.warn(
        f"{path}: correlation matrix is not positive semi-definite (smallest eigenvalue "
        f"{lam:.4g}); replaced by the nearest correlation matrix (Frobenius change {dist:.4g})",
        CorrelationRepairWarning,
        stacklevel=2,
    )
    return fixed, {"repaired": True, "min_eigenvalue": lam, "frobenius_change": dist}


def _user_matrix(
    cfg: VarConfig, core: Sequence[str]
) -> tuple[FloatArray, dict[str, float | bool]] | None:
    """The configured matrix, checked (and repaired) as a whole, restricted to ``core``."""
    spec = cfg.montecarlo.correlation
    if spec is None:
        return None
    missing = [a for a in core if a not in spec.assets]
    if missing:
        raise ConfigError(
            f"correlation matrix has no row for {', '.join(missing)}",
            path="var.montecarlo.correlation.assets",
        )
    m, report = check_correlation(
        np.asarray(spec.matrix, dtype=np.float64), policy=cfg.montecarlo.non_psd
    )
    ix = [spec.assets.index(a) for a in core]
    return np.asarray(m[np.ix_(ix, ix)], dtype=np.float64), report


def montecarlo_scenarios(
    history: PriceHistory,
    core: Sequence[str],
    *,
    as_of: datetime,
    cfg: VarConfig,
    risk_class_of: Callable[[str], str | None],
    stable_prices: Mapping[str, float] | None = None,
) -> JointScenarioSet:
    """Simulate ``montecarlo.paths`` joint scenarios of the ``core`` assets (module docstring).

    Raises
    ------
    MarketDataError
        A core asset has no history (its volatility is estimated from it).
    ConfigError
        The user correlation matrix misses an asset, or is not PSD under ``reject``.
    """
    mc = cfg.montecarlo
    jr = joint_returns(
        history,
        core,
        until=as_datetime64(as_of),
        max_gap_days=cfg.max_gap_days,
        needed_by="monte carlo",
    )
    x = np.where(jr.valid[:, None], jr.x, np.nan)
    var_t, var_now = ewma_variance(x, cfg.ewma_lambda)
    sigma = np.sqrt(var_now)
    user = _user_matrix(cfg, core)
    if user is None:
        span = np.timedelta64(int(cfg.lookback_days * 86_400e9), "ns")
        recent = (jr.times[1:] > jr.times[-1] - span) & jr.valid
        z = (x / np.sqrt(var_t))[recent]
        corr = np.corrcoef(z, rowvar=False) if len(core) > 1 else np.ones((1, 1))
        corr = np.atleast_2d(np.asarray(corr, dtype=np.float64))
        source = "EWMA-standardised returns over the lookback"
        report: dict[str, float | bool] = {"repaired": False}
    else:
        corr, report = user
        source = "configuration"
    w, v = np.linalg.eigh(corr)
    root = v * np.sqrt(np.maximum(w, 0.0))
    rng = np.random.default_rng(mc.seed)
    n = mc.paths
    Z = rng.standard_normal((n, len(core))) @ root.T
    if mc.distribution == "student_t":
        chi = rng.chisquare(mc.dof, size=n)
        Z *= np.sqrt((mc.dof - 2.0) / chi)[:, None]
    h = mpor_observations(cfg.mpor_days, 1.0)
    X = Z * (sigma * np.sqrt(cfg.mpor_days / max(jr.spacing_days, 1e-9)))[None, :]
    V = np.column_stack(
        [
            vol_moves(X[:, j], cfg.vol_response.get(risk_class_of(a) or "", VolResponse()))
            for j, a in enumerate(core)
        ]
    )
    seg = np.full(n, SEGMENT_MC, np.int64)
    spot, vol, assets, labels, seg = add_depeg(
        np.expm1(X).T.copy(),
        V.T.copy(),
        list(core),
        [f"path {k + 1}" for k in range(n)],
        seg,
        cfg,
        stable_prices,
    )
    info = {
        "method": f"monte carlo ({mc.distribution}"
        + (f", {mc.dof:g} dof" if mc.distribution == "student_t" else "")
        + f", {n} paths, seed {mc.seed})",
        "history": history.source,
        "history_end": str(np.datetime_as_string(jr.times[-1], unit="D")),
        "correlation_source": source,
        "correlation": [[round(float(c), 6) for c in r] for r in corr],
        "correlation_repair": report,
        "daily_vol": {a: float(s) for a, s in zip(core, sigma, strict=True)},
        "mpor_days": cfg.mpor_days,
        "mpor_observations": h,
    }
    return JointScenarioSet(
        tuple(assets),
        np.ascontiguousarray(spot),
        np.ascontiguousarray(vol),
        np.full(seg.size, 1.0 / seg.size),
        tuple(labels),
        seg,
        info,
    )
