"""Per-position margin rules used by the ``isolated`` and ``cross`` models (vectorised).

* **Linear contracts** (spot on margin, perpetuals, futures): IM/MM as progressive percentages of
  notional over the risk class's tiers (marginal rates per bracket, like income-tax brackets —
  equivalent to Binance's "maintenance amount" brackets and continuous in size).
* **Short options**: ``IM = max(im_base − OTM/F, im_floor) × F + premium`` and
  ``MM = mm_rate × F + premium`` per unit (Deribit standard margin; Cboe broad-based index rule),
  where ``OTM = max(K − F, 0)`` for a call and ``max(F − K, 0)`` for a put; a put's charge
  beyond the premium is capped at its strike (its largest possible payout).
* **Long options**: no margin beyond the premium paid (already out of collateral).
* **Settled** contracts: none.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.config import RiskConfig
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import NetPositions
from crossmargin.resolve.terms import KIND_OPTION

__all__ = ["position_requirements", "tiered_rate_amount"]


def tiered_rate_amount(notional: FloatArray, bounds: FloatArray, rates: FloatArray) -> FloatArray:
    """Progressive amount: ``Σ_t rate_t × clip(notional − lo_t, 0, hi_t − lo_t)``.

    ``bounds`` are the upper bounds of each tier (last = inf), ``rates`` their marginal rates.
    """
    lo = np.concatenate([[0.0], bounds[:-1]])
    width = bounds - lo
    portion = np.clip(notional[:, None] - lo[None, :], 0.0, width[None, :])
    return np.asarray(portion @ rates, dtype=np.float64)


def position_requirements(
    pos: NetPositions, inst: InstrumentTable, config: RiskConfig
) -> tuple[FloatArray, FloatArray]:
    """IM and MM of every net position, standalone (snapshot currency)."""
    im = np.zeros(pos.n)
    mm = np.zeros(pos.n)
    if pos.n == 0:
        return im, mm
    i = pos.instrument
    live = ~inst.settled[i]
    opt = inst.kind[i] == KIND_OPTION
    cls = inst.cls[i]
    lin = live & ~opt
    for c, cname in enumerate(inst.classes):
        rc = config.risk_classes[cname]
        sel = lin & (cls == c)
        if sel.any():
            bounds = np.asarray([np.inf if t.up_to is None else t.up_to for t in rc.linear_tiers])
            im[sel] = tiered_rate_amount(
                pos.notional[sel], bounds, np.asarray([t.im for t in rc.linear_tiers])
            )
            mm[sel] = tiered_rate_amount(
                pos.notional[sel], bounds, np.asarray([t.mm for t in rc.linear_tiers])
            )
        short = live & opt & (cls == c) & (pos.quantity < 0)
        if short.any():
            ii = i[short]
            F = inst.fwd[ii]
            K = inst.strike[ii]
            call = inst.is_call[ii]
            prem = inst.value[ii]
            otm = np.where(call, np.maximum(K - F, 0.0), np.maximum(F - K, 0.0))
            r = rc.option_rule
            im_unit = np.maximum(r.im_base - otm / F, r.im_floor) * F
            mm_unit = r.mm_rate * F
            im_unit = np.where(call, im_unit, np.minimum(im_unit, K))
            mm_unit = np.where(call, mm_unit, np.minimum(mm_unit, K))
            size = np.abs(pos.quantity[short]) * inst.mult[ii]
            im[short] = size * (im_unit + prem)
            mm[short] = size * (mm_unit + prem)
    return im, mm
