"""Deribit portfolio-margin parameters (``model_params`` of ``private/pme/simulate``).

Values from ``deribit-pm.md`` §2: BTC from the 2024-06-17 API example, ETH and USD as observed in
2026-02. Deribit changes them without notice: a preset takes them as data (override under
``presets.deribit-pm`` in the risk configuration).
"""

from __future__ import annotations

from pydantic import Field

from crossmargin.margin.presets._common import Fraction, NonNegative, PresetParams

__all__ = ["DeribitCurrencyParams", "DeribitPairParams", "DeribitParams", "deribit_params"]


class DeribitPairParams(PresetParams):
    """``model_params.currency_pair.<und>_usd``."""

    price_range: float = Field(gt=0.0, lt=1.0, allow_inf_nan=False)
    volatility_range_up: NonNegative
    volatility_range_down: NonNegative
    short_term_vega_power: NonNegative
    long_term_vega_power: NonNegative
    min_volatility_for_shock_up: NonNegative
    extended_table_factor: NonNegative
    max_delta_shock: Fraction
    delta_total_liq_shock_threshold: NonNegative
    m_inc: NonNegative


class DeribitCurrencyParams(PresetParams):
    """``model_params.currency.<ccy>`` (money amounts in USD)."""

    pnl_offset: Fraction
    max_offsetable_pnl: NonNegative
    annualised_move_risk: NonNegative
    min_annualised_move: NonNegative
    extended_dampener: NonNegative
    haircut: Fraction


class DeribitParams(PresetParams):
    """All parameters (``model_params`` of ``private/pme/simulate``) plus unpublished choices.

    ``pairs`` / ``currencies`` are keyed by underlying / settlement currency (linear products
    settle in the snapshot currency, looked up as ``USD``); unlisted keys take ``default_pair`` /
    ``default_currency``. ``dte_floor_days`` and ``m_inc_unit_usd`` are not published
    (crossmargin choices).
    """

    mm_factor: float = Field(default=0.8, gt=0.0, allow_inf_nan=False)
    buckets_count: int = Field(default=4, ge=1, le=50)
    extended_moves: tuple[float, ...] = (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    vega_power_cutoff_days: float = Field(default=30.0, gt=0.0)
    dte_floor_days: float = Field(default=1.0, gt=0.0)
    m_inc_unit_usd: float = Field(default=1_000_000.0, gt=0.0)
    pairs: dict[str, DeribitPairParams]
    default_pair: DeribitPairParams
    currencies: dict[str, DeribitCurrencyParams]
    default_currency: DeribitCurrencyParams


def deribit_params() -> DeribitParams:
    """Published parameters (``deribit-pm.md`` §2).

    BTC from the 2024-06-17 API example, ETH and USD as observed in 2026-02; unlisted pairs and
    currencies take the ETH / USD values.
    """
    btc_pair = {
        "price_range": 0.16,
        "volatility_range_up": 0.5,
        "volatility_range_down": 0.25,
        "short_term_vega_power": 0.3,
        "long_term_vega_power": 0.13,
        "min_volatility_for_shock_up": 0.5,
        "extended_table_factor": 1.0,
        "max_delta_shock": 0.1,
        "delta_total_liq_shock_threshold": 20_000_000.0,
        "m_inc": 0.00005,
    }
    eth_pair = {**btc_pair, "price_range": 0.18, "volatility_range_up": 0.4, "m_inc": 0.000004}
    btc = {
        "pnl_offset": 0.0,
        "max_offsetable_pnl": 0.0,
        "annualised_move_risk": 0.075,
        "min_annualised_move": 0.01,
        "extended_dampener": 100_000.0,
        "haircut": 0.0,
    }
    eth = {
        "pnl_offset": 0.6,
        "max_offsetable_pnl": 20_000_000.0,
        "annualised_move_risk": 0.05,
        "min_annualised_move": 0.005,
        "extended_dampener": 200_000.0,
        "haircut": 0.0,
    }
    usd = {
        "pnl_offset": 0.4,
        "max_offsetable_pnl": 1_000_000.0,
        "annualised_move_risk": 0.1,
        "min_annualised_move": 0.01,
        "extended_dampener": 25_000.0,
        "haircut": 0.0,
    }
    return DeribitParams.model_validate(
        {
            "pairs": {"BTC": btc_pair, "ETH": eth_pair},
            "default_pair": eth_pair,
            "currencies": {"BTC": btc, "ETH": eth, "USD": usd},
            "default_currency": usd,
        }
    )
