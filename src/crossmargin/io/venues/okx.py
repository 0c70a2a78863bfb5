"""OKX exports (API v5): positions, account balance, public instruments.

Responses read (``{"code": "0", "msg": "", "data": [...]}``; a bare ``data`` list is accepted;
OKX API v5 reference, "Get positions", "Get balance", "Get instruments"):

* ``GET /api/v5/account/positions`` — rows with ``instId`` and ``pos``;
* ``GET /api/v5/account/balance`` — ``totalEq``, ``adjEq``, ``imr``, ``mmr`` (USD) and
  ``details[]`` per currency (``eq`` in the coin, ``coinUsdPrice``);
* ``GET /api/v5/public/instruments`` — ``ctVal``, ``ctMult``, ``ctType``, ``settleCcy``,
  ``expTime`` per ``instId`` (checked against the name; exact expiry).

Every number is a string and "not applicable" is ``""``. ``pos`` is in **contracts**: our
quantity is ``pos × ctVal × ctMult`` in ``ctValCcy`` — USD face for inverse swaps and futures,
coins for linear ones and for options. The contract values documented by OKX are built in
(``BTC-USD-SWAP`` / ``BTC-USD-YYMMDD``: 100 USD, inverse; ``BTC-USDT-SWAP``: 0.01 BTC, linear;
``BTC-USD-YYMMDD-K-C|P``: 1 × 0.01 BTC, coin-settled); any other instrument needs the
instruments response in the export (refused otherwise — never guessed). ``notionalUsd`` must agree
with the conversion within 2 % (wrong units otherwise).

``posSide`` ``net``: the sign of ``pos`` is the direction; ``long``/``short`` (hedge mode): ``pos``
is positive and the side gives the sign. ``MARGIN`` rows (spot on margin) are balances: the balance
response counts them (they are then skipped, noted); without it they are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual
from crossmargin.io.venues._common import Holding, MarketFacts, Reported, VenueImport
from crossmargin.io.venues._fields import Fields
from crossmargin.io.venues._names import expiry_code, right_of, settlement_of, strike_of
from crossmargin.io.venues._reader import VenueReader, check_units

__all__ = ["read_okx"]

VENUE = "okx"
_TYPES = ("MARGIN", "SWAP", "FUTURES", "OPTION")


@dataclass(frozen=True, slots=True)
class _Spec:
    """Contract specification of one OKX instrument."""

    ct_val: Decimal
    ct_mult: Decimal
    inverse: bool
    settle: str
    unit: str  # ctValCcy
    expiry: datetime | None = None


#: Contract values documented by OKX (API v5 "Get instruments" examples), by (family, type).
_BUILTIN = {
    ("BTC-USD", "SWAP"): _Spec(Decimal(100), Decimal(1), True, "BTC", "USD"),
    ("BTC-USD", "FUTURES"): _Spec(Decimal(100), Decimal(1), True, "BTC", "USD"),
    ("BTC-USDT", "SWAP"): _Spec(Decimal("0.01"), Decimal(1), False, "USDT", "BTC"),
    ("BTC-USD", "OPTION"): _Spec(Decimal(1), Decimal("0.01"), True, "BTC", "BTC"),
}


def _family(inst_id: str, inst_type: str, path: str) -> tuple[str, str, list[str]]:
    """``(base, quote, rest)`` of an instId, checking its shape against ``instType``."""
    parts = inst_id.upper().split("-")
    shapes = {"SWAP": 3, "FUTURES": 3, "OPTION": 5, "MARGIN": 2}
    ok = len(parts) == shapes[inst_type] and all(parts)
    if ok and inst_type == "SWAP":
        ok = parts[2] == "SWAP"
    if ok and inst_type == "OPTION":
        ok = parts[4] in ("C", "P")
    if not ok:
        raise InputError(f"instId {inst_id!r} is not an OKX {inst_type} instrument", path=path)
    return parts[0], parts[1], parts[2:]


class _Reader(VenueReader):
    venue = VENUE
    symbol_field, mark_field, entry_field = "instId", "markPx", "avgPx"

    def __init__(self) -> None:
        super().__init__()
        self.positions: list[Fields] = []
        self.balances: list[Fields] = []
        self.instruments: dict[str, Fields] = {}

    def add(self, doc: Any, where: str) -> None:
        if isinstance(doc, dict) and "code" in doc:
            env = Fields(doc, where)
            code = str(doc["code"])
            if code != "0":
                raise InputError(
                    f"the response is an OKX error (code {code}): {doc.get('msg', '')!r}",
                    path=env.at("code"),
                )
            rows = list(env.rows("data"))
        elif isinstance(doc, list):
            rows = [Fields(x, f"{where}[{i}]") for i, x in enumerate(doc)]
        else:
            raise InputError("not an OKX API v5 response ({code, msg, data})", path=where)
        for r in rows:
            if "details" in r.obj:
                self.balances.append(r)
            elif "instId" in r.obj and "pos" in r.obj:
                self.positions.append(r)
            elif "instId" in r.obj and ("ctVal" in r.obj or "ctType" in r.obj):
                self.instruments[r.name("instId").upper()] = r
            else:
                raise InputError(
                    "not a row of get positions, get balance or get instruments", path=r.path
                )


def read_okx(docs: list[tuple[Any, str]]) -> VenueImport:
    """Import OKX API v5 responses (parsed JSON documents with their file names).

    Raises
    ------
    InputError
        An OKX error response, a row that is no position, balance or instrument, two balance
        responses, an instrument of unknown contract value, a margin position without the
        balance, a notional inconsistent with the size or a position listed twice — named by
        file and field.
    """
    r = _Reader().read(docs)
    equity: dict[str, Decimal] = {}
    reported = [_balance(b, equity, r.facts) for b in r.balances]
    r.single(r.balances, "account balance")
    holdings = r.gather(
        r.positions,
        lambda p: _position(p, r),
        lambda p, h: (h.symbol, p.obj.get("posSide"), p.obj.get("mgnMode")),
        "(instId, posSide, mgnMode)",
    )
    return r.result(holdings, equity, reported)


def _spec(
    inst_id: str,
    inst_type: str,
    base: str,
    quote: str,
    rest: list[str],
    instruments: dict[str, Fields],
    path: str,
) -> _Spec:
    inverse_by_name = quote == "USD"
    row = instruments.get(inst_id.upper())
    if row is None:
        spec = _BUILTIN.get((f"{base}-{quote}", inst_type))
        if spec is None:
            raise InputError(
                f"the contract value of {inst_id} is not known: add its GET /api/v5/public/"
                f"instruments response to the export (ctVal, ctMult, ctType)",
                path=path,
            )
        expiry = (
            expiry_code(rest[0], path, venue=VENUE) if inst_type in ("FUTURES", "OPTION") else None
        )
        return _Spec(spec.ct_val, spec.ct_mult, spec.inverse, spec.settle, spec.unit, expiry)
    ct_type = row.text("ctType", required=False, choices=("linear", "inverse"))
    settle = (row.text("settleCcy", required=False) or (base if inverse_by_name else quote)).upper()
    inverse = ct_type == "inverse" if ct_type is not None else settle == base
    if inst_type != "OPTION" and inverse != inverse_by_name:
        raise InputError(
            f"{inst_id} is {'inverse' if inverse_by_name else 'linear'} by its name but the "
            f"instruments response says ctType {ct_type!r}",
            path=row.at("ctType"),
        )
    expiry = None
    if inst_type in ("FUTURES", "OPTION"):
        expiry = row.ms("expTime", required=False) or expiry_code(rest[0], path, venue=VENUE)
    return _Spec(
        row.positive("ctVal") or Decimal(0),
        row.positive("ctMult", required=False) or Decimal(1),
        inverse,
        settle,
        (
            row.text("ctValCcy", required=False)
            or ("USD" if inverse and inst_type != "OPTION" else base)
        ).upper(),
        expiry,
    )


def _position(p: Fields, r: _Reader) -> Holding | None:
    inst_type = p.text("instType", choices=_TYPES)
    assert inst_type is not None
    inst_id = p.name("instId")
    base, quote, rest = _family(inst_id, inst_type, p.at("instId"))
    pos = p.need("pos")
    side = p.text("posSide", required=False, choices=("net", "long", "short")) or "net"
    if pos == 0:
        return None
    if inst_type == "MARGIN":
        if not r.balances:
            raise InputError(
                f"margin position {inst_id} is a balance: add the GET /api/v5/account/balance "
                f"response to the export",
                path=p.at("instType"),
            )
        r.facts.notes.append(
            f"okx margin position {inst_id} ({p.path}) skipped: the balance counts it"
        )
        return None
    if side != "net" and pos < 0:
        raise InputError(
            f"pos {pos} is negative with posSide {side!r}: in long/short mode pos is positive",
            path=p.at("pos"),
        )
    signed = -pos if side == "short" else pos
    s = _spec(inst_id, inst_type, base, quote, rest, r.instruments, p.path)
    qty = signed * s.ct_val * s.ct_mult
    mark = p.positive("markPx")
    index = p.positive("idxPx", required=False)
    assert mark is not None
    if index is not None:
        if quote == "USD" or (inst_type == "OPTION" and quote.startswith("USD_")):
            r.facts.put("index", base, float(index), p.at("idxPx"))
        else:
            r.facts.put("index_stable", base, float(index), p.at("idxPx"))
    contract: Contract
    if inst_type == "SWAP":
        contract = Perpetual(base, settlement_of(s.inverse))
        notional = [float(qty)] if s.inverse else [float(qty * mark)]
    elif inst_type == "FUTURES":
        assert s.expiry is not None
        contract = Future(base, s.expiry, settlement_of(s.inverse))
        notional = [float(qty)] if s.inverse else [float(qty * mark)]
    else:
        assert s.expiry is not None
        right = right_of(rest[2] == "C")
        contract = Option(
            base,
            s.expiry,
            strike_of(rest[1], p.at("instId")),
            right,
            settlement_of(s.inverse),
        )
        notional = [float(qty * index)] if index is not None else []
    if notional:
        check_units(
            p.dec("notionalUsd", required=False),
            notional,
            p.at("notionalUsd"),
            what=f"pos {pos} × ctVal {s.ct_val} × ctMult {s.ct_mult} {s.unit}",
            tol=0.02,
        )
    if p.text("mgnMode", required=False) == "isolated":
        r.facts.notes.append(
            f"okx: {inst_id} is margined in isolated mode at the venue; imported into the "
            f"account's pool"
        )
    for key in ("uTime", "cTime"):
        t = p.ms(key, required=False)
        if t is not None:
            r.facts.times.append((t, p.at(key)))
            break
    mult = f" × ctMult {s.ct_mult}" if s.ct_mult != 1 else ""
    return r.holding(
        p,
        contract,
        qty,
        settle=s.settle,
        venue_size=f"{signed} contracts × ctVal {s.ct_val}{mult} {s.unit}",
    )


def _balance(b: Fields, equity: dict[str, Decimal], facts: MarketFacts) -> Reported | None:
    t = b.ms("uTime", required=False)
    if t is not None:
        facts.times.append((t, b.at("uTime")))
    for d in b.rows("details"):
        ccy = d.name("ccy").upper()
        if ccy in equity:
            raise InputError(f"duplicate balance of {ccy}", path=d.at("ccy"))
        eq = d.need("eq")
        equity[ccy] = eq
        px = d.positive("coinUsdPrice", required=False)
        if px is None and eq != 0 and d.present("eqUsd"):
            px = d.need("eqUsd") / eq
        if px is not None and px > 0:
            facts.put("usd", ccy, float(px), d.at("coinUsdPrice"))
    if not (b.present("imr") and b.present("mmr")):
        facts.notes.append(
            "okx: the balance has no account imr/mmr (account mode without cross-margin totals)"
        )
        return None
    return Reported.read(
        b, VENUE, "account", "okx account", "USD",
        im="imr", mm="mmr", equity="totalEq", adjusted="adjEq",
    )  # fmt: skip
