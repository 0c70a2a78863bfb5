"""Replays of real history through the live engine: the bundled crash example and its generator.

The example ``examples/live/crash_2020_03`` (shipped in the package; README there) is a venue of
1 000 accounts through the 2020-03-12 crash ("Black Thursday": BTC −50 % in 30 hours on
Bitstamp), built by :func:`build_crash_example` from three inputs only:

* ``btcusd_2h.csv`` — the real Bitstamp BTC/USD 2-hourly closes, 2020-03-05 .. 2020-03-20
  (bar close times, UTC);
* the synthetic-venue generator of the cascade simulator
  (:func:`crossmargin.liquidation.synthetic_venue`, seeded: directional, basis, pair,
  option-seller and protected-long accounts, heavy-tailed sizes, 15 % of accounts run close to
  their limit), sized on the first close under the ``portfolio`` model;
* the implied-vol proxy :class:`~crossmargin.live.volproxy.EWMAVolProxy` (RiskMetrics EWMA of
  the 2-hour returns, seeded at 70 %), which moves the asset-level vol with every tick.

It writes ``market.json`` (the snapshot at the first close: BTC spot, vol, rate 0, the
27MAR20 / 24APR20 / 26JUN20 expiries with forwards and vols from spot and the asset vol),
``accounts.json`` (the venue, one account per line) and ``ticks.jsonl`` (every later close as a
market update of feed ``bitstamp`` with its proxy vol, plus a few account updates: withdrawals
before the crash, deposits and de-risking trades during it, a dip buyer opening an account
after it). Running it again writes the same files (fixed seed; amounts rounded to 8
significant digits).
"""

from __future__ import annotations

import json
import math
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
    "CRASH_EXAMPLE",
    "book_portfolios",
    "build_crash_example",
    "crash_example_dir",
]

#: Name of the bundled crash example (directory under ``examples/live``).
CRASH_EXAMPLE = "crash_2020_03"
_FEED = "bitstamp"
_SEED_VOL = 0.70
_EXPIRIES = ("27MAR20", "24APR20", "26JUN20")


def crash_example_dir() -> Path:
    """Directory of the bundled crash example."""
    return Path(str(resources.files("crossmargin").joinpath("examples", "live", CRASH_EXAMPLE)))


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


def _market_obj(t0: datetime, price: float) -> dict[str, object]:
    return {
        "as_of": format_instant(t0),
        "base_currency": "USD",
        "assets": {
            "BTC": {
                "price": price,
                "confidence": 1.0,
                "timestamp": format_instant(t0),
                "vol": _SEED_VOL,
                "rate": 0.0,
                "expiries": {code: {} for code in _EXPIRIES},
            }
        },
    }


def _account_updates(
    portfolios: list[Portfolio], ticks: list[MarketUpdate], rng: np.random.Generator
) -> list[Update]:
    """A few deterministic account updates around the crash (module docstring)."""
    price_at = {u.time: u.price for u in ticks if u.price is not None}

    def at(text: str) -> datetime:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t not in price_at:
            raise InputError(f"no close at {text} in the replay window", path="replay")
        return t

    with_usd = [p for p in portfolios if p.collateral.get("USD", 0.0) > 0]
    pick = rng.permutation(len(with_usd))
    out: list[Update] = []
    t_w = at("2020-03-09T12:00:00Z")
    for k, j in enumerate(pick[:3]):
        p = with_usd[int(j)]
        amt = round(0.1 * p.collateral["USD"], 2)
        out.append(Withdrawal(p.account, "USD", amt, t_w, id=f"w-{k + 1}"))
    t_t = at("2020-03-12T10:00:00Z")
    perps = [p for p in portfolios if any(isinstance(x.contract, Perpetual) for x in p.positions)]
    for k, j in enumerate(rng.permutation(len(perps))[:5]):
        p = perps[int(j)]
        pos = next(x for x in p.positions if isinstance(x.contract, Perpetual))
        px = price_at[t_t]
        assert px is not None
        qty = _sig(-0.5 * pos.quantity)
        out.append(Trade(p.account, pos.contract.name, qty, px, t_t, id=f"t-{k + 1}"))
    t_d = at("2020-03-12T14:00:00Z")
    for k, j in enumerate(pick[3:13]):
        p = with_usd[int(j)]
        amt = round(0.25 * p.collateral["USD"], 2)
        out.append(Deposit(p.account, "USD", amt, t_d, id=f"d-{k + 1}"))
    t_n = at("2020-03-13T02:00:00Z")
    px = price_at[t_n]
    assert px is not None
    buyer = Portfolio("dip-buyer", "USD", {"USD": 10_000.0}, (Position(Perpetual("BTC"), 5.0, px),))
    out.append(NewAccount(buyer, t_n))
    return out


def build_crash_example(
    out_dir: str | Path,
    *,
    closes: str | Path | None = None,
    n_accounts: int = 1000,
    seed: int = 20200312,
) -> dict[str, Path]:
    """Write the crash example's ``market.json``, ``accounts.json`` and ``ticks.jsonl``.

    Parameters
    ----------
    out_dir
        Directory to write to (created if missing).
    closes
        The CSV of closes to replay (default: the example's ``btcusd_2h.csv``).
    n_accounts
        Venue size.
    seed
        Seed of the synthetic venue and of the account updates.

    Returns
    -------
    dict
        ``{"market": path, "accounts": path, "ticks": path}``.
    """
    src = Path(closes) if closes is not None else crash_example_dir() / "btcusd_2h.csv"
    proxy = EWMAVolProxy({"BTC": _SEED_VOL})
    stream = [u for u in read_updates(src, feed=_FEED, vol_rule=proxy)]
    ticks = [u for u in stream if isinstance(u, MarketUpdate)]
    p0 = ticks[0].price if ticks else None
    if len(ticks) < 2 or p0 is None:
        raise InputError("need a first close and at least one tick", path=str(src))
    first, ticks = ticks[0], ticks[1:]
    market_obj = _market_obj(first.time, p0)
    snapshot = market_from_obj(market_obj, history=None)
    venue = synthetic_venue(
        snapshot,
        default_config(),
        n_accounts,
        seed=seed,
        underlyings=("BTC",),
        regimes=("portfolio",),
    )
    names = tuple(f"acct-{k + 1:04d}" for k in range(n_accounts))
    portfolios = book_portfolios(venue.book, names=names)
    extra = _account_updates(portfolios, ticks, np.random.default_rng(seed + 1))
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
