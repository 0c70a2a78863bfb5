"""Resolve contracts against market data and configuration: the instrument table.

Strata's lesson: a contract is not pricer-ready until it is bound to reference data. This step
fixes, once per unique contract, everything a kernel needs — underlying and risk class index,
spot, forward, discount, year fraction, strike, implied vol at the strike, multiplier and
settlement — so that kernels never look anything up. Missing data raises here, naming the asset,
the field and the instrument that needed it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin._time import SECONDS_PER_DAY, SECONDS_PER_YEAR, format_instant
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError, InputError, MarketDataError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.market.checks import check_asset, fallback
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.snapshot import MarketSnapshot

__all__ = [
    "KIND_FUTURE",
    "KIND_OPTION",
    "KIND_PERP",
    "KIND_SPOT",
    "InstrumentTable",
    "resolve_instruments",
]

KIND_SPOT = 0
KIND_PERP = 1
KIND_FUTURE = 2
KIND_OPTION = 3


@dataclass(frozen=True, slots=True, eq=False)
class InstrumentTable:
    """Pricer-ready arrays, one row per unique contract (all money in the snapshot currency).

    Attributes
    ----------
    contracts, names
        The contracts and their canonical names.
    underlyings, classes
        Names indexed by ``und`` and ``cls``.
    kind, inverse, mult, und, cls
        Contract kind code, inverse flag, multiplier, underlying and risk-class indices.
    spot, fwd, t, strike, is_call, discount, sigma
        Underlying spot; forward of the expiry (perp: its mark; spot: spot); year fraction to
        expiry (0 for perps/spot); strike; call flag; discount factor; implied vol at the strike.
    dte
        Days to expiry (0 for perps/spot).
    settled
        Expired instrument valued at the snapshot's settlement price (no scenario risk).
    value
        Value of one unit (per unit of underlying, before multiplier) in the snapshot currency:
        option premium, or the price of a delta-one contract.
    quote_price
        Price in the instrument's own quote: inverse options in coin, everything else as ``value``.
    delta
        ∂(P&L of one unit of quantity)/∂spot, multiplier included (underlying units).
    expiry_key
        Integer id of the expiry bucket within its underlying (perps/spot share bucket 0 = T 0).
    warnings
        Market data derived because the snapshot did not list it (interpolated expiries,
        asset-level vol, perp mark = spot; :mod:`crossmargin.market.term`).
    """

    contracts: tuple[Contract, ...]
    names: tuple[str, ...]
    underlyings: tuple[str, ...]
    classes: tuple[str, ...]
    kind: IntArray
    inverse: BoolArray
    mult: FloatArray
    und: IntArray
    cls: IntArray
    spot: FloatArray
    fwd: FloatArray
    t: FloatArray
    strike: FloatArray
    is_call: BoolArray
    discount: FloatArray
    sigma: FloatArray
    dte: FloatArray
    settled: BoolArray
    value: FloatArray
    quote_price: FloatArray
    delta: FloatArray
    expiry_key: IntArray
    warnings: tuple[MarketWarning, ...] = ()

    @property
    def n(self) -> int:
        """Number of unique contracts."""
        return len(self.contracts)


def _finite_pos(x: float, path: str, what: str, needed_by: str) -> float:
    if not math.isfinite(x) or x <= 0:
        raise MarketDataError(
            f"{what} must be positive and finite, got {x!r} (needed by {needed_by})", path=path
        )
    return x


def resolve_instruments(
    contracts: Sequence[Contract],
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    where: Callable[[int], str] = lambda i: f"instruments[{i}]",
) -> InstrumentTable:
    """Bind each contract to the snapshot and the configuration.

    Parameters
    ----------
    contracts
        Unique contracts.
    snapshot
        Market data at ``as_of``.
    config
        Risk configuration (risk classes, market-data rules).
    where
        Maps a contract index to the input path of its first holder (for error messages).

    Raises
    ------
    MarketDataError
        A needed price, forward, discount or vol is missing, stale, low-confidence or invalid.
    InputError
        An instrument has expired and the snapshot has no settlement price for it.
    ConfigError
        An underlying has no risk class.
    """
    n = len(contracts)
    und_ix: dict[str, int] = {}
    cls_ix: dict[str, int] = {}
    kind = np.zeros(n, np.int64)
    inverse = np.zeros(n, np.bool_)
    mult = np.ones(n)
    und = np.zeros(n, np.int64)
    cls = np.zeros(n, np.int64)
    spot = np.zeros(n)
    fwd = np.zeros(n)
    t = np.zeros(n)
    strike = np.zeros(n)
    is_call = np.zeros(n, np.bool_)
    disc = np.ones(n)
    sigma = np.zeros(n)
    settled = np.zeros(n, np.bool_)
    expiry_ids: dict[tuple[str, object], int] = {}
    n_exp: dict[str, int] = {}
    expiry_key = np.zeros(n, np.int64)
    opt_groups: dict[tuple[str, object], list[int]] = {}
    checked: set[str] = set()
    rules = config.market
    notes: dict[tuple[str, str], MarketWarning] = {}

    def note(w: MarketWarning | None, name: str) -> None:
        if w is not None:
            fallback(w, rules, needed_by=name)
            notes.setdefault((w.code, w.path), w)

    terms: dict[
        tuple[str, object], tuple[float, float, MarketWarning | None, MarketWarning | None]
    ] = {}
    for i, c in enumerate(contracts):
        name = c.name
        sym = c.underlying
        if sym not in checked:
            check_asset(snapshot, sym, config.market, needed_by=name)
            checked.add(sym)
        a = snapshot.asset(sym, needed_by=name)
        rc = config.risk_class_of(sym)
        if rc is None:
            raise ConfigError(
                f"no risk class for underlying {sym} (needed by {name}); add it under 'underlyings'",
                path="config.underlyings",
            )
        und[i] = und_ix.setdefault(sym, len(und_ix))
        cls[i] = cls_ix.setdefault(rc, len(cls_ix))
        inverse[i] = c.settlement == "inverse"
        mult[i] = c.multiplier
        spot[i] = _finite_pos(a.price, f"assets.{sym}.price", "price", name)
        if isinstance(c, Spot):
            kind[i] = KIND_SPOT
            fwd[i] = spot[i]
            continue
        if isinstance(c, Perpetual):
            kind[i] = KIND_PERP
            mark, w = snapshot.perp_term(sym)
            note(w, name)
            fwd[i] = _finite_pos(mark, f"assets.{sym}.perp.mark", "perp mark", name)
            continue
        assert isinstance(c, Future | Option)
        kind[i] = KIND_OPTION if isinstance(c, Option) else KIND_FUTURE
        if (sym, c.expiry) not in expiry_ids:
            n_exp[sym] = n_exp.get(sym, 0) + 1
            expiry_ids[(sym, c.expiry)] = n_exp[sym]
        expiry_key[i] = expiry_ids[(sym, c.expiry)]
        tau = snapshot.time_to(c.expiry)
        if isinstance(c, Option):
            strike[i] = c.strike
            is_call[i] = c.right == "call"
        if tau <= 0:
            s = snapshot.settlement(sym, c.expiry)
            if s is None:
                raise InputError(
                    f"{name} expired at {format_instant(c.expiry)} (as_of {format_instant(snapshot.as_of)}) "
                    f"and the snapshot has no settlement price for it "
                    f"(assets.{sym}.settlements)",
                    path=where(i),
                )
            settled[i] = True
            fwd[i] = s
            continue
        t[i] = tau
        path_e = f"assets.{sym}.expiries.{format_instant(c.expiry)}"
        key = (sym, c.expiry)
        if key not in terms:
            f_val, f_w = snapshot.forward_term(sym, c.expiry)
            d_val, d_w = snapshot.discount_term(sym, c.expiry)
            terms[key] = (f_val, d_val, f_w, d_w)
        f_val, d_val, f_w, d_w = terms[key]
        note(f_w, name)
        fwd[i] = _finite_pos(f_val, f"{path_e}.forward", "forward", name)
        disc[i] = _finite_pos(d_val, f"{path_e}.discount", "discount", name)
        if isinstance(c, Option):
            note(d_w, name)  # the discount matters to options only
            opt_groups.setdefault((sym, c.expiry), []).append(i)
    for (sym, expiry), rows in opt_groups.items():
        ix = np.asarray(rows, dtype=np.int64)
        first = contracts[rows[0]].name
        surf, w = snapshot.surface_term(sym, expiry, strikes=strike[ix], needed_by=first)  # type: ignore[arg-type]
        note(w, first)
        vols = surf.vols(strike[ix], float(fwd[ix[0]]), float(t[ix[0]]))
        bad = ~(np.isfinite(vols) & (vols > 0))
        if bad.any():
            j = int(ix[np.argmax(bad)])
            raise MarketDataError(
                f"implied vol at strike {strike[j]:g} is {float(vols[np.argmax(bad)])!r}; must be "
                f"positive (needed by {contracts[j].name})",
                path=f"assets.{sym}.expiries.{format_instant(expiry)}.vol",  # type: ignore[arg-type]
            )
        sigma[ix] = vols
    dte = t * (SECONDS_PER_YEAR / SECONDS_PER_DAY)
    value, quote, delta = _values(
        kind, inverse, mult, spot, fwd, t, strike, is_call, disc, sigma, settled
    )
    return InstrumentTable(
        contracts=tuple(contracts),
        names=tuple(c.name for c in contracts),
        underlyings=tuple(und_ix),
        classes=tuple(cls_ix),
        kind=kind,
        inverse=inverse,
        mult=mult,
        und=und,
        cls=cls,
        spot=spot,
        fwd=fwd,
        t=t,
        strike=strike,
        is_call=is_call,
        discount=disc,
        sigma=sigma,
        dte=dte,
        settled=settled,
        value=value,
        quote_price=quote,
        delta=delta,
        expiry_key=expiry_key,
        warnings=tuple(notes.values()),
    )


def _values(
    kind: IntArray,
    inverse: BoolArray,
    mult: FloatArray,
    spot: FloatArray,
    fwd: FloatArray,
    t: FloatArray,
    strike: FloatArray,
    is_call: BoolArray,
    disc: FloatArray,
    sigma: FloatArray,
    settled: BoolArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit values, quote prices and deltas (vectorised)."""
    opt = kind == KIND_OPTION
    value = fwd.copy()
    delta = np.where(kind == KIND_SPOT, 1.0, fwd / spot)
    if opt.any():
        g = black76_greeks(
            spot[opt], fwd[opt], strike[opt], t[opt], sigma[opt], disc[opt], is_call[opt]
        )
        value[opt] = g.price
        delta[opt] = g.delta
    # settled instruments: payoff at the settlement price, no further risk
    so = settled & opt
    value[so] = np.maximum(np.where(is_call[so], 1.0, -1.0) * (fwd[so] - strike[so]), 0.0)
    # inverse options settle max(±(S_T − K), 0) / S_T coins (Deribit), valued at today's spot
    sio = so & inverse
    value[sio] *= spot[sio] / fwd[sio]
    delta[settled] = 0.0
    quote = value.copy()
    inv_opt = inverse & opt
    quote[inv_opt] = value[inv_opt] / spot[inv_opt]
    # inverse: USD P&L per unit; futures/perps/spot (USD face): m·S0/F0 → ∂/∂S = 1/F0
    inv_lin = inverse & ~opt & ~settled
    delta[inv_lin] = 1.0 / fwd[inv_lin]
    inv_o = inv_opt & ~settled
    delta[inv_o] = delta[inv_o] - value[inv_o] / spot[inv_o]
    return value, quote, delta * mult
