"""Seeded input streams for the live-engine tests: a venue, and ticks / trades / transfers.

``venue(n, seed)`` is a synthetic venue (:func:`crossmargin.liquidation.synthetic_venue`) on the
bundled venue snapshot; ``stream(...)`` a deterministic list of inputs for it: BTC/ETH ticks (a
random walk with an optional crash, per-feed sequence numbers, the occasional vol update and
sequence gap), trades in the venue's contracts (some refused by the pre-trade check), deposits,
withdrawals, new accounts and clock steps. Every input is valid, so each one is journaled:
input ``i`` of a stream has journal seq ``i + 1`` (the kill -9 test relies on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from crossmargin.cli.cmd_info import examples_dir
from crossmargin.config import default_config
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Option, Perpetual
from crossmargin.instruments.naming import parse_instrument
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.io.market import load_market
from crossmargin.liquidation.synthetic import synthetic_venue
from crossmargin.live.records import Deposit, MarketUpdate, NewAccount, Trade, Withdrawal
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.market.vol import FlatVol

Input = MarketUpdate | Trade | Deposit | Withdrawal | NewAccount | datetime


@dataclass(frozen=True)
class Venue:
    """A snapshot and a book."""

    market: MarketSnapshot
    book: Book


def market() -> MarketSnapshot:
    """The bundled venue snapshot."""
    return load_market(examples_dir() / "market_venue.json")


def venue(n: int = 40, seed: int = 3) -> Venue:
    """A synthetic venue of ``n`` accounts on BTC and ETH."""
    snap = market()
    v = synthetic_venue(snap, default_config(), n, seed=seed, underlyings=("BTC", "ETH"))
    return Venue(snap, v.book)


def restrict(v: Venue, kinds: tuple[type, ...]) -> Venue:
    """The venue with only the positions in contracts of ``kinds`` (a preset's product range)."""
    b = v.book
    keep_c = [i for i, c in enumerate(b.contracts) if isinstance(c, kinds)]
    remap = np.full(len(b.contracts), -1, np.int64)
    remap[keep_c] = np.arange(len(keep_c))
    rows = np.flatnonzero(remap[b.pos_instrument] >= 0)
    book = Book(
        accounts=b.accounts,
        base_currency=b.base_currency,
        contracts=tuple(b.contracts[i] for i in keep_c),
        pos_account=b.pos_account[rows],
        pos_instrument=remap[b.pos_instrument[rows]],
        pos_quantity=b.pos_quantity[rows],
        pos_entry=b.pos_entry[rows],
        assets=b.assets,
        col_account=b.col_account,
        col_asset=b.col_asset,
        col_amount=b.col_amount,
    )
    return Venue(v.market, book)


def stream(
    v: Venue,
    n: int,
    *,
    seed: int = 0,
    crash: float = 0.0,
    clock_every: int = 25,
    vol: float = 0.01,
) -> list[Input]:
    """``n`` inputs (module docstring); ``crash``: total fall of BTC and ETH over the stream.

    A ``datetime`` item is a clock step (``engine.advance_clock``).
    """
    rng = np.random.default_rng(seed)
    snap = v.market
    t = snap.as_of
    px = {a: snap.assets[a].price for a in ("BTC", "ETH")}
    drift = (1.0 - crash) ** (1.0 / max(n, 1)) if crash else 1.0
    seq = {"deribit": 0, "pyth": 0}
    accounts = list(v.book.accounts)
    names = [c.name for c in v.book.contracts]
    perps = [c.name for c in v.book.contracts if isinstance(c, Perpetual)]
    options = [c.name for c in v.book.contracts if isinstance(c, Option)]
    out: list[Input] = []
    opened = 0
    for i in range(n):
        t = t + timedelta(seconds=float(rng.integers(1, 8)))
        r = rng.random()
        if clock_every and i % clock_every == clock_every - 1:
            out.append(t)
            continue
        if r < 0.45:
            asset = "BTC" if rng.random() < 0.6 else "ETH"
            feed = "deribit" if asset == "BTC" else "pyth"
            seq[feed] += 2 if rng.random() < 0.03 else 1
            px[asset] *= drift * float(np.exp(rng.normal(0.0, vol)))
            vols = (
                {None: FlatVol(round(float(rng.uniform(0.4, 0.9)), 4))}
                if rng.random() < 0.1
                else {}
            )
            out.append(
                MarketUpdate(
                    feed=feed,
                    seq=seq[feed],
                    time=t,
                    asset=asset,
                    price=round(px[asset], 2),
                    vols=vols,
                )
            )
        elif r < 0.8:
            acc = accounts[int(rng.integers(len(accounts)))]
            if rng.random() < 0.5 and perps:
                name = perps[int(rng.integers(len(perps)))]
                und = name.split("-")[0]
                price = round(px.get(und, 100.0) * float(np.exp(rng.normal(0, 0.002))), 2)
                qty = round(float(rng.normal(0.0, 2.0 if und == "BTC" else 20.0)), 3) or 0.5
            else:
                pool = options or names
                name = pool[int(rng.integers(len(pool)))]
                und = name.split("-")[0]
                price = round(px.get(und, 100.0) * float(rng.uniform(0.01, 0.06)), 2)
                qty = round(float(rng.normal(0.0, 1.0)), 3) or -0.5
            out.append(Trade(acc, name, qty, price, t, id=f"t{i}"))
        elif r < 0.9:
            acc = accounts[int(rng.integers(len(accounts)))]
            amt = round(float(rng.lognormal(8.0, 1.0)), 2)
            out.append(Deposit(acc, "USDC", amt, t, id=f"d{i}"))
        elif r < 0.97:
            acc = accounts[int(rng.integers(len(accounts)))]
            amt = round(float(rng.lognormal(8.0, 1.5)), 2)
            out.append(Withdrawal(acc, "USDC", amt, t, id=f"w{i}"))
        else:
            opened += 1
            name = f"new-{seed}-{opened}"
            accounts.append(name)
            perp = perps[int(rng.integers(len(perps)))] if perps else names[0]
            pf = Portfolio(
                name,
                "USD",
                {"USDC": round(float(rng.lognormal(10.0, 0.5)), 2)},
                (Position(parse_instrument(perp), round(float(rng.normal(0, 1.0)), 3) or 1.0),),
            )
            out.append(NewAccount(pf, t))
    return out


def feed(engine: object, items: list[Input]) -> list[object]:
    """Apply items one by one (clock steps through ``advance_clock``); the events of each."""
    out: list[object] = []
    for it in items:
        if isinstance(it, datetime):
            out.append(engine.advance_clock(it))  # type: ignore[attr-defined]
        else:
            out.append(engine.apply(it).events)  # type: ignore[attr-defined]
    return out


def until(start: datetime, items: list[Input]) -> datetime:
    """The time of the last item (or ``start``)."""
    last = start
    for it in items:
        last = it if isinstance(it, datetime) else it.time
    return last
