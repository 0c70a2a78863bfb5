"""The releasable anti-procyclicality buffer of ``var``/``es`` (EMIR RTS 153/2013 Art. 28(1)(a)).

Art. 28(1)(a) allows "a margin buffer at least equal to 25 % of the calculated margins which
[the CCP] allows to be temporarily exhausted in periods where calculated margin requirements
are rising significantly"; ESMA's 2018 guidelines on anti-procyclicality margin measures ask
for the conditions of its release and rebuild to be defined in advance. A buffer that is never released only scales
the margin and leaves its peak-to-trough and its rises unchanged or larger. Here the buffer is
released by the *market state visible in the history at* ``as_of``, so a point-in-time run on
one snapshot (no previous margin) gives the same answer as a daily run:

1. **stress ratio** per asset: ``x_a = σ_now / σ_long`` — the EWMA volatility at ``as_of``
   (λ = ``var.ewma_lambda``, the filter of FHS) over the realised volatility (root mean square
   return) of the last ``var.apc_release_window_days`` (10 years by default, the horizon of the
   Art. 28(1)(c) floor), on the common calendar of the account's underlyings. Fewer than
   ``var.min_observations`` returns in that window is an error, never a smaller margin.
2. **account ratio** ``x``: the assets' ratios weighted by the account's stand-alone measure
   per underlying (where its risk is);
3. **release factor** ``f(x) = clip(((1 + b)·x₀ / x − 1) / b, 0, 1)`` with ``b`` =
   ``var.apc_buffer`` and ``x₀`` = ``var.apc_release_from``: 1 (whole buffer) while
   ``x ≤ x₀``, 0 (buffer exhausted) from ``x ≥ (1 + b)·x₀``;
4. **buffer** ``b · f(x) · R`` on the core measure ``R``.

Between the two thresholds ``R · (1 + b·f) = (1 + b)·x₀·R / x``: with a core measure
proportional to current volatility (FHS: ``R ∝ σ_now``) the margin is held *flat* while
volatility rises by the buffer — the buffer absorbs the first ``b`` of a rise — and the
requirement is never below the core measure, nor decreasing in ``x`` when ``R ∝ x``. CCPs that
use the Art. 28(1)(a) buffer set out when it is released and rebuilt in their public APC
disclosures (e.g. LCH, Eurex Clearing); here both follow current volatility; D. Murphy, M. Vasios and N. Vause (Bank of England Financial Stability Paper 29, 2014)
show that an unreleased buffer does not reduce procyclicality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.config.model import VarConfig
from crossmargin.errors import ModelError
from crossmargin.market.history import PriceHistory, as_datetime64
from crossmargin.market.returns import ewma_variance, joint_returns

__all__ = ["StressRatios", "account_ratio", "release_factor", "stress_ratios"]

_NS_PER_DAY = 86_400e9


def release_factor(ratio: FloatArray, buffer: float, start: float) -> FloatArray:
    """``clip(((1 + buffer)·start / ratio − 1) / buffer, 0, 1)`` (module docstring, step 3).

    1 at ``ratio ≤ start``, 0 at ``ratio ≥ (1 + buffer)·start``, non-increasing in ``ratio``.
    A zero buffer has nothing to release: its factor is 1.
    """
    x = np.asarray(ratio, dtype=np.float64)
    if buffer <= 0.0:
        return np.ones_like(x)
    end = (1.0 + buffer) * start
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        f = np.clip((end / x - 1.0) / buffer, 0.0, 1.0)
    # exact at the thresholds; an undefined ratio keeps the whole buffer (fail closed)
    f = np.where(x >= end, 0.0, f)
    return np.asarray(np.where((x <= start) | np.isnan(x), 1.0, f), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class StressRatios:
    """Per asset: EWMA vol at ``as_of`` over the realised vol of the long-run window."""

    assets: tuple[str, ...]
    ratio: FloatArray
    window: str
    observations: int


def stress_ratios(
    history: PriceHistory, core: Sequence[str], as_of: object, cfg: VarConfig
) -> StressRatios:
    """The stress ratio of each ``core`` asset on their common calendar (module docstring, 1).

    Raises
    ------
    ModelError
        Fewer than ``cfg.min_observations`` valid returns in the long-run window.
    """
    jr = joint_returns(
        history,
        core,
        until=as_datetime64(as_of),  # type: ignore[arg-type]
        max_gap_days=cfg.max_gap_days,
        needed_by="anti-procyclicality release",
    )
    x = np.where(jr.valid[:, None], jr.x, np.nan)
    _, var_now = ewma_variance(x, cfg.ewma_lambda)
    last = jr.times[-1]
    span = np.timedelta64(int(cfg.apc_release_window_days * _NS_PER_DAY), "ns")
    in_win = (jr.times[1:] > last - span) & jr.valid
    n = int(in_win.sum())
    lo = np.datetime_as_string(last - span, unit="D")
    hi = np.datetime_as_string(last, unit="D")
    if n < cfg.min_observations:
        raise ModelError(
            f"only {n} returns of {', '.join(core)} in the {cfg.apc_release_window_days}-day "
            f"anti-procyclicality window {lo}..{hi} (min_observations {cfg.min_observations}); "
            f"supply a longer history or choose another anti_procyclicality option",
            path="var.apc_release_window_days",
        )
    var_long = np.mean(jr.x[in_win] ** 2, axis=0)
    ratio = np.divide(
        np.sqrt(var_now), np.sqrt(var_long), out=np.ones(len(core)), where=var_long > 0
    )
    return StressRatios(tuple(core), ratio, f"{lo}..{hi}", n)


def account_ratio(ratio: FloatArray, weight: FloatArray) -> FloatArray:
    """Row-wise ``Σ w·x / Σ w`` of ``(accounts × assets)`` ``ratio`` and ``weight`` (step 2).

    Rows without positive weight take the plain mean of their ratios.
    """
    w = np.maximum(weight, 0.0)
    tot = w.sum(axis=1)
    wsum = (w * ratio).sum(axis=1)
    mean = ratio.mean(axis=1) if ratio.shape[1] else np.ones(ratio.shape[0])
    return np.asarray(np.divide(wsum, tot, out=mean, where=tot > 0), dtype=np.float64)
