"""Scenario grids: spot moves × vol states, plus dampened tail moves, as data.

A grid of one risk class is built from its :class:`~crossmargin.config.GridConfig`:

* standard cells: spot moves ``−down·i/n … 0 … +up·i/n`` (``n = steps_per_side``), each with vol
  *up*, *unchanged* and *down* (Deribit PM standard table, 9 × 3 = 27 cells for n = 4);
* tail cells: each configured tail move with the configured vol state(s); their P&L is multiplied
  by ``edge / |move|`` (``edge`` = the standard range on the same side) so that a linear position
  loses exactly its standard-range loss there and only non-linear (option) books are charged more —
  the Deribit extended-table behaviour (deribit-pm.md §3.3) and the SPAN extreme-move idea.

The size of a vol move depends on each option's time to expiry and is applied by the P&L kernel
(:mod:`crossmargin.risk.pnl`); a grid only says *up*, *unchanged* or *down*.

Grids of different risk classes are stacked into one :class:`ScenarioSet` with a common length;
shorter grids are padded with copies of the base cell (no move, vol unchanged), whose P&L is 0 and
which therefore never changes a worst loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Self

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import GridConfig

__all__ = ["VOL_DOWN", "VOL_UNCHANGED", "VOL_UP", "ScenarioGrid", "ScenarioSet", "build_grid"]

VOL_UP = 1
VOL_UNCHANGED = 0
VOL_DOWN = -1
_VOL_NAMES = {VOL_UP: "up", VOL_UNCHANGED: "unchanged", VOL_DOWN: "down"}
_TAIL_STATES = {
    "up": (VOL_UP,),
    "unchanged": (VOL_UNCHANGED,),
    "down": (VOL_DOWN,),
    "all": (VOL_UP, VOL_UNCHANGED, VOL_DOWN),
}


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioGrid:
    """The scenarios of one risk class.

    Attributes
    ----------
    spot_move
        Relative spot move of each scenario (``-0.16`` = −16 %).
    vol_state
        ``+1`` vol up, ``0`` unchanged, ``-1`` vol down.
    weight
        Multiplier applied to the scenario's P&L (1 for standard cells, ``edge/|move|`` for tails).
    kind
        ``"standard"``, ``"tail"`` or ``"pad"`` per scenario.
    """

    spot_move: FloatArray
    vol_state: IntArray
    weight: FloatArray
    kind: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of scenarios."""
        return int(self.spot_move.shape[0])

    def label(self, j: int) -> str:
        """Human label of scenario ``j``, e.g. ``spot -16% vol up``."""
        tag = " (tail)" if self.kind[j] == "tail" else ""
        return f"spot {self.spot_move[j] * 100:+.4g}% vol {_VOL_NAMES[int(self.vol_state[j])]}{tag}"

    def vol_name(self, j: int) -> str:
        """``up``, ``unchanged`` or ``down``."""
        return _VOL_NAMES[int(self.vol_state[j])]

    def padded(self, n: int) -> Self:
        """Return the grid padded with base cells (no move, vol unchanged) to ``n`` scenarios."""
        extra = n - self.size
        if extra <= 0:
            return self
        return replace(
            self,
            spot_move=np.concatenate([self.spot_move, np.zeros(extra)]),
            vol_state=np.concatenate([self.vol_state, np.zeros(extra, dtype=np.int64)]),
            weight=np.concatenate([self.weight, np.ones(extra)]),
            kind=self.kind + ("pad",) * extra,
            **self._padding(extra),
        )

    def _padding(self, extra: int) -> dict[str, Any]:
        """Further per-cell fields of ``extra`` base cells (a subclass's own columns)."""
        return {}


def build_grid(cfg: GridConfig) -> ScenarioGrid:
    """Build the scenario grid of one risk class from its configuration."""
    n = cfg.steps_per_side
    down = -cfg.price_range_down * np.arange(n, 0, -1) / n
    up = cfg.price_range_up * np.arange(1, n + 1) / n
    moves = np.concatenate([down, [0.0], up])
    states = (VOL_UP, VOL_UNCHANGED, VOL_DOWN)
    sm: list[float] = []
    vs: list[int] = []
    w: list[float] = []
    kind: list[str] = []
    for m in moves:
        for v in states:
            sm.append(float(m))
            vs.append(v)
            w.append(1.0)
            kind.append("standard")
    for m in cfg.tail_moves:
        edge = cfg.price_range_up if m > 0 else cfg.price_range_down
        for v in _TAIL_STATES[cfg.tail_vol]:
            sm.append(float(m))
            vs.append(v)
            w.append(min(1.0, edge / abs(m)))
            kind.append("tail")
    return ScenarioGrid(
        spot_move=np.asarray(sm, dtype=np.float64),
        vol_state=np.asarray(vs, dtype=np.int64),
        weight=np.asarray(w, dtype=np.float64),
        kind=tuple(kind),
    )


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioSet:
    """Grids of several risk classes stacked to a common length ``(n_classes, n_scenarios)``."""

    classes: tuple[str, ...]
    grids: tuple[ScenarioGrid, ...]
    spot_move: FloatArray
    vol_state: IntArray
    weight: FloatArray

    @property
    def n_scenarios(self) -> int:
        """Common number of scenarios."""
        return int(self.spot_move.shape[1])

    @classmethod
    def stack(cls, classes: Sequence[str], grids: Sequence[ScenarioGrid]) -> ScenarioSet:
        """Pad ``grids`` to a common length and stack them."""
        n = max((g.size for g in grids), default=1)
        padded = tuple(g.padded(n) for g in grids)
        if not padded:
            return cls((), (), np.zeros((0, 1)), np.zeros((0, 1), np.int64), np.ones((0, 1)))
        return cls(
            classes=tuple(classes),
            grids=padded,
            spot_move=np.stack([g.spot_move for g in padded]),
            vol_state=np.stack([g.vol_state for g in padded]),
            weight=np.stack([g.weight for g in padded]),
        )
