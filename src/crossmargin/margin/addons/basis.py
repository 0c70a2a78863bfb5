"""Basis / roll add-on for models whose scenarios move every expiry of an underlying together.

Joint historical scenarios (like the grid) move all forwards of an underlying proportionally
with spot, so a calendar spread would carry no risk. As in the ``portfolio`` model (Deribit PM
roll shock), every expiry bucket's net delta notional ``D_e`` is moved alone::

    basis = Σ_e max(min_move, annual_move × T_e) · |D_e|

(perpetual and spot share the ``T = 0`` bucket), with the risk class's ``basis`` parameters.
"""

from __future__ import annotations

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray
from crossmargin.config import RiskConfig
from crossmargin.margin.batch import group_labels
from crossmargin.margin.result import AddOnRows
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import NetPositions
from crossmargin.risk.aggregate import Groups

__all__ = ["BASIS_DESCRIPTION", "basis_addon", "basis_amounts"]

BASIS_DESCRIPTION = "net delta per expiry moved alone by max(min_move, annual_move x T)"


def basis_amounts(
    inst: InstrumentTable, pos: NetPositions, groups: Groups, cfg: RiskConfig
) -> FloatArray:
    """Basis add-on per group (module docstring), computed densely over (group × expiry bucket).

    ``groups`` are the groups of ``pos`` (any subset of a book's net positions). The time to
    expiry of a bucket is taken as its own positions see it, so accounts priced at different
    instants (the backtest's one-account-per-day books) are each charged correctly.
    """
    G = groups.n
    if pos.n == 0:
        return np.zeros(G)
    ii = pos.instrument
    d_not = pos.quantity * inst.delta[ii] * inst.spot[ii]
    nk = int(inst.expiry_key.max()) + 1
    cell = groups.of_position * nk + inst.expiry_key[ii]
    b_dn = sum_by(cell, d_not, G * nk).reshape(G, nk)
    t_gk = np.zeros((G, nk))
    t_gk[groups.of_position, inst.expiry_key[ii]] = inst.t[ii]
    und_cls = np.zeros(max(len(inst.underlyings), 1), np.int64)
    und_cls[inst.und] = inst.cls
    g_cls = und_cls[groups.und]
    rcs = [cfg.risk_classes[c].basis for c in inst.classes]
    annual = np.asarray([r.annual_move for r in rcs], dtype=np.float64)[g_cls]
    floor = np.asarray([r.min_move for r in rcs], dtype=np.float64)[g_cls]
    rate = np.maximum(floor[:, None], annual[:, None] * t_gk)
    return np.asarray(np.einsum("gk,gk->g", rate, np.abs(b_dn)), dtype=np.float64)


def basis_addon(book: ResolvedBook, groups: Groups) -> tuple[FloatArray, AddOnRows]:
    """Basis add-on per group and its add-on rows (module docstring)."""
    amount = basis_amounts(book.instruments, book.positions, groups, book.config)
    rows = AddOnRows(
        "basis",
        groups.account,
        group_labels(book.instruments.underlyings, groups.und),
        amount,
        BASIS_DESCRIPTION,
    )
    return amount, rows
