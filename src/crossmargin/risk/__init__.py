"""Risk arrays (scenario P&L per contract) and their aggregation to accounts."""

from crossmargin.risk.aggregate import Groups, group_pnl, group_positions, group_sum
from crossmargin.risk.arrays import unit_pnl
from crossmargin.risk.pnl import grid_unit_pnl, joint_unit_pnl, scenario_set_for, shocked_vols

__all__ = [
    "Groups",
    "grid_unit_pnl",
    "group_pnl",
    "group_positions",
    "group_sum",
    "joint_unit_pnl",
    "scenario_set_for",
    "shocked_vols",
    "unit_pnl",
]
