"""Every route of the app, and the event stream, against callers who must not get through.

The routes come from the application's own route table, and each must be classified in
``api.ACCESS`` / ``dashboard.PAGE_ACCESS`` (or be one of the public ones): a route added
without a classification fails here, and every classified route is probed with no key, wrong
keys, another account's key and a feed key — on the API — and without a session, with a forged
session or without the CSRF token — on the dashboard. Nothing they send may change the state.
"""

from __future__ import annotations

import json
import secrets
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from crossmargin.service import create_app
from crossmargin.service.api import ACCESS
from crossmargin.service.dashboard import PAGE_ACCESS

from .helpers import ADMIN_KEY, T0, Running, spawn_service, start_service, stop_service

PUBLIC = {("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/login"), ("POST", "/login")}
TARGET = "mm-01"  # the account whose data the probes ask for
OTHER = "vol-seller-04"  # the account whose key they use (in liquidation after the crash)


def _app_routes() -> set[tuple[str, str]]:
    from crossmargin.service.config import ServiceConfig

    app = create_app(ServiceConfig(db="unused.db"))
    out: set[tuple[str, str]] = set()
    # every route, included routers flattened (what the app actually serves)
    for ctx in iter_route_contexts(app.routes):
        r = ctx.original_route
        path = str(ctx.path)
        if isinstance(r, WebSocketRoute | APIWebSocketRoute):
            out.add(("WEBSOCKET", path))
        elif isinstance(r, APIRoute | Route):
            for m in sorted(ctx.methods or ()):
                if m != "HEAD":
                    out.add((m, path))
        elif isinstance(r, Mount):
            assert path == "/static", f"unexpected mount {path}"
        else:
            raise AssertionError(f"unexpected route {r!r}")
    return out


ROUTES = _app_routes()
API = sorted(ACCESS)
PAGES = sorted(k for k, v in PAGE_ACCESS.items() if v == "session")


def test_every_route_is_classified() -> None:
    classified = set(ACCESS) | set(PAGE_ACCESS) | PUBLIC
    assert not {r for r in ROUTES if r[0] == "WEBSOCKET"}, (
        "WebSocket routes need their own auth tests"
    )
    assert classified == ROUTES, (
        f"unclassified: {sorted(ROUTES - classified)}; stale: {sorted(classified - ROUTES)}"
    )
    assert all(path.startswith("/v1/") for _, path in ACCESS)


@pytest.fixture(scope="module")
def probe_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    running = start_service(str(tmp_path_factory.mktemp("sec") / "sec.db"))
    try:
        with running.client() as admin:
            keys = {}
            for role, kw in (("account", {"account": OTHER}), ("feed", {})):
                r = admin.post("/v1/keys", json={"role": role, **kw})
                assert r.status_code == 201
                keys[role] = r.json()["token"]
            r = admin.post("/v1/keys", json={"role": "admin", "label": "probe target"})
            keys["key_id"] = r.json()["key_id"]
            # an event of each account, so that scoping has something to hide
            admin.post(
                "/v1/market",
                json={"type": "market", "feed": "sec", "time": T0, "asset": "BTC", "price": 52000},
            )
            admin.post(
                f"/v1/accounts/{TARGET}/trades",
                json={"instrument": "BTC-PERP", "quantity": 1000, "price": 52000},
            )
        yield {"running": running, **keys}
    finally:
        stop_service(running)


def _request(method: str, path: str, key_id: str) -> dict[str, Any]:
    url = path.replace("{account}", TARGET).replace("{key_id}", key_id)
    body: Any = None
    if path.endswith("/trades"):
        body = {"instrument": "BTC-PERP", "quantity": 1, "price": 52000, "id": secrets.token_hex(4)}
    elif path.endswith("/whatif"):
        body = {"trades": [{"instrument": "BTC-PERP", "quantity": 1, "price": 52000}]}
    elif path.endswith("/collateral"):
        body = {"type": "withdrawal", "asset": "USDC", "amount": 1}
    elif path == "/v1/market":
        body = {"type": "market", "feed": "sec", "time": T0, "asset": "BTC", "price": 52000}
    elif path == "/v1/accounts" and method == "POST":
        body = {"account": "intruder", "collateral": {"USDC": 1}}
    elif path == "/v1/keys" and method == "POST":
        body = {"role": "admin"}
    return {"method": method, "url": url, "json": body}


def _send(running: Running, key: str | None, req: dict[str, Any], **headers: str) -> httpx.Response:
    h = dict(headers)
    if key is not None:
        if not key:
            h["Authorization"] = "Bearer"
        elif key.startswith(("Basic", "Token")):
            h["Authorization"] = key
        else:
            h["Authorization"] = f"Bearer {key}"
    with httpx.Client(base_url=running.url, timeout=60.0) as c:
        if req["url"].endswith("/stream"):
            with c.stream(req["method"], req["url"], headers=h) as r:
                if r.status_code == 200:
                    r.close()
                else:
                    r.read()
                return r
        return c.request(req["method"], req["url"], json=req["json"], headers=h)


def _seq(running: Running) -> tuple[int, int]:
    with running.client() as c:
        s = c.get("/v1/status").json()
        return s["seq"], s["event_seq"]


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{m} {p}" for m, p in API])
def test_api_route_refuses_missing_and_wrong_keys(
    probe_service: dict[str, Any], method: str, path: str
) -> None:
    running: Running = probe_service["running"]
    req = _request(method, path, probe_service["key_id"])
    before = _seq(running)
    wrong = [
        None,
        "",
        "cmk_" + secrets.token_hex(8) + "_" + secrets.token_urlsafe(32),
        ADMIN_KEY[:-1] + ("x" if ADMIN_KEY[-1] != "x" else "y"),
        ADMIN_KEY + "x",
        f"Basic {ADMIN_KEY}",
        "Token " + ADMIN_KEY,
        probe_service["account"] + "0",
        "x" * 5000,
    ]
    for key in wrong:
        r = _send(running, key, req)
        assert r.status_code == 401, (key and key[:12], r.status_code, r.text[:200])
        body = r.json()
        assert set(body) == {"error"} and body["error"]["reason"]
        assert ADMIN_KEY not in r.text and (key is None or key.strip() == "" or key not in r.text)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    # a session cookie is not an API credential
    r = _send(running, None, req, Cookie="cm_session=" + secrets.token_urlsafe(32))
    assert r.status_code == 401
    assert _seq(running) == before


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{m} {p}" for m, p in API])
def test_api_route_refuses_other_principals(
    probe_service: dict[str, Any], method: str, path: str
) -> None:
    running: Running = probe_service["running"]
    access = ACCESS[(method, path)]
    req = _request(method, path, probe_service["key_id"])
    before = _seq(running)
    other = _send(running, probe_service["account"], req)
    feed = _send(running, probe_service["feed"], req)
    if access in ("admin", "own", "market"):
        assert other.status_code == 403, (other.status_code, other.text[:200])
    if access in ("admin", "own", "events"):
        assert feed.status_code == 403, (feed.status_code, feed.text[:200])
    if access == "events":
        # the other account's key sees its own events only, and may not ask for the target's
        assert other.status_code == 200
        if not path.endswith("/stream"):
            events = other.json()["events"]
            assert all(e["account"] == OTHER for e in events)
            req2 = dict(req, url=req["url"] + f"?account={TARGET}")
            assert _send(running, probe_service["account"], req2).status_code == 403
    if access != "market":
        assert _seq(running) == before


def _read_stream(url: str, key: str, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """The first ``n`` events of an SSE stream (``TimeoutError`` when they do not come)."""
    got: list[dict[str, Any]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with (
                httpx.Client(timeout=timeout) as c,
                c.stream("GET", url, headers={"Authorization": f"Bearer {key}"}) as r,
            ):
                assert r.status_code == 200, r.status_code
                assert r.headers["content-type"].startswith("text/event-stream")
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        got.append(json.loads(line[5:]))
                        if len(got) >= n:
                            return
        except BaseException as exc:  # reported to the test thread
            failed.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if failed:
        raise failed[0]
    if t.is_alive():
        raise TimeoutError(f"{len(got)} of {n} events in {timeout} s: {got}")
    return got


def test_the_stream_is_scoped_to_the_account(probe_service: dict[str, Any]) -> None:
    running: Running = probe_service["running"]
    key = probe_service["account"]
    with running.client() as admin:
        mine = admin.get("/v1/events", params={"account": OTHER, "limit": 5000}).json()["events"]
        theirs = admin.get("/v1/events", params={"account": TARGET}).json()["events"]
    assert mine and theirs, "the fixture gives both accounts events"
    # the history: exactly the account's own events, in order
    history = _read_stream(f"{running.url}/v1/events/stream?after=0", key, len(mine))
    assert [e["seq"] for e in history] == [e["seq"] for e in mine]
    # live: an event of the target, then one of the account; only the latter arrives
    last = max(e["seq"] for e in mine + theirs)
    box: list[list[dict[str, Any]]] = []
    reader = threading.Thread(
        target=lambda: box.append(
            _read_stream(f"{running.url}/v1/events/stream?after={last}", key, 1)
        ),
        daemon=True,
    )
    reader.start()
    with running.client() as admin:
        r = admin.post(
            f"/v1/accounts/{TARGET}/trades",
            json={"instrument": "BTC-PERP", "quantity": 10_000, "price": 52000},
        )
        assert r.status_code == 409  # refused: an input_refused event of the target
        r = admin.post(
            f"/v1/accounts/{OTHER}/trades",
            json={"instrument": "BTC-PERP", "quantity": 10_000, "price": 52000},
        )
        assert r.status_code == 409
        fresh = admin.get("/v1/events", params={"after": last}).json()["events"]
    assert {e["account"] for e in fresh} >= {TARGET, OTHER}
    reader.join(40)
    assert box, "the live event did not arrive"
    (event,) = box[0]
    assert event["account"] == OTHER and event["seq"] > last
    assert event["seq"] > min(e["seq"] for e in fresh if e["account"] == TARGET)
    # asking for another account's stream is refused outright
    with httpx.Client(base_url=running.url, timeout=30.0) as c:
        for q in (f"account={TARGET}", f"account={TARGET}&after=0"):
            r = c.get(f"/v1/events/stream?{q}", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 403 and TARGET not in r.text.replace(f"{TARGET!r}", "")


@pytest.mark.parametrize("path", ["/v1/events/stream", "/v1/events", "/v1/ws", "/ws"])
def test_no_websocket_route_upgrades(probe_service: dict[str, Any], path: str) -> None:
    """There is no WebSocket route: every upgrade is refused, whatever the key.

    (FastAPI has had WebSocket routes that skipped router-level auth dependencies; the route
    table test above fails if one is added without its own tests.)
    """
    running: Running = probe_service["running"]
    ws_url = running.url.replace("http://", "ws://") + path + "?after=0"
    for key in (None, probe_service["account"], ADMIN_KEY):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        with pytest.raises(InvalidStatus) as info:
            ws_connect(ws_url, additional_headers=headers, open_timeout=20).close()
        assert info.value.response.status_code in (403, 404)
        assert TARGET.encode() not in (info.value.response.body or b"")


def test_request_bodies_are_capped(probe_service: dict[str, Any]) -> None:
    running: Running = probe_service["running"]
    cap = 1 << 20  # ServiceConfig.max_body_bytes
    before = _seq(running)
    one = {"type": "market", "feed": "sec", "time": T0, "asset": "BTC", "price": 52000}
    big = json.dumps([one] * (cap // len(json.dumps(one)) + 10)).encode()
    assert len(big) > cap
    url = f"{running.url}/v1/market"
    with httpx.Client(timeout=60.0) as c:
        for key in (ADMIN_KEY, None, probe_service["account"]):
            headers = {"Content-Type": "application/json"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            # declared length over the cap: refused before a byte of the body is read
            r = c.post(url, content=big, headers=headers)
            assert r.status_code == 413, (r.status_code, r.text[:200])
            assert "larger than" in r.json()["error"]["reason"]

            # chunked (no length): counted while received, refused once past the cap (a
            # caller who may not post market data is refused before the body is read)
            expect = 413 if key == ADMIN_KEY else 401 if key is None else 403

            def chunks() -> Iterator[bytes]:
                for i in range(0, len(big), 65536):
                    yield big[i : i + 65536]

            try:
                r = c.post(url, content=chunks(), headers=headers)
                assert r.status_code == expect, (r.status_code, r.text[:200])
            except httpx.TransportError:
                pass  # the server may close the connection before the client sent it all
        # just under the cap is parsed (and refused on content: too many updates in a batch)
        r = c.post(
            url,
            content=b" " * (cap - 10) + b"[]",
            headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
        )
        assert r.status_code in (200, 422), (r.status_code, r.text[:200])
        # oversized headers never reach the app
        try:
            r = c.get(
                f"{running.url}/v1/status",
                headers={"Authorization": f"Bearer {ADMIN_KEY}", "X-Pad": "x" * 200_000},
            )
            assert r.status_code == 431, r.status_code
        except httpx.TransportError:
            pass
    assert _seq(running) == before


@pytest.mark.parametrize(("method", "path"), PAGES, ids=[f"{m} {p}" for m, p in PAGES])
def test_dashboard_route_needs_a_session(
    probe_service: dict[str, Any], method: str, path: str
) -> None:
    running: Running = probe_service["running"]
    url = path.replace("{account}", TARGET)
    with httpx.Client(base_url=running.url, timeout=30.0, follow_redirects=False) as c:
        for headers in (
            {},
            {"Authorization": f"Bearer {ADMIN_KEY}"},
            {"Cookie": "cm_session=" + secrets.token_urlsafe(32)},
            {"Cookie": f"cm_session={ADMIN_KEY}"},
        ):
            r = c.request(method, url, headers=headers)
            assert r.status_code in (303, 401), (headers.keys(), r.status_code)
            if r.status_code == 303:
                assert r.headers["location"] == "/login"
            assert TARGET not in r.text


def _login(c: httpx.Client, key: str) -> httpx.Response:
    return c.post("/login", data={"key": key}, headers={"Origin": str(c.base_url).rstrip("/")})


def test_dashboard_login_takes_only_admin_keys(probe_service: dict[str, Any]) -> None:
    running: Running = probe_service["running"]
    with httpx.Client(base_url=running.url, timeout=30.0, follow_redirects=False) as c:
        for key in (probe_service["account"], probe_service["feed"], "nope", ""):
            r = _login(c, key)
            assert r.status_code == 401 and "set-cookie" not in r.headers
        r = c.post("/login", data={"key": ADMIN_KEY}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "set-cookie" not in r.headers
        ok = _login(c, ADMIN_KEY)
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        for attr in ("httponly", "samesite=strict", "path=/"):
            assert attr in cookie
        assert ADMIN_KEY.lower() not in cookie


def test_dashboard_forms_need_the_csrf_token(probe_service: dict[str, Any]) -> None:
    running: Running = probe_service["running"]
    with httpx.Client(base_url=running.url, timeout=30.0, follow_redirects=False) as c:
        assert _login(c, ADMIN_KEY).status_code == 303
        page = c.get(f"/accounts/{TARGET}")
        assert page.status_code == 200
        token = page.text.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]
        form = {"instrument": "BTC-PERP", "quantity": "1", "price": "52000"}
        url = f"/ui/accounts/{TARGET}/whatif"
        assert c.post(url, data=form).status_code == 403
        assert c.post(url, data=form, headers={"X-CSRF-Token": "wrong"}).status_code == 403
        evil = {"X-CSRF-Token": token, "Origin": "http://evil.example"}
        assert c.post(url, data=form, headers=evil).status_code == 403
        good = c.post(url, data=form, headers={"X-CSRF-Token": token})
        assert good.status_code == 200 and "before" in good.text
        assert c.post("/logout", headers={"X-CSRF-Token": "wrong"}).status_code == 403
        assert c.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
        assert c.get("/", follow_redirects=False).status_code == 303  # the session is gone


def test_revoking_an_admin_key_ends_its_sessions(probe_service: dict[str, Any]) -> None:
    running: Running = probe_service["running"]
    with running.client() as admin:
        issued = admin.post("/v1/keys", json={"role": "admin", "label": "temp"}).json()
    with httpx.Client(base_url=running.url, timeout=30.0, follow_redirects=False) as c:
        assert _login(c, issued["token"]).status_code == 303
        assert c.get("/").status_code == 200
        with running.client() as admin:
            assert admin.delete(f"/v1/keys/{issued['key_id']}").status_code == 204
        assert c.get("/").status_code == 303


def test_headers_protect_every_page(probe_service: dict[str, Any]) -> None:
    running: Running = probe_service["running"]
    with httpx.Client(base_url=running.url, timeout=30.0) as c:
        for url in ("/login", "/healthz", "/v1/status", "/static/app.css"):
            r = c.get(url)
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "script-src 'self'" in r.headers["content-security-policy"]
        assert c.get("/v1/status").headers["cache-control"] == "no-store"


def test_no_key_is_written_to_the_database_in_clear(
    probe_service: dict[str, Any], tmp_path: Path
) -> None:
    running: Running = probe_service["running"]
    if "://" in running.db:
        pytest.skip("SQLite file scan")  # the service fixture here is SQLite
    raw = b"".join(p.read_bytes() for p in Path(running.db).parent.glob("*.db*"))
    for key in (probe_service["account"], probe_service["feed"], ADMIN_KEY):
        secret = (
            key.split("_", 2)[-1] if key.startswith("cmk_") else key
        ).encode()  # cmk_<id>_<secret>
        assert secret not in raw


def test_keys_are_never_logged(tmp_path: Path) -> None:
    """A real ``crossmargin serve`` (access log on) given keys in every place a client might
    put one — header, query, path, login form, malformed headers — logs none of them."""
    spawned = spawn_service(str(tmp_path / "logs.db"))
    try:
        with spawned.client() as admin:
            acct = admin.post("/v1/keys", json={"role": "account", "account": TARGET}).json()
            feed = admin.post("/v1/keys", json={"role": "feed", "feed": "logs"}).json()
            assert admin.get("/v1/status").status_code == 200
        secrets_ = [ADMIN_KEY, acct["token"], feed["token"]]
        forged = "cmk_" + secrets.token_hex(8) + "_" + secrets.token_urlsafe(32)
        with httpx.Client(base_url=spawned.url, timeout=30.0, follow_redirects=False) as c:
            for token in [*secrets_, forged]:
                for auth in (f"Bearer {token}", f"bearer  {token}", token, f"Basic {token}"):
                    c.get(f"/v1/accounts/{TARGET}", headers={"Authorization": auth})
                c.get("/v1/status", params={"key": token, "access_token": token})
                c.get(f"/v1/accounts/{token}", headers={"Authorization": f"Bearer {token}"})
                c.get(f"/v1/events/{token}")
                c.post("/login", data={"key": token}, headers={"Origin": spawned.url})
                c.post("/v1/market", content=token, headers={"Authorization": f"Bearer {token}"})
            c.post(
                f"/v1/accounts/{TARGET}/trades",
                json={"instrument": "BTC-PERP", "quantity": 1, "price": 65000},
                headers={"Authorization": f"Bearer {acct['token']}"},
            )
    finally:
        # uvicorn re-raises the signal once shut down: -SIGTERM after a clean shutdown
        assert spawned.stop() in (0, -signal.SIGTERM)
    log = spawned.output()
    assert "Application shutdown complete" in log
    # the log is there (uvicorn's access log with the paths) ...
    assert f'"GET /v1/accounts/{TARGET} HTTP/1.1" 200' in log
    assert '"POST /login HTTP/1.1" 303' in log
    assert "[redacted]" in log  # keys put in URLs were caught
    # ... and no key, nor the secret part of one, is in it
    for token in [*secrets_, forged]:
        secret = token.split("_", 2)[-1] if token.startswith("cmk_") else token  # cmk_<id>_<secret>
        assert secret not in log, f"a key leaked into the log: {token[:8]}…"
