"""Venue imports (and oracle feed readings) → one portfolio document and one market snapshot.

The output is our own file formats (``crossmargin schema portfolio|market``), validated by the
same readers as any user file, so ``crossmargin import`` writes exactly what ``--from`` margins.

Rules, in order (each fallback is written to the notes the CLI prints):

* **as_of** — given, else the latest timestamp in the exports (Deribit ``usOut`` and ticker
  ``timestamp``, OKX ``uTime``, Bybit ``time``, Binance ``updateTime``), else the latest feed
  time; none at all is an error (give ``--as-of``).
* **positions** — one per venue row, labelled with the venue; our instrument name, or an
  explicit instrument object when the expiry is not at 08:00 UTC.
* **collateral** — per venue and currency: the venue's equity in that currency minus the mark
  value (at the venue's marks) of the imported positions settled in it. Our equity then equals
  the venue's at the venue's marks, whatever the venue counts as cash (session P&L already
  settled, premiums paid). Without an account/balance response the venue's collateral is empty.
* **the user's market file** (``--market``), when given, comes first: its values win over the
  exports' (differences noted) and its ``as_of`` is used.
* **prices** — index price per underlying (a venue's perpetual mark when it has no index,
  noted); currencies in USD from the export (OKX ``coinUsdPrice``, Bybit ``usdValue``, Deribit's
  cross-collateral totals), else USD stablecoins at par (noted); oracle feeds override
  (noted). The first venue's value wins over a later venue's (noted when they differ by more than
  0.1 %).
* **forwards** — a future's mark (or a ticker's ``underlying_price``) is the forward of its
  expiry; without one the index is used (rate 0, noted).
* **vols** — the venue's mark vol (ticker ``mark_iv``), else the Black-76 vol that reprices the
  venue's option mark exactly (:func:`crossmargin.kernels.implied.black76_implied_vol`;
  inverse premium in USD = coin mark × index). One vol per (expiry, strike).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from crossmargin._time import format_instant, parse_instant, year_fraction
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Option
from crossmargin.instruments.naming import parse_instrument
from crossmargin.io.feeds import FeedReading, FeedRules, check_feed
from crossmargin.io.venues._common import Holding, Reported, VenueImport
from crossmargin.kernels.implied import black76_implied_vol

__all__ = ["Imported", "build", "instrument_spec"]

#: USD stablecoins valued at par when an export carries no price for them (noted).
PAR_STABLECOINS = ("USD", "USDC", "USDT")


@dataclass(frozen=True, slots=True)
class Imported:
    """The result of importing one or more exports.

    Attributes
    ----------
    portfolio, market
        Our portfolio and market-snapshot documents (JSON-ready).
    holdings
        The imported positions with the venue's rows beside ours.
    reported
        The venues' own IM/MM figures.
    notes
        Every fallback and skipped row, in words.
    venues
        Venue names, in order.
    """

    portfolio: dict[str, Any]
    market: dict[str, Any]
    holdings: tuple[Holding, ...]
    reported: tuple[Reported, ...]
    notes: tuple[str, ...]
    venues: tuple[str, ...]


def instrument_spec(c: Contract) -> str | dict[str, Any]:
    """Our instrument name for ``c``, or its explicit object when no name says it exactly."""
    try:
        if parse_instrument(c.name) == c:
            return c.name
    except InputError:
        pass
    spec: dict[str, Any] = {"kind": c.kind, "underlying": c.underlying, "settlement": c.settlement}
    if c.kind in ("future", "option"):
        spec["expiry"] = format_instant(c.expiry)
    if isinstance(c, Option):
        spec["strike"] = c.strike
        spec["right"] = c.right
    if c.multiplier != 1.0:
        spec["multiplier"] = c.multiplier
    return spec


def _as_of(
    imports: Sequence[VenueImport],
    feeds: Sequence[FeedReading],
    given: datetime | None,
    base: dict[str, Any] | None,
) -> tuple[datetime, str | None]:
    if given is not None:
        return given, None
    if base is not None:
        return parse_instant(base["as_of"]), "as_of is the market file's"
    times = [t for imp in imports for t in imp.facts.times]
    if not times:
        times = [(f.price.timestamp, f.path) for f in feeds]
    if not times:
        names = ", ".join(i.venue for i in imports) or "feed"
        raise InputError(
            f"the {names} export carries no timestamp to value it at: give --as-of "
            f"(e.g. --as-of 2026-01-16T08:00:00Z, or --as-of now)",
            path="--as-of",
        )
    t, path = max(times)
    return t, f"as_of {format_instant(t)} is the latest timestamp in the export ({path})"


class _Market:
    """The snapshot document being assembled (first value wins, conflicts noted)."""

    def __init__(self, as_of: datetime, notes: list[str], base: dict[str, Any] | None) -> None:
        self.as_of = as_of
        self.assets: dict[str, dict[str, Any]] = {}
        self.oracles: dict[str, dict[str, Any]] = {}
        self.src: dict[tuple[str, ...], str] = {}
        self.notes = notes
        self.base_currency = "USD"
        #: when the snapshot's undated prices were observed (the snapshot-level ``timestamp``)
        self.observed: str | None = None
        if base is not None:  # the user's market file: its values come first (and win)
            self.base_currency = str(base.get("base_currency", "USD")).upper()
            if base.get("timestamp") is not None:
                self.observed = format_instant(parse_instant(base["timestamp"]))
            self.oracles = {k.upper(): v for k, v in (base.get("oracles") or {}).items()}
            for sym, a in (base.get("assets") or {}).items():
                a = copy.deepcopy(a)
                exps = a.get("expiries")
                if exps:
                    a["expiries"] = {format_instant(parse_instant(k)): e for k, e in exps.items()}
                self.assets[sym.upper()] = a
                self._sources(a, (sym.upper(),))

    def _sources(self, node: dict[str, Any], key: tuple[str, ...]) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                self._sources(v, (*key, k))
            else:
                self.src[(*key, k)] = "the market file"

    def set(self, key: tuple[str, ...], value: float, path: str, *, override: bool = False) -> None:
        node = self.assets.setdefault(key[0], {})
        for k in key[1:-1]:
            node = node.setdefault(k, {})
        old = node.get(key[-1])
        if old is not None and not override:
            if abs(old - value) > 1e-3 * abs(old):
                self.notes.append(
                    f"{'.'.join(key)}: {value:g} ({path}) differs from {old:g} "
                    f"({self.src[key]}); the first is used"
                )
            return
        if old is not None and abs(old - value) > 1e-12 * abs(old):
            self.notes.append(
                f"{'.'.join(key)}: {old:g} ({self.src[key]}) replaced by {value:g} ({path})"
            )
        node[key[-1]] = value
        self.src[key] = path

    def price(self, sym: str) -> float | None:
        v = self.assets.get(sym, {}).get("price")
        return float(v) if v is not None else None

    def doc(self) -> dict[str, Any]:
        return {
            "as_of": format_instant(self.as_of),
            **({"timestamp": self.observed} if self.observed is not None else {}),
            "base_currency": self.base_currency,
            "assets": self.assets,
            **({"oracles": self.oracles} if self.oracles else {}),
        }


def build(
    imports: Sequence[VenueImport],
    feeds: Sequence[FeedReading] = (),
    *,
    account: str | None = None,
    as_of: datetime | None = None,
    rules: FeedRules | None = None,
    base: dict[str, Any] | None = None,
) -> Imported:
    """Assemble venue imports and feed readings into our portfolio and market documents.

    ``base`` is a validated market document (the user's ``--market`` file): its values win over
    the exports' (differences noted), its ``as_of`` is used unless ``as_of`` is given, and feed
    readings override its prices.

    Raises
    ------
    InputError
        No time to value at; an option mark no vol can reproduce.
    MarketDataError
        A stale or too uncertain feed reading.
    """
    notes: list[str] = []
    t, why = _as_of(imports, feeds, as_of, base)
    if why:
        notes.append(why)
    m = _Market(t, notes, base)
    if m.observed is None:
        # the marks a response carries are current when it was served: undated prices are dated
        # by the export's latest time (the response time); an export without any time is dated
        # by the as_of the user gave, and says so
        times = [when for imp in imports for when, _ in imp.facts.times]
        m.observed = format_instant(max(times) if times else t)
        if not times and imports:
            notes.append(
                f"the export carries no observation time: its prices are dated {m.observed} "
                "(the given as_of)"
            )
    for imp in imports:
        notes.extend(imp.facts.notes)
        for und, (v, path) in imp.facts.index.items():
            m.set((und, "price"), v, path)
        for und, (v, path) in imp.facts.perp.items():
            m.set((und, "perp", "mark"), v, path)
        for (und, exp), (v, path) in imp.facts.forward.items():
            m.set((und, "expiries", format_instant(exp), "forward"), v, path)
        for und, when in imp.facts.observed.items():
            m.assets.setdefault(und, {}).setdefault("timestamp", format_instant(when))
    _apply_feeds(m, feeds, rules or FeedRules())
    holdings = tuple(h for imp in imports for h in imp.holdings)
    for und in dict.fromkeys(h.contract.underlying for h in holdings):
        if m.price(und) is None:
            _index_fallback(m, imports, und)
    _vols(m, imports, holdings)
    venues: dict[str, dict[str, Any]] = {}
    for imp in imports:
        venues.setdefault(imp.venue, {"collateral": {}})
        venues[imp.venue]["collateral"] = _collateral(imp, notes)
    for part in venues.values():
        for ccy in part["collateral"]:
            _currency_price(m, imports, ccy)
    portfolio = {
        "account": account or "+".join(dict.fromkeys(i.venue for i in imports)) or "feeds",
        "base_currency": "USD",
        "venues": venues,
        "positions": [
            {
                "instrument": instrument_spec(h.contract),
                "quantity": float(h.quantity),
                **({"entry_price": h.entry_price} if h.entry_price is not None else {}),
                "venue": h.venue,
            }
            for h in holdings
        ],
    }
    if not imports:
        portfolio = {}
    return Imported(
        portfolio=portfolio,
        market=m.doc(),
        holdings=holdings,
        reported=tuple(r for imp in imports for r in imp.reported),
        notes=tuple(dict.fromkeys(notes)),
        venues=tuple(dict.fromkeys(i.venue for i in imports)),
    )


def _index_fallback(m: _Market, imports: Sequence[VenueImport], und: str) -> None:
    """No USD index: a stablecoin-quoted index, the perpetual's mark, the nearest future's mark."""
    for imp in imports:
        if und in imp.facts.index_stable:
            v, path = imp.facts.index_stable[und]
            m.set((und, "price"), v, path)
            m.notes.append(
                f"{und}: no USD index in the export; the stablecoin-quoted index {v:g} ({path}) is used"
            )
            return
    a = m.assets.get(und, {})
    perp = a.get("perp", {}).get("mark")
    if perp is not None:
        m.set((und, "price"), perp, m.src[(und, "perp", "mark")])
        m.notes.append(f"{und}: no index price in the export; the perpetual mark {perp:g} is used")
        return
    futures = sorted((k, e["forward"]) for k, e in a.get("expiries", {}).items() if "forward" in e)
    if futures:
        k, fwd = futures[0]
        m.set((und, "price"), fwd, m.src[(und, "expiries", k, "forward")])
        m.notes.append(
            f"{und}: no index price in the export; the nearest future's mark {fwd:g} ({k[:10]}) "
            f"is used (zero basis to that expiry)"
        )
        return
    m.notes.append(f"{und}: no index price in the exports (give --market or a price feed)")


def _apply_feeds(m: _Market, feeds: Sequence[FeedReading], rules: FeedRules) -> None:
    for f in feeds:
        check_feed(f.price, m.as_of, rules, path=f.path)
        stamp = format_instant(f.price.timestamp)
        if f.quote == "USD":
            m.set((f.base, "price"), f.price.price, f.path, override=True)
            node = m.assets[f.base]
            node["confidence"] = f.price.unit_confidence
            node["timestamp"] = stamp
        else:  # a rate feed: an oracle record for oracle-valued collateral
            m.oracles[f.base] = {
                "value": f.price.price,
                "timestamp": stamp,
                "confidence": f.price.unit_confidence,
                "source": f.source_name,
            }


def _vols(m: _Market, imports: Sequence[VenueImport], holdings: Sequence[Holding]) -> None:
    """One vol per (underlying, expiry, strike): the venue's mark vol, else implied from its mark."""
    given = {k: v for imp in imports for k, v in imp.facts.iv.items()}
    chosen: dict[tuple[str, datetime, float], tuple[float, str]] = {}
    todo: list[tuple[Holding, Option, float, float]] = []
    for h in holdings:
        c = h.contract
        if not isinstance(c, Option):
            continue
        key = (c.underlying, c.expiry, c.strike)
        if key in given:
            chosen.setdefault(key, given[key])
            continue
        spot = m.price(c.underlying)
        if spot is None:
            continue  # noted already: no price, no vol
        iso = format_instant(c.expiry)
        fwd = m.assets[c.underlying].get("expiries", {}).get(iso, {}).get("forward")
        if fwd is None:
            fwd = spot
            m.notes.append(
                f"{c.underlying} {iso}: no future or underlying price of this expiry in the export; "
                f"the forward is the index {spot:g} (rate 0)"
            )
        premium = h.mark * spot if c.settlement == "inverse" else h.mark
        todo.append((h, c, float(fwd), premium))
    if todo:
        vols = black76_implied_vol(
            np.array([x[3] for x in todo]),
            np.array([x[2] for x in todo]),
            np.array([x[1].strike for x in todo]),
            np.array([max(year_fraction(m.as_of, x[1].expiry), 0.0) for x in todo]),
            1.0,
            np.array([x[1].right == "call" for x in todo]),
        )
        for (h, c, fwd, premium), v in zip(todo, vols, strict=True):
            if not np.isfinite(v):
                raise InputError(
                    f"mark {h.mark:g} of {h.symbol} (premium {premium:g} USD, forward {fwd:g}) has "
                    f"no Black-76 vol; include the venue's ticker with its mark vol",
                    path=h.path,
                )
            key = (c.underlying, c.expiry, c.strike)
            old = chosen.setdefault(key, (float(v), h.path))
            if abs(old[0] - v) > 0.005:
                m.notes.append(
                    f"{h.symbol}: its mark implies vol {v:.4f}, {old[1]} gave {old[0]:.4f} at the "
                    f"same strike; {old[0]:.4f} is used"
                )
    for (und, exp, k), (v, _path) in sorted(
        chosen.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])
    ):
        e = (
            m.assets.setdefault(und, {})
            .setdefault("expiries", {})
            .setdefault(format_instant(exp), {})
        )
        e.setdefault("marks", []).append({"strike": k, "vol": v})


def _collateral(imp: VenueImport, notes: list[str]) -> dict[str, float]:
    if not imp.equity:
        if imp.holdings:
            notes.append(
                f"{imp.venue}: no account/balance response in the export; its collateral is empty "
                f"(equity = the positions' mark-to-market)"
            )
        return {}
    out = {ccy: float(eq) for ccy, eq in imp.equity.items()}
    unbalanced: dict[str, list[str]] = {}
    for h in imp.holdings:
        if h.settle in out:
            out[h.settle] -= h.mark_value()
        else:
            unbalanced.setdefault(h.settle, []).append(h.symbol)
    for ccy, syms in unbalanced.items():
        notes.append(
            f"{imp.venue}: no {ccy} balance in the export; {', '.join(syms)} count(s) their "
            f"mark-to-market only"
        )
    return {ccy: v for ccy, v in out.items() if v != 0.0}


def _currency_price(m: _Market, imports: Sequence[VenueImport], ccy: str) -> None:
    if ccy == "USD" or m.price(ccy) is not None:
        return
    for imp in imports:
        if ccy in imp.facts.usd:
            v, path = imp.facts.usd[ccy]
            m.set((ccy, "price"), v, path)
            return
    if ccy in PAR_STABLECOINS:
        m.set((ccy, "price"), 1.0, "par")
        m.notes.append(f"{ccy}: no USD price in the export; valued at par (1 USD)")
    else:
        m.notes.append(f"{ccy}: no USD price in the exports (give --market or a price feed)")
