"""Square-root market impact: what it costs to close a position quickly.

For a position of absolute notional ``N`` (snapshot currency) in an underlying with quoted
relative spread ``s``, daily volatility ``σ_d`` and average daily volume ``ADV`` (notional)::

    cost(N) = s/2 · N + k · σ_d · N · sqrt(N / ADV)

(half-spread plus the square-root impact law: R. Almgren, C. Thum, E. Hauptmann, H. Li,
"Direct estimation of equity market impact", Risk 2005; J.-P. Bouchaud, "Price impact", 2010).
The same model prices the liquidity add-on of the margin models and the close-out prices of the
liquidation engine, so a margin and the liquidation it protects against agree. Parameters come
from the ``liquidity`` section of the risk configuration, per underlying with a default.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.config.model import LiquidityParams, RiskConfig

__all__ = ["close_out_cost", "daily_vol", "impact_params"]


def daily_vol(annual_vol: FloatArray | float) -> FloatArray:
    """Daily volatility from an annualised one (365-day year, crypto and calendar-day convention)."""
    return np.asarray(np.asarray(annual_vol, dtype=np.float64) / np.sqrt(365.0), dtype=np.float64)


def impact_params(config: RiskConfig, underlying: str) -> LiquidityParams:
    """Liquidity parameters of ``underlying`` (its own entry, else the default)."""
    return config.liquidity.underlyings.get(underlying, config.liquidity.default)


def close_out_cost(
    notional: FloatArray | float,
    *,
    spread: FloatArray | float,
    sigma_daily: FloatArray | float,
    adv: FloatArray | float,
    k: FloatArray | float,
) -> FloatArray:
    """Cost of closing ``|notional|`` at once: ``s/2·N + k·σ_d·N·sqrt(N/ADV)`` (vectorised)."""
    n = np.abs(np.asarray(notional, dtype=np.float64))
    adv_ = np.asarray(adv, dtype=np.float64)
    return np.asarray(
        0.5 * np.asarray(spread) * n
        + np.asarray(k) * np.asarray(sigma_daily) * n * np.sqrt(n / adv_),
        dtype=np.float64,
    )
