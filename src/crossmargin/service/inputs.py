"""Request bodies → the live engine's input records, through the library's one decoder.

A body is read as UTF-8 JSON under the tick-file parser's limits (duplicate keys, number
length, nesting depth: :func:`crossmargin.live.sources.parse_json_line`) and decoded by
:func:`crossmargin.live.codec.update_from_obj`, which names the offending field. The route
supplies what the URL says (the account) and, when the body has none, the time (the engine
clock). Errors: 415 (not JSON), 400 (unparseable), 422 (a field; its path).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import Request

from crossmargin._time import format_instant
from crossmargin.errors import InputError
from crossmargin.live.codec import update_from_obj
from crossmargin.live.records import Deposit, MarketUpdate, NewAccount, Trade, Withdrawal
from crossmargin.live.sources import parse_json_line
from crossmargin.service.errors import ApiError

__all__ = [
    "account_from_body",
    "collateral_from_body",
    "json_body",
    "market_from_body",
    "trade_from_body",
    "whatif_from_body",
]


async def json_body(request: Request) -> Any:
    """The parsed JSON body (415 unless ``application/json``; 400 if unparseable)."""
    ctype = request.headers.get("content-type", "")
    if ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8") from None
    if not text.strip():
        raise ApiError(400, "the body is empty")
    try:
        return parse_json_line(text, path="body")
    except InputError as exc:
        raise ApiError(400, exc.reason, path=exc.path) from None


def _object(body: Any, path: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "must be a JSON object", path=path)
    return body


def _refuse_fields(body: Mapping[str, Any], names: tuple[str, ...], why: str) -> None:
    for name in names:
        if name in body:
            raise ApiError(422, f"unknown field ({why})", path=name)


def _time(body: dict[str, Any], clock: datetime) -> Any:
    t = body.get("time")
    return format_instant(clock) if t is None else t


def _decode(obj: Mapping[str, Any], path: str = "") -> Any:
    try:
        return update_from_obj(obj, path=path)
    except InputError as exc:
        raise ApiError(422, exc.reason, path=exc.path or None) from None


def trade_from_body(body: Any, account: str, clock: datetime) -> Trade:
    """A trade of ``account`` (``time`` defaults to the engine clock)."""
    o = _object(body)
    _refuse_fields(o, ("type", "account"), "the account is the one in the URL")
    u = _decode({**o, "type": "trade", "account": account, "time": _time(o, clock)})
    assert isinstance(u, Trade)
    return u


def collateral_from_body(body: Any, account: str, clock: datetime) -> Deposit | Withdrawal:
    """A deposit or withdrawal of ``account``."""
    o = _object(body)
    _refuse_fields(o, ("account",), "the account is the one in the URL")
    kind = o.get("type")
    if kind not in ("deposit", "withdrawal"):
        raise ApiError(422, "must be deposit or withdrawal", path="type")
    u = _decode({**o, "account": account, "time": _time(o, clock)})
    assert isinstance(u, Deposit | Withdrawal)
    return u


def account_from_body(body: Any, clock: datetime) -> NewAccount:
    """A new account from one account of the portfolio-file format."""
    o = _object(body)
    _refuse_fields(o, ("type", "time"), "a portfolio account has no such field")
    if "accounts" in o:
        accounts = o["accounts"]
        if not isinstance(accounts, list) or len(accounts) != 1:
            raise ApiError(
                422,
                "one account per request (the portfolio format of one account)",
                path="accounts",
            )
        o = _object(accounts[0], "accounts[0]")
    name = o.get("account")
    if isinstance(name, str) and "/" in name:
        raise ApiError(422, "an account id served over HTTP cannot contain '/'", path="account")
    u = _decode({**o, "type": "account", "time": format_instant(clock)})
    assert isinstance(u, NewAccount)
    return u


def market_from_body(body: Any, max_items: int) -> list[MarketUpdate]:
    """Market updates: one object or an array of them (``type``: ``market`` or ``pyth``)."""
    many = isinstance(body, list)
    items = body if many else [body]
    if not items:
        raise ApiError(422, "an empty array", path="body")
    if len(items) > max_items:
        raise ApiError(422, f"more than {max_items} updates in one request", path="body")
    out: list[MarketUpdate] = []
    for i, item in enumerate(items):
        where = f"[{i}]" if many else ""
        o = _object(item, where or "body")
        if o.get("type") not in ("market", "pyth"):
            raise ApiError(
                422,
                "must be market or pyth (trades and transfers go to /v1/accounts/{id}/...)",
                path=f"{where}.type" if where else "type",
            )
        u = _decode(o, where)
        assert isinstance(u, MarketUpdate)
        out.append(u)
    return out


def whatif_from_body(body: Any, account: str, clock: datetime, max_items: int) -> list[Trade]:
    """Hypothetical trades of ``account``: ``{"trades": [{instrument, quantity, price}, ...]}``."""
    o = _object(body)
    for k in o:
        if k != "trades":
            raise ApiError(422, "unknown field (allowed: trades)", path=k)
    trades = o.get("trades")
    if not isinstance(trades, list) or not trades:
        raise ApiError(422, "must be a non-empty array of trades", path="trades")
    if len(trades) > max_items:
        raise ApiError(422, f"more than {max_items} trades", path="trades")
    when = format_instant(clock)
    out: list[Trade] = []
    for i, t in enumerate(trades):
        where = f"trades[{i}]"
        to = _object(t, where)
        for k in to:
            if k not in ("instrument", "quantity", "price"):
                raise ApiError(
                    422,
                    "unknown field (allowed: instrument, quantity, price)",
                    path=f"{where}.{k}",
                )
        u = _decode({**to, "type": "trade", "account": account, "time": when}, where)
        assert isinstance(u, Trade)
        out.append(u)
    return out
