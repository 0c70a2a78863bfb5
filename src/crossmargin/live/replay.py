"""Replays of real history through the live engine: the bundled examples and their generator.

Two venues of 1 000 accounts through real crashes, shipped in the package under
``examples/live`` (a README in each), built by :func:`build_example` from three inputs only:

* a CSV of real closes:

  - ``crash_2020_03/btcusd_2h.csv`` — Bitstamp BTC/USD 2-hourly closes, 2020-03-05 .. 03-20
    (bar close times, UTC): "Black Thursday", BTC −48 % from 7 900 to 4 112 in about a day;
  - ``ftx_2022_11/closes_daily.csv`` — CoinGecko daily BTC, ETH, USDC and USDT, 2022-10-31 ..
    11-30: the FTX collapse (BTC −24 %, ETH −30 % in two days, USDC and USDT off their peg);

* the synthetic-venue generator of the cascade simulator
  (:func:`crossmargin.liquidation.synthetic_venue`, seeded: directional, two-asset, basis, pair,
  option-seller and protected-long accounts, heavy-tailed sizes, 15 % of accounts close to their
  limit), sized on the first row of closes under the ``portfolio`` model;
* the implied-vol proxy :class:`~crossmargin.live.volproxy.EWMAVolProxy` (RiskMetrics EWMA of
  each underlying's returns on the tick clock, seeded at the snapshot's vol), which moves the
  asset-level vol with every tick.

Each writes ``market.json`` (the snapshot at the first row: prices, vols, rate 0, three listed
expiries whose forwards and vols follow spot and the asset vol), ``accounts.json`` (the venue,
one account per line) and ``ticks.jsonl`` (every later close as a market update of the
example's feed, with its proxy vol, plus a few account updates: withdrawals before the crash,
de-risking trades and deposits during it, a dip buyer opening an account after it). Running it
again writes the same files (fixed seeds; amounts rounded to 8 significant digits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import numpy as np

from crossmargin._time import format_instant
from crossmargin.config.model import default_config
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.contracts import Perpetual
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.io.market import market_from_obj
from crossmargin.liquidation.synthetic import synthetic_venue
from crossmargin.live.codec import portfolio_to_obj, update_to_obj
from crossmargin.live.records import Deposit, MarketUpdate, NewAccount, Trade, Update, Withdrawal
from crossmargin.live.sources import read_updates
from crossmargin.live.volproxy import EWMAVolProxy

__all__ = [
    "EXAMPLES",
    "ReplayExample",
    "book_portfolios",
    "build_example",
    "example_dir",
]


@dataclass(frozen=True, slots=True)
class ReplayExample:
    """How one bundled replay is built (module docstring).

    Attributes
    ----------
    name
        Directory under ``examples/live``.
    closes
        The CSV of closes (in that directory).
    feed
        Feed id of the ticks.
    vols
        Underlying → starting implied vol (the snapshot's, and the seed of the vol proxy).
    expiries
        Listed expiries (codes) of the snapshot.
    moments
        Instants of the account updates: withdrawals, de-risking trades, deposits, the dip
        buyer's new account (each must be a tick time).
    n_accounts, seed
        Venue size and seed.
    """

    name: str
    closes: str
    feed: str
    vols: Mapping[str, float]
    expiries: tuple[str, ...]
    moments: tuple[str, str, str, str]
    n_accounts: int = 1000
    seed: int = 0


#: The bundled replays.
EXAMPLES: Mapping[str, ReplayExample] = {
    e.name: e
    for e in (
        ReplayExample(
            "crash_2020_03",
            "btcusd_2h.csv",
            "bitstamp",
            {"BTC": 0.70},
            ("27MAR20", "24APR20", "26JUN20"),
            (
                "2020-03-09T12:00:00Z",
                "2020-03-12T10:00:00Z",
                "2020-03-12T14:00:00Z",
                "2020-03-13T02:00:00Z",
            ),
            seed=20200312,
        ),
        ReplayExample(
            "ftx_2022_11",
            "closes_daily.csv",
            "coingecko",
            {"BTC": 0.55, "ETH": 0.70},
            ("30DEC22", "31MAR23", "30JUN23"),
            (
                "2022-11-04T00:00:00Z",
                "2022-11-09T00:00:00Z",
                "2022-11-10T00:00:00Z",
                "2022-11-11T00:00:00Z",
            ),
            seed=20221108,
        ),
    )
}


def example_dir(name: str = "crash_2020_03") -> Path:
    """Directory of a bundled replay (:data:`EXAMPLES`)."""
    if name not in EXAMPLES:
        raise InputError(f"unknown replay example (one of {', '.join(EXAMPLES)})", path=name)
    return Path(str(resources.files("crossmargin").joinpath("examples", "live", name)))


def _sig(x: float, digits: int = 8) -> float:
    return float(f"{x:.{digits}g}")


def book_portfolios(book: Book, *, names: tuple[str, ...] | None = None) -> list[Portfolio]:
    """The accounts of a book as portfolios (amounts rounded to 8 significant digits).

    Parameters
    ----------
    book
        The book.
    names
        Account names to use instead of the book's.
    """
    accounts = names or book.accounts
    positions: list[list[Position]] = [[] for _ in accounts]
    for a, i, q, e in zip(
        book.pos_account, book.pos_instrument, book.pos_quantity, book.pos_entry, strict=True
    ):
        entry = None if math.isnan(e) else _sig(float(e))
        positions[int(a)].append(Position(book.contracts[int(i)], _sig(float(q)), entry))
    collateral: list[dict[str, float]] = [{} for _ in accounts]
    for a, s, amount in zip(book.col_account, book.col_asset, book.col_amount, strict=True):
        collateral[int(a)][book.assets[int(s)]] = _sig(float(amount))
    return [
        Portfolio(name, book.base_currency[k], collateral[k], tuple(positions[k]))
        for k, name in enumerate(accounts)
    ]


def _market_obj(ex: ReplayExample, first: Sequence[MarketUpdate]) -> dict[str, object]:
    assets: dict[str, object] = {}
    for u in first:
        a: dict[str, object] = {
            "price": u.price,
            "confidence": 1.0,
            "timestamp": format_instant(u.time),
        }
        if u.asset in ex.vols:
            a.update(vol=ex.vols[u.asset], rate=0.0, expiries={c: {} for c in ex.expiries})
        assets[u.asset] = a
    return {"as_of": format_instant(first[0].time), "base_currency": "USD", "assets": assets}


def _account_updates(
    ex: ReplayExample,
    portfolios: list[Portfolio],
    ticks: list[MarketUpdate],
    rng: np.random.Generator,
) -> list[Update]:
    """A few deterministic account updates around the crash (module docstring)."""
    und = next(iter(ex.vols))
    price_at = {u.time: u.price for u in ticks if u.price is not None and u.asset == und}

    def at(text: str) -> datetime:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t not in price_at:
            raise InputError(f"no close at {text} in the replay window", path="replay")
        return t

    stable = next(iter(portfolios[0].collateral))
    with_cash = [p for p in portfolios if p.collateral.get(stable, 0.0) > 0]
    pick = rng.permutation(len(with_cash))
    out: list[Update] = []
    t_w, t_t, t_d, t_n = (at(m) for m in ex.moments)
    for k, j in enumerate(pick[:3]):
        p = with_cash[int(j)]
        amt = round(0.1 * p.collateral[stable], 2)
        out.append(Withdrawal(p.account, stable, amt, t_w, id=f"w-{k + 1}"))
    perps = [
        p
        for p in portfolios
        if any(
            isinstance(x.contract, Perpetual) and x.contract.underlying == und for x in p.positions
        )
    ]
    for k, j in enumerate(rng.permutation(len(perps))[:5]):
        p = perps[int(j)]
        pos = next(
            x
            for x in p.positions
            if isinstance(x.contract, Perpetual) and x.contract.underlying == und
        )
        px = price_at[t_t]
        assert px is not None
        qty = _sig(-0.5 * pos.quantity)
        out.append(Trade(p.account, pos.contract.name, qty, px, t_t, id=f"t-{k + 1}"))
    for k, j in enumerate(pick[3:13]):
        p = with_cash[int(j)]
        amt = round(0.25 * p.collateral[stable], 2)
        out.append(Deposit(p.account, stable, amt, t_d, id=f"d-{k + 1}"))
    px = price_at[t_n]
    assert px is not None
    size = _sig(25_000.0 / px, 4)  # 25 000 USD of perp on 10 000 of collateral
    buyer = Portfolio("dip-buyer", "USD", {stable: 10_000.0}, (Position(Perpetual(und), size, px),))
    out.append(NewAccount(buyer, t_n))
    return out


def build_example(
    name: str,
    out_dir: str | Path,
    *,
    closes: str | Path | None = None,
) -> dict[str, Path]:
    """Write a bundled replay's ``market.json``, ``accounts.json`` and ``ticks.jsonl``.

    Parameters
    ----------
    name
        The replay (:data:`EXAMPLES`).
    out_dir
        Directory to write to (created if missing).
    closes
        The CSV of closes to replay (default: the example's own).

    Returns
    -------
    dict
        ``{"market": path, "accounts": path, "ticks": path}``.

    Raises
    ------
    InputError
        An unknown example, or closes that do not cover its moments.
    """
    ex = EXAMPLES.get(name)
    if ex is None:
        raise InputError(f"unknown replay example (one of {', '.join(EXAMPLES)})", path=name)
    src = Path(closes) if closes is not None else example_dir(name) / ex.closes
    proxy = EWMAVolProxy(ex.vols)
    ticks = [
        u for u in read_updates(src, feed=ex.feed, vol_rule=proxy) if isinstance(u, MarketUpdate)
    ]
    t0 = ticks[0].time if ticks else None
    first = [u for u in ticks if u.time == t0]
    ticks = ticks[len(first) :]
    if not ticks:
        raise InputError("need a first row of closes and at least one more", path=str(src))
    market_obj = _market_obj(ex, first)
    snapshot = market_from_obj(market_obj, history=None)
    venue = synthetic_venue(
        snapshot,
        default_config(),
        ex.n_accounts,
        seed=ex.seed,
        underlyings=tuple(ex.vols),
        regimes=("portfolio",),
    )
    names = tuple(f"acct-{k + 1:04d}" for k in range(ex.n_accounts))
    portfolios = book_portfolios(venue.book, names=names)
    extra = _account_updates(ex, portfolios, ticks, np.random.default_rng(ex.seed + 1))
    merged = sorted(
        [*ticks, *extra], key=lambda u: (u.time, 0 if isinstance(u, MarketUpdate) else 1)
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "market": out / "market.json",
        "accounts": out / "accounts.json",
        "ticks": out / "ticks.jsonl",
    }
    paths["market"].write_text(json.dumps(market_obj, indent=2) + "\n", encoding="utf-8")
    rows = ",\n".join(json.dumps(portfolio_to_obj(p)) for p in portfolios)
    paths["accounts"].write_text('{"accounts": [\n' + rows + "\n]}\n", encoding="utf-8")
    paths["ticks"].write_text(
        "".join(json.dumps(update_to_obj(u), allow_nan=False) + "\n" for u in merged),
        encoding="utf-8",
    )
    return paths
