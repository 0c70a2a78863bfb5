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
from crossmargin.margin.result import AddOnRows
from crossmargin.resolve.book import ResolvedBook
from crossmargin.risk.aggregate import Groups

__all__ = ["basis_addon"]


def basis_addon(book: ResolvedBook, groups: Groups) -> tuple[FloatArray, AddOnRows]:
    """Basis add-on per group and its add-on rows (module docstring)."""
    inst, pos, cfg = book.instruments, book.positions, book.config
    G = groups.n
    amount = np.zeros(G)
    if pos.n:
        ii = pos.instrument
        d_not = pos.quantity * inst.delta[ii] * inst.spot[ii]
        nk = int(inst.expiry_key.max()) + 1
        key = groups.of_position * nk + inst.expiry_key[ii]
        ub, inv = np.unique(key, return_inverse=True)
        b_dn = sum_by(inv, d_not, ub.size)
        b_t = np.zeros(ub.size)
        b_t[inv] = inst.t[ii]
        b_group = ub // nk
        rcs = [cfg.risk_classes[c].basis for c in inst.classes]
        und_cls = np.zeros(max(len(inst.underlyings), 1), np.int64)
        und_cls[inst.und] = inst.cls
        b_cls = und_cls[groups.und[b_group]]
        annual = np.asarray([r.annual_move for r in rcs])[b_cls]
        floor = np.asarray([r.min_move for r in rcs])[b_cls]
        amount = sum_by(b_group, np.maximum(floor, annual * b_t) * np.abs(b_dn), G)
    rows = AddOnRows(
        "basis",
        groups.account,
        tuple(np.asarray(inst.underlyings, dtype=object)[groups.und]),
        amount,
        "net delta per expiry moved alone by max(min_move, annual_move x T)",
    )
    return amount, rows
