"""Joint scenario sets (historical, filtered historical, Monte Carlo): moves of every asset at once.

A grid moves each underlying on its own; a *joint* scenario moves every asset at once — the
historical co-movement is where cross-asset netting comes from (CME SPAN 2, Eurex Prisma, OCC
STANS). Scenario ``s`` gives each asset a relative spot move ``m[a, s]`` and a log implied-vol
move ``v[a, s]`` (of 30-day at-the-money vol), and carries a probability weight ``w_s``
(weights sum to 1; they are probabilities, not P&L multipliers as in the grid's tails).

A set is data; its risk arrays come from the one risk-array function
(:func:`crossmargin.risk.pnl.joint_unit_pnl`): ``F' = F (1 + m)`` and ``σ' = σ · exp(v · s_T)``
with ``s_T`` the risk class's term-structure scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.errors import ModelError
from crossmargin.resolve.instruments import InstrumentTable

__all__ = [
    "SEGMENT_DEPEG",
    "SEGMENT_LOOKBACK",
    "SEGMENT_MC",
    "SEGMENT_NAMES",
    "SEGMENT_STRESS",
    "JointScenarioSet",
    "live_underlyings",
]

SEGMENT_LOOKBACK = 0
SEGMENT_STRESS = 1
SEGMENT_DEPEG = 2
SEGMENT_MC = 3
SEGMENT_NAMES = ("lookback", "stress", "depeg", "monte_carlo")


@dataclass(frozen=True, slots=True, eq=False)
class JointScenarioSet:
    """Joint moves of several assets.

    Attributes
    ----------
    assets
        Asset symbols; row ``a`` of ``spot_move``/``vol_move``.
    spot_move
        ``(n_assets, S)`` relative spot moves (``-0.1`` = −10 %).
    vol_move
        ``(n_assets, S)`` log moves of implied vol (``ln σ'/σ`` at 30 days).
    weight
        ``(S,)`` scenario probabilities (sum 1).
    labels
        Human label per scenario (window dates, path number, depeg).
    segment
        ``(S,)`` segment code (:data:`SEGMENT_NAMES`).
    info
        Provenance: method, history source and window, counts, notes (for explain).
    """

    assets: tuple[str, ...]
    spot_move: FloatArray
    vol_move: FloatArray
    weight: FloatArray
    labels: tuple[str, ...]
    segment: IntArray
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def n_scenarios(self) -> int:
        """Number of scenarios."""
        return int(self.weight.shape[0])

    def row(self, asset: str) -> int:
        """Row of ``asset`` (−1 if it does not move in this set)."""
        return self.assets.index(asset) if asset in self.assets else -1

    def asset_rows(self, names: tuple[str, ...], *, what: str = "underlying") -> IntArray:
        """Rows of several assets; every one must be present.

        Raises
        ------
        ModelError
            Naming an asset without scenarios.
        """
        out = np.empty(len(names), np.int64)
        for i, a in enumerate(names):
            r = self.row(a)
            if r < 0:
                raise ModelError(f"the scenario set has no moves for {what} {a}", path="scenarios")
            out[i] = r
        return out


def live_underlyings(inst: InstrumentTable) -> tuple[str, ...]:
    """Underlyings of the contracts that still carry risk (not settled), in table order."""
    used = np.unique(inst.und[~inst.settled])
    return tuple(inst.underlyings[int(u)] for u in used)
