"""Marks: each contract's market state under one snapshot, recomputable per underlying.

Given the contract terms (:mod:`crossmargin.resolve.terms`) and a snapshot, :func:`mark` reads —
once per underlying, once per expiry, never per position — the spot, the perpetual mark, each
expiry's forward, discount and year fraction, and the implied vol at each option's strike, and
values one unit of every contract (:func:`unit_values`: Black-76 premium and delta, delta-one
prices, settled payoffs). With ``underlyings`` only the contracts of those underlyings are
re-marked and the others are copied from ``previous``: a live tick in one underlying costs that
underlying's contracts only. Marks of many snapshots stack (one row per (day, contract) in the
backtest) because :func:`unit_values` is a pure array function of the inputs.

Missing data raises here, naming the asset, the field and the instrument that needed it; checks
run in contract order, so the first offending contract is the one named. Values the snapshot
derives instead of listing (an interpolated expiry, the perpetual marked at spot,
:mod:`crossmargin.market.term`) are kept as :attr:`Marks.warnings` — or refused when the
configuration says ``market.fallbacks: error``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import numpy as np

from crossmargin._time import SECONDS_PER_DAY, SECONDS_PER_YEAR, format_instant
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import InputError, MarketDataError
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.market.checks import check_asset, fallback
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.terms import KIND_OPTION, KIND_PERP, KIND_SPOT, ContractTerms

__all__ = ["Marks", "mark", "unit_values"]


@dataclass(frozen=True, eq=False)
class Marks:
    """Market state of each contract under one snapshot (money in the snapshot currency).

    Attributes
    ----------
    spot, fwd, t, discount, sigma
        Underlying spot; forward of the expiry (perp: its mark; spot: spot); year fraction to
        expiry (0 for perps/spot); discount factor; implied vol at the strike (options).
    dte
        Days to expiry (0 for perps/spot).
    settled
        Expired instrument valued at the snapshot's settlement price (no scenario risk).
    value
        Value of one unit (per unit of underlying, before multiplier): option premium, or the
        price of a delta-one contract.
    quote_price
        Price in the instrument's own quote: inverse options in coin, everything else as ``value``.
    delta
        ∂(P&L of one unit of quantity)/∂spot, multiplier included (underlying units).
    warnings
        Market data derived because the snapshot did not list it (interpolated expiries,
        asset-level vol, perp mark = spot; :mod:`crossmargin.market.term`), one per field.
    """

    spot: FloatArray
    fwd: FloatArray
    t: FloatArray
    discount: FloatArray
    sigma: FloatArray
    dte: FloatArray
    settled: BoolArray
    value: FloatArray
    quote_price: FloatArray
    delta: FloatArray
    warnings: tuple[MarketWarning, ...] = field(default=(), kw_only=True)

    @classmethod
    def valued(
        cls,
        terms: ContractTerms,
        market: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray],
        *,
        rows: IntArray | None = None,
        previous: Marks | None = None,
        warnings: tuple[MarketWarning, ...] = (),
    ) -> Marks:
        """Marks from each row's ``(spot, forward, T, discount, vol, settled)`` (:func:`unit_values`)."""
        spot, fwd, t, disc, sigma, settled = market
        value, quote, delta = unit_values(
            terms.kind, terms.inverse, terms.mult, spot, fwd, t, terms.strike, terms.is_call,
            disc, sigma, settled, rows=rows, previous=previous,
        )  # fmt: skip
        dte = t * (SECONDS_PER_YEAR / SECONDS_PER_DAY)
        return cls(spot, fwd, t, disc, sigma, dte, settled, value, quote, delta, warnings=warnings)


def _finite_pos(x: float, path: str, what: str, needed_by: str) -> float:
    if not math.isfinite(x) or x <= 0:
        raise MarketDataError(
            f"{what} must be positive and finite, got {x!r} (needed by {needed_by})", path=path
        )
    return x


def _first_rows(keys: IntArray, rows: IntArray) -> dict[int, int]:
    """``key → first row`` over ``rows`` (ascending), keys ≥ 0 only."""
    out: dict[int, int] = {}
    for k, r in zip(keys[rows].tolist(), rows.tolist(), strict=True):
        if k >= 0 and k not in out:
            out[k] = r
    return out


def mark(
    terms: ContractTerms,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    where: Callable[[int], str] = lambda i: f"instruments[{i}]",
    underlyings: Collection[str] | None = None,
    previous: Marks | None = None,
) -> Marks:
    """Mark every contract of ``terms`` (or those of ``underlyings``) against ``snapshot``.

    Parameters
    ----------
    terms
        Contract terms.
    snapshot
        Market data at ``as_of``.
    config
        Risk configuration (market-data rules).
    where
        Maps a contract row to the input path of its first holder (for error messages).
    underlyings
        Re-mark only the contracts of these underlyings; the others keep ``previous``.
    previous
        The marks to start from (required with ``underlyings``).

    Raises
    ------
    MarketDataError
        A needed price, forward, discount or vol is missing, stale, low-confidence or invalid,
        or derived while the configuration refuses fallbacks.
    InputError
        An instrument has expired and the snapshot has no settlement price for it.
    """
    n = terms.n
    if underlyings is None:
        rows = np.arange(n, dtype=np.int64)
        spot, fwd, t = np.zeros(n), np.zeros(n), np.zeros(n)
        disc, sigma, settled = np.ones(n), np.zeros(n), np.zeros(n, np.bool_)
    else:
        if previous is None:
            raise ValueError("re-marking some underlyings needs the previous marks")
        rows = terms.rows_of(underlyings)
        spot, fwd, t = previous.spot.copy(), previous.fwd.copy(), previous.t.copy()
        disc, sigma = previous.discount.copy(), previous.sigma.copy()
        settled = previous.settled.copy()
    names, und, kind = terms.names, terms.und, terms.kind
    rules = config.market
    notes: dict[tuple[str, str], MarketWarning] = {}

    def note(w: MarketWarning | None, name: str) -> None:
        if w is not None:
            fallback(w, rules, needed_by=name)
            notes.setdefault((w.code, w.path), w)

    u_first = _first_rows(und, rows)
    perp_first = _first_rows(np.where(kind == KIND_PERP, und, -1), rows)
    g_first = _first_rows(terms.group, rows)
    # the discount of an expiry matters to its options only: its warning names the first option
    o_first = _first_rows(np.where(kind == KIND_OPTION, terms.group, -1), rows)
    n_und, n_grp = len(terms.underlyings), len(terms.group_expiry)
    u_spot, u_perp = np.zeros(max(n_und, 1)), np.zeros(max(n_und, 1))
    g_fwd, g_t = np.zeros(max(n_grp, 1)), np.zeros(max(n_grp, 1))
    g_disc, g_settled = np.ones(max(n_grp, 1)), np.zeros(max(n_grp, 1), np.bool_)
    g_disc_note: dict[int, MarketWarning | None] = {}
    events = sorted(
        [(r, 0, u) for u, r in u_first.items()]
        + [(r, 1, u) for u, r in perp_first.items()]
        + [(r, 2, g) for g, r in g_first.items()]
        + [(r, 3, g) for g, r in o_first.items()]
    )
    for r, what, k in events:
        name = names[r]
        sym = terms.underlyings[int(und[r])]
        if what == 0:  # the first contract of an underlying: the asset and its spot
            check_asset(snapshot, sym, config.market, needed_by=name)
            a = snapshot.asset(sym, needed_by=name)
            u_spot[k] = _finite_pos(a.price, f"assets.{sym}.price", "price", name)
        elif what == 1:
            perp, w = snapshot.perp_term(sym)
            note(w, name)
            u_perp[k] = _finite_pos(perp, f"assets.{sym}.perp.mark", "perp mark", name)
        elif what == 3:  # the first option of an expiry (after its forward, read at what == 2)
            if not g_settled[k]:
                note(g_disc_note.get(k), name)
        else:
            expiry = terms.group_expiry[k]
            tau = snapshot.time_to(expiry)
            if tau <= 0:
                s = snapshot.settlement(sym, expiry)
                if s is None:
                    raise InputError(
                        f"{name} expired at {format_instant(expiry)} (as_of "
                        f"{format_instant(snapshot.as_of)}) and the snapshot has no settlement "
                        f"price for it (assets.{sym}.settlements)",
                        path=where(r),
                    )
                g_settled[k], g_fwd[k], g_t[k] = True, s, 0.0
                continue
            path_e = f"assets.{sym}.expiries.{format_instant(expiry)}"
            g_t[k] = tau
            f_val, f_w = snapshot.forward_term(sym, expiry)
            d_val, g_disc_note[k] = snapshot.discount_term(sym, expiry)
            note(f_w, name)
            g_fwd[k] = _finite_pos(f_val, f"{path_e}.forward", "forward", name)
            g_disc[k] = _finite_pos(d_val, f"{path_e}.discount", "discount", name)
    ur, kr, gr = und[rows], kind[rows], terms.group[rows]
    dated = gr >= 0
    spot[rows] = u_spot[ur]
    fwd[rows] = np.where(kr == KIND_PERP, u_perp[ur], u_spot[ur])
    t[rows], disc[rows], settled[rows] = 0.0, 1.0, False
    dr = rows[dated]
    g = gr[dated]
    fwd[dr], t[dr], disc[dr], settled[dr] = g_fwd[g], g_t[g], g_disc[g], g_settled[g]
    _implied_vols(terms, snapshot, rows, fwd, t, sigma, settled, note)
    warnings = tuple(notes.values())
    if underlyings is not None and previous is not None:  # the others' warnings still hold
        moved = set(underlyings)
        warnings = (*(w for w in previous.warnings if w.asset not in moved), *warnings)
    return Marks.valued(
        terms,
        (spot, fwd, t, disc, sigma, settled),
        rows=None if underlyings is None else rows,
        previous=previous,
        warnings=warnings,
    )


def _implied_vols(
    terms: ContractTerms,
    snapshot: MarketSnapshot,
    rows: IntArray,
    fwd: FloatArray,
    t: FloatArray,
    sigma: FloatArray,
    settled: BoolArray,
    note: Callable[[MarketWarning | None, str], None],
) -> None:
    """Implied vol at each live option's strike, one surface lookup per expiry (in place)."""
    sigma[rows] = 0.0
    opt = rows[(terms.kind[rows] == KIND_OPTION) & ~settled[rows]]
    if opt.size == 0:
        return
    grp = terms.group[opt]
    order = np.argsort(grp, kind="stable")
    bounds = np.flatnonzero(np.r_[True, grp[order][1:] != grp[order][:-1], True])
    chunks = [opt[order[a:b]] for a, b in itertools.pairwise(bounds)]
    for ix in sorted(chunks, key=lambda c: int(c[0])):  # expiries in contract order
        sym = terms.underlyings[int(terms.und[ix[0]])]
        expiry = terms.group_expiry[int(terms.group[ix[0]])]
        first = terms.names[int(ix[0])]
        surf, w = snapshot.surface_term(sym, expiry, strikes=terms.strike[ix], needed_by=first)
        note(w, first)
        vols = surf.vols(terms.strike[ix], float(fwd[ix[0]]), float(t[ix[0]]))
        bad = ~(np.isfinite(vols) & (vols > 0))
        if bad.any():
            j = int(ix[np.argmax(bad)])
            raise MarketDataError(
                f"implied vol at strike {terms.strike[j]:g} is {float(vols[np.argmax(bad)])!r}; "
                f"must be positive (needed by {terms.names[j]})",
                path=f"assets.{sym}.expiries.{format_instant(expiry)}.vol",
            )
        sigma[ix] = vols


def unit_values(
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
    *,
    rows: IntArray | None = None,
    previous: Marks | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Unit values, quote prices and deltas of each row (pure; ``rows``: only these, rest kept).

    * delta-one: the price (forward, perp mark or spot), delta ``F/S`` (spot: 1);
    * options: Black-76 on the forward; delta ``∂V/∂S`` with the forward ∝ spot;
    * settled: the payoff at the settlement price (inverse options: in coin, valued at spot),
      no delta;
    * inverse: an option's quote is its value in coin ``V/S`` and its USD delta
      ``∂V/∂S − V/S``; a delta-one contract's (USD face) delta is ``1/F``.

    Deltas include the multiplier.
    """
    if rows is not None:
        assert previous is not None
        v, q, d = previous.value.copy(), previous.quote_price.copy(), previous.delta.copy()
        v[rows], q[rows], d[rows] = unit_values(
            kind[rows], inverse[rows], mult[rows], spot[rows], fwd[rows], t[rows], strike[rows],
            is_call[rows], disc[rows], sigma[rows], settled[rows],
        )  # fmt: skip
        return v, q, d
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
