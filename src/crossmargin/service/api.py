"""The JSON API under ``/v1`` (docs/api.md is generated from its OpenAPI description).

Every route authenticates first (a router-level dependency: ``Authorization: Bearer KEY``,
401 otherwise) and then authorises: ``admin`` routes, the account's own routes (the admin or
that account's key; another account's key gets 403 whether or not the account exists), and
market data (the admin or a feed key). No margin logic lives here: routes decode the body with
the library, hand the records to the engine thread and render the library's answers.

Every dependency and handler is ``async def`` and does no blocking work on the event loop
(the store is reached through ``asyncio.to_thread``, the engine through its thread): FastAPI
runs a plain ``def`` dependency in its threadpool, a thread hop per dependency per request
that, with many clients, costs more than the checks themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.types import DecoratedCallable

from crossmargin.live.engine import LiveEngine
from crossmargin.live.records import Update
from crossmargin.live.results import Ack
from crossmargin.service.auth import Principal, Role
from crossmargin.service.errors import ApiError
from crossmargin.service.inputs import (
    account_from_body,
    collateral_from_body,
    json_body,
    market_from_body,
    trade_from_body,
    whatif_from_body,
)
from crossmargin.service.middleware import received_at
from crossmargin.service.runtime import Service
from crossmargin.service.schemas import (
    AccountCreated,
    AccountList,
    ErrorOut,
    EventPage,
    ExplainOut,
    KeyCreated,
    KeyList,
    MarginOut,
    MarketOut,
    StatusOut,
    SweepOut,
    TradeOut,
    WhatIfOut,
)
from crossmargin.service.views import (
    STATUS_FILTERS,
    SortKey,
    ack_obj,
    margin_obj,
    page_accounts,
    status_counts,
    summary_obj,
)
from crossmargin.store import ApiKey, IssuedKey

__all__ = ["ACCESS", "router"]

T = TypeVar("T")


def service(request: Request) -> Service:
    """The running service."""
    svc: Service = request.app.state.service
    return svc


async def authenticate(request: Request) -> None:
    """Router-level: the caller's principal into ``request.state.principal`` (401 if none)."""
    svc = service(request)
    if svc.keys is None:  # pragma: no cover - only before start
        raise ApiError(503, "the service is starting")
    request.state.principal = await svc.keys.require(request)


def principal(request: Request) -> Principal:
    """The authenticated caller."""
    p: Principal = request.state.principal
    return p


def _roles(*roles: Role, refusal: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the caller, when its role is one of ``roles`` (else 403 ``refusal``)."""

    async def check(request: Request) -> Principal:
        p = principal(request)
        if p.role not in roles:
            raise ApiError(403, refusal)
        return p

    return check


#: Only the admin.
admin = _roles("admin", refusal="this route needs an admin key")
#: The admin or a feed key.
market_writer = _roles("admin", "feed", refusal="market data needs a feed key or an admin key")
#: The admin (every event) or an account key (its own events).
event_reader = _roles("admin", "account", refusal="events need an account key or an admin key")


AccountId = Annotated[str, Path(description="Account id", max_length=256)]


async def own_account(request: Request, account: AccountId) -> str:
    """The account of the path, for the admin or the account's own key.

    403 for any other key, whether the account exists or not.
    """
    p = principal(request)
    if p.role == "admin" or (p.role == "account" and p.account == account):
        return account
    if p.role == "account":
        raise ApiError(403, "this key belongs to another account", path="account")
    raise ApiError(403, "this route needs the account's key or an admin key")


Admin = Annotated[Principal, Depends(admin)]
#: The account of the path, authorised (a route with it needs that account's key or admin's).
OwnAccount = Annotated[str, Depends(own_account)]

#: Who may call each route (the security tests check every route of the app against it).
ACCESS: dict[tuple[str, str], str] = {}

_ERROR_TEXT = {
    400: "the body is not JSON",
    401: "no key, or an invalid or revoked key",
    403: "the key may not use this route or this account",
    404: "no such account or key",
    409: "refused by a rule on the current state (the refusal may be journaled: seq)",
    413: "the body is too large",
    415: "the body is not application/json",
    422: "an invalid field or parameter (path names it)",
    503: "the engine is unavailable (read replica, or stopped after a store failure)",
}


def _responses(
    *codes: int,
    ok: tuple[int, type[Any] | None, str],
    more: tuple[int, type[Any], str] | None = None,
) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for status, model, text in (ok, *((more,) if more else ())):
        out[status] = (
            {"description": text} if model is None else {"model": model, "description": text}
        )
    for c in sorted({401, 403, 422, 503, *codes}):
        out[c] = {"model": ErrorOut, "description": _ERROR_TEXT[c]}
    return out


router = APIRouter(prefix="/v1", dependencies=[Depends(authenticate)])


def _endpoint(
    method: str,
    path: str,
    access: str,
    summary: str,
    ok: tuple[int, type[Any] | None, str],
    *codes: int,
    more: tuple[int, type[Any], str] | None = None,
    body: str | None = None,
    **options: Any,
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """Register a route: who may call it (:data:`ACCESS`), its answers and its JSON body."""
    ACCESS[(method, "/v1" + path)] = access
    if body is not None:
        ref = {"$ref": f"#/components/schemas/{body}"}
        options["openapi_extra"] = {
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}
        }
    options.setdefault("response_model", None)
    return router.api_route(
        path,
        methods=[method],
        status_code=ok[0],
        summary=summary,
        responses=_responses(*codes, ok=ok, more=more),
        **options,
    )


def _exists(account: str) -> Callable[[LiveEngine], None]:
    def check(engine: LiveEngine) -> None:
        if not engine.has_account(account):
            raise ApiError(404, f"no account {account!r}", path="account")

    return check


async def _read_account(request: Request, account: str, fn: Callable[[LiveEngine], T]) -> T:
    """``fn(engine)`` on the engine thread, for an existing account (404 otherwise)."""
    exists = _exists(account)

    def read(engine: LiveEngine) -> T:
        exists(engine)
        return fn(engine)

    return await service(request).need_worker().read(read)


def _summary_of(account: str) -> Callable[[LiveEngine, list[Ack]], Any]:
    def then(engine: LiveEngine, acks: list[Ack]) -> Any:
        return summary_obj(engine.account(account, detail=False)) if acks[0].accepted else None

    return then


async def _apply_to_account(request: Request, account: str, update: Update) -> JSONResponse:
    """Apply one input of an existing account; 201 with the account after it (409 if refused)."""
    worker = service(request).need_worker()
    check, then = _exists(account), _summary_of(account)
    acks, summary = await worker.apply([update], received_at(request.scope), check=check, then=then)
    ack = acks[0]
    o = ack_obj(ack)
    if not ack.accepted:
        raise _refused(ack)
    o["account"] = summary
    return JSONResponse(o, status_code=200 if o["duplicate"] else 201)


def _refused(ack: Ack) -> ApiError:
    extra: dict[str, Any] = {}
    if ack.seq is not None:
        extra["seq"] = ack.seq
    return ApiError(409, ack.reason or "refused", path=ack.path, extra=extra)


def _issued(issued: IssuedKey) -> JSONResponse:
    return JSONResponse({**_key_obj(issued.key), "token": issued.token}, status_code=201)


# -- accounts ---------------------------------------------------------------------------------------
#: Error answers of a route applying one journaled input of an account, and its repeat answer.
_INPUT = (400, 404, 409, 413, 415)
_REPEATED = (200, TradeOut, "a repeated id: the first answer")


@_endpoint(
    "POST", "/accounts", "admin", "Open an account", (201, AccountCreated, "created"),
    400, 409, 413, 415, body="PortfolioIn",
)  # fmt: skip
async def create_account(request: Request, _: Admin) -> JSONResponse:
    """Open an account from one account of the portfolio-file format (the CLI's).

    Returns its id, its API key (shown once: the store keeps a hash) and its opening margin.
    An account that exists already is refused with 409.
    """
    svc = service(request)
    update = account_from_body(await json_body(request), svc.clock())
    name = update.portfolio.account
    acks, summary = await svc.need_worker().apply(
        [update], received_at(request.scope), then=_summary_of(name)
    )
    ack = acks[0]
    if not ack.accepted:
        raise _refused(ack)
    issued = await asyncio.to_thread(
        svc.need_store().issue_api_key, "account", account=name, label="created with the account"
    )
    assert ack.seq is not None
    body_out = {
        "account": name,
        "seq": ack.seq,
        "key": {**_key_obj(issued.key), "token": issued.token},
        "margin": summary,
        "events": [e.to_obj() for e in ack.events],
    }
    return JSONResponse(body_out, status_code=201)


@_endpoint("GET", "/accounts", "admin", "List accounts", (200, AccountList, "a page of accounts"))
async def list_accounts(
    request: Request,
    _: Admin,
    sort: Annotated[
        SortKey, Query(description="Sort key; -key for descending (NaN ratios last)")
    ] = "margin_ratio",
    status: Annotated[
        Literal["healthy", "margin_call", "liquidation", "bankrupt", "frozen"] | None,
        Query(description="Only accounts with this status (or frozen ones)"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """All accounts with their status and margin ratio, sorted and paged.

    The default order is the risk desk's: lowest margin ratio (closest to liquidation) first.
    ``counts`` has the number of accounts per status over the whole venue.
    """
    assert status is None or status in STATUS_FILTERS
    table = await service(request).table()
    if table.n > 20_000:
        page = await asyncio.to_thread(
            page_accounts, table, sort=sort, status=status, offset=offset, limit=limit
        )
    else:
        page = page_accounts(table, sort=sort, status=status, offset=offset, limit=limit)
    return JSONResponse(page)


@_endpoint(
    "GET", "/accounts/{account}", "own", "An account's margin",
    (200, MarginOut, "the margin JSON"), 404,
)  # fmt: skip
async def get_account(request: Request, account: OwnAccount) -> JSONResponse:
    """The account's margin on the live state.

    The ``crossmargin margin --format json`` object (breakdown per underlying, add-ons,
    collateral, account Greeks per underlying and in total, positions) plus ``live`` (journal
    seq, reported status, frozen flag).
    """
    obj = await _read_account(request, account, lambda e: margin_obj(e.account(account), e.seq))
    return JSONResponse(obj)


@_endpoint(
    "GET", "/accounts/{account}/explain", "own", "Explain an account's margin",
    (200, ExplainOut, "the explain JSON"), 404, 409,
)  # fmt: skip
async def explain_account(request: Request, account: OwnAccount) -> JSONResponse:
    """The account's margin explained, on the live state.

    The ``crossmargin explain --format json`` object: collateral haircuts, positions, the
    scenario P&L grid per underlying with the worst cell, add-ons, account Greeks, derivation.
    409 while the account is frozen (stale market data).
    """
    return JSONResponse(await _read_account(request, account, lambda e: e.explain(account)))


@_endpoint(
    "POST", "/accounts/{account}/trades", "own", "Submit a trade (pre-trade checked)",
    (201, TradeOut, "accepted and journaled"), *_INPUT, more=_REPEATED, body="TradeIn",
)  # fmt: skip
async def post_trade(request: Request, account: OwnAccount) -> JSONResponse:
    """Apply an executed trade, pre-trade checked.

    It is refused (409, with the reason) when the post-trade
    equity would be below the post-trade IM and the trade does not reduce IM, or when the
    account's market data is stale. 201 means journaled (durable) and applied; a repeated
    ``id`` answers the first result again (200, ``duplicate``) without applying it twice.
    """
    trade = trade_from_body(await json_body(request), account, service(request).clock())
    return await _apply_to_account(request, account, trade)


@_endpoint(
    "POST", "/accounts/{account}/whatif", "own", "Pre-trade check (what-if)",
    (200, WhatIfOut, "before/after"), 400, 404, 413, 415, body="WhatIfIn",
)  # fmt: skip
async def whatif(request: Request, account: OwnAccount) -> JSONResponse:
    """The account before and after hypothetical trades.

    ``accepted`` says whether the engine would take them (post-trade equity ≥ IM, or the
    trades reduce IM). Nothing is changed or journaled.
    """
    svc = service(request)
    trades = whatif_from_body(await json_body(request), account, svc.clock(), svc.config.max_batch)
    return JSONResponse(
        await _read_account(request, account, lambda e: e.whatif(account, trades).to_obj())
    )


@_endpoint(
    "POST", "/accounts/{account}/collateral", "own", "Deposit or withdraw collateral",
    (201, TradeOut, "applied and journaled"), *_INPUT, more=_REPEATED, body="CollateralIn",
)  # fmt: skip
async def post_collateral(request: Request, account: OwnAccount) -> JSONResponse:
    """A deposit, or a withdrawal.

    A withdrawal is refused (409) when it exceeds the balance or would leave equity below IM.
    201 means journaled and applied.
    """
    update = collateral_from_body(await json_body(request), account, service(request).clock())
    return await _apply_to_account(request, account, update)


@_endpoint(
    "POST", "/accounts/{account}/keys", "admin", "Issue a new key for an account",
    (201, KeyCreated, "the key, shown once"), 404,
)  # fmt: skip
async def new_account_key(request: Request, account: AccountId, _: Admin) -> JSONResponse:
    """Issue another key for the account (e.g. to rotate: then revoke the old one)."""
    await _read_account(request, account, lambda e: None)
    store = service(request).need_store()
    return _issued(
        await asyncio.to_thread(
            store.issue_api_key, "account", account=account, label="issued by admin"
        )
    )


# -- market -------------------------------------------------------------------------------------------
@_endpoint(
    "POST", "/market", "market", "Post market data",
    (200, MarketOut, "journaled; one ack each"), 400, 409, 413, 415, body="MarketIn",
)  # fmt: skip
async def post_market(
    request: Request, p: Annotated[Principal, Depends(market_writer)]
) -> JSONResponse:
    """Market data in: one update or an array of them.

    The objects the live engine reads from tick files (``market`` or
    ``pyth``), one or an array applied in order in one group commit. The holders of each
    moved underlying are re-margined and events follow on the stream. A single update refused
    by the engine (a duplicate or out-of-order feed sequence number, unusable data) is a 409;
    an array answers 200 with one result each. A feed key may post only its own feed.
    """
    svc = service(request)
    body = await json_body(request)
    updates = market_from_body(body, svc.config.max_batch)
    if p.role == "feed" and p.feed is not None:
        for i, u in enumerate(updates):
            if u.feed != p.feed:
                where = f"[{i}].feed" if isinstance(body, list) else "feed"
                raise ApiError(403, f"this key may post only feed {p.feed!r}", path=where)
    acks, _ = await svc.need_worker().apply(updates, received_at(request.scope))
    if not isinstance(body, list) and not acks[0].accepted:
        raise _refused(acks[0])
    return JSONResponse({"results": [ack_obj(a) for a in acks]})


# -- events -------------------------------------------------------------------------------------------
AfterQ = Annotated[int, Query(ge=0, le=2**62, description="Last event seq already seen")]


async def event_scope(
    p: Annotated[Principal, Depends(event_reader)],
    account: Annotated[
        str | None, Query(max_length=256, description="Only this account's events (admin)")
    ] = None,
) -> str | None:
    """The account whose events the caller reads (``None``: all), decided before any reading.

    An account key reads its own account's only (403 for another's). The stream's body is a
    generator that runs after the 200 is sent: a refusal raised there could not be an error
    response, so the check is a dependency, as on every route.
    """
    if p.role == "account":
        if account is not None and account != p.account:
            raise ApiError(403, "this key belongs to another account", path="account")
        return p.account
    return account


EventScope = Annotated[str | None, Depends(event_scope)]


@_endpoint(
    "GET", "/events", "events", "Events after a sequence number",
    (200, EventPage, "events, oldest first"),
)  # fmt: skip
async def get_events(
    request: Request,
    who: EventScope,
    after: AfterQ = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Response:
    """Engine events with ``seq > after``, oldest first (an account key: its own only).

    Page with ``after=next_after`` until ``events`` is empty.
    """
    hub = service(request).need_hub()
    events, cursor = await hub.after(after, account=who, limit=limit)
    text = ",".join(e.json for e in events)
    body = f'{{"events":[{text}],"next_after":{cursor},"last_seq":{hub.last_seq}}}'
    return Response(body, media_type="application/json")


@_endpoint(
    "GET", "/events/stream", "events", "Live event stream (Server-Sent Events)",
    (
        200,
        None,
        "text/event-stream: one SSE event per engine event (event: type, id: seq, "
        "data: the event JSON)",
    ),
    response_class=EventSourceResponse,
)  # fmt: skip
async def stream_events(
    request: Request, who: EventScope, after: AfterQ | None = None
) -> AsyncIterator[ServerSentEvent]:
    """Events as they happen, as Server-Sent Events.

    Starts after ``after`` (or the
    ``Last-Event-ID`` header on a reconnect; default: now), so a client that reconnects misses
    nothing. An account key receives its own account's events only.
    """
    hub = service(request).need_hub()
    start = after
    if start is None:
        last_id = request.headers.get("last-event-id", "")
        start = int(last_id) if last_id.isdigit() and len(last_id) < 19 else hub.last_seq
    cursor = start
    while not hub.closed:
        events, nxt = await hub.after(cursor, account=who, limit=500)
        for e in events:
            yield ServerSentEvent(raw_data=e.json, event=e.type, id=str(e.seq))
        if events or nxt > cursor:
            cursor = nxt
            continue
        if hub.last_seq > cursor:  # the store is catching up with the ring
            await asyncio.sleep(0.05)
            continue
        await hub.wait(cursor, timeout=10.0)


# -- administration -----------------------------------------------------------------------------------
def _ns_iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


def _key_obj(k: ApiKey) -> dict[str, Any]:
    return {
        "key_id": k.key_id,
        "role": k.role,
        "account": k.account,
        "feed": k.feed,
        "label": k.label,
        "created": _ns_iso(k.created_ns),
        "revoked": _ns_iso(k.revoked_ns),
    }


@_endpoint("GET", "/keys", "admin", "List issued keys", (200, KeyList, "keys (never secrets)"))
async def list_keys(
    request: Request,
    _: Admin,
    account: Annotated[str | None, Query(max_length=256)] = None,
    include_revoked: bool = False,
) -> JSONResponse:
    """Issued keys, oldest first (ids, roles, labels — never the secrets)."""
    store = service(request).need_store()
    keys = await asyncio.to_thread(store.api_keys, account=account, include_revoked=include_revoked)
    return JSONResponse({"keys": [_key_obj(k) for k in keys]})


@_endpoint(
    "POST", "/keys", "admin", "Issue a key", (201, KeyCreated, "shown once"),
    400, 404, 413, 415, body="KeyIn",
)  # fmt: skip
async def issue_key(request: Request, _: Admin) -> JSONResponse:
    """Issue an ``admin``, ``feed`` (optionally bound to one ``feed``) or ``account`` key.

    The token is in this answer only; the store keeps its SHA-256.
    """
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(422, "must be a JSON object", path="body")
    for k in body:
        if k not in ("role", "account", "feed", "label"):
            raise ApiError(422, "unknown field (allowed: role, account, feed, label)", path=k)
    role = body.get("role")
    if role not in ("admin", "feed", "account"):
        raise ApiError(422, "must be admin, feed or account", path="role")
    account = body.get("account")
    if role == "account" and isinstance(account, str):
        await _read_account(request, account, lambda e: None)
    store = service(request).need_store()
    return _issued(
        await asyncio.to_thread(
            store.issue_api_key,
            role,
            account=account,
            feed=body.get("feed"),
            label=body.get("label", ""),
        )
    )


@_endpoint(
    "DELETE", "/keys/{key_id}", "admin", "Revoke a key", (204, None, "revoked"), 404
)  # fmt: skip
async def revoke_key(
    request: Request, key_id: Annotated[str, Path(max_length=64)], _: Admin
) -> Response:
    """Revoke a key at once (its sessions and cached verifications end too)."""
    svc = service(request)
    done = await asyncio.to_thread(svc.need_store().revoke_api_key, key_id)
    if not done:
        raise ApiError(404, f"no active key {key_id!r}", path="key_id")
    if svc.keys is not None:
        svc.keys.forget(key_id)
    svc.sessions.drop_key(key_id)
    return Response(status_code=204)


@_endpoint("GET", "/status", "admin", "Service and engine status", (200, StatusOut, "status"))
async def get_status(request: Request, _: Admin) -> JSONResponse:
    """The engine and the service.

    Journal seq, clock and model, accounts per status, the store backend and the
    tick-to-event latency (server side, over the last 2 000 ticks that caused events).
    """
    svc = service(request)
    out = svc.status()
    if svc.worker is not None and svc.worker.failed is None:
        table = await svc.table()
        out["accounts"] = table.n
        out["counts"] = status_counts(table)
    else:
        out["accounts"] = None
        out["counts"] = {}
    return JSONResponse(out)


@_endpoint("POST", "/sweep", "admin", "Full sweep", (200, SweepOut, "the sweep report"))
async def post_sweep(request: Request, _: Admin) -> JSONResponse:
    """Re-margin every account from scratch and compare with the incremental state.

    Journaled; a difference is a ``sweep_mismatch`` event and the sweep's numbers win.
    """
    worker = service(request).need_worker()
    report = await worker.read(lambda e: e.sweep(), publish=lambda r: r.events)
    return JSONResponse(
        {
            "accounts": report.accounts,
            "ok": report.ok,
            "mismatches": list(report.mismatches),
            "max_abs_diff": report.max_abs_diff,
            "events": [e.to_obj() for e in report.events],
        }
    )
