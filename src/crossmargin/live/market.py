"""The live market: one snapshot, moved by ticks, and the marks of every contract under it.

**The valuation instant.** The engine's snapshot has one ``as_of``, the instant every time to
expiry is measured from. It does not move with each tick — a move of ``as_of`` changes every
option's time value, which is a full re-margin — but in *time steps*: when an input's time is at
least ``revalue_every`` after ``as_of`` (:class:`~crossmargin.live.settings.LiveSettings`),
``as_of`` jumps to it and every contract is re-marked. Between steps a tick re-marks only the
contracts of its own asset, so the marks always equal a from-scratch resolution of the
snapshot: the invariant the full sweep checks.

A tick's data may be stamped after ``as_of``; its timestamps (the asset's price time, an oracle
record's time) are stored clamped to ``as_of``. That makes the snapshot's own age rules
(``market.max_age_seconds``, an oracle's heartbeat) count a value as older than it is by less
than one step — never younger — so they stay fail-closed. Feed freshness (heartbeats) is
measured on the engine clock, not here.

**A tick** (:func:`apply_update`) sets what it carries and keeps the rest: a new spot moves the
asset's perpetual mark and the unfixed part of each expiry forward by the same factor
(:meth:`~crossmargin.market.snapshot.AssetMarket.moved`, as a cascade round does) unless the
update sets them itself; vols move only when given; a price without a confidence has
confidence 1.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime

import numpy as np

from crossmargin.config import RiskConfig
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.live.records import MarketUpdate
from crossmargin.market.snapshot import AssetMarket, ExpiryMarket, MarketSnapshot
from crossmargin.market.vol import FlatVol
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.marks import Marks, mark
from crossmargin.resolve.terms import ContractTerms

__all__ = ["apply_update", "at_instant", "extend_marks", "mark_all", "remark"]


def _clamp(t: datetime, as_of: datetime) -> datetime:
    return t if t <= as_of else as_of


def apply_update(snapshot: MarketSnapshot, u: MarketUpdate) -> MarketSnapshot:
    """The snapshot with ``u`` applied (module docstring); ``snapshot`` is unchanged.

    Raises
    ------
    InputError
        The first update of an asset the snapshot does not know has no price.
    """
    sym = u.asset
    a = snapshot.assets.get(sym)
    if a is None:
        if u.price is None:
            raise InputError(
                f"{sym} is not in the market snapshot: its first update needs a price",
                path="price",
            )
        a = AssetMarket(price=u.price)
    when = _clamp(u.time, snapshot.as_of)
    if u.price is not None:
        factor = u.price / a.price
        a = replace(a.moved(factor, 1.0), price=u.price)
        a = replace(a, confidence=1.0 if u.confidence is None else u.confidence, timestamp=when)
    if u.perp_mark is not None:
        a = replace(a, perp_mark=u.perp_mark)
    if u.forwards or u.vols:
        expiries = dict(a.expiries)
        for t, f in u.forwards.items():
            expiries[t] = replace(expiries.get(t) or ExpiryMarket(), forward=f)
        for e, surface in u.vols.items():
            if e is not None:
                expiries[e] = replace(expiries.get(e) or ExpiryMarket(), surface=surface)
            elif isinstance(surface, FlatVol):
                a = replace(a, vol=surface.vol)
        a = replace(a, expiries=expiries)
    oracles = None
    if u.oracle is not None:
        oracles = {sym: replace(u.oracle, timestamp=_clamp(u.oracle.timestamp, snapshot.as_of))}
    return snapshot.shifted(assets={sym: a}, oracles=oracles)


def at_instant(snapshot: MarketSnapshot, as_of: datetime) -> MarketSnapshot:
    """The snapshot valued at ``as_of`` (a time step; every datum kept)."""
    return replace(snapshot, as_of=as_of)


def mark_all(
    terms: ContractTerms,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    previous: InstrumentTable | None = None,
) -> tuple[InstrumentTable, dict[str, str]]:
    """Mark every contract from scratch, underlying by underlying.

    An underlying that cannot be marked is returned with the reason (``{underlying: error}``)
    and keeps its ``previous`` marks (the accounts holding it are frozen at their last margin).
    """
    n = terms.n
    zeros = np.zeros(n)
    marks = Marks(
        spot=zeros,
        fwd=zeros,
        t=zeros,
        discount=np.ones(n),
        sigma=zeros,
        dte=zeros,
        settled=np.zeros(n, np.bool_),
        value=zeros,
        quote_price=zeros,
        delta=zeros,
    )
    inst, failed = remark(InstrumentTable.join(terms, marks), snapshot, config, terms.underlyings)
    if failed and previous is not None and previous.n == terms.n:
        rows = previous.rows_of(failed)
        kept = {}
        for f in fields(Marks):
            if f.name == "warnings":
                continue
            a = getattr(inst, f.name).copy()
            a[rows] = getattr(previous, f.name)[rows]
            kept[f.name] = a
        warnings = (
            *(w for w in inst.warnings if w.asset not in failed),
            *(w for w in previous.warnings if w.asset in failed),
        )
        inst = InstrumentTable.join(terms, Marks(**kept, warnings=warnings))
    return inst, failed


def remark(
    inst: InstrumentTable,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    underlyings: tuple[str, ...] | list[str],
) -> tuple[InstrumentTable, dict[str, str]]:
    """Re-mark the contracts of ``underlyings`` one underlying at a time (see :func:`mark_all`)."""
    failed: dict[str, str] = {}
    for u in underlyings:
        try:
            inst = inst.remarked(snapshot, config, underlyings=(u,))
        except CrossMarginError as exc:  # reported per underlying: its holders are frozen
            failed[u] = str(exc)
    return inst, failed


def extend_marks(
    inst: InstrumentTable, terms: ContractTerms, snapshot: MarketSnapshot, config: RiskConfig
) -> InstrumentTable:
    """The table extended to ``terms`` (new rows at the end; their underlyings re-marked).

    Raises
    ------
    MarketDataError, InputError
        A new contract cannot be marked (nothing is changed).
    """
    k = terms.n - inst.n
    if k == 0:
        return inst
    old = inst.marks()

    def zeros(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros(k, a.dtype)])

    padded = Marks(
        spot=zeros(old.spot),
        fwd=zeros(old.fwd),
        t=zeros(old.t),
        discount=np.concatenate([old.discount, np.ones(k)]),
        sigma=zeros(old.sigma),
        dte=zeros(old.dte),
        settled=zeros(old.settled),
        value=zeros(old.value),
        quote_price=zeros(old.quote_price),
        delta=zeros(old.delta),
        warnings=old.warnings,
    )
    table = InstrumentTable.join(terms, padded)
    new_unds = sorted({terms.underlyings[int(u)] for u in terms.und[inst.n :]})
    m = mark(table, snapshot, config, underlyings=new_unds, previous=table)
    return InstrumentTable.join(terms, m)
