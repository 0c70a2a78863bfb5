"""Scenario grids of venue presets: the venue's own scenario list, with its own labels.

A venue's scenario list is data like any grid (spot move, vol state, weight), but may contain
cells that are not a spot × vol pair — Derive's skew rotations and its basis contingency, which
competes with the scenarios as one more candidate for the worst loss. :class:`PresetGrid` keeps
the venue's label and vol-state name of every cell so that ``explain`` and the JSON output show
them as the venue names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossmargin.scenarios.grid import VOL_DOWN, VOL_UNCHANGED, VOL_UP, ScenarioGrid

__all__ = ["PresetGrid", "preset_grid"]

_CODES = {"up": VOL_UP, "unchanged": VOL_UNCHANGED, "down": VOL_DOWN}


@dataclass(frozen=True, slots=True, eq=False)
class PresetGrid(ScenarioGrid):
    """A scenario grid with an explicit label and vol-state name per cell."""

    labels: tuple[str, ...] = ()
    vol_names: tuple[str, ...] = ()

    def label(self, j: int) -> str:
        """The venue's label of scenario ``j``."""
        return self.labels[j]

    def vol_name(self, j: int) -> str:
        """``up``, ``unchanged``, ``down`` or a venue-specific name (e.g. ``linear skew``)."""
        return self.vol_names[j]

    def _padding(self, extra: int) -> dict[str, Any]:
        """Labels and vol names of ``extra`` no-move cells."""
        return {
            "labels": self.labels + ("pad",) * extra,
            "vol_names": self.vol_names + ("unchanged",) * extra,
        }


def preset_grid(
    spot_move: Sequence[float] | Any,
    vol_names: Sequence[str],
    weight: Sequence[float] | Any,
    kind: Sequence[str],
    labels: Sequence[str],
) -> PresetGrid:
    """Build a :class:`PresetGrid`; vol names other than up/unchanged/down get state 0."""
    return PresetGrid(
        spot_move=np.asarray(spot_move, dtype=np.float64),
        vol_state=np.asarray([_CODES.get(v, VOL_UNCHANGED) for v in vol_names], dtype=np.int64),
        weight=np.asarray(weight, dtype=np.float64),
        kind=tuple(kind),
        labels=tuple(labels),
        vol_names=tuple(vol_names),
    )
