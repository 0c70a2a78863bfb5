"""Collateral valuation: prices, haircuts, liabilities."""

from crossmargin.collateral.table import CollateralTable, haircut_value
from crossmargin.collateral.valuation import value_collateral

__all__ = ["CollateralTable", "haircut_value", "value_collateral"]
