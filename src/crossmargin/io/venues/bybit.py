"""Bybit exports (API v5, Unified Trading Account): positions, wallet balance, instruments.

Responses read (``{"retCode": 0, "retMsg": "OK", "result": {...}, "time": ms}``; Bybit API v5
reference, "Get Position Info", "Get Wallet Balance", "Get Instruments Info"):

* ``GET /v5/position/list`` (one per ``category``: ``linear``, ``inverse``, ``option``);
* ``GET /v5/account/wallet-balance?accountType=UNIFIED`` — ``totalEquity``,
  ``totalInitialMargin``, ``totalMaintenanceMargin`` (USD) and ``coin[]`` (``equity`` in the
  coin, ``usdValue``);
* ``GET /v5/market/instruments-info`` — ``deliveryTime`` (ms), the exact expiry.

Symbols (Bybit v5 enums) and units — ``size`` is **unsigned**, ``side`` (``Buy``/``Sell``) gives
the sign, ``positionIdx`` 1/2 (hedge mode) must agree with it:

===============================  ========  ==========================  ====================
symbol                           category  ``size`` unit                our contract
===============================  ========  ==========================  ====================
``BTCUSDT`` / ``BTCPERP``         linear    BTC (USDT / USDC settled)   ``BTC-PERP``
``BTCUSDT-21FEB25``/``BTC-24MAR23``  linear    BTC                      ``BTC-21FEB25``
``BTCUSD``                        inverse   USD (1-USD contracts)       ``BTC-PERP-INV``
``BTCUSDH23``                     inverse   USD                         a future; expiry from
                                                                        instruments-info only
``BTC-13FEB25-89000-P-USDT``      option    BTC (USDT settled)          ``BTC-13FEB25-89000-P``
``ETH-28FEB25-2800-C``            option    ETH (USDC settled)          ``ETH-28FEB25-2800-C``
===============================  ========  ==========================  ====================

``positionValue`` must agree with ``size`` at the entry or the mark price within 1 % (inverse:
``size / price`` coins; linear: ``size × price``), else the row is refused as wrong units. Under
portfolio margin Bybit blanks per-position IM/MM (``""``); only the account totals are compared.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from crossmargin.errors import InputError
from crossmargin.io.venues._common import Holding, MarketFacts, Reported, VenueImport
from crossmargin.io.venues._fields import Fields
from crossmargin.io.venues._names import VenueSymbol, expiry_code, strike_of
from crossmargin.io.venues._reader import VenueReader, check_units

__all__ = ["read_bybit"]

VENUE = "bybit"
_CATEGORIES = ("linear", "inverse", "option")
_INV_FUTURE = re.compile(r"^([A-Z0-9]+)USD([FGHJKMNQUVXZ])(\d{2})$")


def parse_symbol(sym: str, category: str, path: str, delivery: dict[str, datetime]) -> VenueSymbol:
    """Read a Bybit symbol of ``category`` (see the module docstring).

    Raises
    ------
    InputError
        Not a symbol of that category, or an inverse future without its delivery time.
    """
    s = sym.upper()
    parts = s.split("-")
    if category == "option":
        if len(parts) in (4, 5) and parts[3] in ("C", "P"):
            settle = parts[4] if len(parts) == 5 else "USDC"
            if settle not in ("USDT", "USDC"):
                raise InputError(f"option {sym!r}: unknown settle coin {settle!r}", path=path)
            exp = delivery.get(s) or expiry_code(parts[1], path, venue=VENUE)
            right = "call" if parts[3] == "C" else "put"
            strike = strike_of(parts[2], path)
            return VenueSymbol(parts[0], settle, False, "option", exp, strike, right)
    elif category == "inverse":
        m = _INV_FUTURE.match(s)
        if m is not None:
            if s not in delivery:
                raise InputError(
                    f"the expiry of inverse future {sym} is not in its name: add the "
                    f"/v5/market/instruments-info response (deliveryTime) to the export",
                    path=path,
                )
            return VenueSymbol(m.group(1), m.group(1), True, "future", delivery[s])
        if len(parts) == 1 and s.endswith("USD") and len(s) > 3:
            return VenueSymbol(s[:-3], s[:-3], True, "perpetual")
    elif len(parts) == 1:
        for quote, settle in (("USDT", "USDT"), ("USDC", "USDC"), ("PERP", "USDC")):
            if s.endswith(quote) and len(s) > len(quote):
                return VenueSymbol(s[: -len(quote)], settle, False, "perpetual")
    elif len(parts) == 2:
        head = parts[0]
        settle = "USDT" if head.endswith("USDT") else "USDC"
        und = head[:-4] if head.endswith("USDT") else head
        exp = delivery.get(s) or expiry_code(parts[1], path, venue=VENUE)
        return VenueSymbol(und, settle, False, "future", exp)
    raise InputError(f"{sym!r} is not a Bybit {category} symbol", path=path)


class _Reader(VenueReader):
    venue = VENUE
    symbol_field, mark_field, entry_field = "symbol", "markPrice", "avgPrice"

    def __init__(self) -> None:
        super().__init__()
        self.positions: list[tuple[Fields, str]] = []
        self.wallets: list[Fields] = []
        self.delivery: dict[str, datetime] = {}

    def add(self, doc: Any, where: str) -> None:
        docs = doc if isinstance(doc, list) else [doc]
        for i, d in enumerate(docs):
            self._one(Fields(d, f"{where}[{i}]" if isinstance(doc, list) else where))

    def _one(self, env: Fields) -> None:
        if "retCode" not in env.obj:
            raise InputError("not a Bybit v5 response ({retCode, result, time})", path=env.path)
        code = env.obj["retCode"]
        if code != 0 and code != "0":
            raise InputError(
                f"the response is a Bybit error (retCode {code}): {env.obj.get('retMsg', '')!r}",
                path=env.at("retCode"),
            )
        t = env.ms("time", required=False)
        if t is not None:
            self.facts.times.append((t, env.at("time")))
        res = env.sub("result")
        rows = list(res.rows("list"))
        if all("accountType" in r.obj for r in rows) and rows:
            self.wallets.extend(rows)
        elif "category" in res.obj and all("size" in r.obj for r in rows):
            cat = res.text("category", choices=_CATEGORIES)
            assert cat is not None
            self.positions.extend((r, cat) for r in rows)
        elif rows and all("deliveryTime" in r.obj for r in rows):
            for r in rows:
                when = r.dec("deliveryTime", required=False)
                if when:  # 0 for perpetuals
                    self.delivery[r.name("symbol").upper()] = r.ms("deliveryTime")  # type: ignore[assignment]
        elif not rows:
            return
        else:
            raise InputError(
                "not a position list, wallet balance or instruments-info result", path=res.path
            )


def read_bybit(docs: list[tuple[Any, str]]) -> VenueImport:
    """Import Bybit v5 responses (parsed JSON documents with their file names).

    Raises
    ------
    InputError
        A Bybit error response, a result that is no position list, wallet balance or
        instruments-info, two wallet balances, an unknown symbol, a size inconsistent with
        ``positionValue`` or a position listed twice — named by file and field.
    """
    r = _Reader().read(docs)
    equity: dict[str, Decimal] = {}
    reported = [_wallet(w, equity, r.facts) for w in r.single(r.wallets, "wallet balance")]
    holdings = r.gather(
        r.positions,
        lambda row: _position(row[0], row[1], r),
        lambda row, h: (h.symbol, row[0].obj.get("positionIdx", 0)),
        "(symbol, positionIdx)",
    )
    return r.result(holdings, equity, reported)


def _position(p: Fields, category: str, r: _Reader) -> Holding | None:
    sym = p.name("symbol")
    size = p.need("size")
    side = p.text("side", required=False, choices=("Buy", "Sell", "None"))
    if size < 0:
        raise InputError(
            f"size {size} is negative: Bybit sizes are unsigned, the side gives the direction",
            path=p.at("size"),
        )
    if size == 0:
        return None
    if side not in ("Buy", "Sell"):
        raise InputError(f"a position of size {size} needs side Buy or Sell", path=p.at("side"))
    idx = p.obj.get("positionIdx", 0)
    if idx not in (0, 1, 2, "0", "1", "2"):
        raise InputError(f"unknown positionIdx {idx!r} (0, 1 or 2)", path=p.at("positionIdx"))
    if int(idx) and (int(idx) == 1) != (side == "Buy"):
        raise InputError(
            f"positionIdx {idx} (hedge mode {'buy' if int(idx) == 1 else 'sell'} side) "
            f"contradicts side {side!r}",
            path=p.at("side"),
        )
    y = parse_symbol(sym, category, p.at("symbol"), r.delivery)
    qty = size if side == "Buy" else -size
    mark = p.positive("markPrice")
    entry = p.positive("avgPrice", required=False)
    assert mark is not None
    if y.kind != "option":
        prices = [entry, mark] if entry is not None else [mark]
        expected = [float(size / x) if y.inverse else float(size * x) for x in prices]
        check_units(
            p.dec("positionValue", required=False),
            expected,
            p.at("positionValue"),
            what=f"size {size} {'USD / price' if y.inverse else y.underlying + ' × price'}",
        )
    unit = "USD" if y.inverse else y.underlying
    return r.holding(p, y.contract(), qty, settle=y.settle, venue_size=f"{side} {size} {unit}")


def _wallet(w: Fields, equity: dict[str, Decimal], facts: MarketFacts) -> Reported:
    kind = w.name("accountType")
    for c in w.rows("coin"):
        coin = c.name("coin").upper()
        if coin in equity:
            raise InputError(f"duplicate balance of {coin}", path=c.at("coin"))
        eq = c.need("equity")
        equity[coin] = eq
        usd = c.dec("usdValue", required=False)
        if usd is not None and eq != 0 and usd / eq > 0:
            facts.put("usd", coin, float(usd / eq), c.at("usdValue"))
    return Reported.read(
        w, VENUE, "account", f"bybit {kind.lower()}", "USD",
        im="totalInitialMargin", mm="totalMaintenanceMargin", equity="totalEquity",
    )  # fmt: skip
