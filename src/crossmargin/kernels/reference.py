"""Slow scalar twins of the kernels, written from the textbook formulas with :mod:`math`.

They are the test oracle for the vectorised kernels (fast kernel == slow twin to 1e-12) and are
never used on a hot path.
"""

from __future__ import annotations

import math

__all__ = ["black76_price_scalar", "norm_cdf"]


def norm_cdf(x: float) -> float:
    """Standard normal CDF via ``erfc`` (accurate in both tails)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black76_price_scalar(
    F: float, K: float, T: float, sigma: float, D: float, is_call: bool
) -> float:
    """Black-76 price of one option (see :mod:`crossmargin.kernels.black76`)."""
    v = sigma * math.sqrt(max(T, 0.0))
    if v <= 1e-12:
        intrinsic = max(F - K, 0.0) if is_call else max(K - F, 0.0)
        return D * intrinsic
    d1 = (math.log(F / K) + 0.5 * v * v) / v
    d2 = d1 - v
    if is_call:
        return max(D * (F * norm_cdf(d1) - K * norm_cdf(d2)), 0.0)
    return max(D * (K * norm_cdf(-d2) - F * norm_cdf(-d1)), 0.0)
