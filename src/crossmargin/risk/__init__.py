"""Risk arrays (scenario P&L per contract) and their aggregation to accounts."""

from crossmargin.risk.aggregate import Groups, group_pnl, group_positions, group_sum
from crossmargin.risk.pnl import scenario_set_for, shocked_vols, unit_pnl

__all__ = [
    "Groups",
    "group_pnl",
    "group_positions",
    "group_sum",
    "scenario_set_for",
    "shocked_vols",
    "unit_pnl",
]
