"""The risk desk's dashboard: server-rendered HTML, live through htmx and Server-Sent Events.

Pages: ``/`` (accounts ordered by margin ratio, status counts, the live event feed,
tick-to-event latency) and ``/accounts/{id}`` (the drill-down: numbers, breakdown per
underlying, add-ons, collateral, positions, the account Greeks per underlying and in total,
the scenario heat map, a what-if form, the account's events). Fragments under ``/ui/`` are
what htmx swaps in; ``/ui/stream`` is the SSE stream the page listens to (``feed``: new events
as HTML, ``refresh``: re-fetch the table and counts, at most twice a second).

Login with an admin key (``/login``) opens a server-side session (see
:mod:`crossmargin.service.auth`); the key itself is not kept. Forms post
``application/x-www-form-urlencoded`` (parsed here: no multipart), state-changing ones with the
session's CSRF token in ``X-CSRF-Token``. Every asset is served from ``/static`` (htmx and its
SSE extension are vendored): the page works with no internet and a strict CSP.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from jinja2 import Environment, PackageLoader, select_autoescape

from crossmargin.account.health import STATUSES
from crossmargin.errors import CrossMarginError, MarketDataError
from crossmargin.live.engine import LiveEngine
from crossmargin.service.auth import SESSION_COOKIE, Session
from crossmargin.service.errors import ApiError
from crossmargin.service.hub import HubEvent
from crossmargin.service.inputs import whatif_from_body
from crossmargin.service.runtime import Service
from crossmargin.service.views import margin_obj, page_accounts, status_counts

__all__ = ["PAGE_ACCESS", "LoginRequiredError", "router"]

router = APIRouter(include_in_schema=False)

#: Who may call each dashboard route (checked by the security tests like ``api.ACCESS``).
PAGE_ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/"): "session",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "session",
    ("GET", "/accounts/{account}"): "session",
    ("GET", "/ui/summary"): "session",
    ("GET", "/ui/accounts"): "session",
    ("GET", "/ui/accounts/{account}/panel"): "session",
    ("POST", "/ui/accounts/{account}/whatif"): "session",
    ("GET", "/ui/stream"): "session",
}

_MAX_FORM = 64 * 1024
_PAGE = 50
_FEED = 50


# -- templates --------------------------------------------------------------------------------------
def _money(x: Any) -> str:
    if x is None or isinstance(x, str):
        return "–"
    x = float(x)
    return "–" if not math.isfinite(x) else f"{x:,.2f}"


def _num(x: Any, digits: int = 4) -> str:
    if x is None or isinstance(x, bool) or not isinstance(x, int | float):
        return "–"
    x = float(x)
    return "–" if not math.isfinite(x) else f"{x:,.{digits}f}"


def _pct(x: Any) -> str:
    if x is None or not isinstance(x, int | float) or not math.isfinite(x):
        return "–"
    return f"{x * 100:+.0f}%"


def _share(x: Any) -> str:
    if x is None or not isinstance(x, int | float) or not math.isfinite(x):
        return "–"
    return f"{x * 100:.1f}%"


def _label(x: Any) -> str:
    return "–" if x is None else str(x).replace("_", " ")


_env = Environment(
    loader=PackageLoader("crossmargin.service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(money=_money, num=_num, pct=_pct, share=_share, label=_label)


def render(name: str, **context: Any) -> str:
    """Render a template of the package."""
    return _env.get_template(name).render(**context)


def _html(name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=http_status)


# -- sessions ---------------------------------------------------------------------------------------
class LoginRequiredError(Exception):
    """No dashboard session: pages redirect to /login, fragments answer 401 + HX-Redirect."""


def service(request: Request) -> Service:
    """The running service."""
    svc: Service = request.app.state.service
    return svc


async def session(request: Request) -> Session:
    """The request's dashboard session (an admin's)."""
    s = service(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    if s is None or s.principal.role != "admin":
        raise LoginRequiredError
    return s


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        raise ApiError(403, "cross-origin form refused", path="origin")


async def csrf_session(request: Request, s: Annotated[Session, Depends(session)]) -> Session:
    """A session for a state-changing request: the CSRF token and the origin checked."""
    _same_origin(request)
    if not service(request).sessions.csrf_ok(s, request.headers.get("x-csrf-token")):
        raise ApiError(403, "missing or wrong CSRF token", path="X-CSRF-Token")
    return s


SessionDep = Annotated[Session, Depends(session)]
AccountPath = Annotated[str, Path(max_length=256)]


async def _form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise ApiError(415, "a form must be application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > _MAX_FORM:
        raise ApiError(413, "form too large")
    try:
        fields = parse_qs(raw.decode("utf-8"), max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "unreadable form") from None
    return {k: v[-1] for k, v in fields.items()}


def _context(request: Request, s: Session | None = None, **more: Any) -> dict[str, Any]:
    svc = service(request)
    return {
        "csrf": s.csrf if s is not None else "",
        "demo": svc.config.demo,
        "model": svc.model,
        "statuses": STATUSES,
        **more,
    }


# -- login ------------------------------------------------------------------------------------------
@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    """The login form."""
    return _html("login.html", **_context(request, error=None))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check an admin key and open a session (the key is not kept)."""
    _same_origin(request)
    svc = service(request)
    form = await _form(request)
    key = form.get("key", "").strip()
    principal = await svc.keys.check(key) if (key and svc.keys is not None) else None
    if principal is None or principal.role != "admin":
        return _html(
            "login.html",
            http_status=401,
            **_context(request, error="Not an admin key of this service."),
        )
    s = svc.sessions.create(principal)
    out = RedirectResponse("/", status_code=303)
    out.set_cookie(
        SESSION_COOKIE,
        s.sid,
        max_age=int(svc.config.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=svc.config.secure_cookies,
    )
    return out


@router.post("/logout")
async def logout(request: Request, s: Annotated[Session, Depends(csrf_session)]) -> Response:
    """End the session."""
    service(request).sessions.drop(s.sid)
    out: Response = RedirectResponse("/login", status_code=303)
    out.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    if request.headers.get("hx-request"):
        out = Response(status_code=204, headers={"HX-Redirect": "/login"})
        out.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return out


# -- the venue --------------------------------------------------------------------------------------
def _event_view(e: HubEvent) -> dict[str, Any]:
    import json

    o = json.loads(e.json)
    cause = o.get("cause") or {}
    what = cause.get("underlying") or cause.get("asset") or cause.get("feed") or ""
    return {
        **o,
        "what": what,
        "kind": cause.get("kind", ""),
        "reason": cause.get("reason"),
        "origin_ms": e.origin_ms,
    }


async def _summary(request: Request) -> dict[str, Any]:
    svc = service(request)
    hub = svc.need_hub()
    table = await svc.table()
    engine = svc.engine
    return {
        "counts": status_counts(table),
        "accounts": table.n,
        "seq": table.seq,
        "clock": engine.clock.strftime("%Y-%m-%d %H:%M:%S UTC") if engine is not None else "",
        "latency": hub.tick_to_event.summary(),
        "event_seq": hub.last_seq,
    }


@router.get("/")
async def home(request: Request, s: SessionDep) -> HTMLResponse:
    """Accounts by margin ratio, status counts, the live event feed."""
    svc = service(request)
    svc.need_worker()
    summary = await _summary(request)
    table = await svc.table()
    page = page_accounts(table, sort="margin_ratio", status=None, offset=0, limit=_PAGE)
    events = [_event_view(e) for e in svc.need_hub().recent(_FEED)]
    return _html(
        "home.html",
        **_context(request, s, summary=summary, page=page, events=events, status=None, page_no=0),
    )


@router.get("/ui/summary")
async def summary_fragment(request: Request, s: SessionDep) -> HTMLResponse:
    """Status counts, engine clock, latency."""
    return _html("_summary.html", **_context(request, s, summary=await _summary(request)))


@router.get("/ui/accounts")
async def accounts_fragment(
    request: Request,
    s: SessionDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    """One page of the accounts table (lowest margin ratio first)."""
    if status is not None and status not in (*STATUSES, "frozen"):
        status = None
    table = await service(request).table()
    data = page_accounts(
        table, sort="margin_ratio", status=status, offset=page * _PAGE, limit=_PAGE
    )
    return _html("_accounts.html", **_context(request, s, page=data, status=status, page_no=page))


# -- one account --------------------------------------------------------------------------------------
def _heatmaps(explain: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario grid per underlying as rows × columns of coloured cells."""
    out = []
    for block in explain.get("scenarios") or []:
        cells = block.get("cells") or []
        if not cells:
            continue
        # losses and gains on their own scales: the worst loss is always the deepest red
        loss = max((-c["pnl"] for c in cells), default=0.0)
        gain = max((c["pnl"] for c in cells), default=0.0)

        def cell(c: dict[str, Any], loss: float = loss, gain: float = gain) -> dict[str, Any]:
            pnl = c["pnl"]
            scale = (loss if pnl < 0 else gain) or 1.0
            level = max(-5, min(5, round(5 * pnl / scale)))
            return {
                **c,
                "cls": f"h{'n' if level < 0 else 'p'}{abs(level)}",
                "title": f"spot {_pct(c['spot_move'])}, vol {c['vol_move']}: {_money(c['pnl'])}",
            }

        standard = [c for c in cells if c.get("kind") == "standard"]
        other = [c for c in cells if c.get("kind") != "standard"]
        spots = sorted({c["spot_move"] for c in standard})
        vols = [v for v in ("up", "unchanged", "down") if any(c["vol_move"] == v for c in standard)]
        vols += sorted({c["vol_move"] for c in standard} - set(vols))
        grid = []
        for v in vols:
            row = {c["spot_move"]: cell(c) for c in standard if c["vol_move"] == v}
            grid.append({"vol": v, "cells": [row.get(sp) for sp in spots]})
        out.append(
            {
                "underlying": block.get("underlying"),
                "spots": spots,
                "rows": grid,
                "other": [cell(c) for c in sorted(other, key=lambda c: c["spot_move"])],
            }
        )
    return out


#: The Greeks table's columns: key of the margin JSON's ``greeks`` rows, title, format.
GREEK_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("spot", "spot", _money),
    ("delta", "delta", lambda x: _num(x, 4)),
    ("delta_cash", "delta cash", _money),
    ("gamma", "gamma", lambda x: _num(x, 6)),
    ("gamma_cash", "gamma cash (1 %)", _money),
    ("vega", "vega", _money),
    ("theta", "theta", _money),
)


def _greeks(margin: dict[str, Any]) -> dict[str, Any] | None:
    """The Greeks table from the margin JSON's ``greeks`` (per underlying, account totals).

    ``None`` when there is none (a frozen account carries its last numbers only). The account
    line has the figures that add up across underlyings (cash delta, cash gamma, vega, theta).
    """
    greeks = margin.get("greeks")
    if not isinstance(greeks, dict) or not greeks.get("per_underlying"):
        return None
    total = greeks.get("account") or {}
    return {
        "titles": [title for _, title, _ in GREEK_COLUMNS],
        "rows": [
            {
                "underlying": row.get("underlying"),
                "cells": [(key, fmt(row.get(key))) for key, _, fmt in GREEK_COLUMNS],
            }
            for row in greeks["per_underlying"]
        ],
        "total": [(key, fmt(total[key]) if key in total else "") for key, _, fmt in GREEK_COLUMNS],
    }


async def _account_data(request: Request, account: str) -> dict[str, Any]:
    svc = service(request)
    worker = svc.need_worker()

    def read(engine: LiveEngine) -> dict[str, Any]:
        if not engine.has_account(account):
            raise ApiError(404, f"no account {account!r}", path="account")
        margin = margin_obj(engine.account(account), engine.seq)
        try:
            explain: dict[str, Any] | None = engine.explain(account)
            frozen_reason = None
        except MarketDataError as exc:
            explain, frozen_reason = None, exc.reason
        return {"margin": margin, "explain": explain, "frozen_reason": frozen_reason}

    data = await worker.read(read)
    margin = data["margin"]
    explain = data["explain"]
    data["heatmaps"] = _heatmaps(explain) if explain else []
    data["greeks"] = _greeks(margin)
    data["derivation"] = (explain or {}).get("derivation") or []
    data["events"] = [_event_view(e) for e in svc.need_hub().recent(_FEED, account)]
    data["account"] = account
    return data


@router.get("/accounts/{account}")
async def account_page(request: Request, account: AccountPath, s: SessionDep) -> HTMLResponse:
    """The drill-down page of one account."""
    try:
        data = await _account_data(request, account)
    except ApiError as exc:
        if exc.status_code != 404:
            raise
        return _html("missing.html", http_status=404, **_context(request, s, account=account))
    return _html("account.html", **_context(request, s, **data))


@router.get("/ui/accounts/{account}/panel")
async def account_panel(request: Request, account: AccountPath, s: SessionDep) -> HTMLResponse:
    """The account's numbers and tables (re-fetched when its events arrive)."""
    data = await _account_data(request, account)
    return _html("_account_panel.html", **_context(request, s, **data))


@router.post("/ui/accounts/{account}/whatif")
async def whatif_fragment(
    request: Request, account: AccountPath, s: Annotated[Session, Depends(csrf_session)]
) -> HTMLResponse:
    """The what-if form's answer: before / after and whether the trade would be accepted."""
    svc = service(request)
    form = await _form(request)
    trade: dict[str, Any] = {"instrument": form.get("instrument", "").strip()}
    error = None
    for name in ("quantity", "price"):
        text = form.get(name, "").strip()
        try:
            trade[name] = float(text)
        except ValueError:
            error = f"{name}: must be a number"
    result = None
    if error is None:
        try:
            trades = whatif_from_body({"trades": [trade]}, account, svc.clock(), 1)

            def read(engine: LiveEngine) -> dict[str, Any]:
                if not engine.has_account(account):
                    raise ApiError(404, f"no account {account!r}", path="account")
                return engine.whatif(account, trades).to_obj()

            result = await svc.need_worker().read(read)
        except ApiError as exc:
            if exc.status_code == 404:
                raise
            error = f"{exc.path}: {exc.reason}" if exc.path else exc.reason
        except CrossMarginError as exc:
            error = f"{exc.path}: {exc.reason}" if exc.path else exc.reason
    return _html("_whatif.html", **_context(request, s, result=result, error=error, trade=trade))


# -- the stream ---------------------------------------------------------------------------------------
@router.get("/ui/stream", response_class=EventSourceResponse)
async def stream(
    request: Request,
    s: SessionDep,
    account: Annotated[str | None, Query(max_length=256)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """New events as HTML (``feed``) and ``refresh`` signals, at most twice a second."""
    hub = service(request).need_hub()
    cursor = hub.last_seq
    yield ServerSentEvent(comment="connected", retry=2000)
    while not hub.closed:
        if not await hub.wait(cursor, timeout=10.0):
            continue
        started = time.monotonic()
        events, nxt = await hub.after(cursor, account=account, limit=5000)
        if not events and nxt == cursor:
            await asyncio.sleep(0.05)
            continue
        cursor = max(cursor, nxt)
        if events:
            shown = [_event_view(e) for e in events[-_FEED:]][::-1]
            html = render("_events.html", events=shown, more=len(events) - len(shown))
            yield ServerSentEvent(raw_data=html, event="feed")
            yield ServerSentEvent(raw_data="", event="refresh")
        # at most two updates a second, whatever the event rate
        await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
