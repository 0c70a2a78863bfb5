"""Collateral valuation: prices, haircuts, liabilities."""

from crossmargin.collateral.valuation import CollateralTable, haircut_value, value_collateral

__all__ = ["CollateralTable", "haircut_value", "value_collateral"]
