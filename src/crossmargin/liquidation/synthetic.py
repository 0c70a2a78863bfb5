"""Venues for the cascade simulator: a book from files, or a seeded synthetic venue.

The synthetic generator (:func:`synthetic_venue`) draws, for every account, independently and
vectorised (seeded ``numpy.random.Generator``, PCG64):

============================  ========================================================================
what                          distribution (crossmargin defaults; docs/methodology.md "Liquidation")
============================  ========================================================================
strategy (archetype)          directional perp 45 %, two-asset directional 15 %, basis (future vs
                              perp) 10 %, pair (long one, short another) 10 %, option seller
                              (short put + short call, partly delta-hedged) 10 %, protected long
                              (perp + put) 10 %
gross notional ``G`` (USD)    log-normal, median 25 000, σ_ln 1.8 (heavy tail: 90th pct ≈ 250 k,
                              99th ≈ 1.6 M), clipped to [500, 50 M]
underlying                    by liquidity: 55 % the most liquid (largest ADV), 30 % the second,
                              15 % spread over the rest
direction                     long with probability 0.6 (retail long bias)
hedge ratios                  basis: ``h ~ N(1, 0.05)``; pair: ``r ~ U(0.6, 1.4)``; option seller
                              delta hedge ``U(0, 1)`` of the legs' delta; protected long: put
                              notional ``U(0.5, 1)`` × G
entry prices                  mark × exp(N(0, 0.03)): some accounts sit on gains, some on losses
margin utilisation ``u``      ``IM / equity``: 85 % Beta(2, 4) (mean 0.33), 15 % U(0.7, 0.97)
                              (accounts run close to their limit); leverage follows as ``G·u/IM``
collateral                    65 % stablecoin only (USDC if the snapshot prices it, else the
                              snapshot currency), 35 % hold a BTC share ``U(0.2, 0.8)``
============================  ========================================================================

Collateral is sized from ``u``: ``equity = IM / u``. In ``per-regime`` mode each regime's own IM
is used (accounts lever up to what their regime allows: the capital-efficiency side of the
trade-off); in ``fixed`` mode the largest IM over the regimes (the same collateral everywhere).
Either way every account starts healthy under every regime, so a zero shock liquidates nobody.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config.model import RiskConfig
from crossmargin.engine import margin_resolved
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual
from crossmargin.liquidity.impact import impact_params
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import resolve
from crossmargin.resolve.instruments import resolve_instruments

__all__ = ["ARCHETYPES", "CollateralMode", "Venue", "synthetic_venue"]

ARCHETYPES = (
    "directional",
    "two_asset",
    "basis",
    "pair",
    "option_seller",
    "protected_long",
)
_P_ARCH = (0.45, 0.15, 0.10, 0.10, 0.10, 0.10)
CollateralMode = Literal["per-regime", "fixed"]


@dataclass(frozen=True, slots=True, eq=False)
class Venue:
    """A venue: a book plus, for synthetic venues, what its collateral was sized from.

    Attributes
    ----------
    book
        Positions and collateral (for synthetic venues: collateral of the ``fixed`` mode).
    name
        Label for reports.
    scale
        Synthetic venues: regime → per-account collateral multiplier relative to ``book``
        (``per-regime`` mode); empty for venues read from files.
    info
        Generator parameters and summary statistics.
    utilisation
        Synthetic venues: each account's target ``IM / equity`` (collateral is never below one
        unit of value, so an account whose positions are mostly paid-for options may sit below it).
    """

    book: Book
    name: str
    scale: dict[str, FloatArray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    utilisation: FloatArray | None = None

    def book_for(self, regime: str, mode: CollateralMode) -> Book:
        """The book to run under ``regime``: collateral rescaled in ``per-regime`` mode."""
        if mode == "fixed" or regime not in self.scale:
            return self.book
        return self.book.scaled_collateral(self.scale[regime])


def _underlyings(
    snap: MarketSnapshot, config: RiskConfig, wanted: tuple[str, ...] | None
) -> list[str]:
    if wanted:
        for s in wanted:
            if s not in snap.assets:
                raise InputError(f"no market data for {s}", path=f"assets.{s}")
        return list(wanted)
    cands = [
        s for s, a in snap.assets.items() if s != snap.base_currency and a.perp_mark is not None
    ]
    if not cands:
        cands = [
            s
            for s, a in snap.assets.items()
            if s != snap.base_currency and (a.vol is not None or a.expiries)
        ]
    if not cands:
        raise InputError(
            "the snapshot has no underlying with a perp, vol or expiries", path="assets"
        )
    return sorted(cands, key=lambda s: -impact_params(config, s).adv)


def _weights(n: int) -> FloatArray:
    if n == 1:
        return np.ones(1)
    w = np.asarray([0.55, 0.30] + [0.15 / max(n - 2, 1)] * (n - 2))[:n]
    return np.asarray(w / w.sum(), dtype=np.float64)


def _strike(f: float, m: float) -> float:
    step = 10.0 ** (math.floor(math.log10(f)) - 1)
    return float(round(f * m / step) * step)


def _contracts(
    snap: MarketSnapshot, und: list[str]
) -> tuple[list[Contract], dict[str, dict[str, int]]]:
    contracts: list[Contract] = []
    ix: dict[str, dict[str, int]] = {}
    for s in und:
        a = snap.assets[s]
        live = sorted(t for t in a.expiries if snap.time_to(t) > 0)
        d: dict[str, int] = {"perp": len(contracts)}
        contracts.append(Perpetual(s))
        if live:
            fut: datetime = live[0]
            d["future"] = len(contracts)
            contracts.append(Future(s, fut))
            opt = min(live, key=lambda t: abs(snap.time_to(t) - 30.0 / 365.0))
            fwd = snap.forward(s, opt)
            for key, m, right in (("put", 0.9, "put"), ("call", 1.1, "call")):
                d[key] = len(contracts)
                contracts.append(Option(s, opt, _strike(fwd, m), right))  # type: ignore[arg-type]
        ix[s] = d
    return contracts, ix


def synthetic_venue(
    snapshot: MarketSnapshot,
    config: RiskConfig,
    n_accounts: int,
    *,
    seed: int = 0,
    underlyings: tuple[str, ...] | None = None,
    regimes: tuple[str, ...] = ("isolated", "cross", "portfolio"),
) -> Venue:
    """Generate a seeded synthetic venue (distributions in the module docstring).

    Raises
    ------
    InputError
        ``n_accounts`` < 1 or an unknown underlying.
    MarketDataError
        The snapshot lacks data a generated contract needs.
    """
    if n_accounts < 1:
        raise InputError(f"need at least one account, got {n_accounts}", path="venue")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}", path="venue")
    rng = np.random.default_rng(seed)
    N = n_accounts
    und = _underlyings(snapshot, config, underlyings)
    contracts, ix = _contracts(snapshot, und)
    inst = resolve_instruments(contracts, snapshot, config)
    U = len(und)
    arch = rng.choice(len(ARCHETYPES), size=N, p=_P_ARCH)
    gross = np.clip(np.exp(rng.normal(math.log(25_000.0), 1.8, N)), 500.0, 5e7)
    u1 = rng.choice(U, size=N, p=_weights(U))
    u2 = (u1 + 1 + rng.integers(0, max(U - 1, 1), N)) % U if U > 1 else u1
    side = np.where(rng.random(N) < 0.6, 1.0, -1.0)
    h_basis = rng.normal(1.0, 0.05, N)
    r_pair = rng.uniform(0.6, 1.4, N)
    h_opt = rng.uniform(0.0, 1.0, N)
    cover = rng.uniform(0.5, 1.0, N)
    util = np.where(rng.random(N) < 0.85, rng.beta(2.0, 4.0, N), rng.uniform(0.7, 0.97, N))
    util = np.clip(util, 0.02, 0.97)
    btc_share = np.where(rng.random(N) < 0.35, rng.uniform(0.2, 0.8, N), 0.0)
    entry_noise = np.exp(rng.normal(0.0, 0.03, 4 * N))

    def cidx(kind: str, u: IntArray) -> IntArray:
        table = np.asarray([ix[und[k]].get(kind, ix[und[k]]["perp"]) for k in range(U)], np.int64)
        return table[u]

    unit_not = inst.mult * inst.fwd
    rows_a: list[IntArray] = []
    rows_i: list[IntArray] = []
    rows_n: list[FloatArray] = []  # signed notional

    def add(mask: np.ndarray, kind: str, u: IntArray, notional: FloatArray) -> None:
        a = np.flatnonzero(mask)
        rows_a.append(a.astype(np.int64))
        rows_i.append(cidx(kind, u[a]))
        rows_n.append(notional[a])

    A = arch
    add(A == 0, "perp", u1, side * gross)
    add(A == 1, "perp", u1, side * 0.6 * gross)
    add(A == 1, "perp", u2, side * 0.4 * gross)
    add(A == 2, "future", u1, side * 0.5 * gross)
    add(A == 2, "perp", u1, -side * h_basis * 0.5 * gross)
    add(A == 3, "perp", u1, side * 0.5 * gross)
    add(A == 3, "perp", u2, -side * r_pair * 0.5 * gross)
    add(A == 4, "put", u1, -0.5 * gross)
    add(A == 4, "call", u1, -0.5 * gross)
    add(A == 5, "perp", u1, gross)
    add(A == 5, "put", u1, cover * gross)
    pa = np.concatenate(rows_a)
    pi = np.concatenate(rows_i)
    qty = np.concatenate(rows_n) / unit_not[pi]
    # option sellers: perp hedge of h × the legs' delta
    sel = (A == 4)[pa]
    leg_delta = np.zeros(N)
    np.add.at(leg_delta, pa[sel], qty[sel] * inst.delta[pi[sel]])
    hedge = np.flatnonzero(A == 4)
    h_q = -h_opt[hedge] * leg_delta[hedge]
    h_i = cidx("perp", u1[hedge])
    h_q = h_q / (inst.delta[h_i])
    pa = np.concatenate([pa, hedge])
    pi = np.concatenate([pi, h_i])
    qty = np.concatenate([qty, h_q])
    keep = qty != 0
    pa, pi, qty = pa[keep], pi[keep], qty[keep]
    order = np.lexsort((pi, pa))
    pa, pi, qty = pa[order], pi[order], qty[order]
    is_opt = np.asarray([isinstance(contracts[int(k)], Option) for k in range(len(contracts))])[pi]
    entry = np.where(is_opt, np.nan, inst.fwd[pi] * entry_noise[: pa.size])
    # collateral: one USD of value split stable / BTC
    base = snapshot.base_currency
    stable = "USDC" if "USDC" in snapshot.assets else base
    assets: tuple[str, ...] = (stable,)
    has_btc = "BTC" in snapshot.assets and stable != "BTC"
    if has_btc:
        assets = (stable, "BTC")
    p_st = snapshot.price(stable)
    ca = [np.arange(N, dtype=np.int64)]
    cs = [np.zeros(N, np.int64)]
    cq = [(1.0 - (btc_share if has_btc else np.zeros(N))) / p_st]  # one amount per account
    if has_btc:
        b = np.flatnonzero(btc_share > 0)
        ca.append(b.astype(np.int64))
        cs.append(np.ones(b.size, np.int64))
        cq.append(btc_share[b] / snapshot.price("BTC"))
    accounts = tuple(f"syn-{i:06d}" for i in range(N))
    unit_book = Book(
        accounts=accounts,
        base_currency=(base,) * N,
        contracts=tuple(contracts),
        pos_account=pa,
        pos_instrument=pi,
        pos_quantity=qty,
        pos_entry=entry,
        assets=assets,
        col_account=np.concatenate(ca),
        col_asset=np.concatenate(cs),
        col_amount=np.concatenate(cq),
    )
    rb = resolve(unit_book, snapshot, config)
    c_im = rb.collateral.per_account(rb.collateral.value_im, N)
    lam: dict[str, FloatArray] = {}
    lev: dict[str, dict[str, float]] = {}
    c_mm = rb.collateral.per_account(rb.collateral.value_mm, N)
    pos = rb.positions
    for reg in regimes:
        r = margin_resolved(rb, model=reg)
        im = r.batch.im
        lam[reg] = np.maximum((im / util - r.batch.upnl_im) / c_im, 1.0)
        p_im = r.batch.position_im
        if r.batch.liquidation_scope == "position" and p_im is not None:
            # isolated: every position on its own share of the collateral (IM-weighted) must
            # also sit at the target utilisation: alloc_i + MtM_i >= IM_i / u
            need = np.zeros(N)
            live = p_im > 0
            a = pos.account[live]
            sum_im = np.bincount(pos.account, weights=p_im, minlength=N)
            lam_i = (p_im[live] / util[a] - pos.mtm[live]) * sum_im[a] / (p_im[live] * c_mm[a])
            np.maximum.at(need, a, lam_i)
            lam[reg] = np.maximum(lam[reg], need)
    fixed = np.max(np.vstack(list(lam.values())), axis=0)
    book = unit_book.scaled_collateral(fixed)
    gross_acc = np.bincount(rb.positions.account, weights=rb.positions.notional, minlength=N)
    for reg in regimes:
        equity = lam[reg] * c_im
        q = np.quantile(gross_acc / equity, [0.1, 0.5, 0.9, 0.99])
        lev[reg] = {
            "p10": float(q[0]),
            "median": float(q[1]),
            "p90": float(q[2]),
            "p99": float(q[3]),
        }
    counts = np.bincount(arch, minlength=len(ARCHETYPES))
    info = {
        "generator": "crossmargin.liquidation.synthetic_venue",
        "seed": seed,
        "accounts": N,
        "positions": int(pa.size),
        "underlyings": und,
        "contracts": [c.name for c in contracts],
        "archetypes": {k: int(c) for k, c in zip(ARCHETYPES, counts, strict=True)},
        "gross_notional": float(gross_acc.sum()),
        "gross_notional_quantiles": {
            k: float(v)
            for k, v in zip(
                ("p10", "median", "p90", "p99"),
                np.quantile(gross_acc, [0.1, 0.5, 0.9, 0.99]),
                strict=True,
            )
        },
        "utilisation_mean": float(util.mean()),
        "leverage_by_regime": lev,
    }
    return Venue(
        book=book,
        name=f"synthetic:{N}:{seed}",
        scale={reg: lam[reg] / fixed for reg in regimes},
        info=info,
        utilisation=util,
    )
