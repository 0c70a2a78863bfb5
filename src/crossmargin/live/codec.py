"""The JSON object form of the live engine's inputs: one object per tick-file line or journal record.

::

    {"type": "market", "feed": "deribit", "seq": 17, "time": "2020-03-12T10:00:00Z",
     "asset": "BTC", "price": 5950.5, "confidence": 0.999, "perp_mark": 5948.0,
     "forwards": {"27MAR20": 5960.0}, "vol": 0.95,
     "vols": {"27MAR20": {"smile": {"strikes": [5000, 6000, 7000], "vols": [1.1, 0.95, 0.9]}}},
     "oracle": {"value": 1.02, "timestamp": "…", "confidence": 1.0, "source": "lido"}}
    {"type": "trade", "account": "a1", "instrument": "BTC-PERP", "quantity": -2,
     "price": 5950, "time": "…", "id": "t-1"}
    {"type": "deposit" | "withdrawal", "account": "a1", "asset": "USDC", "amount": 1000,
     "time": "…", "id": "w-1"}
    {"type": "account", "time": "…", <the fields of one account of a portfolio file>}
    {"type": "pyth", "asset": "BTC", <a Pyth Hermes ParsedPriceUpdate: "id", "price": {"price",
     "conf", "expo", "publish_time"}, …>}

A vol is a number (flat), ``{"smile": {"strikes": [...], "vols": [...]}}`` or ``{"svi": {"a",
"b", "rho", "m", "sigma"[, "forward", "t"]}}`` — the shapes of a market snapshot file; ``vol`` is
the asset-level (flat) vol, ``vols`` maps expiries (ISO-8601 instants or codes like ``27MAR20``)
to surfaces. Times are ISO-8601 strings with a zone. Unknown fields are refused.

Pyth records are decoded by :func:`crossmargin.io.feeds.decode_pyth` and checked by
:func:`~crossmargin.io.feeds.check_feed` (confidence interval at most
``FeedRules.max_confidence_ratio`` of the price; staleness is the engine's heartbeat, measured
on its clock). A ``BASE/USD`` feed becomes a price with ``confidence = 1 − conf/price``; a rate
feed quoted in another asset (``WSTETH/ETH``) becomes an oracle record of ``BASE``.

:func:`update_to_obj` writes the canonical form (never ``"pyth"``), and
``update_from_obj(update_to_obj(u)) == u`` exactly: the journal stores the one and recovery reads
it back with the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from crossmargin._time import aware_instant, format_instant, parse_instant
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import parse_instrument
from crossmargin.instruments.position import Portfolio
from crossmargin.io.feeds import FeedRules, check_feed, decode_pyth, feed_pair
from crossmargin.io.market import oracle_to_obj
from crossmargin.io.portfolio import portfolios_from_obj
from crossmargin.live.records import (
    Deposit,
    MarketUpdate,
    NewAccount,
    Trade,
    Update,
    VolSurfaceIn,
    Withdrawal,
    iso,
)
from crossmargin.market.snapshot import OracleRecord
from crossmargin.market.vol import FlatVol, SmileVol, SVIVol

__all__ = ["UPDATE_TYPES", "portfolio_to_obj", "update_from_obj", "update_to_obj"]

#: The ``type`` values of the JSON object form.
UPDATE_TYPES = ("market", "pyth", "trade", "deposit", "withdrawal", "account")

#: type → (required fields, optional fields); "account" adds the portfolio fields.
_FIELDS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "market": (
        frozenset({"type", "feed", "time", "asset"}),
        frozenset({"seq", "price", "confidence", "perp_mark", "forwards", "vol", "vols", "oracle"}),
    ),
    "trade": (
        frozenset({"type", "account", "instrument", "quantity", "price", "time"}),
        frozenset({"id"}),
    ),
    "deposit": (frozenset({"type", "account", "asset", "amount", "time"}), frozenset({"id"})),
    "withdrawal": (frozenset({"type", "account", "asset", "amount", "time"}), frozenset({"id"})),
    "account": (
        frozenset({"type", "time", "account"}),
        frozenset({"base_currency", "collateral", "positions"}),
    ),
    "pyth": (
        frozenset({"type", "id", "price"}),
        frozenset({"asset", "feed", "ema_price", "metadata"}),
    ),
}
_ORACLE_FIELDS = frozenset({"value", "timestamp", "confidence", "source", "reference"})
_SVI_FIELDS = ("a", "b", "rho", "m", "sigma", "forward", "t")
_SURFACE_SHAPES = 'must be a number (flat vol), {"smile": {...}} or {"svi": {...}}'


# -- writing ----------------------------------------------------------------------------------------
def _surface_to_obj(s: VolSurfaceIn) -> object:
    if isinstance(s, FlatVol):
        return s.vol
    if isinstance(s, SmileVol):
        return {"smile": {"strikes": list(s.strikes), "vols": list(s.vols_at_strikes)}}
    svi: dict[str, float] = {"a": s.a, "b": s.b, "rho": s.rho, "m": s.m, "sigma": s.sigma}
    if s.forward is not None:
        svi["forward"] = s.forward
    if s.t is not None:
        svi["t"] = s.t
    return {"svi": svi}


def _contract_to_obj(c: Contract) -> object:
    """The contract's name when the name reads back to it, else the explicit object."""
    try:
        if parse_instrument(c.name) == c:
            return c.name
    except CrossMarginError:
        pass
    out: dict[str, object] = {"kind": c.kind, "underlying": c.underlying}
    if c.expiry is not None:
        out["expiry"] = format_instant(c.expiry)  # any zone: not a record time
    if c.kind == "option":
        out["strike"] = c.strike
        out["right"] = c.right
    out["settlement"] = c.settlement
    out["multiplier"] = c.multiplier
    return out


def portfolio_to_obj(p: Portfolio) -> dict[str, object]:
    """One account in the portfolio-file format (the inverse of the portfolio loader)."""
    positions: list[dict[str, object]] = []
    for pos in p.positions:
        row: dict[str, object] = {
            "instrument": _contract_to_obj(pos.contract),
            "quantity": pos.quantity,
        }
        if pos.entry_price is not None:
            row["entry_price"] = pos.entry_price
        positions.append(row)
    return {
        "account": p.account,
        "base_currency": p.base_currency,
        "collateral": dict(p.collateral),
        "positions": positions,
    }


def _market_to_obj(u: MarketUpdate) -> dict[str, object]:
    out: dict[str, object] = {
        "type": "market",
        "feed": u.feed,
        "seq": u.seq,
        "time": iso(u.time),
        "asset": u.asset,
    }
    for name in ("price", "confidence", "perp_mark"):
        v = getattr(u, name)
        if v is not None:
            out[name] = v
    if u.forwards:
        out["forwards"] = {iso(t): f for t, f in u.forwards.items()}
    if None in u.vols:
        out["vol"] = _surface_to_obj(u.vols[None])
    by_expiry = {iso(t): _surface_to_obj(s) for t, s in u.vols.items() if t is not None}
    if by_expiry:
        out["vols"] = by_expiry
    if u.oracle is not None:
        out["oracle"] = oracle_to_obj(u.oracle)
    return out


def update_to_obj(u: Update) -> dict[str, object]:
    """The canonical JSON object of an update (see the module docstring).

    ``update_from_obj(update_to_obj(u)) == u`` for every valid update.

    Raises
    ------
    InputError
        ``u`` is not an update record.
    """
    if isinstance(u, MarketUpdate):
        return _market_to_obj(u)
    if isinstance(u, NewAccount):
        return {"type": "account", "time": iso(u.time), **portfolio_to_obj(u.portfolio)}
    out: dict[str, object]
    if isinstance(u, Trade):
        out = {
            "type": "trade",
            "account": u.account,
            "instrument": u.instrument,
            "quantity": u.quantity,
            "price": u.price,
            "time": iso(u.time),
        }
    elif isinstance(u, Deposit | Withdrawal):
        out = {
            "type": "deposit" if isinstance(u, Deposit) else "withdrawal",
            "account": u.account,
            "asset": u.asset,
            "amount": u.amount,
            "time": iso(u.time),
        }
    else:
        raise InputError(f"not an update record: {type(u).__name__}", path="update")
    if u.id is not None:
        out["id"] = u.id
    return out


# -- reading ----------------------------------------------------------------------------------------
def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _obj(v: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise InputError(f"must be a JSON object, got {_kind(v)}", path=path)
    for k in v:
        if not isinstance(k, str):
            raise InputError(f"object keys must be strings, got {_kind(k)}", path=path)
    return v


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return f"the number {v!r}"
    if isinstance(v, str):
        return f"the string {v[:40]!r}"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, Mapping):
        return "an object"
    return type(v).__name__


def _instant(v: Any, path: str) -> datetime:
    if not isinstance(v, str):
        raise InputError(
            f"must be an ISO-8601 instant string with a zone, got {_kind(v)}", path=path
        )
    if len(v) > 64:
        raise InputError("is not an ISO-8601 instant (too long)", path=path)
    if v.endswith("Z") and len(v) >= 20 and v[10] == "T":  # fast path: our own form
        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            pass  # parse_instant explains
        else:
            return aware_instant(t, path=path)
    try:
        return parse_instant(v)
    except (ValueError, OverflowError) as exc:
        raise InputError(str(exc), path=path) from None


def _instant_keys(v: Any, path: str) -> dict[datetime, Any]:
    out: dict[datetime, Any] = {}
    for k, x in _obj(v, path).items():
        t = _instant(k, _at(path, k))
        if t in out:
            raise InputError(f"expiry {format_instant(t)} given twice", path=_at(path, k))
        out[t] = x
    return out


def _number_list(v: Any, path: str) -> tuple[float, ...]:
    if not isinstance(v, list):
        raise InputError(f"must be an array of numbers, got {_kind(v)}", path=path)
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise InputError(f"must be a number, got {_kind(x)}", path=f"{path}[{i}]")
    return tuple(float(x) for x in v)


_T = TypeVar("_T")

#: Where a self-checking constructor's error path lands under the JSON field being decoded:
#: ``None`` — the field is the value itself (a flat vol is a number); otherwise the sub-field
#: the constructor's own path continues under (``SmileVol.strikes[1]`` → ``….smile.strikes[1]``).
_CONSTRUCTED: Mapping[str, str | None] = {
    "FlatVol": None,
    "SmileVol": "smile",
    "SVIVol": "svi",
    "OracleRecord": "",
}


def _constructed(make: Callable[[], _T], path: str) -> _T:
    """``make()``, its constructor's own checks reported at the JSON field ``path``."""
    try:
        return make()
    except InputError as exc:
        head, dot, rest = exc.path.partition(".")
        name = head.split("[")[0]
        if name not in _CONSTRUCTED:
            raise
        sub = _CONSTRUCTED[name]
        if sub is None:
            raise InputError(exc.reason, path=path) from None
        inner = head[len(name) :] + (dot + rest if dot else "")
        at = _at(path, sub) if sub else path
        raise InputError(exc.reason, path=at + inner) from None


def _surface(v: Any, path: str) -> VolSurfaceIn:
    """One vol surface; the constructors' own checks are reported at the JSON field."""
    return _constructed(lambda: _make_surface(v, path), path)


def _make_surface(v: Any, path: str) -> VolSurfaceIn:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return FlatVol(float(v))
    if not isinstance(v, Mapping):
        raise InputError(f"{_SURFACE_SHAPES}, got {_kind(v)}", path=path)
    o = _obj(v, path)
    if set(o) == {"smile"}:
        s = _obj(o["smile"], _at(path, "smile"))
        _known(
            s, frozenset({"strikes", "vols"}), frozenset({"strikes", "vols"}), _at(path, "smile")
        )
        return SmileVol(
            _number_list(s["strikes"], _at(path, "smile.strikes")),
            _number_list(s["vols"], _at(path, "smile.vols")),
        )
    if set(o) == {"svi"}:
        p = _at(path, "svi")
        s = _obj(o["svi"], p)
        _known(s, frozenset({"a", "b", "rho", "m", "sigma"}), frozenset(_SVI_FIELDS), p)
        for name in _SVI_FIELDS:
            x = s.get(name)
            if name in s and (isinstance(x, bool) or not isinstance(x, int | float)):
                raise InputError(f"must be a number, got {_kind(x)}", path=_at(p, name))
        f, t = s.get("forward"), s.get("t")
        return SVIVol(
            float(s["a"]),
            float(s["b"]),
            float(s["rho"]),
            float(s["m"]),
            float(s["sigma"]),
            None if f is None else float(f),
            None if t is None else float(t),
        )
    raise InputError(f"{_SURFACE_SHAPES}, got an object with {sorted(o)[:3]}", path=path)


def _known(
    o: Mapping[str, Any], required: frozenset[str], allowed: frozenset[str], path: str
) -> None:
    for k in o:
        if k not in allowed:
            raise InputError(
                f"unknown field (allowed: {', '.join(sorted(allowed))})", path=_at(path, k)
            )
    for k in sorted(required):
        if k not in o:
            raise InputError("required field is missing", path=_at(path, k))


def _oracle(v: Any, path: str) -> OracleRecord:
    o = _obj(v, path)
    _known(o, frozenset({"value", "timestamp", "source"}), _ORACLE_FIELDS, path)
    timestamp = _instant(o["timestamp"], _at(path, "timestamp"))
    return _constructed(
        lambda: OracleRecord(
            value=o["value"],
            timestamp=timestamp,
            confidence=o.get("confidence", 1.0),
            source=o["source"],
            reference=o.get("reference"),
        ),
        path,
    )


def _decode_market(o: Mapping[str, Any], path: str) -> MarketUpdate:
    vols: dict[datetime | None, VolSurfaceIn] = {}
    if "vol" in o:
        vols[None] = _surface(o["vol"], _at(path, "vol"))
    if "vols" in o:
        for t, s in _instant_keys(o["vols"], _at(path, "vols")).items():
            vols[t] = _surface(s, _at(path, f"vols.{format_instant(t)}"))
    forwards = _instant_keys(o["forwards"], _at(path, "forwards")) if "forwards" in o else {}
    return MarketUpdate(
        feed=o["feed"],
        seq=o.get("seq"),
        time=_instant(o["time"], _at(path, "time")),
        asset=o["asset"],
        price=o.get("price"),
        confidence=o.get("confidence"),
        perp_mark=o.get("perp_mark"),
        forwards=forwards,
        vols=vols,
        oracle=_oracle(o["oracle"], _at(path, "oracle")) if "oracle" in o else None,
    )


def _decode_pyth(
    o: Mapping[str, Any], path: str, pyth_ids: Mapping[str, str], rules: FeedRules
) -> MarketUpdate:
    fp = decode_pyth(o, path=path or "pyth")
    check_feed(fp, fp.timestamp, rules, path=path or "pyth")
    names = dict(pyth_ids)
    if "asset" in o:
        if not isinstance(o["asset"], str) or not o["asset"].strip():
            raise InputError("must be a symbol such as BTC or BTC/USD", path=_at(path, "asset"))
        names[fp.feed] = o["asset"]
    base, quote, source = feed_pair(fp, names, path=_at(path, "id"))
    feed = o.get("feed", "pyth")
    if quote == "USD":
        return MarketUpdate(
            feed, None, fp.timestamp, base, price=fp.price, confidence=fp.unit_confidence
        )
    oracle = OracleRecord(fp.price, fp.timestamp, fp.unit_confidence, source)
    return MarketUpdate(feed, None, fp.timestamp, base, oracle=oracle)


def _decode_account(o: Mapping[str, Any], path: str) -> NewAccount:
    if "accounts" in o:
        raise InputError(
            "unknown field: an account update carries the fields of one account "
            "(account, base_currency, collateral, positions)",
            path=_at(path, "accounts"),
        )
    body = {k: v for k, v in o.items() if k not in ("type", "time")}
    try:
        (portfolio,), _ = portfolios_from_obj(body)
    except InputError as exc:
        raise type(exc)(exc.reason, path=_at(path, exc.path)) from None
    return NewAccount(portfolio, _instant(o["time"], _at(path, "time")))


def update_from_obj(
    obj: Mapping[str, object],
    *,
    path: str = "",
    pyth_ids: Mapping[str, str] | None = None,
    pyth_rules: FeedRules | None = None,
) -> Update:
    """Validate one JSON object (a line of a tick file, a journal record) into an update.

    Parameters
    ----------
    obj
        A parsed JSON object with a ``"type"`` field (:data:`UPDATE_TYPES`).
    path
        Location of the object for error messages (e.g. ``ticks.jsonl:12``).
    pyth_ids
        Pyth feed id → ``BASE[/QUOTE][@SOURCE]`` for records without an ``asset`` field
        (:func:`crossmargin.io.feeds.feed_pair`).
    pyth_rules
        Acceptance rules of Pyth records (default :class:`~crossmargin.io.feeds.FeedRules`).

    Raises
    ------
    InputError
        Naming the field: unknown ``type``, unknown or missing field, wrong type, out of range.
    MarketDataError
        A Pyth record whose confidence interval is too wide.
    """
    o = _obj(obj, path or "update")
    kind = o.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        what = "required field is missing" if kind is None else f"unknown update type {_kind(kind)}"
        raise InputError(f"{what} (one of {', '.join(UPDATE_TYPES)})", path=_at(path, "type"))
    required, optional = _FIELDS[kind]
    if kind != "account":
        _known(o, required, required | optional, path)
    elif "time" not in o:
        raise InputError("required field is missing", path=_at(path, "time"))
    try:
        if kind == "market":
            return _decode_market(o, path)
        if kind == "pyth":
            return _decode_pyth(o, path, pyth_ids or {}, pyth_rules or FeedRules())
        if kind == "account":
            return _decode_account(o, path)
        if kind == "trade":
            return Trade(
                o["account"],
                o["instrument"],
                o["quantity"],
                o["price"],
                _instant(o["time"], _at(path, "time")),
                o.get("id"),
            )
        cls = Deposit if kind == "deposit" else Withdrawal
        return cls(
            o["account"],
            o["asset"],
            o["amount"],
            _instant(o["time"], _at(path, "time")),
            o.get("id"),
        )
    except CrossMarginError as exc:
        if path and (exc.path == path or exc.path.startswith(path + ".")):
            raise  # already located (nested decoders)
        raise type(exc)(exc.reason, path=_at(path, exc.path)) from None
