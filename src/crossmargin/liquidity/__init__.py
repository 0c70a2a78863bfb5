"""Market liquidity: close-out cost of a position by a square-root market-impact model."""

from crossmargin.liquidity.impact import close_out_cost, daily_vol, impact_params

__all__ = ["close_out_cost", "daily_vol", "impact_params"]
