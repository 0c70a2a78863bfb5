"""Binance Portfolio Margin exports (PAPI): UM and CM positions, account, balances.

Responses read (bare JSON, no envelope; Binance Portfolio Margin API reference, "Query UM /
CM Position Information", "Account Information", "Account Balance"; COIN-M "Exchange
Information"):

* ``GET /papi/v1/um/positionRisk`` — USDⓈ-M (linear): ``positionAmt`` signed, in the **coin**;
  ``notional`` must equal ``positionAmt × markPrice`` within 1 %;
* ``GET /papi/v1/cm/positionRisk`` — COIN-M (inverse): ``positionAmt`` in **contracts** of
  ``contractSize`` USD; our quantity is ``positionAmt × contractSize`` USD face and
  ``notionalValue`` (coin) must equal it divided by ``markPrice`` within 1 %. ``contractSize`` comes
  from a ``GET /dapi/v1/exchangeInfo`` response in the export; without one only BTC's 100 USD
  (exchangeInfo docs example ``BTCUSD_200925``) is known — other CM contracts are refused;
* ``GET /papi/v1/account`` — ``accountInitialMargin``, ``accountMaintMargin``,
  ``accountEquity`` (USD, after collateral rates), ``uniMMR``, ``accountStatus``;
* ``GET /papi/v1/balance`` — per asset; equity = ``totalWalletBalance + umUnrealizedPNL +
  cmUnrealizedPNL − crossMarginBorrowed − crossMarginInterest``.

Symbols: UM ``BTCUSDT`` / ``BTCUSDC`` (perpetual), ``BTCUSDT_250328`` (delivery, YYMMDD, 08:00
UTC); CM ``BTCUSD_PERP``, ``BTCUSD_201225``. One-way mode lists a ``BOTH`` row per symbol (mostly
zero: dropped); hedge mode lists ``LONG`` (≥ 0) and ``SHORT`` (≤ 0) rows — a ``SHORT`` row with a
positive amount is refused rather than guessed. Binance PM positions carry no index price: the
snapshot uses the perpetual's mark (noted) unless a price feed or ``--market`` gives one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Perpetual
from crossmargin.io.venues._common import Holding, MarketFacts, Reported, VenueImport
from crossmargin.io.venues._fields import Fields
from crossmargin.io.venues._names import expiry_code, settlement_of
from crossmargin.io.venues._reader import VenueReader, check_units

__all__ = ["read_binance"]

VENUE = "binance"
#: COIN-M contract sizes documented by Binance (exchangeInfo example: BTCUSD_200925 = 100 USD).
_CM_BUILTIN = {"BTC": Decimal(100)}
_UM_QUOTES = ("USDT", "USDC")


class _Reader(VenueReader):
    venue = VENUE
    symbol_field, mark_field, entry_field = "symbol", "markPrice", "entryPrice"

    def __init__(self) -> None:
        super().__init__()
        self.um: list[Fields] = []
        self.cm: list[Fields] = []
        self.accounts: list[Fields] = []
        self.balances: list[Fields] = []
        self.sizes: dict[str, Decimal] = {}
        self.deliveries: dict[str, Fields] = {}

    def add(self, doc: Any, where: str) -> None:
        if isinstance(doc, dict):
            f = Fields(doc, where)
            if "code" in doc and "msg" in doc and len(doc) <= 3:
                raise InputError(
                    f"the response is a Binance error (code {doc['code']}): {doc['msg']!r}",
                    path=f.at("code"),
                )
            if "accountMaintMargin" in doc or "uniMMR" in doc:
                self.accounts.append(f)
            elif "symbols" in doc:
                for s in f.rows("symbols"):
                    sym = s.name("symbol").upper()
                    if s.present("contractSize"):
                        self.sizes[sym] = s.positive("contractSize") or Decimal(0)
                    self.deliveries[sym] = s
            else:
                raise InputError(
                    "not a Binance PAPI account, positionRisk, balance or exchangeInfo response",
                    path=where,
                )
            return
        if not isinstance(doc, list):
            raise InputError("not a Binance PAPI response (an object or a list)", path=where)
        for i, x in enumerate(doc):
            r = Fields(x, f"{where}[{i}]")
            if "positionAmt" in r.obj:
                cm = (
                    "notionalValue" in r.obj
                    or "maxQty" in r.obj
                    or "USD_" in str(r.obj.get("symbol", ""))
                )
                (self.cm if cm else self.um).append(r)
            elif "asset" in r.obj and "totalWalletBalance" in r.obj:
                self.balances.append(r)
            else:
                raise InputError("not a positionRisk or balance row", path=r.path)


def read_binance(docs: list[tuple[Any, str]]) -> VenueImport:
    """Import Binance Portfolio Margin responses (parsed JSON documents with their file names).

    Raises
    ------
    InputError
        A Binance error response, a document that is no PAPI account, positionRisk, balance or
        exchangeInfo response, two account responses, an unknown symbol or contract size, a
        direction contradicting ``positionSide``, a notional inconsistent with the size or a
        position listed twice — named by file and field.
    """
    r = _Reader().read(docs)
    reported = [_account(a, r.facts) for a in r.single(r.accounts, "account")]
    equity: dict[str, Decimal] = {}
    for b in r.balances:
        _balance(b, equity, r.facts)
    holdings = r.gather(
        [(x, False) for x in r.um] + [(x, True) for x in r.cm],
        lambda row: _position(row[0], row[1], r),
        lambda row, h: (h.symbol, row[0].obj.get("positionSide", "BOTH")),
        "(symbol, positionSide)",
    )
    return r.result(holdings, equity, reported)


def _symbol(sym: str, cm: bool, r: _Reader, path: str) -> tuple[Contract, str, str]:
    """``(contract, settle, underlying)`` of a UM or CM symbol."""
    s = sym.upper()
    head, _, tail = s.partition("_")
    if cm:
        if not head.endswith("USD") or len(head) <= 3 or not tail:
            raise InputError(
                f"{sym!r} is not a COIN-M symbol (BTCUSD_PERP, BTCUSD_201225)", path=path
            )
        und = head[:-3]
        settle = und
        inverse = True
    else:
        quote = next((q for q in _UM_QUOTES if head.endswith(q) and len(head) > len(q)), None)
        if quote is None:
            raise InputError(f"{sym!r} is not a USDⓈ-M symbol (BTCUSDT, BTCUSDT_250328)", path=path)
        und = head[: -len(quote)]
        settle = quote
        inverse = False
    settlement = settlement_of(inverse)
    if tail in ("", "PERP"):
        return Perpetual(und, settlement), settle, und
    spec = r.deliveries.get(s)
    if spec is not None and spec.present("deliveryDate"):
        expiry = spec.ms("deliveryDate")
    else:
        expiry = expiry_code(tail, path, venue=VENUE)
    assert expiry is not None
    return Future(und, expiry, settlement), settle, und


def _position(p: Fields, cm: bool, r: _Reader) -> Holding | None:
    sym = p.name("symbol")
    amt = p.need("positionAmt")
    side = p.text("positionSide", required=False, choices=("BOTH", "LONG", "SHORT")) or "BOTH"
    if amt == 0:
        return None
    if (side == "LONG" and amt < 0) or (side == "SHORT" and amt > 0):
        raise InputError(
            f"positionAmt {amt} on a {side} row: refusing to guess the direction "
            f"(LONG rows are positive, SHORT rows negative)",
            path=p.at("positionAmt"),
        )
    contract, settle, und = _symbol(sym, cm, r, p.at("symbol"))
    mark = p.positive("markPrice")
    assert mark is not None
    if cm:
        size = r.sizes.get(sym.upper()) or _CM_BUILTIN.get(und)
        if size is None:
            raise InputError(
                f"the contract size of {sym} is not known: add the COIN-M exchangeInfo "
                f"response (contractSize) to the export",
                path=p.at("symbol"),
            )
        qty = amt * size
        check_units(
            p.dec("notionalValue", required=False),
            [float(qty / mark)],
            p.at("notionalValue"),
            what=f"positionAmt {amt} × contractSize {size} USD / markPrice",
        )
        venue_size = f"{amt} contracts × {size} USD"
    else:
        qty = amt
        check_units(
            p.dec("notional", required=False),
            [float(qty * mark)],
            p.at("notional"),
            what=f"positionAmt {amt} {und} × markPrice",
        )
        venue_size = f"{amt} {und}"
    t = p.ms("updateTime", required=False)
    if t is not None:
        r.facts.times.append((t, p.at("updateTime")))
    return r.holding(p, contract, qty, settle=settle, venue_size=venue_size)


def _account(a: Fields, facts: MarketFacts) -> Reported:
    t = a.ms("updateTime", required=False)
    if t is not None:
        facts.times.append((t, a.at("updateTime")))
    status = a.text("accountStatus", required=False)
    if status is not None and status != "NORMAL":
        facts.notes.append(f"binance: the venue reports accountStatus {status}")
    return Reported.read(
        a, VENUE, "account", "binance portfolio margin", "USD",
        im="accountInitialMargin", mm="accountMaintMargin", equity="actualEquity",
        adjusted="accountEquity",
    )  # fmt: skip


def _balance(b: Fields, equity: dict[str, Decimal], facts: MarketFacts) -> None:
    asset = b.name("asset").upper()
    if asset in equity:
        raise InputError(f"duplicate balance of {asset}", path=b.at("asset"))
    zero = Decimal(0)
    equity[asset] = (
        b.need("totalWalletBalance")
        + (b.dec("umUnrealizedPNL", required=False) or zero)
        + (b.dec("cmUnrealizedPNL", required=False) or zero)
        - (b.dec("crossMarginBorrowed", required=False) or zero)
        - (b.dec("crossMarginInterest", required=False) or zero)
    )
    t = b.ms("updateTime", required=False) if b.dec("updateTime", required=False) else None
    if t is not None:
        facts.times.append((t, b.at("updateTime")))
