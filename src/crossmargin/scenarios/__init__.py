"""Scenario sets: grids of spot and vol moves (later: historical and Monte Carlo sets)."""

from crossmargin.scenarios.grid import (
    VOL_DOWN,
    VOL_UNCHANGED,
    VOL_UP,
    ScenarioGrid,
    ScenarioSet,
    build_grid,
)

__all__ = ["VOL_DOWN", "VOL_UNCHANGED", "VOL_UP", "ScenarioGrid", "ScenarioSet", "build_grid"]
