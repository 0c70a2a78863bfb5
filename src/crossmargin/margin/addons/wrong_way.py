"""Wrong-way collateral: collateral that falls when the book loses.

BTC posted against a long BTC book loses value exactly when the book does, so its haircut must
cover its own fall in the book's worst scenario. For every positive collateral balance of an
account whose book loses in its worst scenario ``s*``::

    effective haircut = max(haircut_IM, −move_asset(s*)),
    add-on = (effective haircut − haircut_IM) × market value

(the collateral "gets the higher of its haircut and its stressed loss"). It is reported as an IM
add-on per collateral asset because the worst scenario is the model's own; equity − IM is the
same as if the haircut itself had been raised. ``move_asset(s*)`` is the asset's move in that
scenario: its joint historical/simulated move under ``var``/``es`` (stablecoins move in their
depeg scenario), and under ``portfolio`` the worst cell of the group of the same underlying
(tail cells at their dampened size). An oracle-valued token (LST, lending receipt, vault share)
moves with its underlying.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.collateral.table import CollateralTable
from crossmargin.margin.batch import group_labels
from crossmargin.margin.result import AddOnRows

__all__ = ["exposure_assets", "wrong_way_addon"]


def exposure_assets(col: CollateralTable) -> tuple[str, ...]:
    """Per collateral asset, the asset whose price moves it (an oracle kind's underlying)."""
    if col.oracle is None:
        return col.assets
    return tuple(
        o.underlying if o is not None else a for a, o in zip(col.assets, col.oracle, strict=True)
    )


def wrong_way_addon(
    col: CollateralTable, move_at_worst: FloatArray, book_loses: np.ndarray
) -> AddOnRows:
    """The wrong-way add-on per collateral row.

    Parameters
    ----------
    col
        Collateral rows of the book.
    move_at_worst
        Per collateral row: the asset's relative move in its account's worst scenario (0 if the
        asset does not move there).
    book_loses
        Per collateral row: whether its account's book loses in that scenario.
    """
    stressed = np.maximum(-move_at_worst, 0.0)
    extra = np.maximum(stressed - col.haircut_im, 0.0)
    amount = np.where(book_loses & (col.market_value > 0), extra * col.market_value, 0.0)
    labels = group_labels(col.assets, col.asset)
    return AddOnRows(
        "wrong_way_collateral",
        col.account,
        labels,
        amount,
        "collateral falls in the book's worst scenario: haircut raised to that fall",
    )
