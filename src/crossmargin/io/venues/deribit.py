"""Deribit exports (API v2, JSON-RPC): positions, account summaries, instruments, tickers.

Responses read (recognised by shape; several per file allowed as a JSON list; the
``{"jsonrpc", "result"}`` envelope optional; Deribit API v2 reference):

* ``private/get_positions`` — ``result`` = list of positions;
* ``private/get_account_summary`` / ``private/get_account_summaries`` — equity, IM, MM;
* ``public/get_instruments`` — exact expiry (``expiration_timestamp``) and
  ``instrument_type`` (``reversed`` = inverse, ``linear``), checked against the name;
* ``public/ticker`` results or ``ticker.*`` subscription notifications — index, marks,
  ``underlying_price`` (the option's forward) and ``mark_iv`` (**percent**).

Conventions (the name decides; an instruments response is checked against it):

=============================  ==========  ===================  =====================
name                           settle      ``size`` unit         our contract
=============================  ==========  ===================  =====================
``BTC-PERPETUAL``              BTC         USD                   ``BTC-PERP-INV``
``BTC-27MAR26``                BTC         USD                   ``BTC-27MAR26-INV``
``BTC-27MAR26-100000-C``       BTC         BTC (premium in BTC)  ``BTC-27MAR26-100000-C-INV``
``BTC_USDC-PERPETUAL``         USDC        BTC                   ``BTC-PERP``
``SOL_USDC-25DEC26[-90-P]``    USDC        SOL                   ``SOL-25DEC26[-90-P]``
``BTC_USDC`` (kind ``spot``)   —           BTC                   a balance (see below)
=============================  ==========  ===================  =====================

``size`` is signed (short < 0) and must agree with ``direction``; for futures
``size_currency`` must equal ``size / mark_price`` (inverse) or ``size`` (linear) within 1 % —
anything else is refused as wrong units. Spot rows are balances: the account summary of that
currency already counts them (they are then skipped, noted); without one they are added to the
equity. Combo positions (``future_combo``, ``option_combo``) are refused: give their legs.

Venue figures: under cross collateral the account's ``total_initial_margin_usd`` /
``total_maintenance_margin_usd`` / ``total_equity_usd`` (once); otherwise each currency is its
own pool (``initial_margin``, ``maintenance_margin``, ``equity`` in the coin).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from crossmargin.errors import InputError
from crossmargin.io.venues._common import Holding, MarketFacts, Reported, VenueImport
from crossmargin.io.venues._fields import Fields, decimal_of, ms_to_instant
from crossmargin.io.venues._names import VenueSymbol, expiry_code, strike_of
from crossmargin.io.venues._reader import VenueReader, check_units

__all__ = ["read_deribit"]

VENUE = "deribit"
_KINDS = ("future", "option", "spot", "future_combo", "option_combo")


def parse_name(name: str, path: str) -> VenueSymbol:
    """Read a Deribit instrument name (see the module docstring).

    Raises
    ------
    InputError
        Not a Deribit name.
    """
    parts = name.strip().upper().split("-")
    head = parts[0]
    inverse = "_" not in head
    und, _, quote = head.partition("_")
    if not und.isalnum() or (quote and not quote.isalpha()):
        raise InputError(f"{name!r} is not a Deribit instrument name", path=path)
    settle = und if inverse else quote
    if len(parts) == 1 and not inverse:
        return VenueSymbol(und, settle, False, "spot")
    if len(parts) == 2 and parts[1] == "PERPETUAL":
        return VenueSymbol(und, settle, inverse, "perpetual")
    if len(parts) == 2 and parts[1][:1].isdigit():
        return VenueSymbol(und, settle, inverse, "future", expiry_code(parts[1], path, venue=VENUE))
    if len(parts) == 4 and parts[3] in ("C", "P"):
        return VenueSymbol(
            und,
            settle,
            inverse,
            "option",
            expiry_code(parts[1], path, venue=VENUE),
            strike_of(parts[2], path),
            "call" if parts[3] == "C" else "put",
        )
    raise InputError(
        f"{name!r} is not a Deribit instrument name (UND-PERPETUAL, UND-DDMMMYY, "
        f"UND-DDMMMYY-STRIKE-C|P, UND_USDC-...)",
        path=path,
    )


def _join(base: str, key: str) -> str:
    return f"{base}{key}" if base.endswith(":") else f"{base}.{key}"


def _results(doc: Any, where: str) -> Iterator[tuple[Any, str]]:
    """Unwrap JSON-RPC envelopes (one, a list of them, or a bare result)."""
    if (
        isinstance(doc, list)
        and doc
        and all(
            isinstance(x, dict) and ("jsonrpc" in x or "result" in x or "error" in x) for x in doc
        )
    ):
        for i, x in enumerate(doc):
            yield from _results(x, f"{where}[{i}]")
        return
    if isinstance(doc, dict) and "error" in doc and "result" not in doc:
        err = doc["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        raise InputError(f"the response is a JSON-RPC error: {msg!r}", path=_join(where, "error"))
    if isinstance(doc, dict) and doc.get("method") == "subscription":
        params = Fields(doc.get("params"), _join(where, "params"))
        yield params.obj.get("data"), params.at("data")
        return
    if isinstance(doc, dict) and "result" in doc:
        yield doc["result"], _join(where, "result")
        return
    yield doc, where


class _Reader(VenueReader):
    venue = VENUE
    symbol_field, mark_field, entry_field = "instrument_name", "mark_price", "average_price"

    def __init__(self) -> None:
        super().__init__()
        self.positions: list[Fields] = []
        self.summaries: list[Fields] = []
        self.instruments: dict[str, Fields] = {}
        self.tickers: list[Fields] = []

    def add(self, doc: Any, where: str) -> None:
        envelopes = doc if isinstance(doc, list) else [doc]
        for i, env in enumerate(envelopes):
            if isinstance(env, dict) and "usOut" in env:
                at = _join(f"{where}[{i}]" if isinstance(doc, list) else where, "usOut")
                us = decimal_of(env["usOut"], at)
                self.facts.times.append((ms_to_instant(us // 1000, at), at))
        for res, path in _results(doc, where):
            self._classify(res, path)

    def _classify(self, res: Any, path: str) -> None:
        if isinstance(res, list):
            rows = [Fields(x, f"{path}[{i}]") for i, x in enumerate(res)]
            if all("size" in r.obj and "instrument_name" in r.obj for r in rows):
                self.positions.extend(rows)
            elif all("instrument_type" in r.obj or "contract_size" in r.obj for r in rows):
                for r in rows:
                    self.instruments[r.name("instrument_name").upper()] = r
            else:
                raise InputError(
                    "a list that is neither get_positions nor get_instruments rows", path=path
                )
            return
        f = Fields(res, path)
        if "summaries" in f.obj:
            self.summaries.extend(f.rows("summaries"))
        elif "currency" in f.obj and "initial_margin" in f.obj:
            self.summaries.append(f)
        elif "instrument_name" in f.obj and "mark_price" in f.obj and "timestamp" in f.obj:
            self.tickers.append(f)
        else:
            raise InputError(
                "not a Deribit get_positions, get_account_summary(ies), get_instruments or "
                "ticker response",
                path=path,
            )


def read_deribit(docs: list[tuple[Any, str]]) -> VenueImport:
    """Import Deribit JSON-RPC responses (parsed JSON documents with their file names).

    Raises
    ------
    InputError
        An error response, a result that is no get_positions, get_account_summary(ies),
        get_instruments or ticker response, an instrument name inconsistent with its kind or
        instrument, a size inconsistent with ``size_currency``, a combo position or a position
        listed twice — named by file and field.
    """
    r = _Reader().read(docs)
    for t in r.tickers:
        _ticker(t, r.facts)
    equity: dict[str, Decimal] = {}
    reported = _summaries(r.summaries, equity, r.facts)
    holdings = r.gather(
        r.positions,
        lambda p: _position(p, r, equity),
        lambda p, h: h.symbol,
        "instrument",
    )
    return r.result(holdings, equity, reported)


def _spec(n: VenueSymbol, name: str, instruments: dict[str, Fields], path: str) -> VenueSymbol:
    """Check the name's convention against ``get_instruments`` and take its exact expiry."""
    spec = instruments.get(name.upper())
    if spec is None:
        return n
    itype = spec.text("instrument_type", required=False)
    if itype is not None and itype not in ("reversed", "linear"):
        raise InputError(f"unknown instrument_type {itype!r}", path=spec.at("instrument_type"))
    if itype is not None and (itype == "reversed") != n.inverse:
        raise InputError(
            f"{name} is {'inverse' if n.inverse else 'linear'} by its name but get_instruments "
            f"says instrument_type {itype!r}",
            path=spec.at("instrument_type"),
        )
    if n.kind in ("future", "option") and spec.present("expiration_timestamp"):
        exp = spec.ms("expiration_timestamp")
        return VenueSymbol(n.underlying, n.settle, n.inverse, n.kind, exp, n.strike, n.right)
    return n


def _position(p: Fields, r: _Reader, equity: dict[str, Decimal]) -> Holding | None:
    name = p.name("instrument_name")
    kind = p.text("kind", required=False, choices=_KINDS)
    n = parse_name(name, p.at("instrument_name"))
    if kind is None:
        kind = "spot" if n.kind == "spot" else "option" if n.kind == "option" else "future"
    if kind in ("future_combo", "option_combo"):
        raise InputError(
            f"combo position {name} cannot be imported: give the positions of its legs",
            path=p.at("kind"),
        )
    expected = {"perpetual": "future", "future": "future", "option": "option", "spot": "spot"}
    if expected[n.kind] != kind:
        raise InputError(
            f"kind {kind!r} does not match the instrument name {name}", path=p.at("kind")
        )
    size = p.need("size")
    direction = p.text("direction", required=False, choices=("buy", "sell", "zero"))
    if size == 0:
        return None
    if direction is not None and (direction == "buy") != (size > 0):
        raise InputError(
            f"direction {direction!r} contradicts size {size} (Deribit sizes are signed: short < 0)",
            path=p.at("direction"),
        )
    if kind == "spot":
        if n.underlying in equity and r.summaries:
            r.facts.notes.append(
                f"deribit spot position {name} ({p.path}) skipped: the {n.underlying} account "
                f"summary already counts spot balances"
            )
        else:
            equity[n.underlying] = equity.get(n.underlying, Decimal(0)) + size
            r.facts.notes.append(
                f"deribit spot position {name} ({p.path}) counted as a {n.underlying} balance "
                f"of {size} (no {n.underlying} account summary in the export)"
            )
        return None
    n = _spec(n, name, r.instruments, p.path)
    mark = p.positive("mark_price")
    index = p.positive("index_price", required=n.inverse or kind == "option")
    assert mark is not None
    if index is not None:
        r.facts.put("index", n.underlying, float(index), p.at("index_price"))
    if n.kind != "option":
        per_coin = [float(size / mark)] if n.inverse else [float(size)]
        check_units(
            p.dec("size_currency", required=False),
            per_coin,
            p.at("size_currency"),
            what=f"size {size} {'USD / mark_price' if n.inverse else n.underlying}",
        )
    unit = "USD" if n.inverse and n.kind != "option" else n.underlying
    return r.holding(p, n.contract(), size, settle=n.settle, venue_size=f"{size} {unit}")


def _ticker(t: Fields, facts: MarketFacts) -> None:
    name = t.name("instrument_name")
    n = parse_name(name, t.at("instrument_name"))
    state = t.text("state", required=False)
    if state is not None and state != "open":
        raise InputError(
            f"ticker of {name} is in state {state!r}: marks are only used while 'open'",
            path=t.at("state"),
        )
    when = t.ms("timestamp")
    assert when is not None
    facts.times.append((when, t.at("timestamp")))
    facts.observed[n.underlying] = max(when, facts.observed.get(n.underlying, when))
    index = t.positive("index_price", required=False)
    if index is not None:
        facts.put("index", n.underlying, float(index), t.at("index_price"))
    mark = t.positive("mark_price")
    assert mark is not None
    if n.kind == "perpetual":
        facts.put("perp", n.underlying, float(mark), t.at("mark_price"))
    elif n.kind == "future":
        assert n.expiry is not None
        facts.put("forward", (n.underlying, n.expiry), float(mark), t.at("mark_price"))
    elif n.kind == "option":
        assert n.expiry is not None
        fwd = t.positive("underlying_price", required=False)
        if fwd is not None:
            facts.put("forward", (n.underlying, n.expiry), float(fwd), t.at("underlying_price"))
        iv = t.positive("mark_iv", required=False)
        if iv is not None:
            if iv < 1:
                raise InputError(
                    f"mark_iv {iv} looks like a fraction; Deribit's ticker mark_iv is in percent",
                    path=t.at("mark_iv"),
                )
            facts.put("iv", (n.underlying, n.expiry, n.strike), float(iv) / 100.0, t.at("mark_iv"))


def _summaries(
    rows: list[Fields], equity: dict[str, Decimal], facts: MarketFacts
) -> list[Reported]:
    out: list[Reported] = []
    seen: dict[str, str] = {}
    cross = [s for s in rows if s.flag("cross_collateral_enabled")]
    # account totals in USD are carried by (some of) the cross summaries: read them once
    total: Fields | None = next((s for s in cross if s.present("total_initial_margin_usd")), None)
    mb_usd = next((s for s in cross if s.present("total_margin_balance_usd")), None)
    for s in rows:
        ccy = s.name("currency").upper()
        if ccy in seen:
            raise InputError(
                f"duplicate account summary for {ccy} (first at {seen[ccy]})", path=s.at("currency")
            )
        seen[ccy] = s.path
        equity[ccy] = s.need("equity")
        model = s.text("margin_model", required=False) or "deribit"
        if s.flag("cross_collateral_enabled"):
            # each cross summary's margin_balance is the account total in its own currency
            mb = s.dec("margin_balance", required=False)
            if mb and mb_usd is not None:
                usd = mb_usd.need("total_margin_balance_usd") / mb
                facts.put("usd", ccy, float(usd), s.at("margin_balance"))
            continue
        out.append(
            Reported.read(
                s,
                VENUE,
                ccy,
                model,
                ccy,
                im="initial_margin",
                mm="maintenance_margin",
                equity="equity",  # required: read above
            )
        )
    if cross and total is None:
        raise InputError(
            "cross-collateral summaries without total_initial_margin_usd: the account's margin "
            "is not in the export",
            path=cross[0].at("total_initial_margin_usd"),
        )
    if total is not None:
        out.insert(
            0,
            Reported.read(
                total,
                VENUE,
                "account",
                total.text("margin_model", required=False) or "deribit",
                "USD",
                im="total_initial_margin_usd",
                mm="total_maintenance_margin_usd",
                equity="total_equity_usd",
            ),
        )
    return out
