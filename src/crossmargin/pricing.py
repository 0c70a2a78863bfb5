"""Price and Greeks of instruments (the ``price`` command).

Units (docs/methodology.md): price in the instrument's quote currency per unit of underlying
(inverse options in coin, everything else in the snapshot currency); delta ``∂V/∂S`` with
forwards proportional to spot; gamma ``∂²V/∂S²``; vega per vol point; theta per calendar day.
The multiplier is reported, not applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crossmargin._checks import instance, sequence_of
from crossmargin.config import RiskConfig, default_config
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import resolve_instruments
from crossmargin.resolve.terms import KIND_OPTION, KIND_SPOT

__all__ = ["price_contracts"]


def price_contracts(
    contracts: Sequence[Contract],
    market: MarketSnapshot,
    *,
    config: RiskConfig | None = None,
    paths: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Price and Greeks of each contract, as dictionaries (``price --format json`` rows)."""
    instance(market, MarketSnapshot, "market", "a MarketSnapshot (see load_market)")
    cs = sequence_of(contracts, (Spot, Perpetual, Future, Option), "instruments", "a contract")
    if paths is not None and len(paths) != len(cs):
        raise InputError(f"give one path per contract ({len(paths)} for {len(cs)})", path="paths")
    cfg = (
        default_config()
        if config is None
        else instance(config, RiskConfig, "config", "a RiskConfig")
    )
    contracts = cs
    inst = resolve_instruments(
        contracts, market, cfg, where=lambda i: paths[i] if paths else f"instruments[{i}]"
    )
    n = inst.n
    S, F, K, T, D = inst.spot, inst.fwd, inst.strike, inst.t, inst.discount
    price = inst.value.copy()
    delta = np.where(inst.kind == KIND_SPOT, 1.0, F / S)
    gamma = np.zeros(n)
    vega = np.zeros(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        carry = np.where(T > 0, np.log(F / S) / np.where(T > 0, T, 1.0), 0.0)
    theta = np.where(T > 0, -carry * F / 365.0, 0.0)  # futures: F = S e^{bT}
    opt = (inst.kind == KIND_OPTION) & ~inst.settled
    if opt.any():
        g = black76_greeks(
            S[opt], F[opt], K[opt], T[opt], inst.sigma[opt], D[opt], inst.is_call[opt]
        )
        price[opt], delta[opt], gamma[opt], vega[opt], theta[opt] = (
            g.price,
            g.delta,
            g.gamma,
            g.vega,
            g.theta,
        )
    settled = inst.settled
    # inverse options are quoted in coin: V_c = V / S
    inv = (inst.kind == KIND_OPTION) & inst.inverse
    if inv.any():
        V, d1, g1, s = price[inv], delta[inv], gamma[inv], S[inv]
        price[inv] = V / s
        delta[inv] = d1 / s - V / s**2
        gamma[inv] = g1 / s - 2.0 * d1 / s**2 + 2.0 * V / s**3
        vega[inv] = vega[inv] / s
        theta[inv] = theta[inv] / s
    # settled: a fixed payoff (in coin for inverse options), no sensitivity left
    delta[settled] = gamma[settled] = vega[settled] = theta[settled] = 0.0
    rows = []
    for i, c in enumerate(inst.contracts):
        notes = [
            w.as_dict()
            for w in inst.warnings
            if w.asset == c.underlying
            and (not w.kinds or c.kind in w.kinds)
            and (w.expiry is None or w.expiry == c.expiry)
        ]
        rows.append(
            {
                "instrument": inst.names[i],
                "kind": c.kind,
                "settlement": c.settlement,
                "quote_currency": c.underlying if (inv[i]) else market.base_currency,
                "multiplier": c.multiplier,
                "price": float(price[i]),
                "delta": float(delta[i]),
                "gamma": float(gamma[i]),
                "vega": float(vega[i]),
                "theta": float(theta[i]),
                "spot": float(S[i]),
                "forward": float(F[i]),
                "vol": float(inst.sigma[i])
                if inst.kind[i] == KIND_OPTION and not settled[i]
                else None,
                "time_to_expiry": float(T[i]),
                "settled": bool(settled[i]),
                "warnings": notes,
            }
        )
    return rows
