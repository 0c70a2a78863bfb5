"""SPAN-style inter-commodity spread credits between configured pairs of underlyings.

Following CME SPAN (docs/methodologies/span.md §3.5), for each configured pair in priority
order and each account holding both legs:

1. net delta notionals ``D_A``, ``D_B`` (what earlier pairs have not consumed); a spread exists
   only when they have opposite signs (long one, short the other, for positively correlated legs);
2. ``spreads = min(|D_A| / r_A, |D_B| / r_B)`` with the pair's delta ratio ``r``;
3. weighted price risk per unit of delta notional, ``WPR = PriceRisk / |D_total|``, capped by the
   leg's price scan range (SPAN's "scan range cap" method), where
   ``PriceRisk = ScanRisk − TimeRisk − VolatilityRisk``;
4. credit per leg ``= rate × spreads × r_leg × WPR_leg``, subtracted from that leg; a leg's total
   credits never exceed its price risk.

Underlyings in no configured pair get no credit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import InterCommodityConfig
from crossmargin.margin.result import AddOnRows

__all__ = ["inter_commodity_credits"]


def inter_commodity_credits(
    pairs: Sequence[InterCommodityConfig],
    underlyings: Sequence[str],
    lookup: IntArray,
    delta_notional: FloatArray,
    price_risk: FloatArray,
    scan_range: FloatArray,
) -> tuple[FloatArray, tuple[AddOnRows, ...]]:
    """Credit per group and the credit rows per pair leg.

    Parameters
    ----------
    pairs
        Configured spreads, in priority order.
    underlyings
        Underlying names (index = ``und``).
    lookup
        ``(n_accounts, n_und)`` group index table, −1 where absent.
    delta_notional
        Net delta notional per group.
    price_risk
        SPAN price risk per group (≥ 0).
    scan_range
        Largest price scan range (fraction) of each group's risk class.

    Returns
    -------
    credit, rows
        Total credit per group (≥ 0) and one :class:`AddOnRows` per pair leg (negative amounts).
    """
    n_groups = delta_notional.shape[0]
    credit = np.zeros(n_groups)
    remaining = delta_notional.copy()
    absd = np.abs(delta_notional)
    with np.errstate(divide="ignore", invalid="ignore"):
        wpr = np.where(absd > 0, np.minimum(price_risk / absd, scan_range), 0.0)
    rows: list[AddOnRows] = []
    index = {u: i for i, u in enumerate(underlyings)}
    for p in pairs:
        a, b = p.legs
        if a not in index or b not in index:
            continue
        ga = lookup[:, index[a]]
        gb = lookup[:, index[b]]
        both = np.flatnonzero((ga >= 0) & (gb >= 0))
        if both.size == 0:
            continue
        ga, gb = ga[both], gb[both]
        da, db = remaining[ga], remaining[gb]
        ra, rb = p.ratio
        opposite = np.sign(da) * np.sign(db) < 0
        spreads = np.where(opposite, np.minimum(np.abs(da) / ra, np.abs(db) / rb), 0.0)
        ca = p.credit * spreads * ra * wpr[ga]
        cb = p.credit * spreads * rb * wpr[gb]
        # never credit more than a leg's price risk in total
        ca = np.minimum(ca, np.maximum(price_risk[ga] - credit[ga], 0.0))
        cb = np.minimum(cb, np.maximum(price_risk[gb] - credit[gb], 0.0))
        credit[ga] += ca
        credit[gb] += cb
        remaining[ga] -= np.sign(da) * spreads * ra
        remaining[gb] -= np.sign(db) * spreads * rb
        acc = both.astype(np.int64)
        desc = f"SPAN inter-commodity credit {a}/{b} at {p.credit:.0%}"
        rows.append(
            AddOnRows("inter_commodity_credit", acc, (a,) * acc.size, -ca, desc, f"{a}/{b}")
        )
        rows.append(
            AddOnRows("inter_commodity_credit", acc, (b,) * acc.size, -cb, desc, f"{a}/{b}")
        )
    return credit, tuple(rows)
